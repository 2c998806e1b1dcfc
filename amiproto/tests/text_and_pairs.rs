//! `Packet`'s `Display` (its exact text) and actions built from pairs.

mod conn_support;

use amiproto::{Action, BannerMode, Decoder, EncodeError, Frame, Packet};
use bytes::BytesMut;
use conn_support::*;

#[test]
fn display_is_the_exact_text_of_every_captured_packet() {
    for name in ["07-list-actions", "10-originate-events", "13-event-flood"] {
        let (server, _) = capture(A22, name);
        let mut dec = Decoder::new().banner_mode(BannerMode::Auto);
        let mut buf = BytesMut::from(&server[..]);
        let mut n = 0;
        while let Some(frame) = dec.decode_eof(&mut buf).unwrap() {
            if let Frame::Packet(p) = frame {
                assert_eq!(p.to_string().as_bytes(), &p.raw()[..], "{name}");
                n += 1;
            }
        }
        assert!(n > 10, "{name}: {n} packets");
    }
}

#[test]
fn display_decodes_each_line_on_its_own() {
    let mut dec = Decoder::new().banner_mode(BannerMode::Absent);
    let mut buf = BytesMut::from(
        &b"Event: Newchannel\r\nCallerIDName: Jos\xe9\r\nConnectedLineName: J\xc3\xbcrgen\r\n\r\n"
            [..],
    );
    let Some(Frame::Packet(p)) = dec.decode(&mut buf).unwrap() else {
        panic!()
    };
    // A Latin-1 line does not turn the UTF-8 one into mojibake.
    assert_eq!(
        p.to_string(),
        "Event: Newchannel\r\nCallerIDName: Jos\u{e9}\r\nConnectedLineName: J\u{fc}rgen\r\n\r\n"
    );
    assert_eq!(format!("{p}"), p.to_string());
    let body = Packet::builder()
        .header("Response", "Follows")
        .follows_body("line one\nline two\n")
        .build()
        .unwrap();
    assert_eq!(body.to_string().as_bytes(), &body.raw()[..]);
}

#[test]
fn pairs_follow_the_action_rules() {
    let a = Action::from_pairs(vec![
        ("action".to_owned(), "Login".to_owned()),
        ("Username".to_owned(), "admin".to_owned()),
        ("Secret".to_owned(), "hunter2".to_owned()),
    ]);
    assert_eq!(a.name(), "Login");
    assert!(!format!("{a:?}").contains("hunter2"));
    assert_eq!(
        &a.to_bytes().unwrap()[..],
        b"Action: Login\r\nUsername: admin\r\nSecret: hunter2\r\n\r\n"
    );
    assert_eq!(
        Action::from_pairs([("Channel", "x")]).to_bytes(),
        Err(EncodeError::EmptyActionName)
    );
    assert_eq!(
        Action::from_pairs([("Action", "Ping"), ("Action", "Hangup")]).to_bytes(),
        Err(EncodeError::ReservedKey("Action".into()))
    );
    assert_eq!(
        Action::from_pairs([("Action", "Ping"), ("ActionID", "a"), ("actionid", "b")]).to_bytes(),
        Err(EncodeError::ReservedKey("actionid".into()))
    );
    assert!(matches!(
        Action::from_pairs([("Action", "Ping"), ("ActionID", "a\r\nAction: Hangup")]).to_bytes(),
        Err(EncodeError::InvalidActionId(_))
    ));
    let mut a: Action = [("Action", "UserEvent"), ("UserEvent", "x")]
        .into_iter()
        .collect();
    a.extend([("Data", "1"), ("Data", "2")]);
    assert_eq!(
        &a.to_bytes().unwrap()[..],
        b"Action: UserEvent\r\nUserEvent: x\r\nData: 1\r\nData: 2\r\n\r\n"
    );
}
