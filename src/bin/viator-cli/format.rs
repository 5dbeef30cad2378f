//! Turning a reply into the text redis-cli prints: the human form used when stdout is a
//! terminal (or `--no-raw`), and the raw form used otherwise (or `--raw`).
//!
//! Mirrors redis-cli 7.0's reply formatters byte for byte: quoting and escapes of
//! strings, `(integer)`/`(nil)`/`(error)` tags, right-aligned `1)` numbering with nested
//! indentation, `#` for maps and `~` for sets, and RESP3 invalidation pushes. Pure: no
//! I/O, no connection state.

use viator::resp::value::{format_double, Value};

/// How replies are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The human form (stdout is a terminal, or `--no-raw`).
    Standard,
    /// Bare values (stdout is not a terminal, or `--raw`).
    Raw,
}

/// The text for one reply. `verbatim` is set for commands whose reply is a text block
/// (INFO, CLIENT LIST, CLUSTER NODES...): it is printed as is, in either mode, without
/// the trailing delimiter. `mb_delim` separates the elements of an aggregate and
/// `cmd_delim` ends a reply, both in raw mode only (`-d` and `-D`, default newline).
pub fn reply(v: &Value, mode: Output, verbatim: bool, mb_delim: &[u8], cmd_delim: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if verbatim {
        raw(v, mb_delim, &mut out);
    } else {
        match mode {
            Output::Standard => tty(v, b"", &mut out),
            Output::Raw => {
                raw(v, mb_delim, &mut out);
                out.extend_from_slice(cmd_delim);
            }
        }
    }
    out
}

/// Appends the human form of `v`. `prefix` is the indentation of the enclosing
/// aggregate's elements (empty at the top).
pub fn tty(v: &Value, prefix: &[u8], out: &mut Vec<u8>) {
    match v {
        // COMPAT: the tags below are redis-cli's.
        Value::Error(e) | Value::BulkError(e) => {
            out.extend_from_slice(b"(error) ");
            out.extend_from_slice(e);
            out.push(b'\n');
        }
        Value::Simple(s) => {
            out.extend_from_slice(s);
            out.push(b'\n');
        }
        Value::Int(n) => out.extend_from_slice(format!("(integer) {n}\n").as_bytes()),
        Value::Double(d) => out.extend_from_slice(format!("(double) {}\n", format_double(*d)).as_bytes()),
        Value::Bulk(b) => {
            repr(b, out);
            out.push(b'\n');
        }
        Value::Verbatim { text, .. } => {
            out.extend_from_slice(text);
            out.push(b'\n');
        }
        // redis-cli 7.0 aborts on a big number; later versions print this tag.
        Value::BigNumber(n) => {
            out.extend_from_slice(b"(big number) ");
            out.extend_from_slice(n);
            out.push(b'\n');
        }
        Value::Nil | Value::NilArray => out.extend_from_slice(b"(nil)\n"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"(true)\n" } else { b"(false)\n" }),
        Value::Array(items) => list(items, b')', b"(empty array)\n", prefix, out),
        Value::Set(items) => list(items, b'~', b"(empty set)\n", prefix, out),
        Value::Push(items) => list(items, b')', b"(empty push)\n", prefix, out),
        Value::Map(pairs) => {
            if pairs.is_empty() {
                out.extend_from_slice(b"(empty hash)\n");
                return;
            }
            let width = digits(pairs.len());
            let inner = nested_prefix(prefix, width);
            for (i, (k, val)) in pairs.iter().enumerate() {
                index(out, if i == 0 { b"" } else { prefix }, i + 1, width, b'#');
                tty(k, &inner, out);
                // The key's newline makes way for the arrow.
                out.pop();
                out.extend_from_slice(b" => ");
                if is_multiline(val) {
                    out.push(b'\n');
                    out.extend_from_slice(&inner);
                }
                tty(val, &inner, out);
            }
        }
    }
}

/// Arrays, sets and pushes: numbered elements, nested ones indented under their number.
fn list(items: &[Value], sep: u8, empty: &[u8], prefix: &[u8], out: &mut Vec<u8>) {
    if items.is_empty() {
        out.extend_from_slice(empty);
        return;
    }
    let width = digits(items.len());
    let inner = nested_prefix(prefix, width);
    for (i, item) in items.iter().enumerate() {
        // The first element shares its line with the parent's number.
        index(out, if i == 0 { b"" } else { prefix }, i + 1, width, sep);
        tty(item, &inner, out);
    }
}

