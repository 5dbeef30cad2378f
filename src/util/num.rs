//! Number <-> text conversions with Redis's exact rules.
//!
//! Owns the strict parsers (`string2ll`, `string2ull`, `string2d`, `string2ld`) and the
//! formatters (`write_i64`, `format_double`, `format_long_double`, `d2string`) that decide
//! what INCR, INCRBYFLOAT, scores and integer replies look like on the wire. It never
//! produces error replies: callers map `None` to the right error text.
//!
//! Mirrors Redis's `util.c`: `string2ll` (no spaces, no `+`, no leading zeros, range
//! checked), `string2d`/`string2ld` (a full `strtod` match with no leading space, no NaN,
//! no overflow or underflow to zero; `inf` accepted), `ld2string` in its human mode (fixed
//! notation, 17 fractional digits, trailing zeros trimmed, never `-0`), the `%.17g` format
//! of `addReplyDouble`, and `d2string`. Redis computes INCRBYFLOAT in `long double`; Rust
//! has none, so values are `f64` and `format_long_double` prints the shortest text that
//! reads back as the same `f64` whenever that fits in 17 fractional digits. This gives the
//! same text as Redis for the values its test suite uses; results of inexact additions can
//! still differ from Redis in the last digits (Redis's extra precision hides some of the
//! rounding noise an `f64` shows).

/// Longest text `string2ll` accepts plus one (Redis's `LONG_STR_SIZE`, `-9223372036854775808`
/// is 20 bytes).
pub const LONG_STR_SIZE: usize = 21;

/// `string2ld` rejects input of this many bytes or more (Redis's `MAX_LONG_DOUBLE_CHARS`).
pub const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;

/// C's `strtol` over a prefix of `s`: optional leading blanks, an optional
/// sign, then decimal digits. Returns the value (saturating instead of
/// overflowing) and the index just after the digits (after the sign when
/// there are none). `atoi`/`atoll` are `.0` of it: 0 when no digits.
pub fn c_strtol(s: &[u8]) -> (i64, usize) {
    let mut i = s.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(s.len());
    let neg = matches!(s.get(i), Some(b'-'));
    if matches!(s.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let mut v: i64 = 0;
    while let Some(d) = s.get(i).filter(|b| b.is_ascii_digit()) {
        v = v.saturating_mul(10).saturating_add(i64::from(d - b'0'));
        i += 1;
    }
    (if neg { -v } else { v }, i)
}

/// Parses a canonical signed 64-bit decimal: optional `-`, digits, no leading zeros (except
/// `"0"` itself), no spaces, no `+`, in range. A string accepted here prints back
/// identically, which is what lets Redis store such strings as integers.
pub fn string2ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= LONG_STR_SIZE {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if negative {
        // -(i64::MIN) is one more than i64::MAX.
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// Parses an unsigned 64-bit decimal (Redis's `string2ull`): canonical non-negative
/// integers, and also the laxer forms `strtoull` takes (leading whitespace, a `+`, leading
/// zeros) up to `u64::MAX`. Negative values are rejected (a `-` is accepted only before
/// zeros).
pub fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = string2ll(s) {
        return u64::try_from(v).ok();
    }
    let start = s.iter().position(|c| !is_c_space(*c))?;
    let (negative, digits) = match s[start..].split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, &s[start..]),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if negative && v != 0 {
        return None;
    }
    Some(v)
}

/// The characters C's `isspace` accepts in the "C" locale.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Number of decimal digits of `v` (1 for 0).
pub fn digits10(v: u64) -> usize {
    let mut n = 1;
    let mut v = v;
    while v >= 10 {
        v /= 10;
        n += 1;
    }
    n
}

const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// The decimal text of an integer in a stack buffer (Redis's `ll2string`, no allocation).
#[derive(Clone, Copy)]
pub struct IntBuf {
    buf: [u8; 20],
    start: u8,
}

impl IntBuf {
    /// Formats `v` (`-9223372036854775808` included).
    pub fn new(v: i64) -> IntBuf {
        let mut b = Self::from_u64(v.unsigned_abs());
        if v < 0 {
            b.start -= 1;
            b.buf[b.start as usize] = b'-';
        }
        b
    }

    /// Formats an unsigned value (at most 20 digits, so a sign never fits: use `new`
    /// for signed values).
    pub fn from_u64(mut v: u64) -> IntBuf {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        while v >= 100 {
            let pair = (v % 100) as usize * 2;
            v /= 100;
            i -= 2;
            buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        }
        if v >= 10 {
            let pair = v as usize * 2;
            i -= 2;
            buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        } else {
            i -= 1;
            buf[i] = b'0' + v as u8;
        }
        IntBuf { buf, start: i as u8 }
    }

    /// The formatted text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start as usize..]
    }
}

