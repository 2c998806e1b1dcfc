//! A `Logoff` the server never answers closes the connection locally when
//! its timeout expires: no zombie stuck in `Closing`, every pending action
//! resolved, a typed close reason.

#![allow(clippy::result_large_err)]

mod conn_support;

use std::time::Duration;

use amiproto::{
    Action, ActionError, CloseReason, ConnectionError, Event, Outcome, SendError, SendOptions,
    State,
};
use conn_support::*;

fn timed_out() -> CloseReason {
    CloseReason::Error(ConnectionError::LogoffTimeout)
}

/// Checks on a connection whose Logoff went unanswered, at `base + close_ms`.
fn assert_closed_locally(sim: &mut Sim, close_ms: u64) {
    sim.advance_to(close_ms - 1);
    assert_eq!(sim.conn.state(), State::Closing);
    sim.advance_to(close_ms);
    assert_eq!(sim.conn.state(), State::Closed);
    assert_eq!(sim.conn.close_reason(), Some(&timed_out()));
    assert_eq!(sim.conn.poll_timeout(), None);
    assert_eq!(sim.conn.pending_actions(), 0);
    assert_eq!(sim.events.last(), Some(&Event::Closed(timed_out())));
    assert_eq!(sim.try_send(Action::ping()), Err(SendError::Closed));
}

#[test]
fn an_unanswered_logoff_closes_at_its_timeout() {
    let mut sim = Sim::ready(plain().action_timeout(Some(Duration::from_secs(2))));
    let ping = sim.send_with(
        Action::ping(),
        SendOptions::new().timeout(Some(Duration::from_secs(60))),
    );
    let logoff = sim.conn.logoff(sim.now).unwrap();
    sim.pump();
    assert_eq!(sim.conn.state(), State::Closing);
    assert_closed_locally(&mut sim, 2000);
    let events = sim.take_events();
    assert_eq!(done(&events, logoff), Err(ActionError::Timeout));
    assert_eq!(done(&events, ping), Err(ActionError::Closed(timed_out())));
    assert!(timed_out().is_logoff());
    assert!(CloseReason::LoggedOff.is_logoff());
    assert!(!CloseReason::Error(ConnectionError::KeepaliveTimeout).is_logoff());
}

#[test]
fn a_logoff_without_a_timeout_still_gives_up() {
    // `plain()` sets no action timeout: the Logoff waits 10 s at most.
    let mut sim = Sim::ready(plain());
    let logoff = sim.send_with(Action::logoff(), SendOptions::new().timeout(None));
    assert_eq!(sim.conn.poll_timeout(), Some(sim.at(10_000)));
    assert_closed_locally(&mut sim, 10_000);
    assert_eq!(done(&sim.events, logoff), Err(ActionError::Timeout));
}

#[test]
fn a_fire_and_forget_or_cancelled_logoff_still_closes() {
    // What an adapter does when its last handle is dropped.
    let mut sim = Sim::ready(plain().action_timeout(Some(Duration::from_secs(3))));
    sim.send_with(Action::logoff(), SendOptions::new().no_reply());
    assert_closed_locally(&mut sim, 3000);
    assert!(dones(&sim.events).is_empty(), "{:?}", sim.events);

    // Cancelled: its answer is drained for one more timeout, then the
    // connection gives up.
    let mut sim = Sim::ready(plain().action_timeout(Some(Duration::from_secs(3))));
    let logoff = sim.send(Action::logoff());
    sim.advance_to(1000);
    assert!(sim.conn.cancel(logoff, sim.now));
    assert_closed_locally(&mut sim, 4000);
    assert!(dones(&sim.events).is_empty(), "{:?}", sim.events);
}

#[test]
fn a_logoff_held_behind_a_full_window_still_closes() {
    let mut sim = Sim::ready(
        plain()
            .max_in_flight(Some(1))
            .action_timeout(Some(Duration::from_secs(5))),
    );
    let ping = sim.send_with(Action::ping(), SendOptions::new().timeout(None));
    let logoff = sim.send(Action::logoff());
    assert_eq!(sim.conn.queued_actions(), 1);
    assert_closed_locally(&mut sim, 5000);
    assert_eq!(done(&sim.events, logoff), Err(ActionError::Timeout));
    assert_eq!(
        done(&sim.events, ping),
        Err(ActionError::Closed(timed_out()))
    );
}

#[test]
fn goodbye_in_time_is_a_normal_logoff() {
    let mut sim = Sim::ready(plain().action_timeout(Some(Duration::from_secs(2))));
    let logoff = sim.send(Action::logoff());
    let id = sim.id_of("Logoff");
    sim.advance_to(1999);
    sim.feed(&pkt(&[
        ("Response", "Goodbye"),
        ("ActionID", &id),
        ("Message", "Thanks for all the fish."),
    ]));
    assert_eq!(sim.conn.close_reason(), Some(&CloseReason::LoggedOff));
    assert!(matches!(
        done(&sim.events, logoff),
        Ok(Outcome::Response(_))
    ));
    assert_eq!(sim.conn.poll_timeout(), None);
}

#[test]
fn a_cut_before_goodbye_is_reported_as_a_cut_not_a_logoff() {
    let cut = CloseReason::Error(ConnectionError::PeerClosed { mid_packet: true });
    let mut sim = Sim::ready(plain());
    let ping = sim.send(Action::ping());
    let status = sim.send(Action::new("Status"));
    let logoff = sim.conn.logoff(sim.now).unwrap();
    sim.pump();
    assert!(sim.conn.logoff_requested());
    let id = sim.id_of("Ping");
    sim.feed(&ok(&id, &[("Ping", "Pong")]));
    // The stream ends inside the Status answer, before any Goodbye.
    sim.feed(b"Response: Success\r\nActionID: ");
    sim.eof();
    assert_eq!(sim.conn.close_reason(), Some(&cut));
    assert_eq!(sim.events.last(), Some(&Event::Closed(cut.clone())));
    assert!(done(&sim.events, ping).is_ok());
    assert_eq!(
        done(&sim.events, status),
        Err(ActionError::Closed(cut.clone()))
    );
    assert_eq!(
        done(&sim.events, logoff),
        Err(ActionError::Closed(cut.clone()))
    );
    assert!(!cut.is_logoff());
    // Still known as a connection the client asked to end.
    assert!(sim.conn.logoff_requested());
}

#[test]
fn a_clean_end_before_goodbye_is_peer_closed_not_logged_off() {
    let gone = CloseReason::Error(ConnectionError::PeerClosed { mid_packet: false });
    let mut sim = Sim::ready(plain());
    let logoff = sim.send(Action::logoff());
    sim.eof();
    assert_eq!(sim.conn.close_reason(), Some(&gone));
    assert_eq!(done(&sim.events, logoff), Err(ActionError::Closed(gone)));

    // LoggedOff means the Goodbye came.
    let mut sim = Sim::ready(plain());
    assert!(!sim.conn.logoff_requested());
    sim.send(Action::logoff());
    let id = sim.id_of("Logoff");
    sim.feed(&pkt(&[("Response", "Goodbye"), ("ActionID", &id)]));
    assert_eq!(sim.conn.close_reason(), Some(&CloseReason::LoggedOff));
}
