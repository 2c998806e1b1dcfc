//! Cross-crate scenarios: the blocking std client against the simulated
//! Asterisk (run on its own runtime thread; the client stays blocking).
#![allow(clippy::result_large_err)]

use std::time::{Duration, Instant};

use amiproto::{Action, ActionError, CloseReason, ConnectionError, EventMask, Packet, SendOptions};
use amiproto_std::{
    Client, ClientConfig, Error, EventItem, Overflow, Reconnect, WhileReconnecting,
};
use amiproto_testkit::{BlockingSimulator, Faults, SimConfig, User};

fn sim() -> BlockingSimulator {
    BlockingSimulator::start(SimConfig::default().auth_failure_delay(Duration::ZERO)).unwrap()
}

fn config(url: &str, query: &str) -> ClientConfig {
    ClientConfig::from_url(&format!("{url}?{query}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .map_config(|c| {
            c.banner_timeout(Duration::from_secs(5))
                .login_timeout(Duration::from_secs(5))
                .action_timeout(Some(Duration::from_secs(20)))
        })
}

fn user_event(name: &str) -> Packet {
    Packet::builder()
        .header("Event", "UserEvent")
        .header("Privilege", "user,all")
        .header("UserEvent", name)
        .build()
        .unwrap()
}

fn event_name(item: &EventItem) -> String {
    item.packet()
        .and_then(|p| p.get_str("Event"))
        .unwrap_or("")
        .to_owned()
}

