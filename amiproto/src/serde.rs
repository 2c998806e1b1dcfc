//! `serde` support (feature `serde`): read a [`Packet`] into your own struct,
//! write a packet out as an ordered list of pairs or as a map.
//!
//! There is no zoo of typed events here: AMI has hundreds of event types that
//! change between Asterisk versions, so you declare the fields you need.
//!
//! # Deserializing: [`from_packet`]
//!
//! - **Field names match header keys case-insensitively**, and underscores
//!   in a field name are ignored when no key matches exactly, so
//!   `action_id` finds `ActionID` and `caller_id_num` finds `CallerIDNum`
//!   (`#[serde(rename = "…")]` works as usual).
//! - **Repeated keys** (`Variable`, `Output`, `ChanVariable`…) go into a
//!   `Vec` (or any sequence) in wire order; a scalar field takes the first
//!   value, as [`Packet::get`] does.
//! - **Values** parse into `&str` (borrowed from the packet when UTF-8),
//!   `String` (Latin-1 bytes decoded as [`Value::decode_text`] does, never an
//!   error), `&[u8]`/`Vec<u8>` via `serde_bytes`-style byte visitors,
//!   integers and floats (surrounding spaces ignored), `bool` (Asterisk's
//!   spellings: `yes`/`no`, `true`/`false`, `on`/`off`, `1`/`0`, `y`/`n`,
//!   `t`/`f`), `char`, unit enum variants, and newtypes of those.
//! - **Missing keys** leave `Option` fields `None` (and fields with
//!   `#[serde(default)]` at their default); an **empty value** is `None` for
//!   an `Option`, since Asterisk writes absent data as `Key: `.
//! - A map target (`HashMap<String, String>`, `BTreeMap<String, Vec<String>>`,
//!   `#[serde(flatten)]` catch-alls) receives every distinct key, in order
//!   of first appearance, spelled as on the wire; a sequence target receives
//!   `(key, value)` pairs. With `#[serde(flatten)]`, `serde` matches the
//!   struct's other fields against those map keys itself, exactly: rename
//!   them to the wire spelling (`#[serde(rename = "Event")]`); the catch-all
//!   receives a repeated key as a list (collect into e.g.
//!   `HashMap<String, serde_json::Value>`).
//! - A `Response: Follows` raw body is not a header; read it with
//!   [`Packet::body`].
//!
//! ```
//! use amiproto::Packet;
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Hangup<'a> {
//!     channel: &'a str,
//!     cause: u16,
//!     #[serde(rename = "Cause-txt")]
//!     cause_txt: String,
//!     caller_id_name: String,
//!     linkedid: Option<String>,
//!     #[serde(default)]
//!     variable: Vec<String>,
//! }
//!
//! let p = Packet::builder()
//!     .header("Event", "Hangup")
//!     .header("Channel", "PJSIP/100-00000001")
//!     .header("CallerIDName", b"Jos\xe9")
//!     .header("Cause", "16")
//!     .header("Cause-txt", "Normal Clearing")
//!     .header("Variable", "A=1")
//!     .header("Variable", "B=2")
//!     .build()
//!     .unwrap();
//! let h: Hangup = amiproto::serde::from_packet(&p).unwrap();
//! assert_eq!(h.channel, "PJSIP/100-00000001");
//! assert_eq!(h.cause, 16);
//! assert_eq!(h.cause_txt, "Normal Clearing");
//! assert_eq!(h.caller_id_name, "José"); // Latin-1 on the wire
//! assert_eq!(h.linkedid, None);
//! assert_eq!(h.variable, ["A=1", "B=2"]);
//! ```
//!
//! # Building actions: [`crate::Action::from_serialize`]
//!
//! A struct or a map becomes an action's headers, field by field (a field
//! `Action` names it; a sequence repeats its key; `None` leaves it out);
//! failures are a [`SerializeError`].
//!
//! # Serializing
//!
//! [`Packet`] implements `Serialize` as an ordered list of `[key, value]`
//! pairs: lossless for order and repeated keys. [`PacketMap`] serializes it
//! as a map instead, one entry per distinct key (first spelling and first
//! position kept), a repeated key's values as a list. Keys and values are
//! text as [`Value::decode_text`] gives it; a bare line (no colon) has the
//! empty key. The raw body is not included.
//!
//! ```
//! use amiproto::{serde::PacketMap, Packet};
//!
//! let p = Packet::builder()
//!     .header("Response", "Success")
//!     .header("Output", "one")
//!     .header("Output", "two")
//!     .build()
//!     .unwrap();
//! assert_eq!(
//!     serde_json::to_string(&p).unwrap(),
//!     r#"[["Response","Success"],["Output","one"],["Output","two"]]"#
//! );
//! assert_eq!(
//!     serde_json::to_string(&PacketMap(&p)).unwrap(),
//!     r#"{"Response":"Success","Output":["one","two"]}"#
//! );
//! ```

