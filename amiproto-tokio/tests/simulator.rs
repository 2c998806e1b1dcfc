//! The client against the test kit's simulated Asterisk.

use std::time::Duration;

use amiproto::{Action, ActionError, AuthMethod, CloseReason, EventMask, Packet};
use amiproto_testkit::{Faults, SimConfig, Simulator};
use amiproto_tokio::{
    connect, ClientConfig, ConnectionState, Error, EventFilter, EventItem, Overflow, Reconnect,
};
use tokio::time::timeout;

const T: Duration = Duration::from_secs(20);

async fn sim() -> Simulator {
    Simulator::start(SimConfig::default().auth_failure_delay(Duration::ZERO))
        .await
        .unwrap()
}

fn cfg(sim: &Simulator) -> ClientConfig {
    ClientConfig::from_url(&sim.url()).unwrap()
}

fn test_event(n: usize) -> Packet {
    Packet::builder()
        .header("Event", "Test")
        .header("Privilege", "system,all")
        .header("N", n.to_string())
        .build()
        .unwrap()
}

fn n_of(p: &Packet) -> usize {
    p.get_str("N").unwrap().parse().unwrap()
}

#[tokio::test]
async fn login_plain_md5_and_failure() {
    let sim = sim().await;
    for auth in [
        AuthMethod::Plain,
        AuthMethod::Md5,
        AuthMethod::Md5WithFallback,
    ] {
        let mut c = cfg(&sim);
        c.ami.auth = auth;
        let (client, _ev) = connect(c).await.unwrap();
        assert_eq!(client.status().state, ConnectionState::Ready);
        assert!(client.status().version.is_some());
        client.logoff().await.unwrap();
    }
    let logins: Vec<_> = sim
        .received()
        .into_iter()
        .filter(|p| p.action().is_some_and(|a| a.eq_ignore_case("Login")))
        .collect();
    assert_eq!(logins.len(), 3);
    assert!(logins[0].get("Secret").is_some());
    assert!(logins[1].get("Secret").is_none() && logins[1].get("Key").is_some());

    let mut bad = cfg(&sim);
    bad.ami.secret = "wrong".into();
    let err = connect(bad).await.unwrap_err();
    assert!(err.is_auth_failed(), "{err:?}");
    assert_eq!(err.server_message(), Some("Authentication failed"));
    sim.shutdown().await;
}

#[tokio::test]
async fn unencodable_login_is_fatal_and_typed() {
    let sim = sim().await;
    let config = ClientConfig::new("127.0.0.1", sim.addr().port(), "ad\r\nmin", "amp111")
        .reconnect(Reconnect::default());
    let err = timeout(T, connect(config)).await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            Error::Connection(amiproto::ConnectionError::LoginUnencodable(_))
        ),
        "{err:?}"
    );
    assert!(err.connection_error().unwrap().is_permanent());
    // Nothing of it reached the server.
    assert!(sim
        .received()
        .iter()
        .all(|p| !p.action().is_some_and(|a| a.eq_ignore_case("Login"))));
    sim.shutdown().await;
}

