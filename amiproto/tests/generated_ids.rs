//! Actions sent with generated `ActionID`s: the connection checks its
//! prefix once, and encodes exactly what `Action::encode` would with that
//! id; a prefix that cannot make a valid id is still refused, typed.

use std::time::Instant;

use amiproto::{
    Action, AuthMethod, CloseReason, Config, Connection, ConnectionError, EncodeError, SendError,
    State,
};

/// A connection logged in (plain login), its login bytes taken.
fn ready(prefix: &str) -> Connection {
    let now = Instant::now();
    let config = Config::new("admin", "amp111")
        .auth(AuthMethod::Plain)
        .action_id_prefix(prefix);
    let mut conn = Connection::new(config, now);
    conn.handle_input(now, b"Asterisk Call Manager/11.0.0\r\n");
    let login = conn.poll_transmit().unwrap();
    let id = std::str::from_utf8(&login)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("ActionID: "))
        .unwrap()
        .to_owned();
    let ok =
        format!("Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n");
    conn.handle_input(now, ok.as_bytes());
    while conn.poll_event().is_some() {}
    conn
}

#[test]
fn generated_ids_encode_as_action_encode_does() {
    let now = Instant::now();
    for prefix in ["ami-", "", "x", "pbx7.", &"p".repeat(44)] {
        let mut conn = ready(prefix);
        let actions = [
            Action::ping(),
            Action::new("Getvar").header("Variable", "X"),
            Action::command("core show version"),
        ];
        for action in actions {
            let seq = conn.send(action.clone(), now).unwrap().seq();
            let wire = conn.poll_transmit().unwrap();
            let id = format!("{}{seq}", conn.action_id_prefix());
            let mut want = bytes::BytesMut::new();
            action.encode(Some(&id), &mut want).unwrap();
            assert_eq!(wire, want.freeze(), "prefix {prefix:?}");
        }
    }
}

#[test]
fn a_prefix_that_makes_no_valid_id_is_refused_typed() {
    let now = Instant::now();
    // Not even the login can be sent.
    for prefix in [" lead", "tab\there", &"p".repeat(64)] {
        let config = Config::new("admin", "amp111").action_id_prefix(prefix);
        let mut conn = Connection::new(config, now);
        conn.handle_input(now, b"Asterisk Call Manager/11.0.0\r\n");
        assert_eq!(conn.state(), State::Closed, "{prefix:?}");
        assert!(
            matches!(
                conn.close_reason(),
                Some(CloseReason::Error(ConnectionError::LoginUnencodable(
                    EncodeError::InvalidActionId(_)
                )))
            ),
            "{prefix:?}: {:?}",
            conn.close_reason()
        );
    }
    // A long prefix: valid ids until the sequence number makes one longer
    // than 64 bytes, then refused.
    let mut conn = ready(&"p".repeat(62));
    let refused = loop {
        match conn.send(Action::ping(), now) {
            Ok(h) => assert!(h.seq() < 100),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(refused, SendError::Encode(EncodeError::InvalidActionId(_))),
        "{refused:?}"
    );
    // An action refused for itself is refused with a valid prefix too.
    let mut conn = ready("ami-");
    let err = conn
        .send(Action::ping().header("X", "a\r\nAction: Hangup"), now)
        .unwrap_err();
    assert!(
        matches!(err, SendError::Encode(EncodeError::InvalidValue { .. })),
        "{err:?}"
    );
}
