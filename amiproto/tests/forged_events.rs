//! Events other sessions can forge never answer our actions.
//!
//! Asterisk's `UserEvent` action lets any session with the `user` write class
//! broadcast an event echoing every header it wrote, `ActionID` and
//! `EventList` included. Such an event can land between an action's write
//! and its answer, and anything that interleaves (a proxy, a future server)
//! puts it inside a list. Rules checked here: a `UserEvent` is never a list
//! item or list end, and before an action's response only an async
//! originate's `OriginateResponse` belongs to it; whatever is not claimed
//! goes out as an ordinary event, never swallowed. And generated ids, given
//! entropy, cannot be guessed.

#![allow(clippy::result_large_err)]

mod conn_support;

use std::time::Instant;

use amiproto::{Action, Config, Connection, Event, EventMask, Outcome, SendOptions, State};
use conn_support::*;

/// A `UserEvent` as Asterisk broadcasts it: `Event`, `Privilege`,
/// `UserEvent`, then every header the sender wrote.
fn user_event(forged: &[(&str, &str)]) -> Vec<u8> {
    let mut l = vec![
        ("Event", "UserEvent"),
        ("Privilege", "user,all"),
        ("UserEvent", "Hi"),
    ];
    l.extend_from_slice(forged);
    pkt(&l)
}

fn item(id: &str, n: usize) -> Vec<u8> {
    let key = format!("/tree/key{n}");
    event(
        "DBGetTreeResponse",
        Some(id),
        &[("Family", "tree"), ("Key", &key), ("Val", "v")],
    )
}

fn complete(id: &str, n: usize) -> Vec<u8> {
    let n = n.to_string();
    event(
        "DBGetTreeComplete",
        Some(id),
        &[("EventList", "Complete"), ("ListItems", &n)],
    )
}

fn list_start(id: &str) -> Vec<u8> {
    ok(
        id,
        &[("EventList", "start"), ("Message", "Result will follow")],
    )
}

#[test]
fn a_forged_list_end_does_not_cut_a_2000_item_list() {
    let mut sim = Sim::ready(plain());
    let h = sim.send(Action::new("DBGetTree").header("Family", "tree"));
    let id = sim.id_of("DBGetTree");
    let forged = user_event(&[
        ("ActionID", &id),
        ("EventList", "Complete"),
        ("ListItems", "1"),
    ]);
    let mut wire = list_start(&id);
    wire.extend(item(&id, 0));
    wire.extend(&forged);
    for n in 1..2000 {
        wire.extend(item(&id, n));
    }
    wire.extend(complete(&id, 2000));
    sim.feed_chunked(&wire, 4096);
    let events = sim.take_events();
    let Ok(Outcome::List(list)) = done(&events, h) else {
        panic!("{events:?}")
    };
    assert_eq!(list.items.len(), 2000);
    assert!(list.complete.is_event("DBGetTreeComplete"));
    // The forged event is delivered as what it is, and nothing else leaks.
    let loose = unsolicited(&events);
    assert_eq!(loose.len(), 1, "{loose:?}");
    assert!(loose[0].is_event("UserEvent"));
    assert_eq!(loose[0].action_id().unwrap(), id.as_str());
}

#[test]
fn a_forged_item_is_neither_collected_nor_streamed_nor_swallowed() {
    // Collected, streamed, and cancelled (its late answer drained quietly).
    for mode in ["collect", "stream", "cancelled"] {
        let mut sim = Sim::ready(plain());
        let opts = match mode {
            "stream" => SendOptions::new().stream_list(),
            _ => SendOptions::new(),
        };
        let h = sim.send_with(Action::new("DBGetTree"), opts);
        let id = sim.id_of("DBGetTree");
        if mode == "cancelled" {
            assert!(sim.conn.cancel(h, sim.now));
        }
        let mut wire = list_start(&id);
        wire.extend(item(&id, 0));
        wire.extend(user_event(&[("ActionID", &id), ("Key", "/tree/forged")]));
        wire.extend(item(&id, 1));
        wire.extend(complete(&id, 2));
        sim.feed(&wire);
        let events = sim.take_events();
        let loose = unsolicited(&events);
        assert_eq!(loose.len(), 1, "{mode}: {events:?}");
        assert!(loose[0].is_event("UserEvent"), "{mode}");
        let streamed: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::ListItem { item, .. } => Some(item.get_str("Key").unwrap().to_owned()),
                _ => None,
            })
            .collect();
        match mode {
            "collect" => {
                let Ok(Outcome::List(list)) = done(&events, h) else {
                    panic!("{events:?}")
                };
                assert_eq!(list.items.len(), 2);
            }
            "stream" => {
                assert_eq!(streamed, ["/tree/key0", "/tree/key1"]);
                assert!(matches!(done(&events, h), Ok(Outcome::List(_))));
            }
            _ => assert!(dones(&events).is_empty(), "{events:?}"),
        }
        assert_eq!(sim.conn.pending_actions(), 0, "{mode}");
    }
}

