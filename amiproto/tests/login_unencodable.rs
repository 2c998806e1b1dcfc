//! A login that can never be encoded ends the connection with a typed,
//! permanent error (a client must not retry it), and nothing of it is
//! written.

use std::time::Instant;

use amiproto::{
    AuthMethod, CloseReason, Config, Connection, ConnectionError, EncodeError, Event, EventMask,
    State,
};

fn closed_reason(conn: &mut Connection) -> Option<CloseReason> {
    std::iter::from_fn(|| conn.poll_event()).find_map(|e| match e {
        Event::Closed(r) => Some(r),
        _ => None,
    })
}

#[test]
fn unencodable_login_is_typed_and_permanent() {
    let cases = [
        Config::new("ad\r\nmin", "amp111").auth(AuthMethod::Plain),
        Config::new("admin", "amp\n111").auth(AuthMethod::Plain),
        Config::new("admin", "amp111")
            .auth(AuthMethod::Plain)
            .events(EventMask::Classes(vec!["system\r\nAction: Logoff".into()])),
        Config::new("admin", "amp111")
            .auth(AuthMethod::Md5)
            .events(EventMask::Classes(vec!["call\0".into()])),
    ];
    for config in cases {
        let md5 = config.auth == AuthMethod::Md5;
        let now = Instant::now();
        let mut conn = Connection::new(config, now);
        conn.handle_input(now, b"Asterisk Call Manager/11.0.0\r\n");
        if md5 {
            let challenge = conn.poll_transmit().unwrap();
            assert!(challenge.starts_with(b"Action: Challenge\r\n"));
            let id = String::from_utf8_lossy(&challenge)
                .lines()
                .find_map(|l| l.strip_prefix("ActionID: ").map(str::to_owned))
                .unwrap();
            conn.handle_input(
                now,
                format!("Response: Success\r\nActionID: {id}\r\nChallenge: 123456\r\n\r\n")
                    .as_bytes(),
            );
        }
        assert_eq!(conn.state(), State::Closed);
        assert!(
            conn.poll_transmit().is_none(),
            "part of the login was written"
        );
        match closed_reason(&mut conn) {
            Some(CloseReason::Error(e @ ConnectionError::LoginUnencodable(_))) => {
                assert!(e.is_permanent());
                assert!(matches!(
                    e,
                    ConnectionError::LoginUnencodable(EncodeError::InvalidValue { .. })
                ));
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(!ConnectionError::PeerClosed { mid_packet: false }.is_permanent());
}