#[tokio::test]
async fn refused_connection_is_typed() {
    let sim = sim().await;
    let url = sim.url();
    sim.shutdown().await;
    let err = connect(ClientConfig::from_url(&url).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
}

#[tokio::test]
async fn startup_event_is_first_in_the_stream() {
    let sim = sim().await;
    let (client, mut ev) = connect(cfg(&sim)).await.unwrap();
    let first = timeout(T, ev.next_event()).await.unwrap().unwrap();
    assert!(first.is_event("FullyBooted"), "{first:?}");
    client.logoff().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn pipelined_ten_thousand_pings() {
    let sim = sim().await;
    let (client, _ev) = connect(cfg(&sim).events(EventMask::Off)).await.unwrap();
    let futs: Vec<_> = (0..10_000).map(|_| client.send(Action::ping())).collect();
    for f in futs {
        let r = timeout(T, f).await.unwrap().unwrap();
        assert_eq!(r.packet().get_str("Ping"), Some("Pong"));
    }
    let pings = sim
        .received()
        .iter()
        .filter(|p| p.action().is_some_and(|a| a.eq_ignore_case("Ping")))
        .count();
    assert_eq!(pings, 10_000);
    client.logoff().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn command_in_both_formats_and_lists() {
    for config in [SimConfig::default(), SimConfig::legacy()] {
        let sim = Simulator::start(config).await.unwrap();
        let (client, _ev) = connect(cfg(&sim)).await.unwrap();
        let out = client.command("core show version").await.unwrap();
        assert!(out.text().starts_with("Asterisk "), "{:?}", out.text());
        let list = client.list(Action::new("CoreShowChannels")).await.unwrap();
        assert_eq!(Some(list.items.len()), list.announced_items());
        assert!(list.complete.is_event("CoreShowChannelsComplete"));
        // Not a list: typed error, no hang.
        let err = client.list(Action::ping()).await.unwrap_err();
        assert!(matches!(err, Error::UnexpectedOutcome { .. }), "{err:?}");
        client.logoff().await.unwrap();
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn async_originate_with_events() {
    let sim = sim().await;
    let (client, _ev) = connect(cfg(&sim)).await.unwrap();
    let mut calls = client.events_with(Overflow::Lossless);
    let o = Action::originate("Local/100@default")
        .header("Context", "default")
        .header("Exten", "100")
        .header("Priority", "1");
    let outcome = timeout(T, client.originate(o)).await.unwrap().unwrap();
    assert!(outcome.event.is_event("OriginateResponse"));
    assert!(outcome.is_success(), "{:?}", outcome.event);
    assert_eq!(outcome.reason(), Some(4));
    // The call's own events came through the stream, the claimed
    // OriginateResponse did not.
    let mut names = Vec::new();
    while let Ok(Some(p)) = timeout(Duration::from_millis(200), calls.next_event()).await {
        names.push(p.event().unwrap().decode_text().into_owned());
    }
    assert!(names.iter().any(|n| n == "Newchannel"), "{names:?}");
    assert!(!names.iter().any(|n| n == "OriginateResponse"), "{names:?}");

    let busy = Action::originate("Local/999@default")
        .header("Context", "default")
        .header("Exten", "999")
        .header("Priority", "1");
    let outcome = timeout(T, client.originate(busy)).await.unwrap().unwrap();
    assert!(!outcome.is_success());
    assert_eq!(outcome.reason(), Some(5));
    client.logoff().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn lossy_subscriber_reports_exact_lag() {
    let sim = sim().await;
    let (client, _ev) = connect(cfg(&sim)).await.unwrap();
    let mut lossy = client.events_matching_with("Test", Overflow::Lossy { capacity: 100 });
    let mut all = client.events_matching_with("Test", Overflow::Lossless);
    client.ping().await.unwrap(); // subscriptions are in place
    for n in 0..1000 {
        sim.push_event(test_event(n));
    }
    for n in 0..1000 {
        let p = timeout(T, all.next_event()).await.unwrap().unwrap();
        assert_eq!(n_of(&p), n);
    }
    assert_eq!(lossy.try_recv(), Some(EventItem::Lagged(900)));
    let rest: Vec<usize> = std::iter::from_fn(|| lossy.try_recv())
        .map(|i| n_of(&i.into_event().unwrap()))
        .collect();
    assert_eq!(rest, (900..1000).collect::<Vec<_>>());
    assert_eq!(lossy.lagged_total(), 900);
    client.logoff().await.unwrap();
    sim.shutdown().await;
}

/// Flood size for the lossless test: large enough to overflow any slow
/// reader, small enough for a debug build.
const FLOOD: u64 = 1_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lossless_subscriber_gets_whole_flood_beside_a_slow_one() {
    let sim = sim().await;
    let (client, mut first) = connect(cfg(&sim)).await.unwrap();
    // The start-up stream is lossy and unread: it must not hold anyone back.
    let _ = first.try_recv();
    let mut all = client.events_with(Overflow::Lossless);
    let mut slow = client.events_with(Overflow::Lossy { capacity: 1000 });
    client.ping().await.unwrap();
    let slow_task = tokio::spawn(async move {
        let mut got = 0u64;
        while let Some(item) = slow.recv().await {
            if let EventItem::Event(_) = item {
                got += 1;
                if got % 1000 == 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
        (got, slow.lagged_total())
    });
    let _ = sim.flood(FLOOD, None);
    let mut got = 0u64;
    while got < FLOOD {
        match timeout(T, all.recv()).await.unwrap().unwrap() {
            EventItem::Event(_) => got += 1,
            other => panic!("lossless stream got {other:?}"),
        }
    }
    assert_eq!(got, FLOOD);
    drop(client);
    let (slow_got, slow_lagged) = timeout(T, slow_task).await.unwrap().unwrap();
    assert_eq!(slow_got + slow_lagged, FLOOD);
    assert!(slow_lagged > 0, "the slow reader never fell behind");
    sim.shutdown().await;
}

#[tokio::test]
async fn reconnect_after_restart_fails_pending_and_serves_new() {
    let sim = sim().await;
    let config = cfg(&sim)
        .reconnect(
            Reconnect::default().delays(Duration::from_millis(20), Duration::from_millis(200)),
        )
        .action_timeout(Some(Duration::from_secs(10)));
    let (client, mut ev) = connect(config).await.unwrap();
    client.add_filter("Event: Test").await.unwrap();
    sim.set_faults(Faults::default().response_delay(Duration::from_secs(30)));
    let pending = client.send(Action::ping());
    tokio::pin!(pending);
    assert!(timeout(Duration::from_millis(100), &mut pending)
        .await
        .is_err());
    sim.set_faults(Faults::default());
    sim.restart().await.unwrap();
    let err = timeout(T, pending).await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            Error::Action(ActionError::Closed(CloseReason::Error(_)))
        ),
        "{err:?}"
    );
    assert!(err.is_connection_lost());
    timeout(T, client.ready()).await.unwrap().unwrap();
    let generation = client.status().generation;
    assert!(generation >= 1);
    client.ping().await.unwrap();
    // The stream marks the gap, and the filter was set again.
    let mut saw_marker = false;
    while let Some(item) = ev.try_recv() {
        saw_marker |= item == EventItem::Reconnected { generation };
    }
    assert!(saw_marker);
    let filters = sim
        .received()
        .iter()
        .filter(|p| p.action().is_some_and(|a| a.eq_ignore_case("Filter")))
        .count();
    assert_eq!(filters, 2);
    // Only one Ping per call was ever written: the pending one was not re-sent.
    let pings = sim
        .received()
        .iter()
        .filter(|p| p.action().is_some_and(|a| a.eq_ignore_case("Ping")))
        .count();
    assert_eq!(pings, 2);
    client.logoff().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn keepalive_detects_a_silent_server() {
    let sim = sim().await;
    let config = cfg(&sim)
        .events(EventMask::Off)
        .keepalive(Duration::from_millis(100), Duration::from_millis(100));
    let (client, _ev) = connect(config).await.unwrap();
    // Quiet but alive: keepalive pings are answered, the client stays up.
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(client.status().state, ConnectionState::Ready);
    // Half-open: the server hangs, nothing comes back any more.
    sim.set_faults(Faults::default().stall());
    let mut w = client.status_watch();
    timeout(
        Duration::from_secs(3),
        w.wait_for(|s| s.state == ConnectionState::Closed),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        client.status().last_close,
        Some(CloseReason::Error(
            amiproto::ConnectionError::KeepaliveTimeout
        ))
    );
    let err = client.ping().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Closed(CloseReason::Error(
                amiproto::ConnectionError::KeepaliveTimeout
            ))
        ),
        "{err:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn dropping_a_future_cancels_its_action() {
    let sim = sim().await;
    let (client, _ev) = connect(cfg(&sim)).await.unwrap();
    let mut stream = client.events();
    sim.set_faults(Faults::default().response_delay(Duration::from_millis(200)));
    let r = timeout(Duration::from_millis(50), client.send(Action::ping())).await;
    assert!(r.is_err());
    sim.set_faults(Faults::default());
    // Its late answer arrives and is consumed quietly, never as an event.
    tokio::time::sleep(Duration::from_millis(400)).await;
    client.ping().await.unwrap();
    while let Some(item) = stream.try_recv() {
        if let EventItem::Event(p) = item {
            assert!(p.response().is_none(), "late answer leaked: {p:?}");
        }
    }
    client.logoff().await.unwrap();
    sim.shutdown().await;
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn tls_login() {
    let config = SimConfig::default().tls();
    let sim = Simulator::start(config).await.unwrap();
    assert!(sim.url().starts_with("amis://"));
    let tls = amiproto_tokio::TlsConfig::accept_self_signed(sim.tls_cert_der());
    let (client, mut ev) = connect(cfg(&sim).tls(tls)).await.unwrap();
    assert!(timeout(T, ev.next_event())
        .await
        .unwrap()
        .unwrap()
        .is_event("FullyBooted"));
    client.ping().await.unwrap();
    client.logoff().await.unwrap();
    // The system roots do not trust the self-signed certificate.
    let err = connect(cfg(&sim)).await.unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn no_task_left_after_shutdown() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let sim = sim().await;
    let (client, ev) = connect(cfg(&sim)).await.unwrap();
    let other = client.clone();
    let _filtered = other.events_matching(EventFilter::names(["Hangup"]));
    assert!(metrics.num_alive_tasks() > 0);
    drop(client);
    drop(other);
    drop(ev);
    // The driver logs off by itself.
    for _ in 0..200 {
        if sim.connection_count() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sim.connection_count(), 0);
    assert!(sim
        .received()
        .iter()
        .any(|p| p.action().is_some_and(|a| a.eq_ignore_case("Logoff"))));
    sim.shutdown().await;
    for _ in 0..200 {
        if metrics.num_alive_tasks() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(metrics.num_alive_tasks(), 0);
}

#[tokio::test(start_paused = true)]
async fn per_call_timeout_on_paused_time() {
    let sim = sim().await;
    let (client, _ev) = connect(cfg(&sim).action_timeout(Some(Duration::from_secs(3600))))
        .await
        .unwrap();
    sim.set_faults(Faults::default().stall());
    let start = tokio::time::Instant::now();
    let wall = std::time::Instant::now();
    let err = client
        .send_timeout(Action::ping(), Some(Duration::from_secs(30)))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(30) && waited < Duration::from_secs(31),
        "{waited:?}"
    );
    assert!(wall.elapsed() < Duration::from_secs(10));
    sim.set_faults(Faults::default());
    client.ping().await.unwrap();
    client.logoff().await.unwrap();
    sim.shutdown().await;
}
