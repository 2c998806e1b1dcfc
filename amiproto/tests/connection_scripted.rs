//! Scripted sessions with simulated time: one test per rule of the
//! connection state machine. Server bytes are written by hand; time moves
//! only when a test says so (`base + ms`).
//!
//! What the replays of real captures already cover well (queued actions
//! failing on a refused login, collected lists as Asterisk 22 sends them,
//! both `Command` formats at length, the flood) is not repeated here.

// Outcomes are compared whole; their size does not matter here.
#![allow(clippy::result_large_err)]

mod conn_support;

use std::time::Duration;

use amiproto::{
    md5_key, Action, ActionError, AuthMethod, CloseReason, Config, ConnectionError, EncodeError,
    Event, EventMask, SendError, SendOptions, State,
};
use conn_support::*;

fn closed_with(e: ConnectionError) -> CloseReason {
    CloseReason::Error(e)
}

fn written(sim: &mut Sim) -> Vec<String> {
    sim.take_sent()
        .iter()
        .map(|p| {
            format!(
                "{}:{}",
                p.action().unwrap(),
                p.action_id().map(|v| v.to_string()).unwrap_or_default()
            )
        })
        .collect()
}

// ----- banner ---------------------------------------------------------------

#[test]
fn banner_timeout_fails_held_actions() {
    let mut sim = Sim::new(plain().banner_timeout(Duration::from_secs(5)));
    assert_eq!(sim.conn.state(), State::AwaitingBanner);
    let h = sim.send(Action::ping());
    assert_eq!(sim.conn.poll_timeout(), Some(sim.at(5000)));
    sim.advance_to(4999);
    assert_eq!(sim.conn.state(), State::AwaitingBanner);
    assert!(sim.events.is_empty());
    sim.advance_to(5000);
    let want = closed_with(ConnectionError::BannerTimeout);
    assert_eq!(sim.conn.state(), State::Closed);
    assert_eq!(sim.conn.close_reason(), Some(&want));
    assert_eq!(done(&sim.events, h), Err(ActionError::Closed(want.clone())));
    assert_eq!(sim.events.last(), Some(&Event::Closed(want)));
    assert_eq!(sim.conn.poll_timeout(), None);
    assert!(sim.wire.is_empty());
    assert_eq!(sim.try_send(Action::ping()), Err(SendError::Closed));
}

#[test]
fn non_ami_greeting_is_fatal() {
    // Whole, or cut so that the first piece already cannot be a banner
    // (then the greeting reported is what had arrived).
    for (chunk, want) in [(usize::MAX, &b"SSH-2.0-OpenSSH_9.6\r\n"[..]), (3, b"SSH")] {
        let mut sim = Sim::new(plain());
        sim.feed_chunked(b"SSH-2.0-OpenSSH_9.6\r\n", chunk);
        match sim.conn.close_reason() {
            Some(CloseReason::Error(ConnectionError::NotAmi { greeting })) => {
                assert_eq!(&greeting[..], want)
            }
            other => panic!("{other:?}"),
        }
    }
    let mut sim = Sim::new(plain());
    let h = sim.send(Action::ping());
    sim.feed(b"HTTP/1.1 400 Bad Request\r\n\r\n");
    assert!(matches!(
        done(&sim.events, h),
        Err(ActionError::Closed(CloseReason::Error(
            ConnectionError::NotAmi { .. }
        )))
    ));
    assert!(sim.wire.is_empty(), "nothing written to a non-AMI peer");
    // Input after the close is ignored.
    sim.feed(b"Asterisk Call Manager/11.0.0\r\n");
    assert!(matches!(sim.events.last(), Some(Event::Closed(_))));
}

#[test]
fn close_before_banner() {
    for partial in [&b""[..], b"Asterisk Call Man"] {
        let mut sim = Sim::new(plain());
        let h = sim.send(Action::ping());
        sim.feed(partial);
        sim.eof();
        let want = closed_with(ConnectionError::ClosedBeforeBanner);
        assert_eq!(sim.conn.close_reason(), Some(&want), "{partial:?}");
        assert_eq!(done(&sim.events, h), Err(ActionError::Closed(want)));
        assert_eq!(sim.conn.state(), State::Closed);
    }
}

#[test]
fn banner_is_exposed_raw_and_parsed() {
    let mut sim = Sim::new(plain());
    sim.feed(b"Asterisk Call Manager/2.10.6\r\n");
    assert_eq!(sim.conn.state(), State::Authenticating);
    let b = sim.conn.banner().unwrap();
    assert_eq!(&b.raw()[..], b"Asterisk Call Manager/2.10.6");
    assert_eq!(sim.conn.version().unwrap().to_string(), "2.10.6");
    assert!(matches!(&sim.events[0], Event::Banner(bb) if bb == b));
}

