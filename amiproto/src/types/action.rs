//! What every typed action shares: [`ActionOf`], the [`ActionType`] trait
//! and parameter values.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use bytes::Bytes;

use crate::action::Action;
use crate::connection::Outcome;

use super::field::numbered_key;
use super::reply::ReplyError;

/// A typed action: a builder that becomes an [`Action`], and what its
/// [`Outcome`] turns into.
///
/// ```
/// use amiproto::types::{actions::Getvar, ActionType};
/// use amiproto::{Action, Outcome, Packet};
///
/// let action: Action = Getvar::new("CALLERID(num)").channel("PJSIP/100-00000001").into();
/// assert_eq!(
///     action.to_bytes().unwrap(),
///     &b"Action: Getvar\r\nVariable: CALLERID(num)\r\nChannel: PJSIP/100-00000001\r\n\r\n"[..]
/// );
///
/// let answer = Packet::builder()
///     .header("Response", "Success")
///     .header("Variable", "CALLERID(num)")
///     .header("Value", "100")
///     .build()
///     .unwrap();
/// assert_eq!(Getvar::reply(Outcome::Response(answer)).unwrap().as_deref(), Some("100"));
/// ```
pub trait ActionType: Into<Action> {
    /// The action's name.
    const NAME: &'static str;
    /// What a successful outcome becomes.
    type Reply;

    /// Turn the action's outcome into its typed reply. An outcome of
    /// another shape comes back whole inside the error.
    fn reply(outcome: Outcome) -> Result<Self::Reply, ReplyError>;
}

/// A parameter value: text, bytes (sent as they are, Latin-1 included),
/// a number or a flag (`true` / `false`).
pub trait ParamValue {
    /// The value's bytes.
    fn into_value(self) -> Bytes;
}

impl ParamValue for &str {
    fn into_value(self) -> Bytes {
        Bytes::copy_from_slice(self.as_bytes())
    }
}

impl ParamValue for String {
    fn into_value(self) -> Bytes {
        Bytes::from(self)
    }
}

impl ParamValue for &String {
    fn into_value(self) -> Bytes {
        Bytes::copy_from_slice(self.as_bytes())
    }
}

impl ParamValue for Cow<'_, str> {
    fn into_value(self) -> Bytes {
        match self {
            Cow::Borrowed(s) => Bytes::copy_from_slice(s.as_bytes()),
            Cow::Owned(s) => Bytes::from(s),
        }
    }
}

impl ParamValue for Bytes {
    fn into_value(self) -> Bytes {
        self
    }
}

impl ParamValue for &[u8] {
    fn into_value(self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

impl ParamValue for Vec<u8> {
    fn into_value(self) -> Bytes {
        Bytes::from(self)
    }
}

impl ParamValue for bool {
    fn into_value(self) -> Bytes {
        Bytes::from_static(if self { b"true" } else { b"false" })
    }
}

macro_rules! int_params {
    ($($t:ty),*) => {$(
        impl ParamValue for $t {
            fn into_value(self) -> Bytes {
                Bytes::from(self.to_string())
            }
        }
    )*};
}
int_params!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

/// What the marker type of one action (in `actions::kind`) knows: its
/// name and reply. Implemented by the generated markers.
pub trait ActionKind: 'static {
    /// The action's name.
    const NAME: &'static str;
    /// What a successful outcome becomes.
    type Reply: FromOutcome;
    /// Whether a plain response stands for an empty list (`Hangup` of a
    /// name instead of a `/regex/`, `VoicemailUsersList` with no users).
    const EMPTY_LIST_OK: bool = false;
}

/// A reply type an [`Outcome`] converts into.
pub trait FromOutcome: Sized {
    /// Convert the outcome of `action`; with `empty_list_ok`, a plain
    /// response is an empty list.
    fn from_outcome(
        action: &'static str,
        outcome: Outcome,
        empty_list_ok: bool,
    ) -> Result<Self, ReplyError>;
}

/// A typed action builder (each `actions::X` is
/// `ActionOf<actions::kind::X>`): an [`Action`] being built, with the
/// parameter methods of the action `K`.
pub struct ActionOf<K> {
    action: Action,
    kind: PhantomData<fn() -> K>,
}

/// An action `K` with no parameter yet.
#[inline]
pub(crate) fn start<K: ActionKind>() -> ActionOf<K> {
    ActionOf {
        action: Action::new(K::NAME),
        kind: PhantomData,
    }
}

/// Append `key: value`.
#[inline]
pub(crate) fn with<K>(a: ActionOf<K>, key: &'static str, value: impl ParamValue) -> ActionOf<K> {
    a.map(|a| a.header(key, value.into_value()))
}

/// Set `key` to `value`, replacing an earlier value.
#[inline]
pub(crate) fn set<K>(a: ActionOf<K>, key: &'static str, value: impl ParamValue) -> ActionOf<K> {
    a.map(|mut a| {
        a.set_header(key, value.into_value());
        a
    })
}

/// Append `Variable: name=value` through [`Action::variable`].
#[inline]
pub(crate) fn push_variable<K>(a: ActionOf<K>, name: &str, value: impl AsRef<[u8]>) -> ActionOf<K> {
    a.map(|a| a.variable(name, value))
}

/// Append every pair through [`Action::variable`].
#[inline]
pub(crate) fn push_variables<K, I, N, V>(a: ActionOf<K>, vars: I) -> ActionOf<K>
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<str>,
    V: AsRef<[u8]>,
{
    a.map(|mut a| {
        for (n, v) in vars {
            a = a.variable(n.as_ref(), v);
        }
        a
    })
}

/// Append member `n` of a numbered family.
#[inline]
pub(crate) fn numbered<K>(
    a: ActionOf<K>,
    prefix: &str,
    width: usize,
    n: u32,
    suffix: &str,
    value: impl ParamValue,
) -> ActionOf<K> {
    let key = numbered_key(prefix, width, n, suffix);
    a.map(|a| a.header(key, value.into_value()))
}

impl<K> ActionOf<K> {
    #[inline]
    fn map(self, f: impl FnOnce(Action) -> Action) -> ActionOf<K> {
        ActionOf {
            action: f(self.action),
            kind: PhantomData,
        }
    }

