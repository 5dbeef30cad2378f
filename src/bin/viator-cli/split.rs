//! Splitting a typed line into command arguments, with the quoting rules Redis uses
//! for redis-cli input and redis.conf lines (its `sdssplitargs`).
//!
//! Rules: blanks separate arguments; `"..."` understands `\n \r \t \b \a`, `\xHH` and
//! `\<any>`; `'...'` understands only `\'`; a closing quote must be followed by a blank
//! or the end of the line. Unbalanced quotes make the whole line invalid.

/// Splits `line` into arguments. `None` when quotes are unbalanced or a closing quote
/// is followed by something other than a blank (redis-cli then prints
/// "Invalid argument(s)"). An empty or blank line gives an empty vector.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut i = 0;
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    loop {
        while i < line.len() && is_c_space(line[i]) {
            i += 1;
        }
        if i >= line.len() || line[i] == 0 {
            return Some(args);
        }
        let mut cur = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            let c = at(i);
            if in_double {
                if c == b'\\'
                    && at(i + 1) == b'x'
                    && hex(at(i + 2)).is_some()
                    && hex(at(i + 3)).is_some()
                {
                    let hi = hex(at(i + 2)).unwrap_or(0);
                    let lo = hex(at(i + 3)).unwrap_or(0);
                    cur.push(hi * 16 + lo);
                    i += 4;
                    continue;
                } else if c == b'\\' && at(i + 1) != 0 {
                    cur.push(match at(i + 1) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                    i += 2;
                    continue;
                } else if c == b'"' {
                    if at(i + 1) != 0 && !is_c_space(at(i + 1)) {
                        return None;
                    }
                    i += 1;
                    break;
                } else if c == 0 {
                    return None;
                }
                cur.push(c);
                i += 1;
            } else if in_single {
                if c == b'\\' && at(i + 1) == b'\'' {
                    cur.push(b'\'');
                    i += 2;
                    continue;
                } else if c == b'\'' {
                    if at(i + 1) != 0 && !is_c_space(at(i + 1)) {
                        return None;
                    }
                    i += 1;
                    break;
                } else if c == 0 {
                    return None;
                }
                cur.push(c);
                i += 1;
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        // The separator itself is skipped by the blank loop above.
                        break;
                    }
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    other => cur.push(other),
                }
                i += 1;
            }
        }
        args.push(cur);
    }
}

/// C's `isspace` in the "C" locale.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::split_args;

    fn split(s: &str) -> Option<Vec<String>> {
        split_args(s.as_bytes()).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8_lossy(&a).into_owned())
                .collect()
        })
    }

    #[test]
    fn plain_and_quoted() {
        assert_eq!(
            split("set  k v\n"),
            Some(vec!["set".into(), "k".into(), "v".into()])
        );
        assert_eq!(split("  "), Some(vec![]));
        assert_eq!(split(""), Some(vec![]));
        assert_eq!(
            split(r#"set "a b" 'c d'"#),
            Some(vec!["set".into(), "a b".into(), "c d".into()])
        );
        assert_eq!(split(r#""\x41\n\"\q""#), Some(vec!["A\n\"q".into()]));
        assert_eq!(
            split(r#"'it\'s' "\x4""#),
            Some(vec!["it's".into(), "x4".into()])
        );
        assert_eq!(split(r#"a"b c"d"#), None);
        assert_eq!(split(r#"a"b c" d"#), Some(vec!["ab c".into(), "d".into()]));
        assert_eq!(split(r#""abc"#), None);
        assert_eq!(split(r#"'abc"#), None);
        assert_eq!(split(r#""a"b"#), None);
        assert_eq!(split("\"\""), Some(vec!["".into()]));
        assert_eq!(split_args(b"\"\\x00\\xff\""), Some(vec![vec![0, 0xff]]));
    }

    #[test]
    fn random_lines_never_panic() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let alphabet = b"ab \"'\\x0f\t\n";
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 24) as usize;
            let line: Vec<u8> = (0..len)
                .map(|k| alphabet[((x >> (k % 50)) as usize + k) % alphabet.len()])
                .collect();
            let _ = split_args(&line);
        }
    }
}