use std::borrow::Cow;
use std::fmt;

use ::serde::de::{
    self, value::BorrowedStrDeserializer, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess,
    Visitor,
};
use ::serde::ser::{SerializeMap, SerializeSeq};
use ::serde::{Deserialize, Serialize, Serializer};

use crate::packet::{Packet, Value};

mod to_action;
pub use to_action::SerializeError;

/// Why a packet did not deserialize into the requested type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value did not parse as the field's type.
    #[error("header {key:?}: value {value:?} is not {expected}")]
    InvalidValue {
        /// The header key.
        key: String,
        /// The value, as text.
        value: String,
        /// What the field wanted.
        expected: &'static str,
    },
    /// Anything else `serde` reports (a missing required field, a type the
    /// packet cannot provide…).
    #[error("{0}")]
    Custom(String),
}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Error {
        Error::Custom(msg.to_string())
    }
}

/// Deserialize a packet into `T` (see the [module documentation](self)).
///
/// Borrowed fields (`&str`, `&[u8]`) borrow from the packet.
pub fn from_packet<'de, T: Deserialize<'de>>(packet: &'de Packet) -> Result<T, Error> {
    T::deserialize(PacketDeserializer { packet })
}

/// A `serde::Deserializer` over a whole packet; [`from_packet`] uses it.
#[derive(Clone, Copy, Debug)]
pub struct PacketDeserializer<'de> {
    /// The packet read.
    pub packet: &'de Packet,
}

/// The values of one key, in wire order (at least one).
type Values<'de> = Vec<&'de [u8]>;

impl<'de> PacketDeserializer<'de> {
    fn values_of(&self, key: &[u8]) -> Values<'de> {
        self.packet
            .headers()
            .filter(|h| h.key().as_bytes().eq_ignore_ascii_case(key))
            .map(|h| h.value().as_bytes())
            .collect()
    }

    /// The key as first spelled on the wire, and its values, for struct
    /// field `field`: an exact case-insensitive match, else one with
    /// underscores dropped from the field name.
    fn field_values(&self, field: &str) -> Option<(&'de [u8], Values<'de>)> {
        let find = |key: &[u8]| {
            self.packet
                .headers()
                .find(|h| h.key().as_bytes().eq_ignore_ascii_case(key))
                .map(|h| h.key().as_bytes())
        };
        let wire = find(field.as_bytes()).or_else(|| {
            if !field.contains('_') {
                return None;
            }
            let squashed: Vec<u8> = field.bytes().filter(|&b| b != b'_').collect();
            find(&squashed)
        })?;
        Some((wire, self.values_of(wire)))
    }
}

