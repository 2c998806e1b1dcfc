//! Reconnect backoff against a server that accepts the login and drops the
//! connection right after: the delay grows, and starts again only after a
//! connection stayed up for `reset_after` (the policy type and rules are
//! the tokio client's).
#![allow(clippy::result_large_err)]

mod common;

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use amiproto_std::{Client, ClientConfig, EventItem, Reconnect};
use common::{header, Peer, BANNER};

/// A server that answers every Login with success, then keeps the
/// connection for `hold(n)` (n: the connection's number from 0) and closes
/// it. Returns the URL and the time of every login.
fn flapping(
    hold: impl Fn(usize) -> Duration + Send + 'static,
) -> (String, Arc<Mutex<Vec<Instant>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let logins = Arc::new(Mutex::new(Vec::new()));
    let seen = logins.clone();
    std::thread::spawn(move || {
        for n in 0.. {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut peer = Peer::new(stream);
            peer.write(BANNER);
            let Some(login) = peer.read_packet() else {
                continue;
            };
            seen.lock().unwrap().push(Instant::now());
            let id = header(&login, "ActionID").unwrap_or_default();
            peer.write(
                format!(
                    "Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n"
                )
                .as_bytes(),
            );
            std::thread::sleep(hold(n));
        }
    });
    (format!("ami://admin:amp111@{addr}?auth=plain"), logins)
}

/// Drive the client (reconnects happen inside its calls) for `time`;
/// returns the reconnect markers it handed out.
fn drive(client: &mut Client, time: Duration) -> Vec<u32> {
    let until = Instant::now() + time;
    let mut markers = Vec::new();
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        match client.next_event(Some(left)) {
            Ok(Some(EventItem::Reconnected { generation })) => markers.push(generation),
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
    }
    markers
}

#[test]
fn no_tight_login_loop_against_a_server_that_drops_after_login() {
    let (url, logins) = flapping(|_| Duration::ZERO);
    let reconnect = Reconnect::default()
        .delays(Duration::from_millis(10), Duration::from_secs(10))
        .jitter(0.0);
    let cfg = ClientConfig::from_url(&url).unwrap().reconnect(reconnect);
    let mut client = Client::connect(cfg).unwrap();
    let markers = drive(&mut client, Duration::from_millis(1500));
    // 10, 20, 40 … 640 ms: at most 8 logins in 1.5 s (a counter reset at
    // every login would retry every 10 ms).
    let n = logins.lock().unwrap().len();
    assert!((3..=9).contains(&n), "{n} logins in 1.5 s");
    // A marker per successful re-login, each with its generation.
    assert!(
        !markers.is_empty() && markers.windows(2).all(|w| w[0] < w[1]),
        "{markers:?}"
    );
}

#[test]
fn backoff_starts_again_after_a_connection_stayed_up() {
    let (url, logins) = flapping(|n| {
        if n == 2 {
            Duration::from_millis(400)
        } else {
            Duration::ZERO
        }
    });
    let mut reconnect = Reconnect::default()
        .delays(Duration::from_millis(10), Duration::from_secs(30))
        .jitter(0.0)
        .reset_after(Duration::from_millis(200));
    reconnect.multiplier = 20.0;
    let cfg = ClientConfig::from_url(&url).unwrap().reconnect(reconnect);
    let mut client = Client::connect(cfg).unwrap();
    let t0 = Instant::now();
    while logins.lock().unwrap().len() < 4 {
        assert!(t0.elapsed() < Duration::from_secs(5), "stuck in backoff");
        drive(&mut client, Duration::from_millis(10));
    }
    let at = logins.lock().unwrap().clone();
    // Growing while the connections drop at once: 10 ms, then 200 ms.
    assert!(
        at[2] - at[1] >= Duration::from_millis(200),
        "{:?}",
        at[2] - at[1]
    );
    // Connection 2 stayed up 400 ms (> 200 ms): back to 10 ms, not 4 s.
    let gap = at[3] - at[2];
    assert!(
        gap >= Duration::from_millis(400) && gap < Duration::from_millis(1500),
        "{gap:?}"
    );
}