#[test]
fn before_its_response_only_an_originate_response_answers_an_action() {
    let mut sim = Sim::ready(plain().events(EventMask::On));
    let list = sim.send(Action::new("DBGetTree"));
    let list_id = sim.id_of("DBGetTree");
    let orig = sim.send(
        Action::originate("Local/100@default")
            .header("Exten", "1")
            .async_originate(),
    );
    let orig_id = sim.id_of("Originate");
    let ping = sim.send(Action::ping());
    let ping_id = sim.id_of("Ping");
    // Before any response: a list item, a UserEvent dressed as the
    // originate's answer (its own OriginateResponse line comes second:
    // Asterisk writes `Event: UserEvent` first), an event for the ping.
    sim.feed(&item(&list_id, 0));
    sim.feed(&user_event(&[
        ("Event", "OriginateResponse"),
        ("ActionID", &orig_id),
        ("Response", "Success"),
        ("Reason", "4"),
    ]));
    sim.feed(&event("Pong", Some(&ping_id), &[("Response", "Success")]));
    let early = sim.take_events();
    assert_eq!(unsolicited(&early).len(), 3, "{early:?}");
    assert!(dones(&early).is_empty(), "{early:?}");
    // The real answers still complete every action.
    sim.feed(&event(
        "OriginateResponse",
        Some(&orig_id),
        &[("Response", "Success"), ("Reason", "4")],
    ));
    let mut wire = list_start(&list_id);
    wire.extend(item(&list_id, 1));
    wire.extend(complete(&list_id, 1));
    wire.extend(ok(
        &orig_id,
        &[("Message", "Originate successfully queued")],
    ));
    wire.extend(ok(&ping_id, &[("Ping", "Pong")]));
    sim.feed(&wire);
    let events = sim.take_events();
    assert!(unsolicited(&events).is_empty(), "{events:?}");
    let Ok(Outcome::List(l)) = done(&events, list) else {
        panic!("{events:?}")
    };
    assert_eq!(l.items.len(), 1);
    assert_eq!(l.items[0].get_str("Key"), Some("/tree/key1"));
    let Ok(Outcome::Originate(o)) = done(&events, orig) else {
        panic!("{events:?}")
    };
    assert!(o.event.is_event("OriginateResponse"));
    assert!(matches!(done(&events, ping), Ok(Outcome::Response(_))));
}

#[test]
fn a_forged_user_event_after_the_response_does_not_finish_an_originate() {
    let mut sim = Sim::ready(plain().events(EventMask::On));
    let orig = sim.send(Action::originate("Local/100@default").async_originate());
    let id = sim.id_of("Originate");
    sim.feed(&ok(&id, &[("Message", "Originate successfully queued")]));
    sim.feed(&user_event(&[
        ("ActionID", &id),
        ("Response", "Failure"),
        ("Reason", "0"),
    ]));
    let events = sim.take_events();
    assert_eq!(unsolicited(&events).len(), 1);
    assert!(dones(&events).is_empty());
    sim.feed(&event(
        "OriginateResponse",
        Some(&id),
        &[("Response", "Success"), ("Reason", "4")],
    ));
    let Ok(Outcome::Originate(o)) = done(&sim.take_events(), orig) else {
        panic!()
    };
    assert!(o.is_success());
}

#[test]
fn generated_ids_with_entropy_cannot_be_guessed() {
    let now = Instant::now();
    let connect = |entropy: u64| {
        let mut c = Connection::with_entropy(
            Config::new("admin", "amp111").auth(amiproto::AuthMethod::Plain),
            0,
            entropy,
            now,
        );
        c.handle_input(now, BANNER);
        let login = decode_actions(&c.poll_transmit().unwrap()).pop().unwrap();
        let id = login.action_id().unwrap().to_str().unwrap().to_owned();
        (c, id)
    };
    let (mut a, login_a) = connect(0x0123_4567_89ab_cdef);
    let (_, login_b) = connect(0xfedc_ba98_7654_3210);
    assert_ne!(login_a, login_b);
    for id in [&login_a, &login_b] {
        assert!(id.starts_with("ami-") && id.ends_with("-0"), "{id}");
        assert_eq!(id.len(), "ami-".len() + 12 + "-0".len(), "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        assert_ne!(id, "ami-0");
    }
    assert_eq!(a.action_id_prefix(), &login_a[..login_a.len() - 1]);
    // Answers still correlate, and the old guessable ids match nothing.
    a.handle_input(
        now,
        &ok(&login_a, &[("Message", "Authentication accepted")]),
    );
    assert_eq!(a.state(), State::Ready);
    let h = a.send(Action::ping(), now).unwrap();
    let ping = decode_actions(&a.poll_transmit().unwrap()).pop().unwrap();
    let ping_id = ping.action_id().unwrap().to_str().unwrap().to_owned();
    assert_eq!(ping_id, format!("{}1", a.action_id_prefix()));
    a.handle_input(now, &ok("ami-1", &[("Ping", "Pong")]));
    a.handle_input(now, &ok(&ping_id, &[("Ping", "Pong")]));
    let events: Vec<_> = std::iter::from_fn(|| a.poll_event()).collect();
    assert_eq!(unsolicited(&events).len(), 1, "{events:?}");
    assert!(matches!(done(&events, h), Ok(Outcome::Response(_))));
    // A caller-chosen id is still fine, and still matched.
    let mine = a.send(Action::ping().action_id("mine-1"), now).unwrap();
    let _ = a.poll_transmit();
    a.handle_input(now, &ok("mine-1", &[("Ping", "Pong")]));
    let events: Vec<_> = std::iter::from_fn(|| a.poll_event()).collect();
    assert!(matches!(done(&events, mine), Ok(Outcome::Response(_))));
}