/// Appends the decimal text of `v` to `out` (no temporary allocation).
#[inline]
pub fn write_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(IntBuf::new(v).as_bytes());
}

/// Appends the decimal text of `v` to `out`.
#[inline]
pub fn write_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(IntBuf::from_u64(v).as_bytes());
}

/// The decimal text of `v` as a new vector.
pub fn ll2string(v: i64) -> Vec<u8> {
    IntBuf::new(v).as_bytes().to_vec()
}

/// Parses a float the way Redis's `string2d` does (scores, `ZADD`, `HINCRBYFLOAT`
/// arguments): the whole input must be one `strtod` number (decimal, hexadecimal `0x1p3`,
/// or `inf`/`infinity` in any case, with an optional sign); no leading or trailing space;
/// NaN, overflow to infinity and underflow to zero are rejected.
pub fn string2d(s: &[u8]) -> Option<f64> {
    let first = *s.first()?;
    if is_c_space(first) {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let value = if unsigned.starts_with("0x") || unsigned.starts_with("0X") {
        let v = parse_hex_float(&unsigned.as_bytes()[2..])?;
        if text.starts_with('-') {
            -v
        } else {
            v
        }
    } else {
        let v: f64 = text.parse().ok()?;
        if v.is_infinite() && !unsigned.bytes().all(|c| c.is_ascii_alphabetic()) {
            return None; // overflow, not a written infinity
        }
        if v == 0.0 && mantissa_has_nonzero_digit(unsigned) {
            return None; // underflow to zero
        }
        v
    };
    if value.is_nan() {
        return None;
    }
    Some(value)
}

/// Parses a float with the rules of Redis's `string2ld` (INCRBYFLOAT): those of
/// [`string2d`], plus a length limit of [`MAX_LONG_DOUBLE_CHARS`]. The value is an `f64`
/// (Redis uses `long double`, with a wider range).
pub fn string2ld(s: &[u8]) -> Option<f64> {
    if s.len() >= MAX_LONG_DOUBLE_CHARS {
        return None;
    }
    string2d(s)
}

/// True when the digits before any exponent include a non-zero one.
fn mantissa_has_nonzero_digit(s: &str) -> bool {
    s.bytes().take_while(|c| !matches!(c, b'e' | b'E')).any(|c| matches!(c, b'1'..=b'9'))
}

/// Parses the part after `0x` of a C hexadecimal float: hex digits with an optional point,
/// then an optional binary exponent `p[+-]digits`. Overflow and underflow to zero are
/// rejected like in `string2d`. Rounding is exact up to 13 significant hex digits.
fn parse_hex_float(s: &[u8]) -> Option<f64> {
    let mut mantissa: f64 = 0.0;
    let mut exp: i64 = 0;
    let mut digits = 0usize;
    let mut nonzero = false;
    let mut seen_point = false;
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if c == b'.' && !seen_point {
            seen_point = true;
        } else if let Some(d) = (c as char).to_digit(16) {
            digits += 1;
            nonzero |= d != 0;
            if mantissa < 2f64.powi(60) {
                mantissa = mantissa * 16.0 + f64::from(d);
                if seen_point {
                    exp -= 4;
                }
            } else if !seen_point {
                exp += 4; // digits past the precision still scale an integer part
            }
        } else {
            break;
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if i < s.len() {
        if !matches!(s[i], b'p' | b'P') {
            return None;
        }
        let rest = std::str::from_utf8(&s[i + 1..]).ok()?;
        let digits = rest.strip_prefix(['+', '-']).unwrap_or(rest);
        if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        // Clamp: anything beyond these bounds over- or underflows anyway.
        let e: i64 = rest.parse().unwrap_or(if rest.starts_with('-') { -100_000 } else { 100_000 });
        exp = exp.saturating_add(e.clamp(-100_000, 100_000));
    }
    let value = scale_by_pow2(mantissa, exp.clamp(-100_000, 100_000) as i32);
    if value.is_infinite() || (value == 0.0 && nonzero) {
        return None;
    }
    Some(value)
}

/// `v * 2^e` without overflowing the intermediate power.
fn scale_by_pow2(mut v: f64, mut e: i32) -> f64 {
    while e > 1000 {
        v *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        v *= 2f64.powi(-1000);
        e += 1000;
    }
    v * 2f64.powi(e)
}

/// The value as an `i64` when it is integral and well inside the `i64` range (Redis's
/// `double2ll`: only magnitudes up to `i64::MAX / 2` qualify).
pub fn double2ll(d: f64) -> Option<i64> {
    let limit = (i64::MAX / 2) as f64;
    if !(-limit..=limit).contains(&d) {
        return None;
    }
    let ll = d as i64;
    if ll as f64 == d {
        Some(ll)
    } else {
        None
    }
}

/// Text of a double as Redis replies with it (`addReplyDouble`, RESP2 bulk and RESP3
/// double alike): C's `%.17g`, with `inf`, `-inf` and `nan` spelled that way.
pub fn format_double(v: f64) -> Vec<u8> {
    let mut out = Vec::with_capacity(24);
    write_double(&mut out, v);
    out
}

/// Appends the `%.17g` text of `v` (see [`format_double`]).
pub fn write_double(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    if v == 0.0 {
        out.extend_from_slice(if v.is_sign_negative() { b"-0" } else { b"0" });
        return;
    }
    // 17 significant digits, correctly rounded: "d.dddddddddddddddde<exp>".
    let sci = format!("{:.16e}", v);
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (sci.as_str(), 0),
    };
    let negative = mantissa.starts_with('-');
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    if negative {
        out.push(b'-');
    }
    if !(-4..17).contains(&exp) {
        // Exponent form, trailing zeros removed, at least two exponent digits.
        let frac_end = digits.iter().rposition(|&d| d != b'0').map_or(1, |p| p + 1);
        out.push(digits[0]);
        if frac_end > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..frac_end]);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        if exp.abs() < 10 {
            out.push(b'0');
        }
        write_i64(out, i64::from(exp.abs()));
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        out.extend_from_slice(&digits[..int_len]);
        let frac = &digits[int_len..];
        let frac_end = frac.iter().rposition(|&d| d != b'0').map_or(0, |p| p + 1);
        if frac_end > 0 {
            out.push(b'.');
            out.extend_from_slice(&frac[..frac_end]);
        }
    } else {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-exp - 1) as usize));
        let end = digits.iter().rposition(|&d| d != b'0').map_or(1, |p| p + 1);
        out.extend_from_slice(&digits[..end]);
    }
}

