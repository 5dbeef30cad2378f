//! (temporary: replaced by the compact string landing in parallel)
use std::borrow::Borrow;
use std::ops::Deref;

/// Immutable byte string.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct Sds(Box<[u8]>);
impl Deref for Sds {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}
impl AsRef<[u8]> for Sds {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}
impl Borrow<[u8]> for Sds {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}
impl From<&[u8]> for Sds {
    fn from(b: &[u8]) -> Sds {
        Sds(b.into())
    }
}
impl From<Vec<u8>> for Sds {
    fn from(b: Vec<u8>) -> Sds {
        Sds(b.into_boxed_slice())
    }
}
impl From<&str> for Sds {
    fn from(b: &str) -> Sds {
        Sds(b.as_bytes().into())
    }
}
