//! Actions that could never finish are refused at once, saying why: an
//! async `Originate` whose `OriginateResponse` the session's event mask or
//! an accepted filter excludes, and `Queues` on servers that answer it with
//! bare text.

#![allow(clippy::result_large_err)]

mod conn_support;

use amiproto::{
    Action, ActionError, Config, Event, EventMask, SendError, SendOptions, State, Unanswerable,
};
use conn_support::*;

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

fn originate() -> Action {
    Action::originate("Local/100@default")
        .header("Application", "Wait")
        .header("Data", "1")
        .async_originate()
}

fn excluded_by_mask(mask: &str) -> SendError {
    SendError::Unanswerable(Unanswerable::EventMaskExcludesCall { mask: mask.into() })
}

#[test]
fn events_off_at_login_refuses_an_async_originate() {
    // Held before login, or sent after it: refused either way, nothing written.
    let mut sim = Sim::new(plain());
    assert_eq!(sim.try_send(originate()), Err(excluded_by_mask("off")));
    let mut sim = Sim::ready(plain());
    let e = sim.try_send(originate()).unwrap_err();
    assert_eq!(e, excluded_by_mask("off"));
    assert!(e.to_string().contains("`call` class"), "{e}");
    assert!(sim.take_sent().is_empty());
    // Not async: its answer is the response, which needs no event.
    sim.send(Action::originate("Local/100@default"));
    assert_eq!(sim.take_sent().len(), 1);
    assert_eq!(sim.conn.pending_actions(), 1);
}

#[test]
fn a_class_list_without_call_refuses_and_one_with_call_does_not() {
    let mut sim =
        Sim::ready(plain().events(EventMask::Classes(vec!["system".into(), "agent".into()])));
    assert_eq!(
        sim.try_send(originate()),
        Err(excluded_by_mask("system,agent"))
    );
    for ok_mask in [
        EventMask::On,
        EventMask::Classes(vec!["system".into(), "call".into()]),
    ] {
        let mut sim = Sim::ready(plain().events(ok_mask));
        assert!(sim.try_send(originate()).is_ok());
    }
    // Asterisk reads `c` before a comma as a prefix of `call`: not certain.
    let mut sim = Sim::ready(plain().events(EventMask::Classes(vec!["c".into(), "system".into()])));
    assert!(sim.try_send(originate()).is_ok());
}

#[test]
fn the_events_action_counts_once_the_server_accepted_it() {
    let mut sim = Sim::ready(plain().events(EventMask::On));
    sim.send(Action::events(&EventMask::Off));
    let id = sim.id_of("Events");
    // Not answered yet: still on for all the connection knows.
    assert!(sim.try_send(originate()).is_ok());
    sim.feed(&ok(&id, &[("Events", "Off")]));
    assert_eq!(sim.try_send(originate()), Err(excluded_by_mask("off")));

    // A change that may turn `call` on makes it uncertain until answered…
    sim.send(Action::events(&EventMask::On));
    let on = sim.id_of("Events");
    assert!(sim.try_send(originate()).is_ok());
    // …and a refused one changes nothing.
    sim.feed(&err(&on, "Invalid event mask"));
    assert_eq!(sim.try_send(originate()), Err(excluded_by_mask("off")));
    sim.send(Action::events(&EventMask::Classes(vec!["call".into()])));
    let call = sim.id_of("Events");
    sim.feed(&ok(&call, &[("Events", "On")]));
    assert!(sim.try_send(originate()).is_ok());
}

#[test]
fn an_events_action_that_timed_out_leaves_the_mask_unknown() {
    let mut sim = Sim::ready(plain());
    let h = sim.send_with(
        Action::events(&EventMask::On),
        SendOptions::new().timeout(Some(std::time::Duration::from_millis(100))),
    );
    sim.advance_to(100);
    assert_eq!(done(&sim.events, h), Err(ActionError::Timeout));
    sim.advance_to(200); // drained for one more timeout, then forgotten
    assert_eq!(sim.conn.pending_actions(), 0);
    // The server may have applied it: no refusal.
    assert!(sim.try_send(originate()).is_ok());
}