/// Text of an INCRBYFLOAT/HINCRBYFLOAT result (Redis's `ld2string` in human mode): fixed
/// notation, at most 17 fractional digits, trailing zeros and a trailing point removed,
/// `-0` printed as `0`, infinities as `inf`/`-inf`.
pub fn format_long_double(v: f64) -> Vec<u8> {
    if v.is_infinite() {
        return if v > 0.0 { b"inf".to_vec() } else { b"-inf".to_vec() };
    }
    if v.is_nan() {
        return b"nan".to_vec();
    }
    // The shortest text that reads back as `v` is what Redis's wider long double would
    // show for a value typed by a user; fall back to rounding at 17 places when that text
    // needs more fractional digits.
    let mut text = v.to_string();
    let frac_digits = text.split_once('.').map_or(0, |(_, f)| f.len());
    if frac_digits > 17 {
        text = format!("{:.17}", v);
    }
    let mut out = text.into_bytes();
    if out.contains(&b'.') {
        while out.last() == Some(&b'0') {
            out.pop();
        }
        if out.last() == Some(&b'.') {
            out.pop();
        }
    }
    if out == b"-0" {
        out = b"0".to_vec();
    }
    out
}

/// Compact text of a double that reads back exactly (Redis's `d2string`, used for sorted
/// set scores stored in listpacks and in RDB text form): integers without a point, `-0`,
/// `inf`, `-inf`, `nan`, otherwise `%.17g`.
pub fn d2string(v: f64) -> Vec<u8> {
    if v.is_nan() {
        return b"nan".to_vec();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { b"-0".to_vec() } else { b"0".to_vec() };
    }
    match double2ll(v) {
        Some(ll) => ll2string(ll),
        None => format_double(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: Vec<u8>) -> String {
        String::from_utf8(v).unwrap()
    }

    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
    }

    #[test]
    fn string2ll_accepts_only_canonical_integers() {
        let ok: &[(&str, i64)] = &[
            ("0", 0),
            ("1", 1),
            ("-1", -1),
            ("17179869184", 17179869184),
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
        ];
        for (text, v) in ok {
            assert_eq!(string2ll(text.as_bytes()), Some(*v), "{text}");
        }
        for bad in [
            "",
            "-",
            "+1",
            " 1",
            "1 ",
            "01",
            "-0",
            "00",
            "1a",
            "a",
            "9223372036854775808",
            "-9223372036854775809",
            "18446744073709551616",
            "99999999999999999999",
            "1.0",
            "1e3",
            "0x10",
            "--1",
            "\u{0}1",
            "1\u{0}",
            "111111111111111111111",
        ] {
            assert_eq!(string2ll(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn string2ull_rules() {
        assert_eq!(string2ull(b"0"), Some(0));
        assert_eq!(string2ull(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(string2ull(b"18446744073709551616"), None);
        assert_eq!(string2ull(b"-1"), None);
        assert_eq!(string2ull(b"+7"), Some(7));
        assert_eq!(string2ull(b"  007"), Some(7));
        assert_eq!(string2ull(b"7 "), None);
        assert_eq!(string2ull(b""), None);
        assert_eq!(string2ull(b"+"), None);
    }

    #[test]
    fn integer_formatting() {
        for v in [0, 1, -1, 9, 10, 99, 100, 12345, -987654321, i64::MAX, i64::MIN, 1 << 40] {
            assert_eq!(s(ll2string(v)), v.to_string());
            let mut out = b"x".to_vec();
            write_i64(&mut out, v);
            assert_eq!(out, format!("x{v}").into_bytes());
        }
        let mut out = Vec::new();
        write_u64(&mut out, u64::MAX);
        assert_eq!(out, b"18446744073709551615");
        let mut rng = XorShift(3);
        for _ in 0..10_000 {
            let v = rng.next() as i64 >> (rng.next() % 64);
            assert_eq!(s(ll2string(v)), v.to_string());
            assert_eq!(string2ll(&ll2string(v)), Some(v));
            assert_eq!(digits10(v.unsigned_abs()), v.unsigned_abs().to_string().len());
        }
    }

    #[test]
    fn string2d_follows_strtod_with_redis_checks() {
        let ok: &[(&str, f64)] = &[
            ("1", 1.0),
            ("1.5", 1.5),
            ("-1.1", -1.1),
            ("+2.5", 2.5),
            (".5", 0.5),
            ("5.", 5.0),
            ("1e3", 1000.0),
            ("3.0e3", 3000.0),
            ("1E-5", 1e-5),
            ("10.5", 10.5),
            ("0", 0.0),
            ("-0", -0.0),
            ("0e500", 0.0),
            ("0x10", 16.0),
            ("0x1p-2", 0.25),
            ("-0X1.8P1", -3.0),
            ("1e-310", 1e-310),
            ("17179869184", 17179869184.0),
        ];
        for (text, v) in ok {
            assert_eq!(string2d(text.as_bytes()), Some(*v), "{text}");
        }
        for text in ["inf", "+inf", "-inf", "INF", "Infinity", "-infinity"] {
            let v = string2d(text.as_bytes()).unwrap();
            assert!(v.is_infinite(), "{text}");
            assert_eq!(v < 0.0, text.starts_with('-'));
        }
        for bad in [
            "",
            " 1",
            "1 ",
            " 11 ",
            "    11",
            "11    ",
            "nan",
            "NaN",
            "-nan",
            "1e400",
            "-1e400",
            "1e-400",
            "abc",
            "1a",
            "1e",
            "1e+",
            ".",
            "-",
            "+",
            "0x",
            "0xg",
            "0x1p",
            "inff",
            "1\u{0}",
            "1,5",
            "1_000",
            "in",
            "0x1p99999",
            "\t1",
        ] {
            assert_eq!(string2d(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(string2d(&[0xff, b'1']), None);
        assert_eq!(string2ld(&vec![b'1'; MAX_LONG_DOUBLE_CHARS]), None);
        assert!(string2ld(&vec![b'1'; 300]).is_some());
    }

    #[test]
    fn format_double_matches_printf_17g() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (0.1, "0.10000000000000001"),
            (1.1, "1.1000000000000001"),
            (3.0, "3"),
            (10.0, "10"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (1.5e300, "1.5000000000000001e+300"),
            (1e-4, "0.0001"),
            (1.5e-5, "1.5e-05"),
            (1e-5, "1.0000000000000001e-05"),
            (123456789.123, "123456789.123"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "4.9406564584124654e-324"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
        ];
        for (v, want) in cases {
            assert_eq!(s(format_double(*v)), *want, "{v:e}");
        }
    }

    #[test]
    fn format_long_double_matches_incrbyfloat_replies() {
        // Values from tests/unit/type/incr.tcl and the INCRBYFLOAT docs.
        assert_eq!(s(format_long_double(10.5 + 0.1)), "10.6");
        assert_eq!(s(format_long_double(0.0 + 1.0)), "1");
        assert_eq!(s(format_long_double(1.0 + 0.25)), "1.25");
        assert_eq!(s(format_long_double(1.5 + 1.5)), "3");
        assert_eq!(s(format_long_double(17179869184.0 + 1.5)), "17179869185.5");
        assert_eq!(s(format_long_double(17179869184.0 + 17179869184.0)), "34359738368");
        assert_eq!(s(format_long_double(5.0e3 + 2.0e2)), "5200");
        assert_eq!(s(format_long_double(3.0e3)), "3000");
        assert_eq!(s(format_long_double(1.2e-5)), "0.000012");
        assert_eq!(s(format_long_double(1e-20)), "0");
        assert_eq!(s(format_long_double(-0.0)), "0");
        assert_eq!(s(format_long_double(f64::INFINITY)), "inf");
        assert_eq!(s(format_long_double(f64::NEG_INFINITY)), "-inf");
        // "No negative zero": 1/41 then -1/41, each result stored as text and re-parsed.
        let step1 = format_long_double(0.0 + 1.0 / 41.0);
        let back = string2ld(&step1).unwrap();
        assert_eq!(s(format_long_double(back + (-1.0 / 41.0))), "0");
        // INCRBYFLOAT decrement: 1 + -1.1 is -0.1 up to rounding noise.
        let dec = string2ld(&format_long_double(1.0 - 1.1)).unwrap();
        assert!((dec + 0.1).abs() < 1e-15);
        // Whatever is printed reads back.
        let mut rng = XorShift(11);
        for _ in 0..5_000 {
            let v = f64::from_bits(rng.next());
            if !v.is_finite() || v.abs() > 1e30 || v.abs() < 1e-10 {
                continue;
            }
            let text = format_long_double(v);
            let back = string2ld(&text).unwrap();
            assert!((back - v).abs() <= 1e-17_f64.max(v.abs() * 1e-15), "{v:e}");
        }
    }

    #[test]
    fn d2string_and_double2ll() {
        assert_eq!(s(d2string(3.0)), "3");
        assert_eq!(s(d2string(-2.5)), "-2.5");
        assert_eq!(s(d2string(-0.0)), "-0");
        assert_eq!(s(d2string(1e300)), "1.0000000000000001e+300");
        assert_eq!(s(d2string(f64::INFINITY)), "inf");
        assert_eq!(double2ll(4611686018427387904.0), Some(1 << 62)); // (double)(MAX / 2)
        assert_eq!(double2ll(9.3e18), None);
        assert_eq!(double2ll(1e15), Some(1_000_000_000_000_000));
        assert_eq!(double2ll(-7.0), Some(-7));
        assert_eq!(double2ll(0.5), None);
        assert_eq!(double2ll(f64::NAN), None);
        assert_eq!(double2ll(f64::INFINITY), None);
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = XorShift(0xdead_beef);
        let alphabet = b"0123456789+-.eExXpPinfatyINFATY \t\x00\xff";
        for round in 0..50_000 {
            let len = (rng.next() % 24) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let r = rng.next();
                    if round % 2 == 0 {
                        alphabet[(r % alphabet.len() as u64) as usize]
                    } else {
                        r as u8
                    }
                })
                .collect();
            if let Some(v) = string2ll(&bytes) {
                assert_eq!(ll2string(v), bytes);
            }
            let _ = string2ull(&bytes);
            if let Some(v) = string2d(&bytes) {
                assert!(!v.is_nan());
                let _ = format_double(v);
                let _ = format_long_double(v);
                let _ = d2string(v);
                assert_eq!(string2d(&format_double(v)), Some(v), "{:?}", bytes);
            }
            let _ = string2ld(&bytes);
        }
    }
}