impl<'de> de::Deserializer<'de> for PacketDeserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        // Distinct keys in order of first appearance.
        let mut keys: Vec<&'de [u8]> = Vec::new();
        for h in self.packet.headers() {
            let k = h.key().as_bytes();
            if !keys.iter().any(|seen| seen.eq_ignore_ascii_case(k)) {
                keys.push(k);
            }
        }
        visitor.visit_map(Entries {
            entries: keys
                .into_iter()
                .map(|k| (Key::Wire(k), self.values_of(k)))
                .collect::<Vec<_>>()
                .into_iter(),
            pending: None,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let entries: Vec<_> = fields
            .iter()
            .filter_map(|&f| {
                let (wire, values) = self.field_values(f)?;
                Some((Key::Field(f, wire), values))
            })
            .collect();
        visitor.visit_map(Entries {
            entries: entries.into_iter(),
            pending: None,
        })
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_seq(Pairs {
            headers: self.packet.headers(),
        })
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    ::serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct tuple
        tuple_struct enum identifier
    }
}

#[derive(Clone, Copy)]
enum Key<'de> {
    /// A struct field name (so the derived field visitor matches it), and
    /// the key it matched on the wire.
    Field(&'static str, &'de [u8]),
    /// A key as on the wire (map targets).
    Wire(&'de [u8]),
}

struct Entries<'de, I> {
    entries: I,
    pending: Option<(Key<'de>, Values<'de>)>,
}

impl<'de, I: Iterator<Item = (Key<'de>, Values<'de>)>> MapAccess<'de> for Entries<'de, I> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, values)) = self.entries.next() else {
            return Ok(None);
        };
        self.pending = Some((key, values));
        let v = match key {
            Key::Field(f, _) => seed.deserialize(BorrowedStrDeserializer::new(f))?,
            Key::Wire(k) => seed.deserialize(ValueDeserializer {
                key: k,
                values: vec![k],
            })?,
        };
        Ok(Some(v))
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
        let (key, values) = self
            .pending
            .take()
            .ok_or_else(|| Error::Custom("value asked before key".into()))?;
        let key = match key {
            Key::Field(_, wire) => wire,
            Key::Wire(k) => k,
        };
        seed.deserialize(ValueDeserializer { key, values })
    }

    fn size_hint(&self) -> Option<usize> {
        self.entries.size_hint().1
    }
}

/// The packet as a sequence of `(key, value)` pairs.
struct Pairs<'de> {
    headers: crate::packet::Headers<'de>,
}

impl<'de> SeqAccess<'de> for Pairs<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some(h) = self.headers.next() else {
            return Ok(None);
        };
        let key = h.key().as_bytes();
        let pair = [key, h.value().as_bytes()].map(|v| ValueDeserializer {
            key,
            values: vec![v],
        });
        seed.deserialize(de::value::SeqDeserializer::new(pair.into_iter()))
            .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.headers.len())
    }
}

/// The values of one key.
struct ValueDeserializer<'de> {
    key: &'de [u8],
    values: Values<'de>,
}

impl<'de> IntoDeserializer<'de, Error> for ValueDeserializer<'de> {
    type Deserializer = ValueDeserializer<'de>;
    fn into_deserializer(self) -> ValueDeserializer<'de> {
        self
    }
}

/// Asterisk's `ast_true` / `ast_false` spellings.
fn parse_bool(v: &[u8]) -> Option<bool> {
    let v = v.trim_ascii();
    if crate::action::is_true(v) {
        return Some(true);
    }
    ["no", "false", "n", "f", "0", "off"]
        .iter()
        .any(|f| v.eq_ignore_ascii_case(f.as_bytes()))
        .then_some(false)
}

impl<'de> ValueDeserializer<'de> {
    fn first(&self) -> &'de [u8] {
        self.values.first().copied().unwrap_or_default()
    }

    fn invalid(&self, expected: &'static str) -> Error {
        Error::InvalidValue {
            key: Value::new(self.key).decode_text().into_owned(),
            value: Value::new(self.first()).decode_text().into_owned(),
            expected,
        }
    }

    fn parse<T: std::str::FromStr>(&self, expected: &'static str) -> Result<T, Error> {
        std::str::from_utf8(self.first())
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| self.invalid(expected))
    }
}

