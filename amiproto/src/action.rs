//! The [`Action`] builder and helpers for common actions.

use std::borrow::Cow;
use std::fmt;

use bytes::{Bytes, BytesMut};

use crate::encode::{check_action_id, check_line, check_value_line, MAX_LINES};
use crate::error::EncodeError;

/// An action to send: a name, an optional `ActionID` and headers in order.
///
/// Building never fails; [`Action::encode`] checks everything (the injection
/// boundary: a CR or LF in a value from a web form can never become a second
/// action) and writes nothing when a check fails.
///
/// ```
/// use amiproto::Action;
///
/// let a = Action::new("Originate")
///     .header("Channel", "Local/100@default")
///     .header("Exten", "400")
///     .variable("FOO", "1")
///     .variable("BAR", "2")
///     .action_id("o-1");
/// assert_eq!(
///     a.to_bytes().unwrap(),
///     &b"Action: Originate\r\nActionID: o-1\r\nChannel: Local/100@default\r\nExten: 400\r\nVariable: FOO=1\r\nVariable: BAR=2\r\n\r\n"[..]
/// );
///
/// let evil = Action::new("Setvar").header("Value", "x\r\nAction: Hangup");
/// assert!(evil.to_bytes().is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Action {
    name: Cow<'static, str>,
    action_id: Option<String>,
    headers: Vec<(Cow<'static, str>, Bytes)>,
    /// The first thing a builder call could not represent (a bad
    /// [`Action::variable`] name); encoding reports it.
    refused: Option<Box<EncodeError>>,
}

impl Action {
    /// An action named `name` (`Ping`, `Originate`, `Command`…).
    pub fn new(name: impl Into<Cow<'static, str>>) -> Action {
        Action {
            name: name.into(),
            action_id: None,
            headers: Vec::new(),
            refused: None,
        }
    }

    /// Append a header (repeat the call to repeat a key).
    pub fn header(mut self, key: impl Into<Cow<'static, str>>, value: impl Into<Bytes>) -> Action {
        self.headers.push((key.into(), value.into()));
        self
    }

    /// Append a header through a mutable reference.
    pub fn push_header(&mut self, key: impl Into<Cow<'static, str>>, value: impl Into<Bytes>) {
        self.headers.push((key.into(), value.into()));
    }

    /// Append `Variable: name=value` (channel variables for `Originate` and
    /// friends), such that Asterisk sets exactly one variable, `name`, to
    /// exactly `value`.
    ///
    /// Asterisk splits `Variable:` values at commas and strips `"` and `\`;
    /// the value is escaped so that none of that happens to it (any byte but
    /// CR, LF and NUL round-trips). A name Asterisk would split or change
    /// (empty, or with `=`, `,`, `"`, `\`, a space or a control byte) cannot
    /// be escaped: the action then fails to encode with
    /// [`EncodeError::InvalidVariableName`]. See [`crate::encode_variable`].
    ///
    /// ```
    /// use amiproto::{Action, EncodeError};
    ///
    /// let a = Action::originate("Local/100@default").variable("CALLERNAME", "Bob,__TRANSFER_CONTEXT=evil");
    /// assert!(a.to_bytes()?.ends_with(b"Variable: CALLERNAME=Bob\\,__TRANSFER_CONTEXT=evil\r\n\r\n"));
    /// let bad = Action::originate("Local/100@default").variable("A=B", "1");
    /// assert!(matches!(bad.to_bytes(), Err(EncodeError::InvalidVariableName { .. })));
    /// # Ok::<(), EncodeError>(())
    /// ```
    pub fn variable(mut self, name: &str, value: impl AsRef<[u8]>) -> Action {
        match crate::variable::encode_variable(name, value.as_ref()) {
            Ok(v) => self.header("Variable", v),
            Err(e) => {
                self.refuse(e);
                self
            }
        }
    }

    /// Set `key` to `value`: replace its first occurrence (ASCII
    /// case-insensitive; later ones go), or append it. For the typed
    /// builders, whose parameters are set once.
    #[cfg(feature = "types")]
    pub(crate) fn set_header(&mut self, key: &'static str, value: Bytes) {
        let Some(i) = self
            .headers
            .iter()
            .position(|(k, _)| k.eq_ignore_ascii_case(key))
        else {
            self.headers.push((Cow::Borrowed(key), value));
            return;
        };
        self.headers[i] = (Cow::Borrowed(key), value);
        let mut n = 0;
        self.headers.retain(|(k, _)| {
            n += 1;
            n <= i + 1 || !k.eq_ignore_ascii_case(key)
        });
    }