#[test]
fn login_timeout() {
    let mut sim = Sim::new(plain().login_timeout(Duration::from_secs(3)));
    sim.now = sim.at(1000);
    sim.feed(BANNER);
    assert_eq!(sim.conn.poll_timeout(), Some(sim.at(4000)));
    let h = sim.send(Action::ping());
    sim.advance_to(3999);
    assert_eq!(sim.conn.state(), State::Authenticating);
    sim.advance_to(4000);
    let want = closed_with(ConnectionError::LoginTimeout);
    assert_eq!(sim.conn.close_reason(), Some(&want));
    assert_eq!(done(&sim.events, h), Err(ActionError::Closed(want)));
}

// ----- login ----------------------------------------------------------------

#[test]
fn plain_login_bytes_and_event_mask() {
    for (mask, header) in [
        (EventMask::On, "on"),
        (EventMask::Off, "off"),
        (
            EventMask::Classes(vec!["system".into(), "call".into()]),
            "system,call",
        ),
    ] {
        let mut sim = Sim::new(plain().events(mask));
        sim.feed(BANNER);
        let want = format!(
            "Action: Login\r\nActionID: ami-0\r\nUsername: admin\r\nSecret: amp111\r\nEvents: {header}\r\n\r\n"
        );
        assert_eq!(String::from_utf8(sim.take_sent_bytes()).unwrap(), want);
        sim.feed(&ok("ami-0", &[("Message", "Authentication accepted")]));
        assert_eq!(sim.conn.state(), State::Ready);
        assert_eq!(sim.events[1], Event::Ready);
        // The login's answer is the connection's own: not an event.
        assert_eq!(sim.events.len(), 2, "{:#?}", sim.events);
    }
}

#[test]
fn md5_login_key_and_no_secret_on_the_wire() {
    // RFC 1321: md5("abc") = 900150983cd24fb0d6963f7d28e17f72.
    let cfg = Config::new("admin", "bc")
        .auth(AuthMethod::Md5)
        .events(EventMask::Off);
    let mut sim = Sim::new(cfg);
    sim.feed(BANNER);
    assert_eq!(
        sim.take_sent_bytes(),
        b"Action: Challenge\r\nActionID: ami-0\r\nAuthType: MD5\r\n\r\n"
    );
    sim.feed(&ok("ami-0", &[("Challenge", "a")]));
    assert_eq!(
        String::from_utf8(sim.take_sent_bytes()).unwrap(),
        "Action: Login\r\nActionID: ami-1\r\nAuthType: md5\r\nUsername: admin\r\n\
         Key: 900150983cd24fb0d6963f7d28e17f72\r\nEvents: off\r\n\r\n"
    );
    assert_eq!(md5_key("a", "bc"), "900150983cd24fb0d6963f7d28e17f72");
    sim.feed(&ok("ami-1", &[("Message", "Authentication accepted")]));
    assert_eq!(sim.conn.state(), State::Ready);
    assert!(find(&sim.wire, b"Secret").is_none());
    assert!(!format!("{:?}", sim.conn).contains("\"bc\""));
}

#[test]
fn secrets_never_show_in_debug_output() {
    let mut conn = amiproto::Connection::new(plain(), std::time::Instant::now());
    conn.handle_input(std::time::Instant::now(), BANNER);
    // The login, with its Secret, waits to be written.
    assert!(conn.has_transmit());
    let shown = format!("{conn:?}");
    assert!(!shown.contains("amp111"), "{shown}");
    assert!(shown.contains("Authenticating"), "{shown}");
    let wire = conn.poll_transmit().unwrap();
    assert!(find(&wire, b"Secret: amp111").is_some());
}

#[test]
fn md5_with_fallback_logs_in_plain_when_the_challenge_is_refused() {
    let cfg = plain().auth(AuthMethod::Md5WithFallback);
    let mut sim = Sim::new(cfg);
    sim.feed(BANNER);
    assert_eq!(written(&mut sim), ["Challenge:ami-0"]);
    sim.feed(&err("ami-0", "Must specify AuthType"));
    let sent = sim.take_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].get_str("Secret"), Some("amp111"));
    assert!(sent[0].get("Key").is_none());
    sim.feed(&ok("ami-1", &[]));
    assert_eq!(sim.conn.state(), State::Ready);
    // A challenge answered without a `Challenge` header falls back too.
    let mut sim = Sim::new(plain().auth(AuthMethod::Md5WithFallback));
    sim.feed(BANNER);
    sim.feed(&ok("ami-0", &[]));
    assert_eq!(written(&mut sim), ["Challenge:ami-0", "Login:ami-1"]);
}

#[test]
fn md5_only_refuses_plaintext() {
    let mut sim = Sim::new(plain().auth(AuthMethod::Md5));
    let h = sim.send(Action::ping());
    sim.feed(BANNER);
    sim.feed(&err("ami-1", "Must specify AuthType"));
    let want = closed_with(ConnectionError::ChallengeRefused {
        message: "Must specify AuthType".into(),
    });
    assert_eq!(sim.conn.close_reason(), Some(&want));
    assert_eq!(done(&sim.events, h), Err(ActionError::Closed(want)));
    assert_eq!(written(&mut sim), ["Challenge:ami-1"]);
    assert!(find(&sim.wire, b"amp111").is_none());
}

