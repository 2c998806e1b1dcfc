//! Cross-crate scenarios: the tokio client against the simulated Asterisk.

use std::time::Duration;

use amiproto::{Action, EventMask, Packet};
use amiproto_testkit::{BlockingSimulator, Faults, SimConfig, Simulator};
use amiproto_tokio::{
    connect, ClientConfig, ConnectionState, Error, EventItem, EventStream, Overflow, Reconnect,
    WhileReconnecting,
};
use tokio::time::timeout;

const T: Duration = Duration::from_secs(20);

fn user_event(name: &str) -> Packet {
    Packet::builder()
        .header("Event", "UserEvent")
        .header("Privilege", "user,all")
        .header("UserEvent", name)
        .build()
        .unwrap()
}

fn fast_reconnect() -> Reconnect {
    Reconnect::default().delays(Duration::from_millis(20), Duration::from_millis(100))
}

fn logins(sim: &Simulator) -> Vec<Packet> {
    sim.received()
        .into_iter()
        .filter(|p| p.action().is_some_and(|a| a.eq_ignore_case("Login")))
        .collect()
}

#[tokio::test]
async fn event_mask_set_through_the_client_survives_a_reconnect() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let config = ClientConfig::from_url(&sim.url())
        .unwrap()
        .reconnect(fast_reconnect());
    let (client, _first) = connect(config).await.unwrap();
    let mut ev = client.events_matching("UserEvent");
    client.set_event_mask(EventMask::Off).await.unwrap();
    sim.push_event(user_event("hidden"));
    client.ping().await.unwrap();
    sim.restart().await.unwrap();
    timeout(T, async {
        loop {
            if client.status().generation == 1 && client.ready().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    sim.push_event(user_event("hidden-too"));
    client.ping().await.unwrap();
    let second = logins(&sim).pop().unwrap();
    assert_eq!(second.get_str("Events"), Some("off"));
    let mut got = Vec::new();
    while let Some(item) = ev.try_recv() {
        if let EventItem::Event(p) = item {
            got.push(p);
        }
    }
    assert!(got.is_empty(), "{got:?}");
    client.logoff().await.unwrap();
    sim.shutdown().await;
}

/// Restart the simulator and wait (at most 10 s) until the client is
/// logged in again; returns the logins the server saw meanwhile.
async fn restart_and_relogin(sim: &Simulator, client: &amiproto_tokio::Client) -> Vec<Packet> {
    sim.clear_received();
    sim.restart().await.unwrap();
    let mut w = client.status_watch();
    timeout(
        Duration::from_secs(10),
        w.wait_for(|s| s.generation >= 1 && s.state == ConnectionState::Ready),
    )
    .await
    .unwrap_or_else(|_| panic!("never logged in again: {} logins", logins(sim).len()))
    .unwrap();
    client.ping().await.unwrap();
    let logins = logins(sim);
    assert!(
        !logins.is_empty() && logins.len() <= 2,
        "{} logins",
        logins.len()
    );
    logins
}

fn filters_received(sim: &Simulator) -> Vec<String> {
    sim.received()
        .iter()
        .filter(|p| p.action().is_some_and(|a| a.eq_ignore_case("Filter")))
        .map(|p| p.get_str("Filter").unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn unencodable_mask_or_filter_does_not_poison_reconnects() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let config = ClientConfig::from_url(&sim.url())
        .unwrap()
        .reconnect(fast_reconnect());
    let (client, _first) = connect(config).await.unwrap();
    // Refused by the encoder: nothing is written, nothing remembered.
    let bad = EventMask::Classes(vec!["system\r\nAction: Logoff".into()]);
    let err = client.set_event_mask(bad).await.unwrap_err();
    assert!(matches!(err, Error::Send(_)), "{err:?}");
    let err = client.add_filter("Event: x\r\n").await.unwrap_err();
    assert!(matches!(err, Error::Send(_)), "{err:?}");

    let logins = restart_and_relogin(&sim, &client).await;
    assert_eq!(logins.last().unwrap().get_str("Events"), Some("on"));
    assert!(filters_received(&sim).is_empty());
    client.logoff().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn masks_and_filters_the_server_refused_are_not_remembered() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let config = ClientConfig::from_url(&sim.url())
        .unwrap()
        .reconnect(fast_reconnect());
    let (client, _first) = connect(config).await.unwrap();
    let err = client
        .set_event_mask(EventMask::Classes(Vec::new()))
        .await
        .unwrap_err();
    assert_eq!(err.server_message(), Some("Invalid event mask"));
    let err = client.add_filter("Event: (").await.unwrap_err();
    assert!(err.server_message().is_some(), "{err:?}");
    client.add_filter("Event: UserEvent").await.unwrap();

    let logins = restart_and_relogin(&sim, &client).await;
    assert_eq!(logins.last().unwrap().get_str("Events"), Some("on"));
    assert_eq!(filters_received(&sim), ["Event: UserEvent"]);
    client.logoff().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn actions_while_reconnecting_wait_or_fail_fast() {
    for mode in [WhileReconnecting::Wait, WhileReconnecting::FailFast] {
        let sim = Simulator::start(SimConfig::default()).await.unwrap();
        // Refuse new connections for a while: every connection closes before the banner.
        let config = ClientConfig::from_url(&sim.url())
            .unwrap()
            .reconnect(fast_reconnect().while_reconnecting(mode))
            .action_timeout(Some(Duration::from_secs(10)));
        let (client, _ev) = connect(config).await.unwrap();
        sim.set_faults(Faults::default().close_before_banner());
        sim.restart().await.unwrap();
        let mut w = client.status_watch();
        timeout(
            T,
            w.wait_for(|s| matches!(s.state, ConnectionState::Reconnecting { .. })),
        )
        .await
        .unwrap()
        .unwrap();
        let ping = client.send(Action::ping());
        match mode {
            WhileReconnecting::FailFast => {
                let err = timeout(T, ping).await.unwrap().unwrap_err();
                assert!(matches!(err, Error::NotConnected), "{err:?}");
            }
            WhileReconnecting::Wait => {
                tokio::pin!(ping);
                assert!(timeout(Duration::from_millis(100), &mut ping)
                    .await
                    .is_err());
                sim.set_faults(Faults::default());
                let r = timeout(T, ping).await.unwrap().unwrap();
                assert_eq!(r.packet().get_str("Ping"), Some("Pong"));
            }
            other => panic!("no scenario for {other:?}"),
        }
        drop(client);
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn limited_user_sees_only_its_classes() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let url = sim.url().replace("admin:", "limited:");
    let (client, mut ev) = connect(ClientConfig::from_url(&url).unwrap())
        .await
        .unwrap();
    sim.push_event(user_event("not-for-limited"));
    sim.push_event(
        Packet::builder()
            .header("Event", "Reload")
            .header("Privilege", "system,all")
            .build()
            .unwrap(),
    );
    client.ping().await.unwrap();
    let mut names = Vec::new();
    while let Ok(Some(p)) = timeout(Duration::from_millis(100), ev.next_event()).await {
        names.push(p.event().unwrap().decode_text().into_owned());
    }
    assert!(names.iter().any(|n| n == "Reload"), "{names:?}");
    assert!(!names.iter().any(|n| n == "UserEvent"), "{names:?}");
    client.logoff().await.unwrap();
    sim.shutdown().await;
}

/// Read flood events from `s` until the last one (`Seq` = `n - 1`); returns
/// (events, lagged). A lossy stream drops the oldest, so the last always
/// arrives. `pause` sleeps 1 ms every that many events.
async fn read_flood(mut s: EventStream, n: u64, pause: Option<u64>) -> (u64, u64) {
    let (mut events, mut lagged, mut last) = (0u64, 0u64, None);
    while last != Some(n - 1) {
        match timeout(T, s.recv())
            .await
            .expect("flood stalled")
            .expect("stream ended")
        {
            EventItem::Event(p) => {
                let seq: u64 = p.get_str("Seq").unwrap().parse().unwrap();
                assert!(last.is_none_or(|l| seq > l), "out of order");
                last = Some(seq);
                events += 1;
                if pause.is_some_and(|every| events % every == 0) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            EventItem::Lagged(k) => lagged += k,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(s.lagged_total(), lagged);
    (events, lagged)
}

#[test]
fn flood_under_the_write_timeout_never_drops_the_client() {
    // A rate a debug build keeps up with on a loaded machine: past what a
    // client decodes, Asterisk (and the simulator) rightly drop it.
    const N: u64 = 60_000;
    const RATE: u64 = 15_000;
    // The server runs apart from the client, as Asterisk does.
    let sim = BlockingSimulator::start(SimConfig::default()).unwrap();
    // Asterisk's default writetimeout, per message as Asterisk applies it.
    sim.set_faults(Faults::default().write_timeout(Duration::from_millis(100)));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let config = ClientConfig::from_url(&format!("{}?events=user", sim.url())).unwrap();
        let (client, _first) = connect(config).await.unwrap();
        let fast = client.events();
        let slow = client.events_with(Overflow::Lossy { capacity: 1000 });
        let all = client.events_with(Overflow::Lossless);
        client.ping().await.unwrap();
        let fast = tokio::spawn(read_flood(fast, N, None));
        let slow = tokio::spawn(read_flood(slow, N, Some(5)));
        let all = tokio::spawn(read_flood(all, N, None));
        assert_eq!(sim.flood(N, Some(RATE)), 1);

        let r = all.await;
        let status = client.status();
        assert_eq!(
            (status.state, status.generation, status.last_close),
            (ConnectionState::Ready, 0, None),
            "the client was dropped"
        );
        assert_eq!(r.unwrap(), (N, 0));
        let (fast_events, fast_lagged) = fast.await.unwrap();
        assert_eq!(fast_events + fast_lagged, N);
        let (slow_events, slow_lagged) = slow.await.unwrap();
        assert_eq!(slow_events + slow_lagged, N);
        assert!(slow_lagged > 0, "the slow reader never fell behind");
        assert_eq!(sim.connection_count(), 1);
        client.ping().await.unwrap();
        client.logoff().await.unwrap();
    });
}
