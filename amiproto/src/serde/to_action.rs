//! [`Action::from_serialize`]: an action from a struct or a map.

use std::borrow::Cow;
use std::fmt;

use ::serde::ser::{self, Impossible, Serialize, SerializeMap, SerializeSeq, SerializeStruct};
use bytes::Bytes;

use crate::action::Action;

/// Why a value could not become an action's headers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SerializeError {
    /// The value is not a struct or a map (an action is a list of headers).
    #[error("an action is serialized from a struct or a map, not {0}")]
    NotAMap(&'static str),
    /// A field's value is not a scalar, an option or a sequence of scalars.
    #[error("field {key:?}: {found} cannot be a header value")]
    NotAValue {
        /// The field.
        key: String,
        /// What it held (`a map`, `a nested sequence`…).
        found: &'static str,
    },
    /// A map key that is not text.
    #[error("a header key must be text, not {0}")]
    KeyNotText(&'static str),
    /// Anything else the value's `Serialize` reported.
    #[error("{0}")]
    Custom(String),
}

impl ser::Error for SerializeError {
    fn custom<T: fmt::Display>(msg: T) -> SerializeError {
        SerializeError::Custom(msg.to_string())
    }
}

/// Building an action from a `serde` value (feature `serde`).
impl Action {
    /// An action from a struct or a map: each field is a header, in order
    /// ([`Action::from_pairs`] rules: a field `Action` names the action, a
    /// field `ActionID` sets its id). Field names are sent as they are
    /// spelled (`#[serde(rename = "…")]`, `rename_all = "PascalCase"`);
    /// values are text, bytes (what `serialize_bytes` gives: a plain
    /// `&[u8]` or `Vec<u8>` is a sequence of numbers to `serde`), numbers,
    /// `bool` (`true`/`false`, which
    /// Asterisk reads as yes/no), `char`, unit enum variants (their name)
    /// and newtypes of those; `None` and `()` leave the header out; a
    /// sequence repeats the header once per element (`Variable`). Nested
    /// maps and structs are refused.
    ///
    /// The encoder checks the result as any action (CR, LF or NUL in a
    /// value never reaches the wire), and `Debug` hides `Secret` and `Key`.
    ///
    /// ```
    /// use amiproto::Action;
    /// use serde::Serialize;
    ///
    /// #[derive(Serialize)]
    /// #[serde(rename_all = "PascalCase")]
    /// struct Originate<'a> {
    ///     action: &'a str,
    ///     channel: &'a str,
    ///     exten: u32,
    ///     context: &'a str,
    ///     priority: u32,
    ///     caller_id: Option<&'a str>,
    ///     variable: Vec<String>,
    ///     #[serde(rename = "Async")]
    ///     run_async: bool,
    /// }
    ///
    /// let a = Action::from_serialize(&Originate {
    ///     action: "Originate",
    ///     channel: "PJSIP/100",
    ///     exten: 200,
    ///     context: "default",
    ///     priority: 1,
    ///     caller_id: None,
    ///     variable: vec!["A=1".into(), "B=2".into()],
    ///     run_async: true,
    /// })?;
    /// assert_eq!(
    ///     a.to_bytes().unwrap(),
    ///     &b"Action: Originate\r\nChannel: PJSIP/100\r\nExten: 200\r\nContext: default\r\nPriority: 1\r\nVariable: A=1\r\nVariable: B=2\r\nAsync: true\r\n\r\n"[..]
    /// );
    /// # Ok::<(), amiproto::serde::SerializeError>(())
    /// ```
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Action, SerializeError> {
        let mut pairs = Vec::new();
        value.serialize(Top { pairs: &mut pairs })?;
        Ok(Action::from_pairs(pairs))
    }
}

type Pairs = Vec<(Cow<'static, str>, Bytes)>;

/// The whole value: a struct or a map.
struct Top<'a> {
    pairs: &'a mut Pairs,
}

/// A struct or map being read into pairs.
struct Fields<'a> {
    pairs: &'a mut Pairs,
    key: Option<String>,
}

impl Fields<'_> {
    fn push<T: Serialize + ?Sized>(
        &mut self,
        key: Cow<'static, str>,
        value: &T,
    ) -> Result<(), SerializeError> {
        let mut values = Vec::new();
        value.serialize(Values {
            out: &mut values,
            in_seq: false,
            key: &key,
        })?;
        self.pairs
            .extend(values.into_iter().map(|v| (key.clone(), v)));
        Ok(())
    }
}

/// Values of one field (several for a sequence).
struct Values<'a> {
    out: &'a mut Vec<Bytes>,
    in_seq: bool,
    key: &'a str,
}

impl Values<'_> {
    fn text(self, text: impl ToString) -> Result<(), SerializeError> {
        self.out.push(Bytes::from(text.to_string()));
        Ok(())
    }

    fn refuse(&self, found: &'static str) -> SerializeError {
        SerializeError::NotAValue {
            key: self.key.to_owned(),
            found,
        }
    }
}

