//! The client's life: a lazy start with actions held until login,
//! `disconnect()` failing everything at once, the raw banner, and the
//! session count in the status.

use std::time::Duration;

use amiproto::{Action, ActionError, CloseReason, ConnectionError};
use amiproto_testkit::{Faults, SimConfig, Simulator};
use amiproto_tokio::{
    connect, connect_lazy, ClientConfig, ConnectionState, Error, EventItem, Reconnect,
};
use tokio::time::timeout;

const T: Duration = Duration::from_secs(20);

async fn start_sim() -> Simulator {
    Simulator::start(SimConfig::default().auth_failure_delay(Duration::ZERO))
        .await
        .unwrap()
}

fn cfg(sim: &Simulator) -> ClientConfig {
    ClientConfig::from_url(&sim.url()).unwrap()
}

fn fast() -> Reconnect {
    Reconnect::default()
        .delays(Duration::from_millis(20), Duration::from_millis(40))
        .jitter(0.0)
}

fn actions(sim: &Simulator, name: &str) -> usize {
    sim.received()
        .iter()
        .filter(|p| p.action().is_some_and(|a| a.eq_ignore_case(name)))
        .count()
}

fn is_aborted(e: &Error) -> bool {
    e.connection_error() == Some(&ConnectionError::Aborted)
}

