//! Both adapters give every connection generated ActionIDs of its own that
//! no other session can guess (a random tag after the prefix), reconnects
//! included: a foreign `UserEvent` cannot aim at them.

use std::time::Duration;

use amiproto::Action;
use amiproto_testkit::{SimConfig, Simulator};
use amiproto_tokio::{connect, ClientConfig, Reconnect};
use tokio::time::timeout;

const T: Duration = Duration::from_secs(20);

/// The ActionID of the ping each connection sent, tagged with `X-Who`.
fn id_of(sim: &Simulator, who: &str) -> String {
    sim.received()
        .iter()
        .find(|p| p.get_str("X-Who") == Some(who))
        .and_then(|p| p.action_id().map(|v| v.to_str().unwrap().to_owned()))
        .unwrap_or_else(|| panic!("no ping from {who}"))
}

/// `ami-` + 12 base-32 characters + `-` + a sequence number.
fn tag(id: &str) -> &str {
    let rest = id.strip_prefix("ami-").unwrap_or_else(|| panic!("{id}"));
    let (tag, seq) = rest.split_once('-').unwrap_or_else(|| panic!("{id}"));
    assert_eq!(tag.len(), 12, "{id}");
    assert!(
        tag.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'v').contains(&b)),
        "{id}"
    );
    assert!(seq.bytes().all(|b| b.is_ascii_digit()), "{id}");
    assert!(id.len() <= 64);
    tag
}

#[tokio::test]
async fn every_connection_has_its_own_random_id_tag() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let url = sim.url();
    let fast = Reconnect::default().delays(Duration::from_millis(20), Duration::from_millis(100));
    let config = ClientConfig::from_url(&url).unwrap();
    let (a, _ea) = connect(config.clone().reconnect(fast)).await.unwrap();
    let (b, _eb) = connect(config).await.unwrap();
    a.send(Action::ping().header("X-Who", "a0")).await.unwrap();
    b.send(Action::ping().header("X-Who", "b")).await.unwrap();
    // The blocking client.
    let std_url = url.clone();
    tokio::task::spawn_blocking(move || {
        let mut c = amiproto_std::connect(&std_url).unwrap();
        c.send(Action::ping().header("X-Who", "s")).unwrap();
        c.logoff().unwrap();
    })
    .await
    .unwrap();
    // A reconnect is a new connection: a new tag.
    sim.drop_clients().await;
    timeout(T, async {
        loop {
            if a.status().generation == 1 && a.ready().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    a.send(Action::ping().header("X-Who", "a1")).await.unwrap();

    let ids: Vec<String> = ["a0", "a1", "b", "s"]
        .iter()
        .map(|w| id_of(&sim, w))
        .collect();
    let mut tags: Vec<&str> = ids.iter().map(|id| tag(id)).collect();
    tags.sort_unstable();
    tags.dedup();
    assert_eq!(tags.len(), 4, "{ids:?}");
    a.logoff().await.unwrap();
    sim.shutdown().await;
}