    /// Set the `ActionID` (otherwise the connection makes one).
    #[inline]
    pub fn action_id(self, id: impl Into<String>) -> ActionOf<K> {
        self.map(|a| a.action_id(id))
    }

    /// Append any other header (a parameter this crate does not know, say
    /// from a newer Asterisk, or a `UserEvent`'s own).
    #[inline]
    pub fn header(self, key: impl Into<Cow<'static, str>>, value: impl ParamValue) -> ActionOf<K> {
        self.map(|a| a.header(key, value.into_value()))
    }

    /// The action as built so far.
    #[inline]
    pub fn as_action(&self) -> &Action {
        &self.action
    }

    /// The untyped action.
    #[inline]
    pub fn into_action(self) -> Action {
        self.action
    }
}

impl<K> From<ActionOf<K>> for Action {
    #[inline]
    fn from(a: ActionOf<K>) -> Action {
        a.action
    }
}

impl<K> Clone for ActionOf<K> {
    #[inline]
    fn clone(&self) -> ActionOf<K> {
        ActionOf {
            action: self.action.clone(),
            kind: PhantomData,
        }
    }
}

impl<K> PartialEq for ActionOf<K> {
    #[inline]
    fn eq(&self, other: &ActionOf<K>) -> bool {
        self.action == other.action
    }
}

impl<K> Eq for ActionOf<K> {}

impl<K> fmt::Debug for ActionOf<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.action.fmt(f)
    }
}

impl<K: ActionKind> ActionType for ActionOf<K> {
    const NAME: &'static str = K::NAME;
    type Reply = K::Reply;

    #[inline]
    fn reply(outcome: Outcome) -> Result<K::Reply, ReplyError> {
        K::Reply::from_outcome(K::NAME, outcome, K::EMPTY_LIST_OK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_replaces_in_place_and_keeps_the_rest() {
        let a: ActionOf<crate::types::actions::kind::Originate> = start();
        let a = with(a, "Channel", "Local/1@a");
        let a = push_variable(a, "A", "1");
        let a = set(a, "Exten", "1");
        let a = with(a, "exten", "2");
        let a = set(a, "Exten", "3");
        let a = a.action_id("x");
        assert_eq!(
            a.as_action().to_bytes().unwrap(),
            &b"Action: Originate\r\nActionID: x\r\nChannel: Local/1@a\r\nVariable: A=1\r\nExten: 3\r\n\r\n"[..]
        );
        let a = set(a, "Context", "c");
        assert_eq!(a.as_action().get("context"), Some(&b"c"[..]));
    }

    #[test]
    fn a_refused_variable_stays_refused_when_a_parameter_is_set_again() {
        let a: ActionOf<crate::types::actions::kind::Originate> = start();
        let a = push_variable(a, "A=B", "1");
        let a = set(set(a, "Exten", "1"), "Exten", "2");
        assert!(matches!(
            a.as_action().to_bytes(),
            Err(crate::EncodeError::InvalidVariableName { .. })
        ));
    }

    #[test]
    fn param_values() {
        assert_eq!(30000u32.into_value(), "30000");
        assert_eq!((-1i64).into_value(), "-1");
        assert_eq!(true.into_value(), "true");
        assert_eq!((&b"Jos\xe9"[..]).into_value(), &b"Jos\xe9"[..]);
        assert_eq!(Cow::Borrowed("a").into_value(), "a");
    }
}