#[test]
fn held_actions_go_out_in_order_after_login() {
    let mut sim = Sim::new(plain());
    let a = sim.send(Action::ping());
    let b = sim.send(Action::command("core show uptime"));
    let c = sim.send(Action::ping().action_id("mine"));
    assert_eq!(sim.conn.queued_actions(), 3);
    assert_eq!(sim.conn.pending_actions(), 3);
    sim.feed(BANNER);
    assert_eq!(written(&mut sim), ["Login:ami-3"]);
    sim.feed(&ok("ami-3", &[]));
    assert_eq!(
        written(&mut sim),
        ["Ping:ami-0", "Command:ami-1", "Ping:mine"]
    );
    assert_eq!(sim.conn.queued_actions(), 0);
    // Answered out of order: matched by ActionID, never by position.
    sim.feed(&ok("mine", &[("Ping", "Pong")]));
    sim.feed(&ok("ami-0", &[("Ping", "Pong")]));
    let order: Vec<_> = dones(&sim.events).iter().map(|(h, _)| *h).collect();
    assert_eq!(order, [c, a]);
    assert_eq!(sim.conn.pending_actions(), 1);
    let _ = b;
}

// ----- pipelining -----------------------------------------------------------

#[test]
fn in_flight_window() {
    let mut sim = Sim::ready(plain().max_in_flight(Some(2)));
    let hs: Vec<_> = (0..5).map(|_| sim.send(Action::ping())).collect();
    assert_eq!(written(&mut sim), ["Ping:ami-1", "Ping:ami-2"]);
    assert_eq!(sim.conn.queued_actions(), 3);
    // The second answer frees one slot: exactly one more goes out.
    sim.feed(&ok("ami-2", &[]));
    assert_eq!(written(&mut sim), ["Ping:ami-3"]);
    // A later send waits behind the queue, even with the window open.
    sim.feed(&ok("ami-1", &[]));
    assert_eq!(written(&mut sim), ["Ping:ami-4"]);
    let late = sim.send(Action::ping());
    assert!(written(&mut sim).is_empty());
    for id in ["ami-3", "ami-4", "ami-5"] {
        sim.feed(&ok(id, &[]));
    }
    assert_eq!(written(&mut sim), ["Ping:ami-5", "Ping:ami-6"]);
    sim.feed(&ok("ami-6", &[]));
    let order: Vec<_> = dones(&sim.events).iter().map(|(h, _)| *h).collect();
    assert_eq!(order, [hs[1], hs[0], hs[2], hs[3], hs[4], late]);
    assert_eq!(sim.conn.pending_actions(), 0);
}

#[test]
fn cancelled_and_fire_and_forget_actions_free_their_window_slot() {
    let mut sim = Sim::ready(plain().max_in_flight(Some(1)));
    let a = sim.send(Action::ping());
    let _b = sim.send(Action::ping());
    assert_eq!(written(&mut sim), ["Ping:ami-1"]);
    // Cancelling a held action: never written.
    let c = sim.send(Action::ping());
    assert!(sim.conn.cancel(c, sim.now));
    assert!(sim.conn.cancel(a, sim.now));
    // `a` still holds its slot until its answer is consumed.
    assert!(written(&mut sim).is_empty());
    sim.feed(&ok("ami-1", &[]));
    assert_eq!(written(&mut sim), ["Ping:ami-2"]);
    sim.feed(&ok("ami-2", &[]));
    assert!(written(&mut sim).is_empty(), "the cancelled held action");
    assert_eq!(dones(&sim.events).len(), 1);
    assert!(unsolicited(&sim.events).is_empty());
}

// ----- ActionIDs ------------------------------------------------------------

#[test]
fn caller_action_ids_are_validated() {
    let mut sim = Sim::ready(plain());
    let h = sim.send(Action::ping().action_id("job-7"));
    assert_eq!(
        sim.try_send(Action::ping().action_id("job-7")),
        Err(SendError::DuplicateActionId("job-7".into()))
    );
    assert_eq!(
        sim.try_send(Action::ping().action_id("ami-99")),
        Err(SendError::DuplicateActionId("ami-99".into())),
        "the generated prefix is reserved"
    );
    for bad in ["", "a\r\nAction: Logoff", &"x".repeat(65)] {
        assert!(
            matches!(
                sim.try_send(Action::ping().action_id(bad)),
                Err(SendError::Encode(EncodeError::InvalidActionId(_)))
            ),
            "{bad:?}"
        );
    }
    // Refused submissions write nothing and take no handle.
    assert_eq!(written(&mut sim), ["Ping:job-7"]);
    assert_eq!(sim.conn.pending_actions(), 1);
    sim.feed(&ok("job-7", &[("Ping", "Pong")]));
    assert!(done(&sim.events, h).is_ok());
    // Finished: the id may be used again.
    let h2 = sim.send(Action::ping().action_id("job-7"));
    assert_ne!(h, h2);
    // The same checks apply to an action held before login.
    let mut sim = Sim::new(plain());
    sim.send(Action::ping().action_id("x"));
    assert!(matches!(
        sim.try_send(Action::ping().action_id("x")),
        Err(SendError::DuplicateActionId(_))
    ));
    assert!(matches!(
        sim.try_send(Action::ping().action_id("bad\n")),
        Err(SendError::Encode(_))
    ));
}

