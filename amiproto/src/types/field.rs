//! Reading typed values out of a packet's header values.
//!
//! Every typed accessor is one lookup (ASCII case-insensitive, first value
//! wins, as [`Packet::get`]) and one conversion. An absent key and an empty
//! value (`Key: `, how Asterisk writes missing data) both read as `None`, as
//! they do through [`crate::serde::from_packet`] into an `Option`.

use std::borrow::Cow;

use crate::packet::{Header, Packet, Value};

/// A type a header value converts into.
pub trait FieldValue<'a>: Sized {
    /// Convert a non-empty value; `None` when it does not parse.
    fn decode(value: Value<'a>) -> Option<Self>;
}

impl<'a> FieldValue<'a> for Cow<'a, str> {
    /// Text, without loss: UTF-8, or Latin-1 when not UTF-8.
    #[inline]
    fn decode(value: Value<'a>) -> Option<Self> {
        Some(value.decode_text())
    }
}

macro_rules! numbers {
    ($($t:ty),*) => {$(
        impl FieldValue<'_> for $t {
            /// A number; surrounding spaces are ignored.
            #[inline]
            fn decode(value: Value<'_>) -> Option<Self> {
                value.to_str().ok()?.trim().parse().ok()
            }
        }
    )*};
}
numbers!(u32, u64, i64, f64);

impl FieldValue<'_> for bool {
    /// Asterisk's spellings (`ast_true` / `ast_false`): `yes`/`no`,
    /// `true`/`false`, `y`/`n`, `t`/`f`, `1`/`0`, `on`/`off`.
    #[inline]
    fn decode(value: Value<'_>) -> Option<Self> {
        parse_bool(value.as_bytes())
    }
}

/// Asterisk's `ast_true` / `ast_false`, surrounding spaces ignored.
pub(crate) fn parse_bool(v: &[u8]) -> Option<bool> {
    let v = v.trim_ascii();
    const TRUE: [&str; 6] = ["yes", "true", "y", "t", "1", "on"];
    const FALSE: [&str; 6] = ["no", "false", "n", "f", "0", "off"];
    if TRUE.iter().any(|t| v.eq_ignore_ascii_case(t.as_bytes())) {
        Some(true)
    } else if FALSE.iter().any(|t| v.eq_ignore_ascii_case(t.as_bytes())) {
        Some(false)
    } else {
        None
    }
}

/// Whether `key` is `prefix` followed by `name`, ASCII case-insensitive.
#[inline]
pub(crate) fn key_is(key: &[u8], prefix: &str, name: &str) -> bool {
    let p = prefix.len();
    key.len() == p + name.len()
        && key[..p].eq_ignore_ascii_case(prefix.as_bytes())
        && key[p..].eq_ignore_ascii_case(name.as_bytes())
}

/// The first non-bare header whose key is `prefix` + `name`.
#[inline]
pub(crate) fn find<'a>(packet: &'a Packet, prefix: &str, name: &str) -> Option<Value<'a>> {
    if prefix.is_empty() {
        return packet.get(name);
    }
    let len = prefix.len() + name.len();
    packet
        .headers()
        .find(|h| {
            let k = h.key().as_bytes();
            k.len() == len && !h.is_bare() && key_is(k, prefix, name)
        })
        .map(|h| h.value())
}

/// The value of `prefix` + `name` as `T`; `None` when absent, empty or not
/// a `T`.
#[inline]
pub(crate) fn get<'a, T: FieldValue<'a>>(
    packet: &'a Packet,
    prefix: &str,
    name: &str,
) -> Option<T> {
    let v = find(packet, prefix, name)?;
    if v.is_empty() {
        return None;
    }
    T::decode(v)
}

/// Every non-empty value of a repeated key, as text, in wire order.
#[inline]
pub(crate) fn all<'a>(
    packet: &'a Packet,
    prefix: &'static str,
    name: &'static str,
) -> impl Iterator<Item = Cow<'a, str>> + 'a {
    packet
        .headers()
        .filter(move |h| !h.is_bare() && key_is(h.key().as_bytes(), prefix, name))
        .map(|h| h.value())
        .filter(|v| !v.is_empty())
        .map(|v| v.decode_text())
}

/// Split `name=value` at the first `=` (a value without `=` is a name with
/// an empty value).
pub(crate) fn split_pair(v: Value<'_>) -> (Cow<'_, str>, Cow<'_, str>) {
    let b = v.as_bytes();
    match memchr::memchr(b'=', b) {
        Some(i) => (
            Value::new(&b[..i]).decode_text(),
            Value::new(&b[i + 1..]).decode_text(),
        ),
        None => (v.decode_text(), Cow::Borrowed("")),
    }
}

