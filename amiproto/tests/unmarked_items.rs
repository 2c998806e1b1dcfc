//! Asterisk 11's `Parkinglots` writes its `Parkinglot` items without the
//! `ActionID`: they belong to the one open `Parkinglots` list, and to
//! nothing when that is ambiguous or the server marks its items itself.

#![allow(clippy::result_large_err)]

mod conn_support;

use std::time::Duration;

use amiproto::{Action, ActionError, Config, Event, Outcome, SendOptions, State};
use conn_support::*;

const BANNER_11: &[u8] = b"Asterisk Call Manager/1.3\r\n";

/// Logged in behind `banner`: `Banner` and `Ready` taken.
fn ready_behind(banner: &[u8], config: Config) -> Sim {
    let mut s = Sim::new(config);
    s.feed(banner);
    let login = s.take_sent();
    let id = login[0].action_id().unwrap().to_str().unwrap().to_owned();
    s.feed(&ok(&id, &[("Message", "Authentication accepted")]));
    assert_eq!(s.conn.state(), State::Ready);
    s.take_events();
    s
}

/// `Parkinglot` as main/features.c of 11.25.3 writes it: no `ActionID`.
fn lot(name: &str) -> Vec<u8> {
    pkt(&[
        ("Event", "Parkinglot"),
        ("Name", name),
        ("StartExten", "701"),
        ("StopExten", "750"),
        ("Timeout", "45"),
    ])
}

fn opened(id: &str) -> Vec<u8> {
    ok(id, &[("Message", "Parking lots will follow")])
}

fn completed(id: &str) -> Vec<u8> {
    event("ParkinglotsComplete", Some(id), &[])
}