#[test]
fn generated_ids_use_the_configured_prefix() {
    let mut sim = Sim::ready(plain().action_id_prefix("pbx7."));
    sim.send(Action::ping());
    sim.send(Action::ping());
    assert_eq!(written(&mut sim), ["Ping:pbx7.1", "Ping:pbx7.2"]);
    // Another prefix's id with the same digits is not ours.
    sim.feed(&ok("ami-1", &[]));
    assert_eq!(unsolicited(&sim.events).len(), 1);
    assert!(dones(&sim.events).is_empty());
}

// ----- lists ----------------------------------------------------------------

fn list_start(id: &str, marker: &str) -> Vec<u8> {
    ok(
        id,
        &[("EventList", marker), ("Message", "Channels will follow")],
    )
}

#[test]
fn list_markers_are_case_insensitive() {
    let mut sim = Sim::ready(plain());
    let h = sim.send(Action::new("Status"));
    sim.feed(&list_start("ami-1", "START"));
    sim.feed(&event("Status", Some("ami-1"), &[("Channel", "a")]));
    sim.feed(&event("Status", Some("ami-1"), &[("Channel", "b")]));
    assert!(dones(&sim.events).is_empty());
    sim.feed(&event(
        "StatusComplete",
        Some("ami-1"),
        &[("EventList", "complete"), ("ListItems", "2")],
    ));
    let l = done(&sim.events, h).unwrap().into_list().unwrap();
    let ch: Vec<_> = l.items.iter().map(|p| p.get_str("Channel")).collect();
    assert_eq!(ch, [Some("a"), Some("b")]);
    assert_eq!(l.announced_items(), Some(2));
    assert!(l.complete.is_event("StatusComplete"));
    assert!(unsolicited(&sim.events).is_empty());
}

#[test]
fn legacy_will_follow_list() {
    let mut sim = Sim::ready(plain());
    let h = sim.send(Action::new("SIPpeers"));
    sim.feed(&ok("ami-1", &[("Message", "Peer status list will follow")]));
    sim.feed(&event("PeerEntry", Some("ami-1"), &[("ObjectName", "100")]));
    // An unmarked event named …Complete with another ActionID is not it.
    sim.feed(&event("PeerlistComplete", Some("other"), &[]));
    sim.feed(&event("PeerlistComplete", Some("ami-1"), &[]));
    let l = done(&sim.events, h).unwrap().into_list().unwrap();
    assert_eq!(l.items.len(), 1);
    assert!(l.complete.is_event("PeerlistComplete"));
    assert_eq!(unsolicited(&sim.events).len(), 1);
}