/// Whether `h` is a `name=value` header of the family `prefix` + `name`:
/// the key itself, or (for `ChanVariable`) the key followed by `(channel)`.
fn is_pair_key(h: &Header<'_>, prefix: &str, name: &str) -> bool {
    if h.is_bare() {
        return false;
    }
    let k = h.key().as_bytes();
    if key_is(k, prefix, name) {
        return true;
    }
    let n = prefix.len() + name.len();
    k.len() > n + 1 && k[n] == b'(' && k.ends_with(b")") && key_is(&k[..n], prefix, name)
}

/// Every `name=value` pair of a repeated key, in wire order.
#[inline]
pub(crate) fn pairs<'a>(
    packet: &'a Packet,
    prefix: &'static str,
    name: &'static str,
) -> impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)> + 'a {
    packet
        .headers()
        .filter(move |h| is_pair_key(h, prefix, name))
        .map(|h| h.value())
        .filter(|v| !v.is_empty())
        .map(split_pair)
}

/// The key of member `n` of a numbered family: `prefix`, `n` (zero-padded
/// to `width` digits), `suffix` (`Action-000001`, `UnitAmount(2)`,
/// `Report0SourceSSRC`).
pub fn numbered_key(prefix: &str, width: usize, n: u32, suffix: &str) -> String {
    format!("{prefix}{n:0width$}{suffix}")
}

/// The value of member `n` of a numbered family as `T`.
#[inline]
pub(crate) fn get_numbered<'a, T: FieldValue<'a>>(
    packet: &'a Packet,
    prefix: &str,
    width: usize,
    n: u32,
    suffix: &str,
) -> Option<T> {
    get(packet, "", &numbered_key(prefix, width, n, suffix))
}

/// Whether `key` belongs to the numbered family `prefix` digits `suffix`.
pub(crate) fn is_numbered(key: &[u8], prefix: &str, suffix: &str) -> bool {
    let (p, s) = (prefix.len(), suffix.len());
    key.len() > p + s
        && key[..p].eq_ignore_ascii_case(prefix.as_bytes())
        && key[key.len() - s..].eq_ignore_ascii_case(suffix.as_bytes())
        && key[p..key.len() - s].iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(headers: &[(&str, &[u8])]) -> Packet {
        let mut b = Packet::builder();
        for (k, v) in headers {
            b.push(k, v);
        }
        b.build().unwrap()
    }

    #[test]
    fn empty_and_absent_are_none_and_case_is_ignored() {
        let p = packet(&[("Event", b"X"), ("Empty", b""), ("Num", b" 42 ")]);
        assert_eq!(get::<Cow<str>>(&p, "", "empty"), None);
        assert_eq!(get::<Cow<str>>(&p, "", "missing"), None);
        assert_eq!(get::<u32>(&p, "", "NUM"), Some(42));
        assert_eq!(get::<u32>(&p, "N", "um"), Some(42));
        assert_eq!(get::<u32>(&p, "", "Event"), None, "not a number");
    }

    #[test]
    fn latin1_text_is_kept() {
        let p = packet(&[("CallerIDName", b"Jos\xe9")]);
        assert_eq!(get::<Cow<str>>(&p, "", "calleridname").unwrap(), "José");
    }

    #[test]
    fn booleans_take_asterisks_spellings() {
        for (v, want) in [
            ("Yes", Some(true)),
            ("no", Some(false)),
            ("1", Some(true)),
            ("0", Some(false)),
            ("On", Some(true)),
            ("off", Some(false)),
            ("maybe", None),
        ] {
            assert_eq!(parse_bool(v.as_bytes()), want, "{v}");
        }
    }

    #[test]
    fn pairs_split_at_the_first_equals_and_accept_the_channel_form() {
        let p = packet(&[
            ("ChanVariable", b"A=1=2"),
            ("ChanVariable(PJSIP/1-0001)", b"B=x"),
            ("DestChanVariable", b"C"),
            ("ChanVariables", b"D=no"),
        ]);
        let got: Vec<_> = pairs(&p, "", "ChanVariable").collect();
        assert_eq!(got, [("A".into(), "1=2".into()), ("B".into(), "x".into())]);
        let dest: Vec<_> = pairs(&p, "Dest", "ChanVariable").collect();
        assert_eq!(dest, [("C".into(), "".into())]);
    }

    #[test]
    fn numbered_keys() {
        assert_eq!(numbered_key("Action-", 6, 12, ""), "Action-000012");
        assert_eq!(numbered_key("UnitAmount(", 0, 3, ")"), "UnitAmount(3)");
        assert!(is_numbered(b"Report12SourceSSRC", "Report", "SourceSSRC"));
        assert!(is_numbered(b"report0sourcessrc", "Report", "SourceSSRC"));
        assert!(!is_numbered(b"ReportSourceSSRC", "Report", "SourceSSRC"));
        assert!(!is_numbered(b"ReportXSourceSSRC", "Report", "SourceSSRC"));
        let p = packet(&[("Report1SourceSSRC", b"0x1")]);
        assert_eq!(
            get_numbered::<Cow<str>>(&p, "Report", 0, 1, "SourceSSRC").unwrap(),
            "0x1"
        );
    }
}