#[tokio::test]
async fn disconnect_fails_every_pending_call_at_once_and_never_reconnects() {
    let sim = start_sim().await;
    let config = cfg(&sim)
        .reconnect(fast())
        .action_timeout(Some(Duration::from_secs(60)));
    let (client, mut events) = connect(config).await.unwrap();
    // The server reads but answers nothing: calls stay pending.
    sim.set_faults(Faults::default().stall());
    let pending: Vec<_> = (0..5)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.ping().await })
        })
        .collect();
    let mut list = client.list_stream(Action::new("Status"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    timeout(T, client.disconnect()).await.unwrap();
    for p in pending {
        let err = timeout(T, p).await.unwrap().unwrap().unwrap_err();
        assert!(
            matches!(
                err,
                Error::Action(ActionError::Closed(CloseReason::Error(
                    ConnectionError::Aborted
                )))
            ),
            "{err:?}"
        );
        assert!(err.is_connection_lost());
    }
    let err = timeout(T, list.next_item())
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert!(is_aborted(&err), "{err:?}");
    assert!(list.next_item().await.is_none());
    // At once: not after the 60 s timeout, nor a Logoff's 10 s.
    assert!(started.elapsed() < Duration::from_secs(5));
    let status = client.status();
    assert_eq!(status.state, ConnectionState::Closed);
    assert_eq!(
        status.last_close,
        Some(CloseReason::Error(ConnectionError::Aborted))
    );
    // Later calls fail the same way; no reconnect, no Logoff was sent.
    let err = client.ping().await.unwrap_err();
    assert!(
        matches!(err, Error::Closed(_)) && is_aborted(&err),
        "{err:?}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(actions(&sim, "Login"), 1);
    assert_eq!(actions(&sim, "Logoff"), 0);
    assert!(client.is_closed());
    // The event stream ends once drained.
    while let Some(item) = timeout(T, events.recv()).await.unwrap() {
        assert!(matches!(item, EventItem::Event(_)), "{item:?}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn disconnect_while_reconnecting_fails_held_actions() {
    let sim = start_sim().await;
    let (client, _events) = connect(cfg(&sim).reconnect(fast())).await.unwrap();
    sim.stop_listening().await;
    sim.drop_clients().await;
    let mut w = client.status_watch();
    timeout(
        T,
        w.wait_for(|s| matches!(s.state, ConnectionState::Reconnecting { .. })),
    )
    .await
    .unwrap()
    .unwrap();
    // Held while reconnecting (the default policy waits).
    let held = {
        let c = client.clone();
        tokio::spawn(async move { c.ping().await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!held.is_finished());
    timeout(T, client.disconnect()).await.unwrap();
    let err = timeout(T, held).await.unwrap().unwrap().unwrap_err();
    assert!(is_aborted(&err), "{err:?}");
    assert_eq!(client.status().state, ConnectionState::Closed);
    sim.shutdown().await;
}

#[tokio::test]
async fn lazy_client_holds_actions_until_login() {
    let sim = start_sim().await;
    let (client, _events) = connect_lazy(cfg(&sim));
    // Sent before any connection exists: held, then written after Login.
    let pings: Vec<_> = (0..50).map(|_| client.send(Action::ping())).collect();
    for p in pings {
        let r = timeout(T, p).await.unwrap().unwrap();
        assert_eq!(r.packet().get_str("Ping"), Some("Pong"));
    }
    timeout(T, client.ready()).await.unwrap().unwrap();
    let names: Vec<String> = sim
        .received()
        .iter()
        .filter_map(|p| p.action().map(|a| a.decode_text().into_owned()))
        .collect();
    // The MD5 challenge and the login, then the held pings.
    assert_eq!(names[..2], ["Challenge", "Login"], "{names:?}");
    assert!(names[2..].iter().all(|n| n == "Ping"), "{names:?}");
    assert_eq!(names.len(), 52, "{names:?}");
    assert!(client.status().version.is_some());
    client.logoff().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn lazy_client_without_a_server_reports_why() {
    let sim = start_sim().await;
    let url = sim.url();
    sim.shutdown().await;
    let (client, _events) = connect_lazy(ClientConfig::from_url(&url).unwrap());
    let held = client.send(Action::ping());
    let err = timeout(T, client.ready()).await.unwrap().unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    let err = timeout(T, held).await.unwrap().unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    let err = client.ping().await.unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert_eq!(client.status().state, ConnectionState::Closed);

    // A refused login shows as connect() would return it.
    let sim = start_sim().await;
    let mut bad = cfg(&sim);
    bad.ami.secret = "wrong".into();
    let (client, _events) = connect_lazy(bad);
    let err = timeout(T, client.ready()).await.unwrap().unwrap_err();
    assert!(
        matches!(err, Error::Connection(ConnectionError::AuthFailed { .. })),
        "{err:?}"
    );
    assert!(err.is_auth_failed());
    sim.shutdown().await;
}

#[tokio::test]
async fn lazy_client_started_before_its_server_keeps_trying() {
    let sim = start_sim().await;
    sim.stop_listening().await;
    let (client, _events) = connect_lazy(cfg(&sim).reconnect(fast()));
    let held = client.send(Action::ping());
    tokio::pin!(held);
    let mut w = client.status_watch();
    timeout(
        T,
        w.wait_for(
            |s| matches!(s.state, ConnectionState::Reconnecting { attempt } if attempt >= 1),
        ),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(timeout(Duration::from_millis(50), &mut held).await.is_err());
    sim.restart().await.unwrap();
    timeout(T, client.ready()).await.unwrap().unwrap();
    let pong = timeout(T, held).await.unwrap().unwrap();
    assert_eq!(pong.packet().get_str("Ping"), Some("Pong"));
    // The first session is generation 0: no reconnect marker owed.
    assert_eq!(client.status().generation, 0);
    client.logoff().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn raw_banner_is_visible_even_when_unparsable() {
    let sim = Simulator::start(SimConfig::default().ami_version("11.0.0-beta"))
        .await
        .unwrap();
    let (client, _events) = connect(cfg(&sim)).await.unwrap();
    let status = client.status();
    assert_eq!(status.version, None);
    let banner = status.banner.expect("banner kept");
    assert_eq!(&banner.raw()[..], b"Asterisk Call Manager/11.0.0-beta");
    assert_eq!(banner.version_str(), "11.0.0-beta");
    assert_eq!(client.banner(), Some(banner));
    client.logoff().await.unwrap();
    sim.shutdown().await;

    let sim = start_sim().await;
    let (client, _events) = connect(cfg(&sim)).await.unwrap();
    assert_eq!(
        client.banner().map(|b| b.raw().clone()),
        Some(bytes::Bytes::from_static(b"Asterisk Call Manager/11.0.0"))
    );
    assert_eq!(client.status().version.map(|v| v.major), Some(11));
    client.logoff().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn generation_counts_logins_not_connections() {
    let sim = start_sim().await;
    let (client, mut events) = connect(cfg(&sim).reconnect(fast())).await.unwrap();
    assert_eq!(client.status().generation, 0);
    // Every reconnect attempt connects and is closed before the banner.
    sim.set_faults(Faults::default().close_before_banner());
    sim.drop_clients().await;
    let mut w = client.status_watch();
    timeout(
        T,
        w.wait_for(
            |s| matches!(s.state, ConnectionState::Reconnecting { attempt } if attempt >= 3),
        ),
    )
    .await
    .unwrap()
    .unwrap();
    sim.set_faults(Faults::default());
    timeout(T, w.wait_for(|s| s.state == ConnectionState::Ready))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(client.status().generation, 1);
    client.ping().await.unwrap();
    let mut markers = Vec::new();
    while let Some(item) = events.try_recv() {
        if let EventItem::Reconnected { generation } = item {
            markers.push(generation);
        }
    }
    assert_eq!(markers, [1]);
    client.logoff().await.unwrap();
    sim.shutdown().await;
}
