//! What a `Response: Error` tells the user: the explanation where Asterisk
//! puts it (`Output:` before the `Message` placeholder), and permission
//! refusals as a typed case.

#![allow(clippy::result_large_err)]

mod conn_support;

use amiproto::{Action, ActionError, ClientError, Packet};
use conn_support::*;

fn error_with(lines: &[(&str, &[u8])]) -> ActionError {
    let mut b = Packet::builder();
    b.push("Response", b"Error");
    for (k, v) in lines {
        b.push(k, v);
    }
    ActionError::from_error_response(b.build().unwrap())
}

fn message(e: &ActionError) -> &str {
    match e {
        ActionError::Server { message, .. } => message,
        other => panic!("{other:?}"),
    }
}

#[test]
fn output_lines_explain_an_error_better_than_its_message() {
    let e = error_with(&[
        ("Message", b"Command output follows"),
        ("Output", b"first"),
        ("Output", b"second Jos\xe9"),
        ("Output", b""),
    ]);
    // Lines joined, Latin-1 decoded, the trailing empty line dropped.
    assert_eq!(message(&e), "first\nsecond Jos\u{e9}");
    let e = error_with(&[("Message", b"No such channel")]);
    assert_eq!(message(&e), "No such channel");
    assert_eq!(e.to_string(), "server error: No such channel");
    // Only empty Output lines: the Message it is.
    let e = error_with(&[("Message", b"Command output follows"), ("Output", b"")]);
    assert_eq!(message(&e), "Command output follows");
    assert_eq!(message(&error_with(&[])), "");
}

#[test]
fn a_failed_command_carries_its_reason_through_the_connection() {
    let mut sim = Sim::ready(plain());
    let h = sim.send(Action::command("no such command here"));
    let id = sim.id_of("Command");
    sim.feed(&pkt(&[
        ("Response", "Error"),
        ("ActionID", &id),
        ("Message", "Command output follows"),
        (
            "Output",
            "No such command 'no such command here' (type 'core show help no such' for other possible commands)",
        ),
    ]));
    let e = done(&sim.events, h).unwrap_err();
    assert!(
        message(&e).starts_with("No such command 'no such command here'"),
        "{e}"
    );
    let client = ClientError::Action(e);
    assert!(client
        .server_message()
        .unwrap()
        .starts_with("No such command"));
}

#[test]
fn permission_refusals_are_typed() {
    for denied in [
        &b"Permission denied"[..],
        b"permission denied",
        b"Status Access Forbidden: Variables",
        b"GetVar Access Forbidden: Variable",
        b"Originate Access Forbidden: app or data blacklisted",
    ] {
        let e = error_with(&[("Message", denied)]);
        assert!(e.is_permission_denied(), "{e}");
        assert!(ClientError::Action(e).is_permission_denied());
    }
    for other in [
        &b"No such channel"[..],
        b"Authentication failed",
        b"Permission denied here",
    ] {
        assert!(!error_with(&[("Message", other)]).is_permission_denied());
    }
    assert!(!ActionError::Timeout.is_permission_denied());
    assert!(!ClientError::NotConnected.is_permission_denied());
}