fn index(out: &mut Vec<u8>, prefix: &[u8], n: usize, width: usize, sep: u8) {
    out.extend_from_slice(prefix);
    out.extend_from_slice(format!("{n:>width$}").as_bytes());
    out.push(sep);
    out.push(b' ');
}

/// The indentation of a nested aggregate: the parent's, plus the index width and two.
fn nested_prefix(prefix: &[u8], width: usize) -> Vec<u8> {
    let mut p = prefix.to_vec();
    p.resize(prefix.len() + width + 2, b' ');
    p
}

fn digits(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// Whether `tty` prints `v` on more than one line (a map value that is, starts on a
/// line of its own so its numbering lines up).
fn is_multiline(v: &Value) -> bool {
    match v {
        Value::Array(items) | Value::Set(items) | Value::Push(items) => match items.as_slice() {
            [] => false,
            [only] => is_multiline(only),
            _ => true,
        },
        Value::Map(pairs) => match pairs.as_slice() {
            [] => false,
            [(_, only)] => is_multiline(only),
            _ => true,
        },
        _ => false,
    }
}

/// Appends `s` double-quoted, with `\\ \" \n \r \t \a \b` escaped and other
/// non-printable bytes as `\xHH`.
pub fn repr(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// Appends the raw form of `v`: bare payloads, integers as digits, nothing for nil,
/// errors as their text plus a newline, aggregate elements joined by `mb_delim` (a map
/// entry as `key value`).
pub fn raw(v: &Value, mb_delim: &[u8], out: &mut Vec<u8>) {
    match v {
        Value::Nil | Value::NilArray => {}
        Value::Error(e) | Value::BulkError(e) => {
            out.extend_from_slice(e);
            out.push(b'\n');
        }
        Value::Simple(s) | Value::Bulk(s) | Value::BigNumber(s) => out.extend_from_slice(s),
        Value::Verbatim { text, .. } => out.extend_from_slice(text),
        // COMPAT: redis-cli keeps the tags for booleans even in raw mode.
        Value::Bool(b) => out.extend_from_slice(if *b { b"(true)" } else { b"(false)" }),
        Value::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Double(d) => out.extend_from_slice(format_double(*d).as_bytes()),
        Value::Array(items) | Value::Set(items) | Value::Push(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(mb_delim);
                }
                raw(item, mb_delim, out);
            }
        }
        Value::Map(pairs) => {
            for (i, (k, val)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(mb_delim);
                }
                raw(k, mb_delim, out);
                out.push(b' ');
                raw(val, mb_delim, out);
            }
        }
    }
}

/// The keys of a RESP3 client-tracking invalidation push (`invalidate` followed by an
/// array of key strings), or `None` if `v` is not one.
pub fn invalidated_keys(v: &Value) -> Option<Vec<&[u8]>> {
    let Value::Push(items) = v else { return None };
    let [Value::Bulk(kind), Value::Array(keys)] = items.as_slice() else {
        return None;
    };
    if !kind.starts_with(b"invalidate") {
        return None;
    }
    keys.iter().map(|k| if let Value::Bulk(b) = k { Some(b.as_slice()) } else { None }).collect()
}

