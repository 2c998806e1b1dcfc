//! The in-flight window: a default of `TLS_IN_FLIGHT` over TLS (Asterisk
//! stalls or drops a TLS session with a deep pipeline), none on plain TCP,
//! overridable both ways; an async `Originate` frees its slot at its
//! response.

#![allow(clippy::result_large_err)]

mod conn_support;

use amiproto::{Action, Config, EventMask, InFlightLimit, Outcome, TLS_IN_FLIGHT};
use conn_support::*;

/// How many of the packets written since the last call are `Ping`s.
fn pings_written(sim: &mut Sim) -> usize {
    sim.take_sent()
        .iter()
        .filter(|p| p.action().is_some_and(|a| a == "Ping"))
        .count()
}

#[test]
fn tls_connections_default_to_a_window_of_eight() {
    assert_eq!(TLS_IN_FLIGHT, 8);
    let mut sim = Sim::ready(plain().tls(true));
    for _ in 0..20 {
        sim.send(Action::ping());
    }
    assert_eq!(pings_written(&mut sim), 8);
    assert_eq!(sim.conn.queued_actions(), 12);
    // Each answer lets exactly one more out.
    sim.feed(&ok("ami-1", &[("Ping", "Pong")]));
    assert_eq!(pings_written(&mut sim), 1);
    for seq in 2..=20 {
        sim.feed(&ok(&format!("ami-{seq}"), &[("Ping", "Pong")]));
    }
    assert_eq!(pings_written(&mut sim), 11);
    assert_eq!(sim.conn.pending_actions(), 0);
    assert_eq!(dones(&sim.events).len(), 20);
}

#[test]
fn plain_tcp_has_no_window_by_default_and_tls_can_be_overridden() {
    let mut sim = Sim::ready(plain());
    for _ in 0..20 {
        sim.send(Action::ping());
    }
    assert_eq!(pings_written(&mut sim), 20);

    let mut sim = Sim::ready(plain().tls(true).max_in_flight(None));
    assert_eq!(sim.conn.config().max_in_flight, InFlightLimit::Unlimited);
    for _ in 0..20 {
        sim.send(Action::ping());
    }
    assert_eq!(pings_written(&mut sim), 20);

    let mut sim = Sim::ready(plain().tls(true).max_in_flight(Some(3)));
    for _ in 0..20 {
        sim.send(Action::ping());
    }
    assert_eq!(pings_written(&mut sim), 3);
}

#[test]
fn amis_urls_say_tls_to_the_core() {
    let (endpoint, config) = Config::from_url("amis://admin:amp111@pbx.example").unwrap();
    assert!(endpoint.tls && config.tls);
    assert_eq!(config.in_flight_cap(), Some(TLS_IN_FLIGHT));
    let (_, config) = Config::from_url("ami://admin:amp111@pbx.example?tls=true").unwrap();
    assert_eq!(config.in_flight_cap(), Some(TLS_IN_FLIGHT));
    let (_, config) = Config::from_url("ami://admin:amp111@pbx.example").unwrap();
    assert_eq!(config.in_flight_cap(), None);
    // Zero would never write anything: it counts as one.
    assert_eq!(config.max_in_flight(Some(0)).in_flight_cap(), Some(1));
}

#[test]
fn an_async_originate_frees_its_slot_at_its_response() {
    let mut sim = Sim::ready(plain().events(EventMask::On).max_in_flight(Some(1)));
    let call = sim.send(Action::originate("Local/100@default").async_originate());
    let ping = sim.send(Action::ping());
    assert_eq!(sim.take_sent().len(), 1, "the window holds the ping back");
    sim.feed(&ok(
        "ami-1",
        &[("Message", "Originate successfully queued")],
    ));
    // The ring time can be long: the ping goes out before the event.
    assert_eq!(pings_written(&mut sim), 1);
    sim.feed(&ok("ami-2", &[("Ping", "Pong")]));
    assert!(done(&sim.events, ping).is_ok());
    sim.feed(&event(
        "OriginateResponse",
        Some("ami-1"),
        &[("Response", "Success"), ("Reason", "4")],
    ));
    match done(&sim.events, call) {
        Ok(Outcome::Originate(o)) => assert!(o.is_success()),
        other => panic!("{other:?}"),
    }
    // Nothing more may go out on a freed slot twice.
    sim.send(Action::ping());
    assert_eq!(pings_written(&mut sim), 1);
    assert_eq!(sim.conn.pending_actions(), 1);
}