#[test]
fn error_response_ends_a_list_action() {
    let mut sim = Sim::ready(plain());
    let h = sim.send(Action::new("PJSIPShowEndpoints"));
    sim.feed(&err("ami-1", "No endpoints found"));
    match done(&sim.events, h) {
        Err(ActionError::Server { message, response }) => {
            assert_eq!(message, "No endpoints found");
            assert_eq!(response.action_id().unwrap(), "ami-1");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sim.conn.pending_actions(), 0);
}

#[test]
fn streamed_list() {
    let mut sim = Sim::ready(plain());
    let h = sim.send_with(Action::new("Status"), SendOptions::new().stream_list());
    sim.feed(&list_start("ami-1", "start"));
    sim.feed(&event("Status", Some("ami-1"), &[("Channel", "a")]));
    assert!(matches!(
        &sim.events[..],
        [Event::ListItem { handle, item }] if *handle == h && item.get_str("Channel") == Some("a")
    ));
    sim.feed(&event("Status", Some("ami-1"), &[("Channel", "b")]));
    sim.feed(&event(
        "StatusComplete",
        Some("ami-1"),
        &[("EventList", "Complete"), ("ListItems", "2")],
    ));
    let items: Vec<_> = sim
        .events
        .iter()
        .filter_map(|e| match e {
            Event::ListItem { item, .. } => item.get_str("Channel"),
            _ => None,
        })
        .collect();
    assert_eq!(items, ["a", "b"]);
    let l = done(&sim.events, h).unwrap().into_list().unwrap();
    assert!(l.items.is_empty());
    assert_eq!(l.announced_items(), Some(2));
    assert!(matches!(sim.events.last(), Some(Event::Done { .. })));
}

#[test]
fn list_item_cap() {
    let mut sim = Sim::ready(plain().max_list_items(2));
    let h = sim.send(Action::new("Status"));
    let p = sim.send(Action::ping());
    sim.feed(&list_start("ami-1", "start"));
    for c in ["a", "b"] {
        sim.feed(&event("Status", Some("ami-1"), &[("Channel", c)]));
    }
    assert!(dones(&sim.events).is_empty());
    sim.feed(&event("Status", Some("ami-1"), &[("Channel", "c")]));
    assert_eq!(
        done(&sim.events, h),
        Err(ActionError::ListTooLarge { limit: 2 })
    );
    // The rest of the list is drained quietly.
    sim.feed(&event("Status", Some("ami-1"), &[("Channel", "d")]));
    sim.feed(&event(
        "StatusComplete",
        Some("ami-1"),
        &[("EventList", "Complete")],
    ));
    sim.feed(&ok("ami-2", &[]));
    assert!(done(&sim.events, p).is_ok());
    assert!(unsolicited(&sim.events).is_empty(), "{:#?}", sim.events);
    assert_eq!(dones(&sim.events).len(), 2);
    // Drained to its end: the id is forgotten, a straggler is unsolicited.
    sim.feed(&event("Status", Some("ami-1"), &[]));
    assert_eq!(unsolicited(&sim.events).len(), 1);
}

#[test]
fn response_arrives_before_the_first_item_and_events_between_items() {
    let mut sim = Sim::ready(plain().events(EventMask::On));
    let l = sim.send(Action::new("CoreShowChannels"));
    let p = sim.send(Action::ping());
    sim.feed(&list_start("ami-1", "start"));
    // Another action's response lands before the list's first item.
    sim.feed(&ok("ami-2", &[("Ping", "Pong")]));
    assert!(done(&sim.events, p).is_ok());
    sim.feed(&event(
        "CoreShowChannel",
        Some("ami-1"),
        &[("Channel", "a")],
    ));
    sim.feed(&event("Newchannel", None, &[("Channel", "x")]));
    sim.feed(&event("VarSet", Some("unrelated"), &[]));
    sim.feed(&event(
        "CoreShowChannel",
        Some("ami-1"),
        &[("Channel", "b")],
    ));
    sim.feed(&event(
        "CoreShowChannelsComplete",
        Some("ami-1"),
        &[("EventList", "Complete"), ("ListItems", "2")],
    ));
    let list = done(&sim.events, l).unwrap().into_list().unwrap();
    let ch: Vec<_> = list
        .items
        .iter()
        .map(|i| i.get_str("Channel").unwrap())
        .collect();
    assert_eq!(ch, ["a", "b"]);
    let u: Vec<_> = unsolicited(&sim.events)
        .iter()
        .map(|e| e.event().unwrap().to_string())
        .collect();
    assert_eq!(u, ["Newchannel", "VarSet"]);
    // Arrival order: Ping's Done, then the two events, then the list's Done.
    let kinds: Vec<_> = sim
        .events
        .iter()
        .map(|e| match e {
            Event::Done { handle, .. } if *handle == p => "ping",
            Event::Done { .. } => "list",
            Event::Unsolicited(_) => "event",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["ping", "event", "event", "list"]);
}

// ----- Command --------------------------------------------------------------

#[test]
fn command_output_in_both_formats() {
    let mut sim = Sim::ready(plain());
    let new = sim.send(Action::command("core show uptime"));
    let old = sim.send(Action::command("core show uptime"));
    sim.feed(&pkt(&[
        ("Response", "Success"),
        ("ActionID", "ami-1"),
        ("Message", "Command output follows"),
        ("Output", "System uptime: 5 minutes"),
        ("Output", ""),
        ("Output", "  trailing  "),
    ]));
    sim.feed(
        b"Response: Follows\r\nPrivilege: Command\r\nActionID: ami-2\r\n\
          System uptime: 5 minutes\n\n  trailing  \n--END COMMAND--\r\n\r\n",
    );
    let a = done(&sim.events, new).unwrap().into_command().unwrap();
    let b = done(&sim.events, old).unwrap().into_command().unwrap();
    let want: [&[u8]; 3] = [b"System uptime: 5 minutes", b"", b"  trailing  "];
    assert_eq!(a.lines, want);
    assert_eq!(b.lines, want);
    assert_eq!(a.text(), "System uptime: 5 minutes\n\n  trailing  ");
}

// ----- Originate ------------------------------------------------------------

#[test]
fn async_originate_waits_for_its_originate_response() {
    let mut sim = Sim::ready(plain().events(EventMask::On));
    let o = sim.send(Action::originate("Local/100@default").async_originate());
    let o2 = sim.send(Action::originate("Local/200@default").async_originate());
    sim.feed(&ok(
        "ami-1",
        &[("Message", "Originate successfully queued")],
    ));
    assert!(dones(&sim.events).is_empty(), "the first Success is not it");
    sim.feed(&event("Newchannel", None, &[("Channel", "Local/100")]));
    // Its own event with its ActionID that is not the OriginateResponse.
    sim.feed(&event("VarSet", Some("ami-1"), &[]));
    // The other originate's event comes before its response.
    sim.feed(&event(
        "OriginateResponse",
        Some("ami-2"),
        &[("Response", "Failure"), ("Reason", "5")],
    ));
    sim.feed(&event(
        "OriginateResponse",
        Some("ami-1"),
        &[
            ("Response", "Success"),
            ("Reason", "4"),
            ("Uniqueid", "1700000000.1"),
        ],
    ));
    let r = done(&sim.events, o).unwrap().into_originate().unwrap();
    assert!(r.is_success());
    assert_eq!(r.reason(), Some(4));
    assert_eq!(r.unique_id(), Some("1700000000.1"));
    assert_eq!(
        r.response.get_str("Message"),
        Some("Originate successfully queued")
    );
    assert!(dones(&sim.events).iter().all(|(h, _)| *h != o2));
    sim.feed(&ok(
        "ami-2",
        &[("Message", "Originate successfully queued")],
    ));
    let r2 = done(&sim.events, o2).unwrap().into_originate().unwrap();
    assert!(!r2.is_success());
    assert_eq!(r2.reason(), Some(5));
    let u: Vec<_> = unsolicited(&sim.events)
        .iter()
        .map(|e| e.event().unwrap().to_string())
        .collect();
    assert_eq!(u, ["Newchannel", "VarSet"]);
}

#[test]
fn async_originate_refused_at_once() {
    let mut sim = Sim::ready(plain().events(EventMask::On));
    let o = sim.send(Action::originate("Bogus/1").async_originate());
    sim.feed(&err("ami-1", "Originate failed"));
    assert!(matches!(
        done(&sim.events, o),
        Err(ActionError::Server { message, .. }) if message == "Originate failed"
    ));
}

// ----- fire and forget, unknown ids -----------------------------------------

#[test]
fn fire_and_forget() {
    let mut sim = Sim::ready(plain());
    let f = sim.send_with(Action::ping(), SendOptions::new().no_reply());
    let l = sim.send_with(Action::new("Status"), SendOptions::new().no_reply());
    assert_eq!(written(&mut sim), ["Ping:ami-1", "Status:ami-2"]);
    assert_eq!(sim.conn.pending_actions(), 0);
    sim.feed(&ok("ami-1", &[("Ping", "Pong")]));
    sim.feed(&list_start("ami-2", "start"));
    sim.feed(&event("Status", Some("ami-2"), &[]));
    sim.feed(&event(
        "StatusComplete",
        Some("ami-2"),
        &[("EventList", "Complete")],
    ));
    assert!(sim.events.is_empty(), "{:#?}", sim.events);
    assert!(!sim.conn.cancel(f, sim.now));
    let _ = l;
    // Even an error answer is dropped quietly.
    sim.send_with(Action::ping(), SendOptions::new().no_reply());
    sim.feed(&err("ami-3", "nope"));
    assert!(sim.events.is_empty());
}

#[test]
fn unknown_action_ids_surface_as_events() {
    let mut sim = Sim::ready(plain());
    let h = sim.send(Action::ping());
    sim.feed(&ok("ami-42", &[]));
    sim.feed(&ok("foreign", &[]));
    sim.feed(&pkt(&[
        ("Response", "Error"),
        ("Message", "Missing action in request"),
    ]));
    sim.feed(&event("UserEvent", Some("ami-1x"), &[]));
    let u = unsolicited(&sim.events);
    assert_eq!(u.len(), 4);
    assert!(dones(&sim.events).is_empty());
    sim.feed(&ok("ami-1", &[]));
    assert!(done(&sim.events, h).is_ok());
}

// ----- timeouts -------------------------------------------------------------

#[test]
fn per_action_and_default_timeouts() {
    let cfg = plain().action_timeout(Some(Duration::from_secs(2)));
    let mut sim = Sim::ready(cfg);
    let d = sim.send(Action::ping());
    let long = sim.send_with(
        Action::ping(),
        SendOptions::new().timeout(Some(Duration::from_secs(5))),
    );
    let never = sim.send_with(Action::ping(), SendOptions::new().timeout(None));
    assert_eq!(sim.conn.poll_timeout(), Some(sim.at(2000)));
    sim.advance_to(1999);
    assert!(sim.events.is_empty());
    sim.advance_to(2000);
    assert_eq!(done(&sim.events, d), Err(ActionError::Timeout));
    assert_eq!(dones(&sim.events).len(), 1);
    assert_eq!(
        sim.conn.poll_timeout(),
        Some(sim.at(4000)).min(Some(sim.at(5000)))
    );
    // The late answer of a timed-out action is consumed quietly.
    sim.feed(&ok("ami-1", &[]));
    assert!(unsolicited(&sim.events).is_empty());
    sim.advance_to(5000);
    assert_eq!(done(&sim.events, long), Err(ActionError::Timeout));
    sim.advance_to(3_600_000);
    assert_eq!(dones(&sim.events).len(), 2);
    assert_eq!(sim.conn.poll_timeout(), None);
    sim.feed(&ok("ami-3", &[]));
    assert!(done(&sim.events, never).is_ok());
    assert_eq!(sim.conn.state(), State::Ready);
}

#[test]
fn held_action_times_out_without_being_written() {
    let cfg = plain()
        .max_in_flight(Some(1))
        .action_timeout(Some(Duration::from_secs(1)));
    let mut sim = Sim::ready(cfg);
    let a = sim.send_with(Action::ping(), SendOptions::new().timeout(None));
    let b = sim.send(Action::ping());
    assert_eq!(sim.conn.queued_actions(), 1);
    sim.advance_to(1000);
    assert_eq!(done(&sim.events, b), Err(ActionError::Timeout));
    assert_eq!(sim.conn.queued_actions(), 0);
    assert_eq!(sim.conn.pending_actions(), 1);
    sim.feed(&ok("ami-1", &[]));
    assert!(done(&sim.events, a).is_ok());
    assert_eq!(written(&mut sim), ["Ping:ami-1"], "b was never written");
}

#[test]
fn timed_out_list_is_drained_quietly() {
    let cfg = plain().action_timeout(Some(Duration::from_secs(1)));
    let mut sim = Sim::ready(cfg);
    let h = sim.send(Action::new("Status"));
    sim.feed(&list_start("ami-1", "start"));
    sim.feed(&event("Status", Some("ami-1"), &[]));
    sim.advance_to(1000);
    assert_eq!(done(&sim.events, h), Err(ActionError::Timeout));
    sim.now = sim.at(1500);
    sim.feed(&event("Status", Some("ami-1"), &[]));
    sim.feed(&event(
        "StatusComplete",
        Some("ami-1"),
        &[("EventList", "Complete")],
    ));
    assert_eq!(dones(&sim.events).len(), 1);
    assert!(unsolicited(&sim.events).is_empty(), "{:#?}", sim.events);
}

// ----- keepalive ------------------------------------------------------------

#[test]
fn keepalive_pings_when_idle_and_declares_death() {
    let cfg = plain().keepalive(Duration::from_secs(30), Duration::from_secs(5));
    let mut sim = Sim::ready(cfg);
    assert_eq!(sim.conn.poll_timeout(), Some(sim.at(30_000)));
    // Traffic postpones the ping.
    sim.now = sim.at(10_000);
    sim.feed(&event("Newchannel", None, &[]));
    assert_eq!(sim.conn.poll_timeout(), Some(sim.at(40_000)));
    sim.advance_to(40_000);
    let sent = written(&mut sim);
    assert_eq!(sent, ["Ping:ami-1"]);
    assert_eq!(sim.conn.poll_timeout(), Some(sim.at(45_000)));
    // Answered: its response is the connection's own, not an event.
    sim.now = sim.at(41_000);
    sim.feed(&ok("ami-1", &[("Ping", "Pong")]));
    assert_eq!(unsolicited(&sim.events).len(), 1, "only the Newchannel");
    assert_eq!(sim.conn.pending_actions(), 0);
    assert_eq!(sim.conn.poll_timeout(), Some(sim.at(71_000)));
    // Now the peer goes silent.
    let h = sim.send(Action::ping());
    sim.advance_to(71_000);
    assert_eq!(written(&mut sim), ["Ping:ami-2", "Ping:ami-3"]);
    sim.advance_to(75_999);
    assert_eq!(sim.conn.state(), State::Ready);
    sim.advance_to(76_000);
    let want = closed_with(ConnectionError::KeepaliveTimeout);
    assert_eq!(sim.conn.close_reason(), Some(&want));
    assert_eq!(done(&sim.events, h), Err(ActionError::Closed(want)));
}

// ----- cancel ---------------------------------------------------------------

#[test]
fn cancel_during_a_list() {
    let mut sim = Sim::ready(plain());
    let h = sim.send(Action::new("Status"));
    sim.feed(&list_start("ami-1", "start"));
    sim.feed(&event("Status", Some("ami-1"), &[]));
    assert!(sim.conn.cancel(h, sim.now));
    assert!(!sim.conn.cancel(h, sim.now), "already cancelled");
    assert_eq!(sim.conn.pending_actions(), 0);
    sim.feed(&event("Status", Some("ami-1"), &[]));
    sim.feed(&event(
        "StatusComplete",
        Some("ami-1"),
        &[("EventList", "Complete")],
    ));
    assert!(sim.events.is_empty(), "{:#?}", sim.events);
    // A handle of another generation is not this connection's, even when
    // its sequence number is pending here.
    let mut gen0 = Sim::ready(plain());
    let old = gen0.send(Action::ping());
    let mut gen7 = Sim::with_generation(plain(), 7);
    gen7.feed(BANNER);
    gen7.feed(&ok("ami-0", &[]));
    let new = gen7.send(Action::ping());
    assert_eq!((old.seq(), new.seq()), (1, 1));
    assert_eq!(new.generation(), 7);
    assert!(!gen7.conn.cancel(old, gen7.now));
    assert_eq!(gen7.conn.pending_actions(), 1);
    assert!(gen7.conn.cancel(new, gen7.now));
}

// ----- logoff ---------------------------------------------------------------

#[test]
fn logoff_goodbye_closes_and_fails_pending() {
    let mut sim = Sim::ready(plain());
    let p = sim.send(Action::ping());
    let bye = sim.conn.logoff(sim.now).unwrap();
    sim.pump();
    assert_eq!(sim.conn.state(), State::Closing);
    assert_eq!(sim.try_send(Action::ping()), Err(SendError::Closed));
    assert_eq!(written(&mut sim), ["Ping:ami-1", "Logoff:ami-2"]);
    sim.feed(&pkt(&[
        ("Response", "Goodbye"),
        ("ActionID", "ami-2"),
        ("Message", "Thanks for all the fish."),
    ]));
    assert_eq!(sim.conn.state(), State::Closed);
    let g = done(&sim.events, bye).unwrap().into_response().unwrap();
    assert_eq!(g.get_str("Message"), Some("Thanks for all the fish."));
    assert_eq!(
        done(&sim.events, p),
        Err(ActionError::Closed(CloseReason::LoggedOff))
    );
    assert_eq!(
        sim.events.last(),
        Some(&Event::Closed(CloseReason::LoggedOff))
    );
    sim.eof();
    assert_eq!(sim.conn.close_reason(), Some(&CloseReason::LoggedOff));
}

#[test]
fn logoff_before_login_closes_at_once() {
    let mut sim = Sim::new(plain());
    let p = sim.send(Action::ping());
    let l = sim.conn.logoff(sim.now).unwrap();
    sim.pump();
    assert_eq!(sim.conn.state(), State::Closed);
    assert!(sim.wire.is_empty());
    for h in [p, l] {
        assert_eq!(
            done(&sim.events, h),
            Err(ActionError::Closed(CloseReason::LoggedOff))
        );
    }
}

#[test]
fn eof_while_closing_without_goodbye_is_peer_closed() {
    // LoggedOff means the Goodbye came; an end before it is a peer close.
    let gone = CloseReason::Error(ConnectionError::PeerClosed { mid_packet: false });
    let mut sim = Sim::ready(plain());
    let bye = sim.conn.logoff(sim.now).unwrap();
    sim.pump();
    sim.eof();
    assert_eq!(sim.conn.close_reason(), Some(&gone));
    assert_eq!(done(&sim.events, bye), Err(ActionError::Closed(gone)));
}

// ----- EOF ------------------------------------------------------------------

#[test]
fn eof_resolves_every_pending_and_held_action() {
    for (tail, mid_packet) in [
        (&b""[..], false),
        (b"Response: Success\r\nActionID: ami-1\r\n", true),
        (b"Response: Succ", true),
    ] {
        let mut sim = Sim::ready(plain().max_in_flight(Some(2)));
        let hs: Vec<_> = (0..4).map(|_| sim.send(Action::ping())).collect();
        let list = sim.send(Action::new("Status"));
        let fire = sim.send_with(Action::ping(), SendOptions::new().no_reply());
        assert_eq!(sim.conn.queued_actions(), 4);
        sim.feed(tail);
        sim.eof();
        let want = closed_with(ConnectionError::PeerClosed { mid_packet });
        assert_eq!(sim.conn.close_reason(), Some(&want), "{tail:?}");
        for h in hs.iter().chain([&list]) {
            assert_eq!(
                done(&sim.events, *h),
                Err(ActionError::Closed(want.clone())),
                "{tail:?}"
            );
        }
        assert!(dones(&sim.events).iter().all(|(h, _)| *h != fire));
        assert_eq!(sim.events.last(), Some(&Event::Closed(want)));
        assert_eq!(sim.conn.pending_actions(), 0);
        assert_eq!(sim.conn.queued_actions(), 0);
        assert_eq!(sim.conn.poll_timeout(), None);
    }
}

#[test]
fn eof_after_a_complete_final_packet_is_clean() {
    let mut sim = Sim::ready(plain());
    let h = sim.send(Action::ping());
    // The last packet lacks only its blank line: the decoder completes it
    // at EOF if it can, otherwise the close is mid-packet.
    sim.feed(&ok("ami-1", &[]));
    sim.eof();
    assert!(done(&sim.events, h).is_ok());
    assert_eq!(
        sim.conn.close_reason(),
        Some(&closed_with(ConnectionError::PeerClosed {
            mid_packet: false
        }))
    );
}

#[test]
fn abort_fails_everything() {
    let mut sim = Sim::ready(plain());
    let h = sim.send(Action::ping());
    sim.conn.abort(ConnectionError::Transport("reset".into()));
    sim.pump();
    let want = closed_with(ConnectionError::Transport("reset".into()));
    assert_eq!(done(&sim.events, h), Err(ActionError::Closed(want)));
    assert_eq!(sim.conn.state(), State::Closed);
}