fn names(items: &[amiproto::Packet]) -> Vec<String> {
    items
        .iter()
        .map(|p| p.get_str("Name").unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn asterisk_11_parking_lots_are_collected() {
    let mut sim = ready_behind(BANNER_11, plain());
    let h = sim.send(Action::new("Parkinglots"));
    let id = sim.id_of("Parkinglots");
    // An unmarked Parkinglot before the list opens is nobody's.
    sim.feed(&lot("early"));
    sim.feed(&opened(&id));
    sim.feed(&lot("default"));
    sim.feed(&lot("sales"));
    sim.feed(&completed(&id));
    let Ok(Outcome::List(list)) = done(&sim.events, h) else {
        panic!("{:?}", sim.events)
    };
    assert_eq!(names(&list.items), ["default", "sales"]);
    assert_eq!(names(&unsolicited(&sim.events)), ["early"]);
    // After it: ordinary events again.
    sim.feed(&lot("late"));
    assert_eq!(names(&unsolicited(&sim.events)), ["early", "late"]);
}

#[test]
fn only_events_named_as_the_items_and_without_any_action_id_count() {
    let mut sim = ready_behind(BANNER_11, plain());
    let h = sim.send(Action::new("Parkinglots"));
    let id = sim.id_of("Parkinglots");
    sim.feed(&opened(&id));
    // Another session's UserEvent that echoes `Event: Parkinglot`: Asterisk
    // writes `Event: UserEvent` first, so its name is UserEvent.
    sim.feed(&pkt(&[
        ("Event", "UserEvent"),
        ("Privilege", "user,all"),
        ("UserEvent", "x"),
        ("Event", "Parkinglot"),
        ("Name", "forged"),
    ]));
    // An item-named event carrying some other ActionID is not this list's.
    sim.feed(&event(
        "Parkinglot",
        Some("someone-else"),
        &[("Name", "foreign")],
    ));
    sim.feed(&event("Newchannel", None, &[("Name", "chan")]));
    sim.feed(&lot("default"));
    sim.feed(&completed(&id));
    let Ok(Outcome::List(list)) = done(&sim.events, h) else {
        panic!("{:?}", sim.events)
    };
    assert_eq!(names(&list.items), ["default"]);
    assert_eq!(
        names(&unsolicited(&sim.events)),
        ["forged", "foreign", "chan"]
    );
}

#[test]
fn servers_that_mark_their_items_get_no_guessing() {
    // Asterisk 12 and later put the ActionID on every item.
    let mut sim = Sim::ready(plain());
    let h = sim.send(Action::new("Parkinglots"));
    let id = sim.id_of("Parkinglots");
    sim.feed(&ok(
        &id,
        &[
            ("EventList", "start"),
            ("Message", "Parking lots will follow"),
        ],
    ));
    sim.feed(&lot("unmarked"));
    sim.feed(&event("Parkinglot", Some(&id), &[("Name", "default")]));
    sim.feed(&event(
        "ParkinglotsComplete",
        Some(&id),
        &[("EventList", "Complete"), ("ListItems", "1")],
    ));
    let Ok(Outcome::List(list)) = done(&sim.events, h) else {
        panic!("{:?}", sim.events)
    };
    assert_eq!(names(&list.items), ["default"]);
    assert_eq!(list.announced_items(), Some(1));
    assert_eq!(names(&unsolicited(&sim.events)), ["unmarked"]);
}

#[test]
fn lists_pending_together_are_answered_one_after_the_other() {
    let mut sim = ready_behind(BANNER_11, plain());
    let a = sim.send(Action::new("Parkinglots"));
    let a_id = sim.id_of("Parkinglots");
    let b = sim.send(Action::new("Parkinglots"));
    let b_id = sim.id_of("Parkinglots");
    assert_ne!(a_id, b_id);
    for (id, lots) in [(&a_id, ["one", "two"]), (&b_id, ["three", "four"])] {
        sim.feed(&opened(id));
        for l in lots {
            sim.feed(&lot(l));
        }
        sim.feed(&completed(id));
    }
    let list = |h| match done(&sim.events, h) {
        Ok(Outcome::List(l)) => names(&l.items),
        other => panic!("{other:?}"),
    };
    assert_eq!(list(a), ["one", "two"]);
    assert_eq!(list(b), ["three", "four"]);
    assert!(unsolicited(&sim.events).is_empty());
}

#[test]
fn two_lists_open_at_once_leave_the_items_unattributed() {
    // A server that breaks the order: items cannot be told apart.
    let mut sim = ready_behind(BANNER_11, plain());
    let a = sim.send(Action::new("Parkinglots"));
    let a_id = sim.id_of("Parkinglots");
    let b = sim.send(Action::new("Parkinglots"));
    let b_id = sim.id_of("Parkinglots");
    sim.feed(&opened(&a_id));
    sim.feed(&opened(&b_id));
    sim.feed(&lot("which"));
    sim.feed(&completed(&a_id));
    sim.feed(&completed(&b_id));
    for h in [a, b] {
        let Ok(Outcome::List(l)) = done(&sim.events, h) else {
            panic!("{:?}", sim.events)
        };
        assert!(l.items.is_empty());
    }
    assert_eq!(names(&unsolicited(&sim.events)), ["which"]);
}

#[test]
fn streamed_and_timed_out_lists_take_their_items_too() {
    let mut sim = ready_behind(BANNER_11, plain());
    let h = sim.send_with(Action::new("Parkinglots"), SendOptions::new().stream_list());
    let id = sim.id_of("Parkinglots");
    sim.feed(&opened(&id));
    sim.feed(&lot("default"));
    sim.feed(&completed(&id));
    let streamed: Vec<_> = sim
        .events
        .iter()
        .filter_map(|e| match e {
            Event::ListItem { handle, item } if *handle == h => Some(item.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(names(&streamed), ["default"]);

    // Timed out: its late items are drained quietly, not handed out.
    let mut sim = ready_behind(BANNER_11, plain());
    let h = sim.send_with(
        Action::new("Parkinglots"),
        SendOptions::new().timeout(Some(Duration::from_millis(100))),
    );
    let id = sim.id_of("Parkinglots");
    sim.feed(&opened(&id));
    sim.advance_to(100);
    assert_eq!(done(&sim.events, h), Err(ActionError::Timeout));
    sim.feed(&lot("late"));
    sim.feed(&completed(&id));
    assert!(unsolicited(&sim.events).is_empty(), "{:?}", sim.events);
    assert_eq!(sim.conn.pending_actions(), 0);
}
