//! Serialization of actions, and the checks that make it injection-safe.
//!
//! Everything is validated before the first byte is written: an action that
//! fails a check leaves the output buffer untouched.

use crate::error::EncodeError;

/// Longest line Asterisk accepts, CRLF excluded (its input buffer is 1024
/// bytes; a 1023-byte line already draws `line too long`).
pub const MAX_LINE_LEN: usize = 1022;

/// Most lines Asterisk accepts in one action (`AST_MAX_MANHEADERS`).
pub const MAX_LINES: usize = 128;

/// Longest `ActionID` this crate sends: many Asterisk actions copy it into
/// fixed buffers (some of 80 bytes).
pub const MAX_ACTION_ID_LEN: usize = 64;

/// Check a header key: non-empty visible ASCII without `:`.
#[inline]
pub(crate) fn check_key(key: &[u8]) -> Result<(), EncodeError> {
    if key.is_empty() {
        return Err(EncodeError::EmptyKey);
    }
    if let Some(&byte) = key
        .iter()
        .find(|&&b| !(0x21..=0x7e).contains(&b) || b == b':')
    {
        return Err(EncodeError::InvalidKey {
            key: String::from_utf8_lossy(key).into_owned(),
            byte,
        });
    }
    Ok(())
}

/// Position of the first CR, LF or NUL in `value`. Values are mostly short
/// (an ActionID, a channel name), where a plain loop beats the set-up of a
/// `memchr3` call; long ones go to `memchr3`.
#[inline]
fn find_forbidden(value: &[u8]) -> Option<usize> {
    // Bits 0, 10 and 13: NUL, LF, CR.
    const FORBIDDEN: u16 = (1 << 0) | (1 << 10) | (1 << 13);
    if value.len() < 32 {
        value
            .iter()
            .position(|&b| b < 14 && (FORBIDDEN >> b) & 1 != 0)
    } else {
        memchr::memchr3(b'\r', b'\n', 0, value)
    }
}

/// Check a value: no CR, LF or NUL.
#[inline]
pub(crate) fn check_value(key: &str, value: &[u8]) -> Result<(), EncodeError> {
    match find_forbidden(value) {
        None => Ok(()),
        Some(i) => Err(EncodeError::InvalidValue {
            key: key.to_owned(),
            byte: value[i],
        }),
    }
}

/// Check an `ActionID`: 1 to 64 printable ASCII bytes, not starting with a
/// space (the server strips leading whitespace, so it would not echo it back).
pub fn check_action_id(id: &str) -> Result<(), EncodeError> {
    let b = id.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= MAX_ACTION_ID_LEN
        && b[0] != b' '
        && b.iter().all(|&c| (0x20..=0x7e).contains(&c));
    if ok {
        Ok(())
    } else {
        Err(EncodeError::InvalidActionId(id.to_owned()))
    }
}

/// Check one `Key: Value` line fully (key, value, length).
#[inline]
pub(crate) fn check_line(key: &str, value: &[u8]) -> Result<(), EncodeError> {
    check_key(key.as_bytes())?;
    check_value_line(key, value)
}

/// Check the value and length of a line whose key is known to be valid.
#[inline]
pub(crate) fn check_value_line(key: &str, value: &[u8]) -> Result<(), EncodeError> {
    check_value(key, value)?;
    let len = key.len() + 2 + value.len();
    if len > MAX_LINE_LEN {
        return Err(EncodeError::LineTooLong {
            key: key.to_owned(),
            len,
            max: MAX_LINE_LEN,
        });
    }
    Ok(())
}