fn seq(item: &EventItem) -> u64 {
    item.packet()
        .and_then(|p| p.get_str("Seq"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a flood event: {item:?}"))
}

fn received(sim: &BlockingSimulator, action: &str) -> Vec<Packet> {
    sim.received()
        .into_iter()
        .filter(|p| p.action().is_some_and(|a| a.eq_ignore_case(action)))
        .collect()
}

#[test]
fn std_login_plain_md5_and_failure() {
    let sim = sim();
    let c = Client::connect(config(&sim.url(), "auth=plain")).unwrap();
    assert_eq!(c.state(), amiproto::State::Ready);
    c.logoff().unwrap();
    assert!(received(&sim, "Login")[0].get_str("Secret").is_some());

    let c = Client::connect(config(&sim.url(), "auth=md5")).unwrap();
    c.logoff().unwrap();
    let md5 = received(&sim, "Login").pop().unwrap();
    assert!(md5.get_str("Secret").is_none());
    assert!(md5.get_str("Key").is_some());
    assert_eq!(received(&sim, "Challenge").len(), 1);

    let bad = sim.url().replace("amp111", "wrong");
    let err = Client::connect(config(&bad, "auth=plain")).unwrap_err();
    assert!(err.is_auth_failed(), "{err:?}");
    assert_eq!(err.server_message(), Some("Authentication failed"));
    let err = Client::connect(config(&bad, "auth=md5")).unwrap_err();
    assert!(err.is_auth_failed(), "{err:?}");
}

#[test]
fn std_limited_user_sees_only_its_classes() {
    let sim = BlockingSimulator::start(
        SimConfig::default().user(
            User::new("limited", "amp111")
                .read("system")
                .write("system"),
        ),
    )
    .unwrap();
    let url = sim.url().replace("admin:", "limited:");
    let mut c = Client::connect(config(&url, "auth=plain")).unwrap();
    let first = c.next_event(Some(Duration::from_secs(5))).unwrap().unwrap();
    assert_eq!(event_name(&first), "FullyBooted");
    sim.push_event(user_event("user-class"));
    c.ping().unwrap();
    while let Some(item) = c.next_event(Some(Duration::from_millis(100))).unwrap() {
        assert_ne!(event_name(&item), "UserEvent", "{item:?}");
    }
}

#[test]
fn std_events_at_start_up_are_not_lost() {
    let sim = sim();
    let mut c = Client::connect(config(&sim.url(), "auth=plain")).unwrap();
    // Asterisk sends these right behind the login answer.
    let mut names = Vec::new();
    while let Some(item) = c.next_event(Some(Duration::from_millis(300))).unwrap() {
        names.push(event_name(&item));
    }
    assert!(names.contains(&"FullyBooted".to_owned()), "{names:?}");
    assert!(names.contains(&"SuccessfulAuth".to_owned()), "{names:?}");
}

#[test]
fn std_events_during_send_are_queued_in_order() {
    let sim = sim();
    let mut c = Client::connect(config(&sim.url(), "auth=plain&events=user")).unwrap();
    for n in 0..5 {
        sim.push_event(user_event(&format!("during-{n}")));
    }
    c.ping().unwrap();
    c.command("core show version").unwrap();
    let mut got = Vec::new();
    while let Some(item) = c.next_event(Some(Duration::from_millis(200))).unwrap() {
        got.push(
            item.packet()
                .unwrap()
                .get_str("UserEvent")
                .unwrap()
                .to_owned(),
        );
    }
    let want: Vec<String> = (0..5).map(|n| format!("during-{n}")).collect();
    assert_eq!(got, want);
}

#[test]
fn std_pipelined_10000_pings() {
    let sim = sim();
    let mut c = Client::connect(config(&sim.url(), "auth=plain&events=off")).unwrap();
    let t = Instant::now();
    let outcomes = c.send_all((0..10_000).map(|_| Action::ping()));
    let elapsed = t.elapsed();
    assert_eq!(outcomes.len(), 10_000);
    for o in outcomes {
        let p = o.unwrap().into_response().unwrap();
        assert_eq!(p.get_str("Ping"), Some("Pong"));
    }
    assert_eq!(received(&sim, "Ping").len(), 10_000);
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
}

#[test]
fn std_lists_and_async_originate() {
    let sim = sim();
    // OriginateResponse is a `call` class event: it needs that class on.
    let mut c = Client::connect(
        config(&sim.url(), "auth=plain&events=call")
            .map_config(|c| c.action_timeout(Some(Duration::from_secs(5)))),
    )
    .unwrap();
    let empty = c.list(Action::new("CoreShowChannels")).unwrap();
    assert_eq!(empty.items.len(), 0);
    assert_eq!(empty.announced_items(), Some(0));

    let call = Action::originate("Local/200@default")
        .header("Application", "Wait")
        .header("Data", "5");
    let o = c.originate(call).unwrap();
    assert!(o.is_success(), "{:?}", o.event);
    assert_eq!(o.reason(), Some(4));

    let busy = Action::originate("Local/999@default")
        .header("Application", "Wait")
        .header("Data", "1");
    let o = c.originate(busy).unwrap();
    assert!(!o.is_success());
    assert_eq!(o.reason(), Some(5));

    let list = c.list(Action::new("CoreShowChannels")).unwrap();
    assert!(!list.items.is_empty());
    assert_eq!(list.announced_items(), Some(list.items.len()));
    assert!(list
        .items
        .iter()
        .all(|i| i.is_event("CoreShowChannel") && i.get_str("Channel").is_some()));
    // The call's events were queued meanwhile.
    let mut names = Vec::new();
    while let Some(item) = c.next_event(Some(Duration::from_millis(100))).unwrap() {
        names.push(event_name(&item));
    }
    assert!(names.iter().any(|n| n == "Newchannel"), "{names:?}");
    let err = c.list(Action::ping()).unwrap_err();
    assert!(matches!(err, Error::UnexpectedOutcome { .. }), "{err:?}");
}

#[test]
fn std_command_in_both_formats() {
    for (config_, want) in [
        (SimConfig::default(), "Asterisk 22"),
        (SimConfig::legacy(), "Asterisk 13.38.3"),
    ] {
        let sim = BlockingSimulator::start(config_).unwrap();
        let mut c = Client::connect(config(&sim.url(), "auth=plain&events=off")).unwrap();
        let out = c.command("core show version").unwrap();
        assert!(out.text().starts_with(want), "{}", out.text());
        let err = c.command("no such command here");
        match err {
            Err(Error::Action(ActionError::Server { .. })) => {}
            Ok(out) => assert!(out.text().contains("No such command"), "{}", out.text()),
            Err(e) => panic!("{e:?}"),
        }
    }
}

#[test]
fn std_lossy_queue_reports_the_exact_lag() {
    const N: u64 = 5_000;
    let sim = sim();
    let mut c = Client::connect(
        config(&sim.url(), "auth=plain&events=user").events(Overflow::Lossy { capacity: 100 }),
    )
    .unwrap();
    assert_eq!(sim.flood(N, None), 1);
    // Let the flood pile up in the socket while we do not read, then take
    // it in through a send.
    std::thread::sleep(Duration::from_millis(300));
    c.ping().unwrap();
    let mut next = 0;
    let mut lagged = 0;
    while next < N {
        match c.next_event(Some(Duration::from_secs(5))).unwrap() {
            Some(EventItem::Lagged(n)) => {
                lagged += n;
                next += n;
            }
            Some(item) => {
                assert_eq!(seq(&item), next, "a gap without a Lagged before it");
                next += 1;
            }
            None => panic!("flood stalled at {next}"),
        }
    }
    assert_eq!(next, N);
    assert!(lagged > 0, "the queue never overflowed");
    assert_eq!(c.lagged_events(), lagged);
}

#[test]
fn std_lossless_flood_during_sends() {
    const N: u64 = 100_000;
    let sim = sim();
    let mut c =
        Client::connect(config(&sim.url(), "auth=plain&events=user").events(Overflow::Lossless))
            .unwrap();
    sim.flood(N, None);
    for _ in 0..10 {
        c.ping().unwrap();
    }
    for want in 0..N {
        let item = c
            .next_event(Some(Duration::from_secs(10)))
            .unwrap()
            .unwrap();
        assert_eq!(seq(&item), want);
    }
    assert_eq!(c.lagged_events(), 0);
}

#[test]
fn std_keepalive_detects_a_dead_peer() {
    let sim = sim();
    let mut c =
        Client::connect(config(&sim.url(), "auth=plain&events=off&keepalive=100ms")).unwrap();
    // Alive: keepalive pings are answered, nothing surfaces.
    assert_eq!(
        c.next_event(Some(Duration::from_millis(350))).unwrap(),
        None
    );
    assert!(received(&sim, "Ping").len() >= 2);
    sim.set_faults(Faults {
        stall: true,
        ..Faults::default()
    });
    let t = Instant::now();
    let err = c.next_event(None).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Closed(CloseReason::Error(ConnectionError::KeepaliveTimeout))
        ),
        "{err:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

#[test]
fn std_mid_packet_disconnect_fails_pending_actions() {
    let sim = sim();
    let mut c = Client::connect(config(&sim.url(), "auth=plain&events=off")).unwrap();
    // Cut the stream 1 000 bytes into the answers (login included: the
    // count starts at the session's first byte).
    sim.set_faults(Faults {
        close_after_bytes: Some(1_000),
        ..Faults::default()
    });
    let outcomes = c.send_all((0..100).map(|_| Action::ping()));
    let ok = outcomes.iter().filter(|o| o.is_ok()).count();
    assert!(ok > 0 && ok < 100, "{ok}");
    for o in &outcomes[ok..] {
        match o {
            Err(Error::Action(ActionError::Closed(CloseReason::Error(
                ConnectionError::PeerClosed { mid_packet: true },
            )))) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(c.is_closed());
    assert!(matches!(c.ping(), Err(Error::Closed(_))));
}

#[test]
fn std_streamed_list_cancel_and_iterator_end() {
    let sim = sim();
    let mut c = Client::connect(config(&sim.url(), "auth=plain&events=call")).unwrap();
    let call = Action::originate("Local/200@default")
        .header("Application", "Wait")
        .header("Data", "5");
    c.originate(call).unwrap();
    while c
        .next_event(Some(Duration::from_millis(100)))
        .unwrap()
        .is_some()
    {}

    // Streamed: items come as ListItem events, the outcome has none.
    let h = c
        .submit_with(
            Action::new("CoreShowChannels"),
            amiproto::SendOptions::new().stream_list(),
        )
        .unwrap();
    let list = c.wait(h).unwrap().into_list().unwrap();
    assert!(list.items.is_empty());
    let mut streamed = 0;
    while let Some(item) = c.next_event(Some(Duration::from_millis(100))).unwrap() {
        if let EventItem::ListItem { handle, item } = item {
            assert_eq!(handle, h);
            assert!(item.is_event("CoreShowChannel"));
            streamed += 1;
        }
    }
    assert_eq!(Some(streamed), list.announced_items());
    assert!(streamed > 0);

    // Cancelled: no outcome kept, the late answer is consumed quietly.
    let h = c.submit(Action::ping()).unwrap();
    assert!(c.cancel(h));
    assert!(matches!(c.wait(h), Err(Error::UnknownHandle)));
    c.ping().unwrap();

    // The iterator ends quietly after a logoff.
    let h = c.submit(Action::logoff()).unwrap();
    assert!(c.wait(h).is_ok());
    let rest: Vec<_> = c.events().collect();
    assert!(rest.iter().all(|r| r.is_ok()), "{rest:?}");
    assert_eq!(c.close_reason(), Some(&CloseReason::LoggedOff));
}

/// A flood a debug build decodes with room to spare, at Asterisk's default
/// write timeout (per message): any drop is the consumer's doing.
const SLOW_FLOOD: u64 = 60_000;
const SLOW_RATE: u64 = 15_000;

fn write_timeout_sim() -> BlockingSimulator {
    let sim = sim();
    sim.set_faults(Faults {
        write_timeout: Some(Duration::from_millis(100)),
        ..Faults::default()
    });
    sim
}

#[test]
fn std_slow_consumer_lossy_queue_decides_and_the_session_lives() {
    let sim = write_timeout_sim();
    let mut c = Client::connect(
        config(&sim.url(), "auth=plain&events=user").events(Overflow::Lossy { capacity: 1000 }),
    )
    .unwrap();
    assert_eq!(sim.flood(SLOW_FLOOD, Some(SLOW_RATE)), 1);
    let t0 = Instant::now();
    let (mut events, mut lagged, mut last) = (0u64, 0u64, None);
    while last != Some(SLOW_FLOOD - 1) {
        assert_eq!(
            sim.connection_count(),
            1,
            "dropped by the server after {events} events"
        );
        assert!(t0.elapsed() < Duration::from_secs(60), "too slow");
        match c.next_event(Some(Duration::from_secs(5))).unwrap() {
            Some(EventItem::Lagged(n)) => lagged += n,
            Some(item) => {
                let n = seq(&item);
                assert!(last.is_none_or(|l| n > l), "out of order");
                last = Some(n);
                events += 1;
                // A consumer far slower than the flood.
                std::thread::sleep(Duration::from_millis(1));
            }
            None => panic!("flood stalled after {events} events"),
        }
    }
    assert_eq!(events + lagged, SLOW_FLOOD);
    assert!(lagged > 0, "the queue never overflowed");
    assert_eq!(c.lagged_events(), lagged);
    c.ping().unwrap();
    assert_eq!(sim.connection_count(), 1);
}

#[test]
fn std_slow_consumer_lossless_queue_grows_and_the_session_lives() {
    let sim = write_timeout_sim();
    let mut c =
        Client::connect(config(&sim.url(), "auth=plain&events=user").events(Overflow::Lossless))
            .unwrap();
    assert_eq!(sim.flood(SLOW_FLOOD, Some(SLOW_RATE)), 1);
    let slow_until = Instant::now() + Duration::from_millis(SLOW_FLOOD * 1000 / SLOW_RATE + 500);
    let mut most_queued = 0;
    for want in 0..SLOW_FLOOD {
        assert_eq!(
            sim.connection_count(),
            1,
            "dropped by the server after {want} events"
        );
        let item = c
            .next_event(Some(Duration::from_secs(5)))
            .unwrap()
            .unwrap_or_else(|| panic!("flood stalled at {want}"));
        assert_eq!(seq(&item), want);
        most_queued = most_queued.max(c.queued_events());
        if Instant::now() < slow_until {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    assert_eq!(c.lagged_events(), 0);
    // The queue, not the kernel's buffers, held the backlog.
    assert!(most_queued > 10_000, "{most_queued}");
    c.ping().unwrap();
    assert_eq!(sim.connection_count(), 1);
}

// ----- reconnect -----------------------------------------------------------

fn fast_reconnect() -> Reconnect {
    Reconnect::default().delays(Duration::from_millis(20), Duration::from_millis(200))
}

/// Calls `f` until it is true, at most 10 s.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < Duration::from_secs(10), "never: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn std_reconnect_after_restart_fails_pending_and_serves_new() {
    let sim = sim();
    let cfg = config(&sim.url(), "auth=plain&events=on").reconnect(fast_reconnect());
    let mut c = Client::connect(cfg).unwrap();
    // Accepted: remembered. Refused by the server or the encoder: not.
    c.set_event_mask(EventMask::Classes(vec!["user".into()]))
        .unwrap();
    let err = c
        .set_event_mask(EventMask::Classes(Vec::new()))
        .unwrap_err();
    assert_eq!(err.server_message(), Some("Invalid event mask"));
    let err = c.add_filter("Event: (").unwrap_err();
    assert!(err.server_message().is_some(), "{err:?}");
    let err = c.add_filter("Event: x\r\nAction: Logoff").unwrap_err();
    assert!(matches!(err, Error::Send(_)), "{err:?}");
    c.add_filter("Event: UserEvent").unwrap();

    // Three actions in flight, unanswered, when the server goes away.
    sim.set_faults(Faults {
        response_delay: Some(Duration::from_secs(30)),
        ..Faults::default()
    });
    let pending: Vec<_> = (0..3).map(|_| c.submit(Action::ping()).unwrap()).collect();
    c.flush().unwrap();
    // The server reads the first, then sits on it (and the others wait
    // in its socket).
    eventually("the pings reach the server", || {
        !received(&sim, "Ping").is_empty()
    });
    let pings_before = received(&sim, "Ping").len();
    sim.set_faults(Faults::default());
    sim.restart().unwrap();
    for h in pending {
        let err = c.wait(h).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Action(ActionError::Closed(CloseReason::Error(_)))
            ),
            "{err:?}"
        );
        assert!(err.is_connection_lost());
    }
    assert!(c.is_reconnecting() && !c.is_closed());

    // A new action waits for the new login, then goes out on it.
    let logins_before = received(&sim, "Login").len();
    c.ping().unwrap();
    assert_eq!(c.state(), amiproto::State::Ready);
    assert!(c.generation() >= 1, "a new connection");
    assert_eq!(c.reconnects(), 1, "one successful reconnect");
    let logins = received(&sim, "Login");
    assert_eq!(logins.len(), logins_before + 1, "one login per connection");
    assert_eq!(logins.last().unwrap().get_str("Events"), Some("user"));
    let filters: Vec<String> = received(&sim, "Filter")
        .iter()
        .map(|p| p.get_str("Filter").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        filters,
        ["Event: (", "Event: UserEvent", "Event: UserEvent"],
        "the accepted filter is applied again, the refused one is not"
    );
    // Never re-sent: the new connection saw the new ping only.
    assert_eq!(received(&sim, "Ping").len(), pings_before + 1);

    // The queue marks the gap, and the new session filters as asked.
    let other = Packet::builder()
        .header("Event", "Other")
        .header("Privilege", "user,all")
        .build()
        .unwrap();
    sim.push_event(other);
    sim.push_event(user_event("after"));
    let mut items = Vec::new();
    while let Some(item) = c.next_event(Some(Duration::from_millis(300))).unwrap() {
        items.push(item);
    }
    // What the first session queued comes first, then the marker.
    let at = items
        .iter()
        .position(|i| matches!(i, EventItem::Reconnected { .. }))
        .unwrap_or_else(|| panic!("no marker: {items:?}"));
    assert_eq!(items[at], EventItem::Reconnected { generation: 1 });
    let names: Vec<String> = items[at + 1..].iter().map(event_name).collect();
    assert_eq!(names, ["UserEvent"], "{items:?}");
    c.logoff().unwrap();
}

#[test]
fn std_actions_while_reconnecting_wait_or_fail_fast() {
    for mode in [WhileReconnecting::Wait, WhileReconnecting::FailFast] {
        let sim = sim();
        let cfg = config(&sim.url(), "auth=plain&events=off")
            .reconnect(fast_reconnect().while_reconnecting(mode))
            .map_config(|c| c.action_timeout(Some(Duration::from_millis(300))));
        let mut c = Client::connect(cfg).unwrap();
        // Every new connection is closed before the banner for a while.
        sim.set_faults(Faults {
            close_before_banner: true,
            ..Faults::default()
        });
        sim.restart().unwrap();
        eventually("the loss is noticed", || {
            let _ = c.next_event(Some(Duration::from_millis(10)));
            c.is_reconnecting()
        });
        match mode {
            WhileReconnecting::FailFast => {
                let t = Instant::now();
                let err = c.send(Action::ping()).unwrap_err();
                assert!(matches!(err, Error::NotConnected), "{err:?}");
                assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
            }
            WhileReconnecting::Wait => {
                // Held for the action's timeout, then a timeout.
                let t = Instant::now();
                let err = c.send(Action::ping()).unwrap_err();
                assert!(err.is_timeout(), "{err:?}");
                assert!(t.elapsed() >= Duration::from_millis(300));
                // Held until the server takes logins again.
                std::thread::scope(|s| {
                    s.spawn(|| {
                        std::thread::sleep(Duration::from_millis(100));
                        sim.set_faults(Faults::default());
                    });
                    let r = c
                        .send_with(
                            Action::ping(),
                            SendOptions::new().timeout(Some(Duration::from_secs(10))),
                        )
                        .unwrap();
                    assert_eq!(r.packet().get_str("Ping"), Some("Pong"));
                });
            }
        }
    }
}

#[test]
fn std_reconnect_gives_up_after_max_attempts_and_never_after_a_logoff() {
    let sim = sim();
    let cfg =
        config(&sim.url(), "auth=plain&events=off").reconnect(fast_reconnect().max_attempts(2));
    let mut c = Client::connect(cfg).unwrap();
    sim.set_faults(Faults {
        close_before_banner: true,
        ..Faults::default()
    });
    sim.restart().unwrap();
    let t = Instant::now();
    // No event and no marker: only the end, once the policy gives up.
    let err = match c.next_event(Some(Duration::from_secs(10))) {
        Ok(Some(item)) => panic!("{item:?}"),
        Ok(None) => panic!("still reconnecting after 10 s"),
        Err(e) => e,
    };
    assert!(
        matches!(
            err,
            Error::Closed(CloseReason::Error(ConnectionError::ClosedBeforeBanner))
        ),
        "{err:?}"
    );
    assert!(c.is_closed() && !c.is_reconnecting());
    assert!(t.elapsed() < Duration::from_secs(5));
    // Three connections: the first and two attempts.
    assert_eq!(c.generation(), 2);
    assert!(matches!(c.ping(), Err(Error::Closed(_))));

    // A logoff ends the client for good, whatever the policy.
    sim.set_faults(Faults::default());
    let cfg = config(&sim.url(), "auth=plain&events=off").reconnect(fast_reconnect());
    let c = Client::connect(cfg).unwrap();
    let logins = received(&sim, "Login").len();
    c.logoff().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(received(&sim, "Login").len(), logins);
}
