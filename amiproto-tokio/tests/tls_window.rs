//! Over TLS, a real Asterisk 22 answers a few actions of a deep pipeline and
//! then stalls (13 drops the connection). The simulator models the stall
//! (`Faults::answers_per_read`); the client's default in-flight window on
//! TLS connections keeps every action answered.
#![cfg(feature = "tls")]

use std::time::Duration;

use amiproto_testkit::{Faults, SimConfig, Simulator};
use amiproto_tokio::{connect, Client, ClientConfig, TlsConfig};
use tokio::task::JoinSet;

/// `n` pings at once; how many were answered.
async fn pings(client: &Client, n: usize) -> usize {
    let mut set = JoinSet::new();
    for _ in 0..n {
        let c = client.clone();
        set.spawn(async move { c.ping().await.is_ok() });
    }
    let mut ok = 0;
    while let Some(r) = set.join_next().await {
        ok += usize::from(r.unwrap());
    }
    ok
}

async fn tls_sim() -> (Simulator, ClientConfig) {
    let sim = Simulator::start(SimConfig::default().tls()).await.unwrap();
    sim.set_faults(Faults::default().answers_per_read(8));
    let config = ClientConfig::from_url(&sim.url())
        .unwrap()
        .tls(TlsConfig::accept_self_signed(sim.tls_cert_der()));
    (sim, config)
}

#[tokio::test]
async fn a_deep_pipeline_over_tls_is_windowed_by_default() {
    let (sim, config) = tls_sim().await;
    let config = config.action_timeout(Some(Duration::from_secs(30)));
    let (client, _events) = connect(config).await.unwrap();
    assert_eq!(pings(&client, 100).await, 100);
    client.logoff().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn without_the_window_the_same_pipeline_stalls() {
    // What the default protects against: the override is honoured, and the
    // server stops answering.
    let (sim, mut config) = tls_sim().await;
    config.ami = config
        .ami
        .max_in_flight(None)
        .action_timeout(Some(Duration::from_secs(2)));
    let (client, _events) = connect(config).await.unwrap();
    let answered = pings(&client, 100).await;
    assert!(answered < 100, "{answered} answered");
    sim.shutdown().await;
}
