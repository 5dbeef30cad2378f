//! Glob-style matching of byte strings, as used by KEYS, SCAN MATCH, PSUBSCRIBE,
//! CONFIG GET and ACL patterns.
//!
//! Owns: one pure function, [`string_match`]. It allocates nothing and never panics.
//! Must not: know about keys, channels or configs; callers decide case folding.
//!
//! Mirrors Redis 7.0's `stringmatchlen` token rules byte for byte, including its odd
//! corners (an unterminated `[` class, a trailing `\`, `[a-]` read as a range whose end
//! is `]`, an empty subject matching only an empty pattern). Where Redis recurses once
//! per `*` and prunes with a "skip longer matches" flag, this version walks the pattern
//! iteratively and remembers only the most recent `*`: a later `*` can absorb anything
//! an earlier one could, so that single backtrack point finds a match whenever one
//! exists. The cost is O(pattern * subject) in the worst case, the stack depth is
//! constant, and patterns like `a*a*a*...b` stay cheap.

/// Returns true when `s` matches the glob `pattern`.
///
/// Tokens: `*` (any run of bytes, possibly empty), `?` (exactly one byte), `[abc]`,
/// `[^abc]`, `[a-z]` (bounds in either order), `\x` (the byte `x` literally, also
/// inside a class), anything else literally. With `nocase`, ASCII letters compare
/// without case (ranges too). As in Redis, an empty subject matches only an empty
/// pattern, so `*` does not match the empty string.
pub fn string_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    if s.is_empty() {
        // COMPAT: Redis's matcher never enters its loop for an empty subject.
        return pattern.is_empty();
    }
    let mut p = 0usize; // next pattern byte
    let mut i = 0usize; // next subject byte
                        // Most recent `*`: the pattern index just after it and the subject index it
                        // currently stops at. On a mismatch the star swallows one more byte.
    let mut star: Option<(usize, usize)> = None;

    while i < s.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            while p < pattern.len() && pattern[p] == b'*' {
                p += 1;
            }
            if p == pattern.len() {
                return true; // a trailing star takes the rest of the subject
            }
            star = Some((p, i));
            continue;
        }
        let step = if p < pattern.len() { match_one(pattern, p, s[i], nocase) } else { None };
        match step {
            Some(next) => {
                p = next;
                i += 1;
            }
            None => match star {
                Some((after_star, stopped_at)) => {
                    // Let the star absorb one more byte and retry the rest.
                    p = after_star;
                    i = stopped_at + 1;
                    star = Some((after_star, i));
                }
                None => return false,
            },
        }
    }
    // Subject consumed: only stars may remain.
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len()
}

/// Matches the single non-`*` token starting at `pattern[p]` against byte `c`.
/// Returns the index just past the token on a match, `None` otherwise.
fn match_one(pattern: &[u8], p: usize, c: u8, nocase: bool) -> Option<usize> {
    let eq = |a: u8, b: u8| if nocase { a.eq_ignore_ascii_case(&b) } else { a == b };
    match pattern[p] {
        b'?' => Some(p + 1),
        b'[' => {
            let (matched, next) = match_class(pattern, p + 1, c, nocase);
            if matched {
                Some(next)
            } else {
                None
            }
        }
        b'\\' if p + 1 < pattern.len() => {
            if eq(pattern[p + 1], c) {
                Some(p + 2)
            } else {
                None
            }
        }
        lit => {
            if eq(lit, c) {
                Some(p + 1)
            } else {
                None
            }
        }
    }
}

/// Evaluates a `[...]` class whose body starts at `pattern[q]` against byte `c`.
/// Returns whether it matched and the index just past the class. An unterminated
/// class ends at the end of the pattern (Redis then still consumes one subject byte).
fn match_class(pattern: &[u8], mut q: usize, c: u8, nocase: bool) -> (bool, usize) {
    let negate = q < pattern.len() && pattern[q] == b'^';
    if negate {
        q += 1;
    }
    let fold = |b: u8| if nocase { b.to_ascii_lowercase() } else { b };
    let mut matched = false;
    loop {
        let left = pattern.len().saturating_sub(q);
        if left == 0 {
            break; // unterminated: the class runs to the end of the pattern
        }
        let b = pattern[q];
        if b == b'\\' && left >= 2 {
            // Redis compares escaped class members case-sensitively.
            if pattern[q + 1] == c {
                matched = true;
            }
            q += 2;
        } else if b == b']' {
            q += 1;
            break;
        } else if left >= 3 && pattern[q + 1] == b'-' {
            let (mut lo, mut hi) = (pattern[q], pattern[q + 2]);
            if lo > hi {
                std::mem::swap(&mut lo, &mut hi);
            }
            let (lo, hi, x) = (fold(lo), fold(hi), fold(c));
            if x >= lo && x <= hi {
                matched = true;
            }
            q += 3;
        } else {
            if fold(b) == fold(c) {
                matched = true;
            }
            q += 1;
        }
    }
    (matched != negate, q)
}