macro_rules! not_a_map {
    ($($method:ident($($arg:ty),*) => $what:literal;)*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<(), SerializeError> {
            Err(SerializeError::NotAMap($what))
        })*
    };
}

impl<'a> ser::Serializer for Top<'a> {
    type Ok = ();
    type Error = SerializeError;
    type SerializeSeq = Impossible<(), SerializeError>;
    type SerializeTuple = Impossible<(), SerializeError>;
    type SerializeTupleStruct = Impossible<(), SerializeError>;
    type SerializeTupleVariant = Impossible<(), SerializeError>;
    type SerializeMap = Fields<'a>;
    type SerializeStruct = Fields<'a>;
    type SerializeStructVariant = Impossible<(), SerializeError>;

    not_a_map! {
        serialize_bool(bool) => "a bool";
        serialize_i8(i8) => "a number";
        serialize_i16(i16) => "a number";
        serialize_i32(i32) => "a number";
        serialize_i64(i64) => "a number";
        serialize_u8(u8) => "a number";
        serialize_u16(u16) => "a number";
        serialize_u32(u32) => "a number";
        serialize_u64(u64) => "a number";
        serialize_f32(f32) => "a number";
        serialize_f64(f64) => "a number";
        serialize_char(char) => "a char";
        serialize_str(&str) => "a string";
        serialize_bytes(&[u8]) => "bytes";
        serialize_none() => "None";
        serialize_unit() => "()";
        serialize_unit_struct(&'static str) => "a unit struct";
        serialize_unit_variant(&'static str, u32, &'static str) => "an enum variant";
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), SerializeError> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), SerializeError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), SerializeError> {
        Err(SerializeError::NotAMap("an enum variant"))
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, SerializeError> {
        Err(SerializeError::NotAMap("a sequence"))
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, SerializeError> {
        Err(SerializeError::NotAMap("a tuple"))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, SerializeError> {
        Err(SerializeError::NotAMap("a tuple struct"))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, SerializeError> {
        Err(SerializeError::NotAMap("an enum variant"))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Fields<'a>, SerializeError> {
        Ok(Fields {
            pairs: self.pairs,
            key: None,
        })
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Fields<'a>, SerializeError> {
        Ok(Fields {
            pairs: self.pairs,
            key: None,
        })
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, SerializeError> {
        Err(SerializeError::NotAMap("an enum variant"))
    }
}

impl SerializeStruct for Fields<'_> {
    type Ok = ();
    type Error = SerializeError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerializeError> {
        self.push(Cow::Borrowed(key), value)
    }

    fn end(self) -> Result<(), SerializeError> {
        Ok(())
    }
}

impl SerializeMap for Fields<'_> {
    type Ok = ();
    type Error = SerializeError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), SerializeError> {
        let mut values = Vec::new();
        key.serialize(Values {
            out: &mut values,
            in_seq: true,
            key: "",
        })
        .map_err(|_| SerializeError::KeyNotText("a compound value"))?;
        let [key] = &values[..] else {
            return Err(SerializeError::KeyNotText("nothing"));
        };
        self.key = Some(String::from_utf8_lossy(key).into_owned());
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerializeError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| SerializeError::Custom("a map value without its key".into()))?;
        self.push(Cow::Owned(key), value)
    }

    fn end(self) -> Result<(), SerializeError> {
        Ok(())
    }
}

impl<'a> ser::Serializer for Values<'a> {
    type Ok = ();
    type Error = SerializeError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Impossible<(), SerializeError>;
    type SerializeMap = Impossible<(), SerializeError>;
    type SerializeStruct = Impossible<(), SerializeError>;
    type SerializeStructVariant = Impossible<(), SerializeError>;

    fn serialize_bool(self, v: bool) -> Result<(), SerializeError> {
        self.text(if v { "true" } else { "false" })
    }

    fn serialize_i8(self, v: i8) -> Result<(), SerializeError> {
        self.text(v)
    }

    fn serialize_i16(self, v: i16) -> Result<(), SerializeError> {
        self.text(v)
    }

    fn serialize_i32(self, v: i32) -> Result<(), SerializeError> {
        self.text(v)
    }

    fn serialize_i64(self, v: i64) -> Result<(), SerializeError> {
        self.text(v)
    }

    fn serialize_i128(self, v: i128) -> Result<(), SerializeError> {
        self.text(v)
    }

    fn serialize_u8(self, v: u8) -> Result<(), SerializeError> {
        self.text(v)
    }

    fn serialize_u16(self, v: u16) -> Result<(), SerializeError> {
        self.text(v)
    }

    fn serialize_u32(self, v: u32) -> Result<(), SerializeError> {
        self.text(v)
    }

    fn serialize_u64(self, v: u64) -> Result<(), SerializeError> {
        self.text(v)
    }