/// The human form of an invalidation push: `-> invalidate: 'k1', 'k2'`.
pub fn invalidate_tty(keys: &[&[u8]]) -> Vec<u8> {
    let mut out = b"-> invalidate: ".to_vec();
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.push(b'\'');
        out.extend_from_slice(k);
        out.push(b'\'');
    }
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Value {
        Value::Bulk(s.as_bytes().to_vec())
    }

    fn tty_text(v: &Value) -> String {
        String::from_utf8(reply(v, Output::Standard, false, b"\n", b"\n")).unwrap()
    }

    fn raw_text(v: &Value) -> String {
        String::from_utf8(reply(v, Output::Raw, false, b"\n", b"\n")).unwrap()
    }

    #[test]
    fn scalars_tty() {
        assert_eq!(tty_text(&Value::Simple(b"OK".to_vec())), "OK\n");
        assert_eq!(tty_text(&b("a\"b\\c\n\x01\t")), "\"a\\\"b\\\\c\\n\\x01\\t\"\n");
        assert_eq!(tty_text(&Value::Int(-3)), "(integer) -3\n");
        assert_eq!(tty_text(&Value::Nil), "(nil)\n");
        assert_eq!(tty_text(&Value::NilArray), "(nil)\n");
        assert_eq!(tty_text(&Value::Error(b"ERR x".to_vec())), "(error) ERR x\n");
        assert_eq!(tty_text(&Value::Double(1.5)), "(double) 1.5\n");
        assert_eq!(tty_text(&Value::Double(1.1)), "(double) 1.1000000000000001\n");
        assert_eq!(tty_text(&Value::Bool(true)), "(true)\n");
        assert_eq!(tty_text(&Value::Verbatim { format: *b"txt", text: b"a\nb".to_vec() }), "a\nb\n");
        assert_eq!(tty_text(&Value::Array(vec![])), "(empty array)\n");
        assert_eq!(tty_text(&Value::Map(vec![])), "(empty hash)\n");
        assert_eq!(tty_text(&Value::Set(vec![])), "(empty set)\n");
        // Non-ASCII bytes are escaped one by one, as C's isprint sees them.
        assert_eq!(tty_text(&b("é")), "\"\\xc3\\xa9\"\n");
    }

    #[test]
    fn nested_numbering_and_indentation() {
        let v = Value::Array(vec![
            b("a"),
            Value::Array(vec![Value::Int(1), Value::Array(vec![b("x"), b("y")])]),
            Value::Nil,
        ]);
        assert_eq!(tty_text(&v), "1) \"a\"\n2) 1) (integer) 1\n   2) 1) \"x\"\n      2) \"y\"\n3) (nil)\n");
        // Ten elements: indices are right-aligned to two columns.
        let ten = Value::Array((0..10).map(|i| Value::Array(vec![Value::Int(i), Value::Int(i)])).collect());
        let text = tty_text(&ten);
        assert!(text.starts_with(" 1) 1) (integer) 0\n    2) (integer) 0\n 2) 1)"), "{text}");
        assert!(text.ends_with("10) 1) (integer) 9\n    2) (integer) 9\n"), "{text}");
    }

    #[test]
    fn maps_and_sets_tty() {
        let v = Value::Map(vec![
            (b("server"), b("redis")),
            (b("proto"), Value::Int(3)),
            (b("modules"), Value::Array(vec![])),
            (b("list"), Value::Array(vec![b("a"), b("b")])),
        ]);
        assert_eq!(
            tty_text(&v),
            "1# \"server\" => \"redis\"\n2# \"proto\" => (integer) 3\n3# \"modules\" => (empty array)\n\
             4# \"list\" => \n   1) \"a\"\n   2) \"b\"\n"
        );
        let s = Value::Set(vec![b("a"), b("b")]);
        assert_eq!(tty_text(&s), "1~ \"a\"\n2~ \"b\"\n");
    }

    #[test]
    fn raw_mode() {
        assert_eq!(raw_text(&b("abc")), "abc\n");
        assert_eq!(raw_text(&Value::Nil), "\n");
        assert_eq!(raw_text(&Value::Int(7)), "7\n");
        assert_eq!(raw_text(&Value::Error(b"ERR no".to_vec())), "ERR no\n\n");
        assert_eq!(raw_text(&Value::Array(vec![b("a"), Value::Nil, Value::Int(2)])), "a\n\n2\n");
        assert_eq!(raw_text(&Value::Map(vec![(b("k"), b("v")), (b("n"), Value::Int(1))])), "k v\nn 1\n");
        assert_eq!(raw_text(&Value::Bool(false)), "(false)\n");
        assert_eq!(raw_text(&Value::Double(0.1)), "0.10000000000000001\n");
        assert_eq!(raw_text(&Value::Array(vec![])), "\n");
        let custom = reply(&Value::Array(vec![b("a"), b("b")]), Output::Raw, false, b",", b";");
        assert_eq!(custom, b"a,b;");
    }

    #[test]
    fn verbatim_commands_print_text_without_delimiter() {
        let info = b("# Server\r\nredis_version:7.0.15\r\n");
        assert_eq!(reply(&info, Output::Standard, true, b"\n", b"\n"), b"# Server\r\nredis_version:7.0.15\r\n");
        assert_eq!(reply(&info, Output::Raw, true, b"\n", b"\n"), b"# Server\r\nredis_version:7.0.15\r\n");
    }

    #[test]
    fn invalidation_pushes() {
        let p = Value::Push(vec![b("invalidate"), Value::Array(vec![b("k1"), b("k2")])]);
        let keys = invalidated_keys(&p).unwrap();
        assert_eq!(invalidate_tty(&keys), b"-> invalidate: 'k1', 'k2'\n");
        assert!(invalidated_keys(&Value::Push(vec![b("message"), b("c"), b("m")])).is_none());
    }
}