#[cfg(test)]
mod tests {
    use super::string_match;

    fn m(p: &str, s: &str) -> bool {
        string_match(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn literals_and_wildcards() {
        assert!(m("hello", "hello"));
        assert!(!m("hello", "hellO"));
        assert!(string_match(b"hello", b"HeLLo", true));
        assert!(m("h?llo", "hallo"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("*", "x"));
        assert!(m("**", "abc"));
        assert!(m("a*", "a"));
        assert!(m("a**", "a"));
        assert!(!m("a*b", "a"));
        assert!(m("*b*", "abc"));
        assert!(!m("*d*", "abc"));
        assert!(m("", ""));
        assert!(!m("a", ""));
        // COMPAT: Redis 7.0 does not match the empty subject with "*".
        assert!(!m("*", ""));
    }

    #[test]
    fn classes() {
        assert!(m("h[ae]llo", "hello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"), "reversed range bounds");
        assert!(!m("h[a-b]llo", "hcllo"));
        assert!(string_match(b"[A-C]x", b"bx", true));
        assert!(!string_match(b"[A-C]x", b"bx", false));
        assert!(m("[\\]]", "]"));
        assert!(m("[\\-]", "-"));
        // `[a-]` is the range ']'..='a' (bounds swapped), and the class stays open.
        assert!(m("[a-]", "_"));
        assert!(!m("[a-]", "b"));
    }

    #[test]
    fn escapes_and_unterminated() {
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("a\\?", "a?"));
        assert!(m("ab\\", "ab\\"), "a trailing backslash is literal");
        assert!(m("[abc", "b"), "unterminated class runs to pattern end");
        assert!(!m("[abc", "d"));
        assert!(!m("[abc", "bb"));
        assert!(!m("[", "x"));
    }

    #[test]
    fn no_exponential_blowup() {
        let pattern = "a*".repeat(40) + "b";
        let subject = "a".repeat(5000);
        let start = std::time::Instant::now();
        assert!(!m(&pattern, &subject));
        assert!(start.elapsed().as_secs() < 5);
        let long_pat = "*a".repeat(100_000);
        let long_s = "a".repeat(100_000);
        assert!(m(&long_pat, &long_s));
    }

    /// A plain recursive reference that tries every split; used to cross-check on
    /// small random inputs.
    fn reference(p: &[u8], s: &[u8]) -> bool {
        fn go(p: &[u8], s: &[u8]) -> bool {
            if p.is_empty() {
                return s.is_empty();
            }
            if p[0] == b'*' {
                return (0..=s.len()).any(|k| go(&p[1..], &s[k..]));
            }
            if s.is_empty() {
                return false;
            }
            match super::match_one(p, 0, s[0], false) {
                Some(n) => go(&p[n..], &s[1..]),
                None => false,
            }
        }
        if s.is_empty() {
            return p.is_empty();
        }
        go(p, s)
    }

    #[test]
    fn random_against_reference() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet = b"ab*?[]^-\\";
        for _ in 0..20_000 {
            let pl = (next() % 8) as usize;
            let sl = (next() % 8) as usize;
            let p: Vec<u8> = (0..pl).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
            let s: Vec<u8> = (0..sl).map(|_| b"ab-]"[(next() % 4) as usize]).collect();
            assert_eq!(
                string_match(&p, &s, false),
                reference(&p, &s),
                "pattern {:?} subject {:?}",
                String::from_utf8_lossy(&p),
                String::from_utf8_lossy(&s)
            );
        }
        // Random bytes: must not panic.
        for _ in 0..20_000 {
            let p: Vec<u8> = (0..(next() % 16)).map(|_| next() as u8).collect();
            let s: Vec<u8> = (0..(next() % 16)).map(|_| next() as u8).collect();
            let _ = string_match(&p, &s, next() & 1 == 0);
        }
    }
}
