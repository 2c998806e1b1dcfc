//! `Action::variable`: one header sets exactly one variable, named and
//! valued exactly as given. The model-based round trip (every value, as
//! Asterisk's parser reads it) is in the test kit's `variables` test.

use amiproto::{check_variable_name, encode_variable, Action, EncodeError};

/// The `Variable:` values of an encoded action.
fn variable_values(a: &Action) -> Vec<Vec<u8>> {
    let wire = a.to_bytes().expect("encodes");
    wire.split(|&b| b == b'\n')
        .filter_map(|l| l.strip_prefix(b"Variable: "))
        .map(|v| v.strip_suffix(b"\r").unwrap().to_vec())
        .collect()
}

#[test]
fn commas_quotes_and_backslashes_in_values_are_escaped() {
    let a = Action::originate("Local/100@default")
        .variable("CALLERNAME", "Bob,__TRANSFER_CONTEXT=evil")
        .variable("QUOTED", r#"say "hi""#)
        .variable("TRAILING", "x\\")
        .variable("KEPT", "a(b)[c]=d  ");
    assert_eq!(
        variable_values(&a),
        [
            &br"CALLERNAME=Bob\,__TRANSFER_CONTEXT=evil"[..],
            br#"QUOTED=say \"hi\""#,
            br"TRAILING=x\\",
            b"KEPT=a(b)[c]=d  ",
        ]
    );
    // Latin-1 bytes go through untouched.
    assert_eq!(&encode_variable("N", b"Jos\xe9").unwrap()[..], b"N=Jos\xe9");
}

#[test]
fn names_that_asterisk_would_split_or_change_are_refused() {
    for name in [
        "",
        "A=B",
        "A,B",
        "HASH(a,b)",
        "A\"B",
        "A\\B",
        " A",
        "A B",
        "A\tB",
        "A\u{7f}",
    ] {
        let e = Action::originate("Local/1@d")
            .variable(name, "v")
            .to_bytes()
            .unwrap_err();
        assert!(
            matches!(&e, EncodeError::InvalidVariableName { name: n, .. } if n == name),
            "{name:?}: {e:?}"
        );
    }
    for name in [
        "CALLERNAME",
        "__INHERIT",
        "CDR(userfield)",
        "PJSIP_MEDIA(x)",
        "ä",
    ] {
        assert!(check_variable_name(name).is_ok(), "{name}");
    }
}

#[test]
fn line_breaks_and_nul_in_a_value_are_refused() {
    for v in ["a\r\nAction: Hangup", "a\nb", "a\0b"] {
        assert!(matches!(
            Action::ping().variable("X", v).to_bytes(),
            Err(EncodeError::InvalidValue { .. })
        ));
    }
    // The first refusal is the one reported, and nothing is written.
    let a = Action::ping().variable("A=1", "x").variable("B", "\n");
    assert!(matches!(
        a.validate(None),
        Err(EncodeError::InvalidVariableName { .. })
    ));
    let mut buf = bytes::BytesMut::new();
    assert!(a.encode(Some("id"), &mut buf).is_err());
    assert!(buf.is_empty());
}
