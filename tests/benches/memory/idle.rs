//! Resident memory per idle connection: N logged-in clients that do
//! nothing, in one fresh process, after one warm-up client.

use std::time::Duration;

use crate::rss;

fn url(port: u16) -> String {
    format!("ami://bench:bench@127.0.0.1:{port}")
}

fn line(what: &str, n: u64, before: u64, after: u64) -> String {
    format!(
        "{{\"what\":\"{what}\",\"conns\":{n},\"rss_before\":{before},\"rss_after\":{after},\"per_conn\":{}}}",
        after.saturating_sub(before) / n.max(1)
    )
}

/// `n` tokio clients (`connect_url`, default runtime), each keeping the
/// event stream `connect` returns.
#[tokio::main]
pub async fn tokio_clients(port: u16, n: u64) -> String {
    let _warm = amiproto_tokio::connect_url(&url(port))
        .await
        .expect("connect");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = rss::now();
    let mut clients = Vec::with_capacity(n as usize);
    for _ in 0..n {
        clients.push(
            amiproto_tokio::connect_url(&url(port))
                .await
                .expect("connect"),
        );
    }
    // Let FullyBooted and any start-up traffic settle.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss::now();
    line("idle-tokio", n, before, after)
}

/// `n` blocking clients (`amiproto_std::connect`).
pub fn std_clients(port: u16, n: u64) -> String {
    let _warm = amiproto_std::connect(&url(port)).expect("connect");
    let before = rss::now();
    let mut clients = Vec::with_capacity(n as usize);
    for _ in 0..n {
        clients.push(amiproto_std::connect(&url(port)).expect("connect"));
    }
    std::thread::sleep(Duration::from_millis(200));
    // Take in what arrived (FullyBooted), as a program's next call would.
    for c in &mut clients {
        let _ = c.try_next_event();
    }
    let after = rss::now();
    line("idle-std", n, before, after)
}
