//! Reconnect backoff against a server that accepts the login and drops the
//! connection right after: the delay grows, and starts again only after a
//! connection stayed up for `reset_after`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use amiproto::{AuthMethod, Decoder, Frame};
use amiproto_tokio::{connect, ClientConfig, Reconnect};
use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A server that answers every Login with success, then keeps the
/// connection for `hold(n)` (n: the connection's number from 0) and closes
/// it. Returns its port and the time of every login.
async fn flapping(
    hold: impl Fn(usize) -> Duration + Send + 'static,
) -> (u16, Arc<Mutex<Vec<Instant>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let logins = Arc::new(Mutex::new(Vec::new()));
    let seen = logins.clone();
    tokio::spawn(async move {
        for n in 0.. {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let _ = sock.write_all(b"Asterisk Call Manager/11.0.0\r\n").await;
            let mut dec = Decoder::new();
            let mut buf = BytesMut::new();
            let login = loop {
                if let Ok(Some(Frame::Packet(p))) = dec.decode(&mut buf) {
                    break Some(p);
                }
                if sock.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                    break None;
                }
            };
            let Some(login) = login else { continue };
            seen.lock().unwrap().push(Instant::now());
            let id = login.get_str("ActionID").unwrap_or("").to_owned();
            let ok = format!(
                "Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n"
            );
            let _ = sock.write_all(ok.as_bytes()).await;
            tokio::time::sleep(hold(n)).await;
            drop(sock);
        }
    });
    (port, logins)
}

fn config(port: u16, reconnect: Reconnect) -> ClientConfig {
    let mut c = ClientConfig::new("127.0.0.1", port, "admin", "amp111").reconnect(reconnect);
    c.ami.auth = AuthMethod::Plain;
    c
}

#[tokio::test]
async fn no_tight_login_loop_against_a_server_that_drops_after_login() {
    let (port, logins) = flapping(|_| Duration::ZERO).await;
    let reconnect = Reconnect::default()
        .delays(Duration::from_millis(10), Duration::from_secs(10))
        .jitter(0.0);
    let (client, _events) = connect(config(port, reconnect)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // 10, 20, 40 … 640 ms: at most 8 logins in 1.5 s (a counter reset at
    // every login would retry every 10 ms).
    let n = logins.lock().unwrap().len();
    assert!((3..=9).contains(&n), "{n} logins in 1.5 s");
    drop(client);
}

#[tokio::test]
async fn backoff_starts_again_after_a_connection_stayed_up() {
    let (port, logins) = flapping(|n| {
        if n == 2 {
            Duration::from_millis(400)
        } else {
            Duration::ZERO
        }
    })
    .await;
    let mut reconnect = Reconnect::default()
        .delays(Duration::from_millis(10), Duration::from_secs(30))
        .jitter(0.0)
        .reset_after(Duration::from_millis(200));
    reconnect.multiplier = 20.0;
    let (client, _events) = connect(config(port, reconnect)).await.unwrap();
    let t0 = Instant::now();
    while logins.lock().unwrap().len() < 4 {
        assert!(t0.elapsed() < Duration::from_secs(5), "stuck in backoff");
        tokio::time::sleep(Duration::from_millis(10)).await;
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
    drop(client);
}