#[test]
fn an_accepted_exclude_filter_on_originate_response_refuses() {
    let mut sim = Sim::ready(plain().events(EventMask::On));
    sim.send(Action::filter_add("!Event: OriginateResponse"));
    let id = sim.id_of("Filter");
    assert!(sim.try_send(originate()).is_ok(), "not accepted yet");
    sim.feed(&ok(&id, &[("Message", "Success")]));
    assert_eq!(
        sim.try_send(originate()),
        Err(SendError::Unanswerable(
            Unanswerable::FilterDropsOriginateResponse {
                filter: "!Event: OriginateResponse".into()
            }
        ))
    );
}

#[test]
fn filters_that_may_let_it_through_do_not_refuse() {
    for filter in [
        Action::filter_add("Event: Newchannel"), // include: another one may match
        Action::filter_add("!Event: Originate.*"), // a regex
        Action::filter_add("!Event: Hangup"),
        Action::filter_add("!Event: OriginateResponse").header("MatchCriteria", "action(exclude)"),
    ] {
        let mut sim = Sim::ready(plain().events(EventMask::On));
        sim.send(filter.clone());
        let id = sim.id_of("Filter");
        sim.feed(&ok(&id, &[("Message", "Success")]));
        assert!(sim.try_send(originate()).is_ok(), "{filter:?}");
    }
    // Refused by the server: not in force.
    let mut sim = Sim::ready(plain().events(EventMask::On));
    sim.send(Action::filter_add("!Event: OriginateResponse"));
    let id = sim.id_of("Filter");
    sim.feed(&err(
        &id,
        "Filter did not compile.  Check the syntax of the filter given.",
    ));
    assert!(sim.try_send(originate()).is_ok());
}

fn queues_refused(version: &str) -> SendError {
    SendError::Unanswerable(Unanswerable::QueuesUnframed {
        ami_version: version.into(),
    })
}

#[test]
fn queues_is_refused_where_it_answers_bare_text() {
    let mut sim = ready_behind(b"Asterisk Call Manager/2.10.6\r\n", plain());
    let e = sim.try_send(Action::new("Queues")).unwrap_err();
    assert_eq!(e, queues_refused("2.10.6"));
    assert!(e.to_string().contains("QueueStatus"), "{e}");
    let mut sim = ready_behind(b"Asterisk Call Manager/1.3\r\n", plain());
    assert_eq!(
        sim.try_send(Action::new("queues")),
        Err(queues_refused("1.3"))
    );
    assert!(sim.take_sent().is_empty());
    // Asterisk 15 and later have no Queues action: it is sent, and the
    // server answers it with an error.
    let mut sim = Sim::ready(plain());
    let h = sim.send(Action::new("Queues"));
    let id = sim.id_of("Queues");
    sim.feed(&err(&id, "Invalid/unknown command: Queues."));
    assert!(matches!(
        done(&sim.events, h),
        Err(ActionError::Server { .. })
    ));
}

#[test]
fn queues_held_before_the_banner_is_refused_once_the_version_is_known() {
    let mut sim = Sim::new(plain());
    let queues = sim.send(Action::new("Queues"));
    let ping = sim.send(Action::ping());
    sim.feed(b"Asterisk Call Manager/1.3\r\n");
    let login = sim.take_sent();
    let id = login[0].action_id().unwrap().to_str().unwrap().to_owned();
    sim.feed(&ok(&id, &[("Message", "Authentication accepted")]));
    assert_eq!(
        done(&sim.events, queues),
        Err(ActionError::Unanswerable(Unanswerable::QueuesUnframed {
            ami_version: "1.3".into()
        }))
    );
    let written: Vec<_> = sim
        .take_sent()
        .iter()
        .map(|p| p.action().unwrap().to_string())
        .collect();
    assert_eq!(written, ["Ping"]);
    assert_eq!(sim.conn.pending_actions(), 1);
    let _ = ping;
    assert!(!sim.events.iter().any(|e| matches!(e, Event::Closed(_))));
}
