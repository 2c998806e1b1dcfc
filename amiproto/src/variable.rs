//! `Variable: name=value` headers that Asterisk reads back as exactly one
//! variable.
//!
//! Asterisk (11, 13 and 22 alike) reads every `Variable:` header of
//! `Originate`, `MessageSend`, `PJSIPNotify`… through
//! `astman_get_variables` (main/manager.c): it skips the leading bytes below
//! `!`, then splits the rest with the dialplan's argument parser
//! (`AST_STANDARD_APP_ARGS`, i.e. `__ast_app_separate_args(…, ',', 1, …)`
//! in main/app.c), then cuts each piece at its first `=` into name and
//! value. That parser:
//! - splits at `,` outside `(…)`, `[…]` and `"…"` — so `Bob,__X=evil` sets a
//!   second variable;
//! - removes every `"` (it toggles quoting);
//! - removes every `\` and takes the byte after it literally (a `\` as the
//!   very last byte makes it read past the end of the string).
//!
//! [`encode_variable`] therefore escapes `\`, `"` and `,` in the value with
//! a `\`, and refuses a name that the parser would change or split. It is the
//! one rule every `Variable:` header of this crate goes through
//! ([`crate::Action::variable`], and typed actions built on it).

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::EncodeError;

/// The bytes that make a `Variable:` name unreadable as itself: `=` (the
/// name ends at the first one), `,` (splits), `"` and `\` (removed by the
/// parser), and spaces and control bytes (leading ones are skipped; none
/// belongs in a name).
fn bad_name_byte(b: u8) -> bool {
    b <= b' ' || b == 0x7f || matches!(b, b'=' | b',' | b'"' | b'\\')
}

/// Check a variable name for [`encode_variable`]: non-empty, no `=`, `,`,
/// `"`, `\`, space or control byte. Function-style names such as
/// `CDR(userfield)` or `__INHERITED` pass; a function argument list with a
/// comma (`HASH(a,b)`) does not: send such a header raw.
pub fn check_variable_name(name: &str) -> Result<(), EncodeError> {
    let bad = if name.is_empty() {
        Some(None)
    } else {
        name.bytes().find(|&b| bad_name_byte(b)).map(Some)
    };
    match bad {
        None => Ok(()),
        Some(byte) => Err(EncodeError::InvalidVariableName {
            name: name.to_owned(),
            byte,
        }),
    }
}

/// The value of a `Variable:` header that Asterisk reads as exactly one
/// variable `name` set to exactly `value`, byte for byte.
///
/// The value may hold any byte but CR, LF and NUL (refused as
/// [`EncodeError::InvalidValue`]: they would end the line); `\`, `"` and `,`
/// are escaped with a `\`. The name must pass [`check_variable_name`]
/// ([`EncodeError::InvalidVariableName`] otherwise). Parentheses and
/// brackets need no escaping: they only guard commas, and no comma is left
/// unescaped. The line length limit is checked when the action is encoded.
///
/// ```
/// use amiproto::{encode_variable, EncodeError};
///
/// assert_eq!(&encode_variable("CALLERNAME", b"Bob")?[..], b"CALLERNAME=Bob");
/// // A value cannot set a second variable.
/// assert_eq!(
///     &encode_variable("CALLERNAME", b"Bob,__TRANSFER_CONTEXT=evil")?[..],
///     br"CALLERNAME=Bob\,__TRANSFER_CONTEXT=evil"
/// );
/// assert_eq!(&encode_variable("X", br#"a "b" \c"#)?[..], br#"X=a \"b\" \\c"#);
/// assert!(matches!(encode_variable("A=B", b"1"), Err(EncodeError::InvalidVariableName { .. })));
/// assert!(matches!(encode_variable("A", b"1\r\nAction: Hangup"), Err(EncodeError::InvalidValue { .. })));
/// # Ok::<(), EncodeError>(())
/// ```
pub fn encode_variable(name: &str, value: &[u8]) -> Result<Bytes, EncodeError> {
    check_variable_name(name)?;
    if let Some(&byte) = value.iter().find(|&&b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(EncodeError::InvalidValue {
            key: "Variable".to_owned(),
            byte,
        });
    }
    let escapes = value
        .iter()
        .filter(|&&b| matches!(b, b'\\' | b'"' | b','))
        .count();
    let mut out = BytesMut::with_capacity(name.len() + 1 + value.len() + escapes);
    out.put_slice(name.as_bytes());
    out.put_u8(b'=');
    for &b in value {
        if matches!(b, b'\\' | b'"' | b',') {
            out.put_u8(b'\\');
        }
        out.put_u8(b);
    }
    Ok(out.freeze())
}