    /// Set the `ActionID` yourself; otherwise the connection generates one.
    pub fn action_id(mut self, id: impl Into<String>) -> Action {
        self.action_id = Some(id.into());
        self
    }

    /// The action's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The caller-chosen `ActionID`, if any.
    pub fn get_action_id(&self) -> Option<&str> {
        self.action_id.as_deref()
    }

    /// The headers in order (the name and `ActionID` excluded).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter().map(|(k, v)| (&**k, &**v))
    }

    /// The first value of `key` (ASCII case-insensitive).
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| &**v)
    }

    /// Whether this is `name` (ASCII case-insensitive).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// Whether header `key` holds a value Asterisk reads as true (`yes`,
    /// `true`, `y`, `t`, `1`, `on`).
    pub fn flag(&self, key: &str) -> bool {
        self.get(key).is_some_and(is_true)
    }

    /// Check the action as it would be sent with `action_id` (or its own).
    pub fn validate(&self, action_id: Option<&str>) -> Result<(), EncodeError> {
        let id = action_id.or(self.action_id.as_deref());
        if let Some(id) = id {
            check_action_id(id)?;
        }
        self.validate_except_id(id.is_some())
    }

    /// Every check of [`Action::validate`] but the `ActionID`'s own, for an
    /// action sent with one (`with_id`) or without.
    fn validate_except_id(&self, with_id: bool) -> Result<(), EncodeError> {
        if let Some(e) = &self.refused {
            return Err((**e).clone());
        }
        if self.name.is_empty() {
            return Err(EncodeError::EmptyActionName);
        }
        // The fixed keys are valid; a valid ActionID (printable ASCII, at
        // most 64 bytes) also makes a valid line.
        check_value_line("Action", self.name.as_bytes())?;
        let count = 1 + usize::from(with_id) + self.headers.len();
        if count > MAX_LINES {
            return Err(EncodeError::TooManyLines {
                count,
                max: MAX_LINES,
            });
        }
        for (k, v) in &self.headers {
            if k.eq_ignore_ascii_case("Action") || k.eq_ignore_ascii_case("ActionID") {
                return Err(EncodeError::ReservedKey(k.to_string()));
            }
            check_line(k, v)?;
        }
        Ok(())
    }

    /// Append the action to `buf`, with `action_id` overriding its own
    /// (the connection passes the id it generated). Nothing is written when
    /// a check fails.
    pub fn encode(&self, action_id: Option<&str>, buf: &mut BytesMut) -> Result<(), EncodeError> {
        self.validate(action_id)?;
        let id = action_id.or(self.action_id.as_deref());
        self.encode_checked(id.map(|id| (&b"\r\nActionID: "[..], id.as_bytes())), buf);
        Ok(())
    }

    /// Like [`Action::encode`] with an `ActionID` the caller has already
    /// checked, given as the start of its line (from the CRLF that ends
    /// the `Action` line: `\r\nActionID: ` and the connection's prefix,
    /// rendered and checked once) and the rest (the digits): the action
    /// itself is still checked.
    pub(crate) fn encode_with_checked_id(
        &self,
        id_line_head: &[u8],
        id_line_tail: &[u8],
        buf: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        self.validate_except_id(true)?;
        self.encode_checked(Some((id_line_head, id_line_tail)), buf);
        Ok(())
    }

    /// Write the action. Each line's CRLF is written with what follows it
    /// (the blank line's with the last one): an action without headers
    /// takes five copies. `id_line` is the `ActionID` line in two parts,
    /// from the CRLF before it.
    fn encode_checked(&self, id_line: Option<(&[u8], &[u8])>, buf: &mut BytesMut) {
        let id_line_len = id_line.map_or(0, |(head, tail)| head.len() + tail.len());
        buf.reserve(self.encoded_len() + id_line_len);
        buf.extend_from_slice(b"Action: ");
        buf.extend_from_slice(self.name.as_bytes());
        if let Some((head, tail)) = id_line {
            buf.extend_from_slice(head);
            buf.extend_from_slice(tail);
        }
        for (k, v) in &self.headers {
            buf.extend_from_slice(b"\r\n");
            buf.extend_from_slice(k.as_bytes());
            buf.extend_from_slice(b": ");
            buf.extend_from_slice(v);
        }
        buf.extend_from_slice(b"\r\n\r\n");
    }

    /// Length of the encoded action but for its `ActionID` line.
    fn encoded_len(&self) -> usize {
        let line = |k: usize, v: usize| k + v + 4;
        line(6, self.name.len())
            + self
                .headers
                .iter()
                .map(|(k, v)| line(k.len(), v.len()))
                .sum::<usize>()
            + 2
    }

    /// The encoded action with its own `ActionID` (if any).
    pub fn to_bytes(&self) -> Result<Bytes, EncodeError> {
        let mut buf = BytesMut::new();
        self.encode(None, &mut buf)?;
        Ok(buf.freeze())
    }
}

