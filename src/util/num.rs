//! (temporary: replaced by the numbers module landing in parallel)

/// Strict integer parsing as Redis's string2ll.
pub fn string2ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = if s[0] == b'-' { (true, &s[1..]) } else { (false, s) };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        let d = (c - b'0') as i64;
        v = if neg { v.checked_mul(10)?.checked_sub(d)? } else { v.checked_mul(10)?.checked_add(d)? };
    }
    Some(v)
}

/// Temporary.
pub fn string2ld(s: &[u8]) -> Option<f64> {
    let t = std::str::from_utf8(s).ok()?;
    if t.is_empty() || t.trim() != t { return None; }
    let v: f64 = t.parse().ok()?;
    if v.is_nan() { None } else { Some(v) }
}

/// Temporary.
pub fn format_long_double(v: f64) -> Vec<u8> {
    let mut s = format!("{:.17}", v);
    if s.contains('.') { while s.ends_with('0') { s.pop(); } if s.ends_with('.') { s.pop(); } }
    s.into_bytes()
}
