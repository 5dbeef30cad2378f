//! (temporary: replaced by the chained dict landing in parallel)
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

/// Hash table.
#[derive(Debug)]
pub struct Dict<K, V> {
    map: HashMap<K, V>,
}
impl<K: Borrow<[u8]> + Eq + Hash, V> Default for Dict<K, V> {
    fn default() -> Self {
        Dict { map: HashMap::new() }
    }
}
impl<K: Borrow<[u8]> + Eq + Hash, V> Dict<K, V> {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    pub fn get(&self, k: &[u8]) -> Option<&V> {
        self.map.get(k)
    }
    pub fn get_key_value(&self, k: &[u8]) -> Option<(&K, &V)> {
        self.map.get_key_value(k)
    }
    pub fn get_mut(&mut self, k: &[u8]) -> Option<&mut V> {
        self.map.get_mut(k)
    }
    pub fn contains_key(&self, k: &[u8]) -> bool {
        self.map.contains_key(k)
    }
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        self.map.insert(k, v)
    }
    pub fn remove(&mut self, k: &[u8]) -> Option<(K, V)> {
        self.map.remove_entry(k)
    }
    pub fn clear(&mut self) {
        self.map.clear()
    }
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.map.iter()
    }
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&K, &V)) -> u64 {
        let c = cursor as usize;
        let mut n = 0;
        for (k, v) in self.map.iter().skip(c).take(10) {
            f(k, v);
            n += 1;
        }
        if c + n >= self.map.len() { 0 } else { (c + n) as u64 }
    }
    pub fn random_entry(&self, rng: &mut impl FnMut() -> u64) -> Option<(&K, &V)> {
        if self.map.is_empty() {
            return None;
        }
        let i = (rng() % self.map.len() as u64) as usize;
        self.map.iter().nth(i)
    }
    pub fn sample(&self, count: usize, rng: &mut impl FnMut() -> u64) -> Vec<(&K, &V)> {
        (0..count).filter_map(|_| self.random_entry(rng)).collect()
    }
    pub fn buckets(&self) -> usize {
        self.map.capacity()
    }
    pub fn try_shrink(&mut self) {}
    pub fn rehash_for_ms(&mut self, _ms: u64) -> bool {
        false
    }
    pub fn is_rehashing(&self) -> bool {
        false
    }
}