/// Building an action from `(key, value)` pairs, as a plain object of
/// another language's AMI library would give them.
impl Action {
    /// An action from pairs in order: the `Action` pair names it, an
    /// `ActionID` pair sets its id (both keys ASCII case-insensitive), every
    /// other pair is a header, a repeated key repeating the header.
    ///
    /// Building never fails: what cannot be sent is refused when the action
    /// is encoded, as for any action (no `Action` pair:
    /// [`EncodeError::EmptyActionName`]; a second `Action` or `ActionID`:
    /// [`EncodeError::ReservedKey`]; CR, LF or NUL in a value, a bad key…).
    /// `Debug` still hides `Secret` and `Key` values.
    ///
    /// ```
    /// use amiproto::Action;
    ///
    /// let a = Action::from_pairs([
    ///     ("Action", "Originate"),
    ///     ("ActionID", "o-1"),
    ///     ("Channel", "Local/100@default"),
    ///     ("Variable", "A=1"),
    ///     ("Variable", "B=2"),
    /// ]);
    /// assert_eq!(
    ///     a.to_bytes().unwrap(),
    ///     &b"Action: Originate\r\nActionID: o-1\r\nChannel: Local/100@default\r\nVariable: A=1\r\nVariable: B=2\r\n\r\n"[..]
    /// );
    /// // The injection checks apply as for any action.
    /// let evil = Action::from_pairs([("Action", "Setvar"), ("Value", "x\r\nAction: Hangup")]);
    /// assert!(evil.to_bytes().is_err());
    /// ```
    pub fn from_pairs<I, K, V>(pairs: I) -> Action
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<Cow<'static, str>>,
        V: Into<Bytes>,
    {
        let mut action = Action::new("");
        let mut named = false;
        for (key, value) in pairs {
            let key = key.into();
            let value = value.into();
            if key.eq_ignore_ascii_case("Action") {
                if named {
                    action.refuse(EncodeError::ReservedKey(key.into_owned()));
                } else {
                    named = true;
                    action.name = String::from_utf8_lossy(&value).into_owned().into();
                }
            } else if key.eq_ignore_ascii_case("ActionID") {
                if action.action_id.is_some() {
                    action.refuse(EncodeError::ReservedKey(key.into_owned()));
                } else {
                    action.action_id = Some(String::from_utf8_lossy(&value).into_owned());
                }
            } else {
                action.headers.push((key, value));
            }
        }
        action
    }

    /// Keep the first reason the action cannot be encoded.
    fn refuse(&mut self, e: EncodeError) {
        self.refused.get_or_insert_with(|| Box::new(e));
    }
}

/// Append headers from `(key, value)` pairs (an `Action` or `ActionID` key
/// among them is refused at encode, as with [`Action::header`]).
///
/// ```
/// use amiproto::Action;
///
/// let mut a = Action::new("Originate");
/// a.extend([("Channel", "Local/100@default"), ("Async", "true")]);
/// assert_eq!(a.get("Async"), Some(&b"true"[..]));
/// ```
impl<K, V> Extend<(K, V)> for Action
where
    K: Into<Cow<'static, str>>,
    V: Into<Bytes>,
{
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, pairs: I) {
        for (k, v) in pairs {
            self.headers.push((k.into(), v.into()));
        }
    }
}

/// [`Action::from_pairs`], for `collect()`.
///
/// ```
/// use amiproto::Action;
///
/// let a: Action = [("Action", "Ping"), ("ActionID", "p-1")].into_iter().collect();
/// assert_eq!(a.to_bytes().unwrap(), &b"Action: Ping\r\nActionID: p-1\r\n\r\n"[..]);
/// ```
impl<K, V> FromIterator<(K, V)> for Action
where
    K: Into<Cow<'static, str>>,
    V: Into<Bytes>,
{
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Action {
        Action::from_pairs(pairs)
    }
}

/// Asterisk's `ast_true`: the spellings it reads as yes.
pub(crate) fn is_true(v: &[u8]) -> bool {
    ["yes", "true", "y", "t", "1", "on"]
        .iter()
        .any(|t| v.eq_ignore_ascii_case(t.as_bytes()))
}

