//! Splitting a line into arguments with Redis's quoting rules.
//!
//! Shared by inline commands (`resp::parse`), redis.conf lines (`config`) and the
//! cli's line mode. Mirrors the rules of Redis's `sdssplitargs`: blanks separate
//! arguments; "double quotes" understand `\n \r \t \b \a \xHH` and `\<any>`;
//! 'single quotes' understand only `\'`; a closing quote must be followed by a
//! blank or the end of the line. It allocates one `Vec` per argument and never
//! panics.

/// Splits `line` into arguments. `None` means unbalanced quotes (Redis replies
/// "unbalanced quotes" for inline requests and refuses such config lines).
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_space(line[i]) {
            i += 1;
        }
        // A NUL ends the line, as it ends the C string sdssplitargs reads
        // (without this, a NUL would be met again and again forever).
        if i >= n || line[i] == 0 {
            return Some(args);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            let c = line.get(i).copied();
            if in_dq {
                match c {
                    None => return None,
                    Some(b'\\')
                        if line.get(i + 1) == Some(&b'x')
                            && line.get(i + 2).is_some_and(|h| h.is_ascii_hexdigit())
                            && line.get(i + 3).is_some_and(|h| h.is_ascii_hexdigit()) =>
                    {
                        cur.push(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                        i += 4;
                    }
                    Some(b'\\') if i + 1 < n => {
                        cur.push(match line[i + 1] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                        i += 2;
                    }
                    Some(b'"') => {
                        if i + 1 < n && !is_space(line[i + 1]) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    Some(other) => {
                        cur.push(other);
                        i += 1;
                    }
                }
            } else if in_sq {
                match c {
                    None => return None,
                    Some(b'\\') if line.get(i + 1) == Some(&b'\'') => {
                        cur.push(b'\'');
                        i += 2;
                    }
                    Some(b'\'') => {
                        if i + 1 < n && !is_space(line[i + 1]) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    Some(other) => {
                        cur.push(other);
                        i += 1;
                    }
                }
            } else {
                match c {
                    None | Some(b' ' | b'\n' | b'\r' | b'\t' | 0) => break,
                    Some(b'"') => in_dq = true,
                    Some(b'\'') => in_sq = true,
                    Some(other) => cur.push(other),
                }
                i += 1;
            }
        }
        args.push(cur);
    }
}

fn is_space(c: u8) -> bool {
    // C's isspace(): space, \t, \n, \v, \f, \r.
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::split_args;

    #[test]
    fn nul_ends_the_line() {
        assert_eq!(split_args(b"a\0b c"), Some(vec![b"a".to_vec()]));
        assert_eq!(split_args(b"\0"), Some(vec![]));
    }

    fn s(line: &str) -> Option<Vec<String>> {
        split_args(line.as_bytes()).map(|v| v.into_iter().map(|a| String::from_utf8_lossy(&a).into_owned()).collect())
    }

    #[test]
    fn plain_and_quoted() {
        assert_eq!(s("set a b").unwrap(), ["set", "a", "b"]);
        assert_eq!(s("  set   \"a b\" 'c d' ").unwrap(), ["set", "a b", "c d"]);
        assert_eq!(s(r#""\x41\n\\" 'it\'s'"#).unwrap(), ["A\n\\", "it's"]);
        assert_eq!(s("\"\"").unwrap(), [""]);
        assert!(s("").unwrap().is_empty());
    }

    #[test]
    fn unbalanced() {
        assert!(s("\"abc").is_none());
        assert!(s("'abc").is_none());
        assert!(s("\"a\"b").is_none());
        assert!(s("'a'b").is_none());
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x: u64 = 0x9e3779b97f4a7c15;
        for _ in 0..20000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 24) as usize;
            let buf: Vec<u8> = (0..len)
                .map(|i| {
                    let alpha = b" \"'\\xa1\t";
                    alpha[((x >> (i * 2)) as usize) % alpha.len()]
                })
                .collect();
            let _ = split_args(&buf);
        }
    }
}