macro_rules! parse_number {
    ($($method:ident => $visit:ident: $ty:ty, $what:literal;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            visitor.$visit(self.parse::<$ty>($what)?)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for ValueDeserializer<'de> {
    type Error = Error;

    /// One value: a string; several: a sequence of strings.
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.values.len() > 1 {
            self.deserialize_seq(visitor)
        } else {
            self.deserialize_str(visitor)
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match parse_bool(self.first()) {
            Some(b) => visitor.visit_bool(b),
            None => Err(self.invalid("a boolean")),
        }
    }

    parse_number! {
        deserialize_i8 => visit_i8: i8, "an i8";
        deserialize_i16 => visit_i16: i16, "an i16";
        deserialize_i32 => visit_i32: i32, "an i32";
        deserialize_i64 => visit_i64: i64, "an i64";
        deserialize_i128 => visit_i128: i128, "an i128";
        deserialize_u8 => visit_u8: u8, "a u8";
        deserialize_u16 => visit_u16: u16, "a u16";
        deserialize_u32 => visit_u32: u32, "a u32";
        deserialize_u64 => visit_u64: u64, "a u64";
        deserialize_u128 => visit_u128: u128, "a u128";
        deserialize_f32 => visit_f32: f32, "an f32";
        deserialize_f64 => visit_f64: f64, "an f64";
        deserialize_char => visit_char: char, "one character";
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match Value::new(self.first()).decode_text() {
            Cow::Borrowed(s) => visitor.visit_borrowed_str(s),
            Cow::Owned(s) => visitor.visit_string(s),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_bytes(self.first())
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_bytes(self.first())
    }

    /// Present: `Some`, unless the (first) value is empty.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.first().is_empty() && self.values.len() <= 1 {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    /// Every value of the key, in wire order.
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let key = self.key;
        visitor.visit_seq(de::value::SeqDeserializer::new(
            self.values.into_iter().map(move |v| ValueDeserializer {
                key,
                values: vec![v],
            }),
        ))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Error> {
        Err(self.invalid("a map"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Error> {
        Err(self.invalid("a struct"))
    }

    /// A unit variant named by the value (case as written).
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match Value::new(self.first()).decode_text() {
            Cow::Borrowed(s) => visitor.visit_enum(BorrowedStrDeserializer::new(s)),
            Cow::Owned(s) => visitor.visit_enum(s.into_deserializer()),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

/// Text of a key or value for serialization.
fn text(v: Value<'_>) -> Cow<'_, str> {
    v.decode_text()
}

impl Serialize for Packet {
    /// An ordered list of `[key, value]` pairs (see the [module
    /// documentation](crate::serde)).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for h in self.headers() {
            seq.serialize_element(&(text(h.key()), text(h.value())))?;
        }
        seq.end()
    }
}

/// Serializes a packet as a map: one entry per distinct key (matched
/// case-insensitively; first spelling, first position), a string for a key
/// seen once, a list of strings for a repeated key.
///
/// Deliberately a plain public wrapper, written `PacketMap(&packet)`: it
/// only chooses how a packet serializes, and will hold nothing else.
#[derive(Clone, Copy, Debug)]
pub struct PacketMap<'a>(pub &'a Packet);

impl Serialize for PacketMap<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut groups: Vec<(Value<'_>, Vec<Value<'_>>)> = Vec::new();
        for h in self.0.headers() {
            match groups
                .iter_mut()
                .find(|(k, _)| k.as_bytes().eq_ignore_ascii_case(h.key().as_bytes()))
            {
                Some((_, vs)) => vs.push(h.value()),
                None => groups.push((h.key(), vec![h.value()])),
            }
        }
        let mut map = serializer.serialize_map(Some(groups.len()))?;
        for (k, vs) in &groups {
            if let [v] = vs[..] {
                map.serialize_entry(&text(*k), &text(v))?;
            } else {
                let all: Vec<Cow<'_, str>> = vs.iter().map(|v| text(*v)).collect();
                map.serialize_entry(&text(*k), &all)?;
            }
        }
        map.end()
    }
}