/// Headers whose values are secrets; [`Action`]'s `Debug` redacts them.
const SECRET_KEYS: [&str; 2] = ["Secret", "Key"];

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Action");
        s.field("name", &self.name);
        s.field("action_id", &self.action_id);
        let headers: Vec<_> = self
            .headers
            .iter()
            .map(|(k, v)| {
                let shown = if SECRET_KEYS.iter().any(|s| k.eq_ignore_ascii_case(s)) {
                    "<redacted>".into()
                } else {
                    String::from_utf8_lossy(v)
                };
                format!("{k}: {shown}")
            })
            .collect();
        s.field("headers", &headers);
        if let Some(e) = &self.refused {
            s.field("refused", e);
        }
        s.finish()
    }
}

/// Which events the server sends: the `Events:` header of `Login` and the
/// `EventMask:` of the `Events` action.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum EventMask {
    /// Every event the user may read (`on`).
    #[default]
    On,
    /// No events (`off`).
    Off,
    /// Only these classes, e.g. `["system", "call"]` (case-sensitive on the
    /// server: use lower case).
    Classes(Vec<String>),
}

impl EventMask {
    /// The header value.
    pub fn as_value(&self) -> String {
        match self {
            EventMask::On => "on".into(),
            EventMask::Off => "off".into(),
            EventMask::Classes(c) => c.join(","),
        }
    }

    /// Parse `on`/`off`/`yes`/`no`/`true`/`false` or a comma list of classes.
    pub fn parse(s: &str) -> EventMask {
        match s.trim() {
            t if is_true(t.as_bytes()) => EventMask::On,
            t if ["off", "no", "false", "n", "f", "0", "none"]
                .iter()
                .any(|o| t.eq_ignore_ascii_case(o)) =>
            {
                EventMask::Off
            }
            t => EventMask::Classes(
                t.split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(String::from)
                    .collect(),
            ),
        }
    }
}

/// Builders for the actions every client uses.
impl Action {
    /// `Ping`: the keepalive; answered with `Ping: Pong` and a `Timestamp`.
    pub fn ping() -> Action {
        Action::new("Ping")
    }

    /// `Command`: run a CLI command; the outcome is its output lines.
    pub fn command(command: impl Into<Bytes>) -> Action {
        Action::new("Command").header("Command", command)
    }

    /// `Logoff`: answered with `Response: Goodbye`, then the server closes.
    pub fn logoff() -> Action {
        Action::new("Logoff")
    }

    /// `Events` with an `EventMask`: change which events this session gets.
    pub fn events(mask: &EventMask) -> Action {
        Action::new("Events").header("EventMask", mask.as_value())
    }

    /// `Filter` with `Operation: Add`: a server-side event filter
    /// (`Filter: Event: Newchannel`, `!Event: VarSet`, or a regex).
    pub fn filter_add(filter: impl Into<Bytes>) -> Action {
        Action::new("Filter")
            .header("Operation", "Add")
            .header("Filter", filter)
    }

    /// `Originate` of `channel`; add `Exten`/`Context`/`Priority` or
    /// `Application`/`Data`, and [`Action::async_originate`] for the
    /// `OriginateResponse` outcome.
    pub fn originate(channel: impl Into<Bytes>) -> Action {
        Action::new("Originate").header("Channel", channel)
    }

    /// Add `Async: true`: the server answers at once and the real outcome is
    /// the later `OriginateResponse` event (the connection waits for it).
    pub fn async_originate(self) -> Action {
        self.header("Async", "true")
    }

    /// `Getvar` of `variable` (on `channel`, or global when `None`).
    pub fn getvar(variable: impl Into<Bytes>, channel: Option<&str>) -> Action {
        let a = Action::new("Getvar");
        let a = match channel {
            Some(c) => a.header("Channel", c.to_owned()),
            None => a,
        };
        a.header("Variable", variable)
    }

    /// `Setvar` of `variable` to `value` (on `channel`, or global when `None`).
    pub fn setvar(
        variable: impl Into<Bytes>,
        value: impl Into<Bytes>,
        channel: Option<&str>,
    ) -> Action {
        let a = Action::new("Setvar");
        let a = match channel {
            Some(c) => a.header("Channel", c.to_owned()),
            None => a,
        };
        a.header("Variable", variable).header("Value", value)
    }

    /// `Hangup` of `channel` (a name, or a `/regex/`).
    pub fn hangup(channel: impl Into<Bytes>) -> Action {
        Action::new("Hangup").header("Channel", channel)
    }

