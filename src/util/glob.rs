//! (temporary: replaced by the glob module landing in parallel)

/// Redis-style glob match (only `*` and `?` here).
pub fn string_match(p: &[u8], s: &[u8], nocase: bool) -> bool {
    if p.is_empty() {
        return s.is_empty();
    }
    match p[0] {
        b'*' => (0..=s.len()).any(|i| string_match(&p[1..], &s[i..], nocase)),
        b'?' => !s.is_empty() && string_match(&p[1..], &s[1..], nocase),
        c => !s.is_empty() && (c == s[0] || (nocase && c.eq_ignore_ascii_case(&s[0]))) && string_match(&p[1..], &s[1..], nocase),
    }
}