    fn serialize_u128(self, v: u128) -> Result<(), SerializeError> {
        self.text(v)
    }

    fn serialize_f32(self, v: f32) -> Result<(), SerializeError> {
        self.text(v)
    }

    fn serialize_f64(self, v: f64) -> Result<(), SerializeError> {
        self.text(v)
    }

    fn serialize_char(self, v: char) -> Result<(), SerializeError> {
        self.text(v)
    }

    fn serialize_str(self, v: &str) -> Result<(), SerializeError> {
        self.text(v)
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), SerializeError> {
        self.out.push(Bytes::copy_from_slice(v));
        Ok(())
    }

    fn serialize_none(self) -> Result<(), SerializeError> {
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), SerializeError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), SerializeError> {
        Ok(())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), SerializeError> {
        Ok(())
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), SerializeError> {
        self.text(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), SerializeError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), SerializeError> {
        Err(self.refuse("an enum variant with data"))
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self, SerializeError> {
        if self.in_seq {
            return Err(self.refuse("a nested sequence"));
        }
        Ok(Values {
            in_seq: true,
            ..self
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Self, SerializeError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Self, SerializeError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, SerializeError> {
        Err(self.refuse("an enum variant with data"))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, SerializeError> {
        Err(self.refuse("a map"))
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, SerializeError> {
        Err(self.refuse("a struct"))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, SerializeError> {
        Err(self.refuse("an enum variant with data"))
    }
}

impl SerializeSeq for Values<'_> {
    type Ok = ();
    type Error = SerializeError;

    fn serialize_element<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<(), SerializeError> {
        value.serialize(Values {
            out: self.out,
            in_seq: true,
            key: self.key,
        })
    }

    fn end(self) -> Result<(), SerializeError> {
        Ok(())
    }
}

impl ser::SerializeTuple for Values<'_> {
    type Ok = ();
    type Error = SerializeError;

    fn serialize_element<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<(), SerializeError> {
        SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<(), SerializeError> {
        Ok(())
    }
}

impl ser::SerializeTupleStruct for Values<'_> {
    type Ok = ();
    type Error = SerializeError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerializeError> {
        SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<(), SerializeError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ::serde::Serialize;

    use super::*;

    /// Bytes as bytes (a plain `&[u8]` is a sequence of numbers to serde).
    struct Raw(&'static [u8]);

    impl Serialize for Raw {
        fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }

    #[derive(Serialize)]
    enum Mode {
        #[serde(rename = "yes")]
        On,
    }

    #[derive(Serialize)]
    struct Login {
        #[serde(rename = "Action")]
        action: &'static str,
        #[serde(rename = "Username")]
        user: String,
        #[serde(rename = "Secret")]
        secret: String,
        #[serde(rename = "Events")]
        events: Mode,
        #[serde(rename = "Key")]
        key: Option<String>,
        #[serde(rename = "Tag")]
        tag: (u8, char),
        #[serde(rename = "Raw")]
        raw: Raw,
    }

    #[test]
    fn structs_become_headers() {
        let a = Action::from_serialize(&Login {
            action: "Login",
            user: "admin".into(),
            secret: "hunter2".into(),
            events: Mode::On,
            key: None,
            tag: (7, 'x'),
            raw: Raw(b"\xe9"),
        })
        .unwrap();
        assert_eq!(
            &a.to_bytes().unwrap()[..],
            b"Action: Login\r\nUsername: admin\r\nSecret: hunter2\r\nEvents: yes\r\nTag: 7\r\nTag: x\r\nRaw: \xe9\r\n\r\n"
        );
        assert!(!format!("{a:?}").contains("hunter2"));
    }

    #[test]
    fn maps_and_refusals() {
        let mut m = BTreeMap::new();
        m.insert("Action", vec!["Ping"]);
        m.insert("ActionID", vec!["p-1"]);
        let a = Action::from_serialize(&m).unwrap();
        assert_eq!(
            &a.to_bytes().unwrap()[..],
            b"Action: Ping\r\nActionID: p-1\r\n\r\n"
        );
        assert_eq!(
            Action::from_serialize(&"Ping"),
            Err(SerializeError::NotAMap("a string"))
        );
        let mut nested = BTreeMap::new();
        nested.insert("Action", vec![vec!["Ping"]]);
        assert!(matches!(
            Action::from_serialize(&nested),
            Err(SerializeError::NotAValue {
                found: "a nested sequence",
                ..
            })
        ));
        let mut bad_key = BTreeMap::new();
        bad_key.insert(vec![1u8, 2], "x");
        assert!(matches!(
            Action::from_serialize(&bad_key),
            Err(SerializeError::KeyNotText(_))
        ));
        // Injection is refused at encode, as for any action.
        let mut evil = BTreeMap::new();
        evil.insert("Action", "Setvar");
        evil.insert("Value", "x\r\nAction: Hangup");
        assert!(Action::from_serialize(&evil).unwrap().to_bytes().is_err());
    }
}