    /// `UserEvent` named `name`; add headers to carry data.
    pub fn user_event(name: impl Into<Bytes>) -> Action {
        Action::new("UserEvent").header("UserEvent", name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refuses(a: Action) -> EncodeError {
        let mut buf = BytesMut::from(&b"keep"[..]);
        let e = a.encode(None, &mut buf).unwrap_err();
        assert_eq!(&buf[..], b"keep", "nothing written on refusal");
        e
    }

    #[test]
    fn every_refusal_is_typed_and_writes_nothing() {
        assert!(matches!(
            refuses(Action::new("")),
            EncodeError::EmptyActionName
        ));
        assert!(matches!(
            refuses(Action::new("Ping\r\nAction: Hangup")),
            EncodeError::InvalidValue { .. }
        ));
        assert!(matches!(
            refuses(Action::ping().header("A", "b\rc")),
            EncodeError::InvalidValue { byte: b'\r', .. }
        ));
        assert!(matches!(
            refuses(Action::ping().header("A", "b\nc")),
            EncodeError::InvalidValue { byte: b'\n', .. }
        ));
        assert!(matches!(
            refuses(Action::ping().header("A", "b\0c")),
            EncodeError::InvalidValue { byte: 0, .. }
        ));
        assert!(matches!(
            refuses(Action::ping().header("", "v")),
            EncodeError::EmptyKey
        ));
        assert!(matches!(
            refuses(Action::ping().header("A:B", "v")),
            EncodeError::InvalidKey { byte: b':', .. }
        ));
        assert!(matches!(
            refuses(Action::ping().header("A B", "v")),
            EncodeError::InvalidKey { byte: b' ', .. }
        ));
        assert!(matches!(
            refuses(Action::ping().header("A\nB", "v")),
            EncodeError::InvalidKey { .. }
        ));
        assert!(matches!(
            refuses(Action::ping().header("ActionID", "v")),
            EncodeError::ReservedKey(_)
        ));
        assert!(matches!(
            refuses(Action::ping().header("action", "v")),
            EncodeError::ReservedKey(_)
        ));
        assert!(matches!(
            refuses(Action::ping().action_id("a\r\nb")),
            EncodeError::InvalidActionId(_)
        ));
        assert!(matches!(
            refuses(Action::ping().action_id("x".repeat(65))),
            EncodeError::InvalidActionId(_)
        ));
        assert!(matches!(
            refuses(Action::ping().action_id("")),
            EncodeError::InvalidActionId(_)
        ));
        assert!(matches!(
            refuses(Action::ping().action_id(" lead")),
            EncodeError::InvalidActionId(_)
        ));
    }

    #[test]
    fn line_length_limit_is_asterisks() {
        // "Value: " is 7 bytes: 1015 value bytes make a 1022-byte line.
        assert!(Action::ping()
            .header("Value", "x".repeat(1015))
            .to_bytes()
            .is_ok());
        assert!(matches!(
            refuses(Action::ping().header("Value", "x".repeat(1016))),
            EncodeError::LineTooLong {
                len: 1023,
                max: 1022,
                ..
            }
        ));
    }

    #[test]
    fn line_count_limit_is_asterisks() {
        let mut a = Action::new("UserEvent").action_id("id");
        for i in 0..126 {
            a.push_header(format!("X-H{i}"), "v");
        }
        assert!(a.to_bytes().is_ok(), "128 lines pass");
        a.push_header("One", "more");
        assert!(matches!(
            refuses(a),
            EncodeError::TooManyLines {
                count: 129,
                max: 128
            }
        ));
    }

    #[test]
    fn latin1_values_are_sent_as_bytes() {
        let a = Action::new("Setvar").header("Value", &b"Jos\xe9"[..]);
        assert_eq!(
            &a.to_bytes().unwrap()[..],
            b"Action: Setvar\r\nValue: Jos\xe9\r\n\r\n"
        );
    }

    #[test]
    fn debug_redacts_secrets() {
        let a = Action::new("Login")
            .header("Username", "admin")
            .header("Secret", "hunter2");
        let s = format!("{a:?}");
        assert!(!s.contains("hunter2"), "{s}");
        assert!(s.contains("admin"));
    }

    #[test]
    fn event_mask_values() {
        assert_eq!(EventMask::parse("on"), EventMask::On);
        assert_eq!(EventMask::parse("OFF"), EventMask::Off);
        assert_eq!(EventMask::parse("system, call").as_value(), "system,call");
        assert_eq!(
            Action::events(&EventMask::Off).to_bytes().unwrap(),
            &b"Action: Events\r\nEventMask: off\r\n\r\n"[..]
        );
        assert_eq!(
            Action::filter_add("Event: Newchannel").to_bytes().unwrap(),
            &b"Action: Filter\r\nOperation: Add\r\nFilter: Event: Newchannel\r\n\r\n"[..]
        );
    }
}
