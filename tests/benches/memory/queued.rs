//! Resident memory of events held for a subscriber that does not read: a
//! lossless event stream (tokio) or queue (std) takes in a flood of N
//! events and keeps them all.

use std::time::{Duration, Instant};

use amiproto_std::Overflow;

use crate::rss;

const WAIT: Duration = Duration::from_secs(120);

fn url(port: u16) -> String {
    format!("ami://bench:bench@127.0.0.1:{port}")
}

fn line(what: &str, n: u64, queued: u64, before: u64, after: u64) -> String {
    format!(
        "{{\"what\":\"{what}\",\"events\":{n},\"queued\":{queued},\"rss_before\":{before},\"rss_after\":{after},\"per_100k\":{}}}",
        (after.saturating_sub(before) as u128 * 100_000 / u128::from(n.max(1))) as u64
    )
}

/// A tokio client whose lossless stream (from `connect`) is never read.
#[tokio::main]
pub async fn tokio_lossless(port: u16, n: u64) -> String {
    let config = amiproto_tokio::ClientConfig::from_url(&url(port))
        .expect("url")
        .events_overflow(Overflow::Lossless);
    let before = rss::now();
    let (_client, events) = amiproto_tokio::connect(config).await.expect("connect");
    let t0 = Instant::now();
    // FullyBooted, the flood and the marker.
    while (events.len() as u64) < n + 2 && t0.elapsed() < WAIT {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = rss::now();
    line("queued-tokio", n, events.len() as u64, before, after)
}

/// A blocking client with a lossless queue, called (`ping`) but never
/// asked for events.
pub fn std_lossless(port: u16, n: u64) -> String {
    let config = amiproto_std::ClientConfig::from_url(&url(port))
        .expect("url")
        .events(Overflow::Lossless);
    let before = rss::now();
    let mut client = amiproto_std::Client::connect(config).expect("connect");
    let t0 = Instant::now();
    // Every call takes in what the socket holds; the queue keeps it all.
    while (client.queued_events() as u64) < n + 1 && t0.elapsed() < WAIT {
        client.ping().expect("ping");
    }
    let after = rss::now();
    line(
        "queued-std",
        n,
        client.queued_events() as u64,
        before,
        after,
    )
}
