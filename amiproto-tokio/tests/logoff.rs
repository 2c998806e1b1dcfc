//! A `Logoff` the server never answers: the client says `Closing` while it
//! waits, then closes locally when the Logoff's timeout expires (never a
//! zombie that says `Ready`), fails what was pending, and does not
//! reconnect.

use std::time::Duration;

use amiproto::{Action, ActionError, CloseReason, ConnectionError};
use amiproto_testkit::{Faults, SimConfig, Simulator};
use amiproto_tokio::{connect, ClientConfig, ConnectionState, Error, Reconnect};

#[tokio::test(start_paused = true)]
async fn an_unanswered_logoff_closes_the_client() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let config = ClientConfig::from_url(&sim.url())
        .unwrap()
        .action_timeout(Some(Duration::from_secs(5)))
        .reconnect(Reconnect::default());
    let (client, _events) = connect(config).await.unwrap();
    // The server hangs: it reads, answers nothing.
    sim.set_faults(Faults::default().stall());
    let pending = {
        let c = client.clone();
        tokio::spawn(async move {
            c.send_timeout(Action::ping(), Some(Duration::from_secs(60)))
                .await
        })
    };
    tokio::task::yield_now().await;
    let logoff = {
        let c = client.clone();
        tokio::spawn(async move { c.logoff().await })
    };
    let mut watch = client.status_watch();
    watch
        .wait_for(|s| s.state == ConnectionState::Closing)
        .await
        .unwrap();
    assert_eq!(client.status().state, ConnectionState::Closing);
    assert!(client.ready().await.is_err(), "never Ready again");

    let start = tokio::time::Instant::now();
    let r = logoff.await.unwrap();
    assert!(
        matches!(r, Err(Error::Action(ActionError::Timeout))),
        "{r:?}"
    );
    assert!(start.elapsed() <= Duration::from_secs(5));
    let status = client.status();
    assert_eq!(status.state, ConnectionState::Closed);
    assert_eq!(status.generation, 0, "no reconnect after a logoff");
    assert_eq!(
        status.last_close,
        Some(CloseReason::Error(ConnectionError::LogoffTimeout))
    );
    let p = pending.await.unwrap();
    assert!(
        matches!(
            &p,
            Err(Error::Action(ActionError::Closed(CloseReason::Error(
                ConnectionError::LogoffTimeout
            ))))
        ),
        "{p:?}"
    );
    tokio::time::timeout(Duration::from_secs(5), client.closed())
        .await
        .unwrap();
    assert!(client.ping().await.is_err());
    sim.shutdown().await;
}
