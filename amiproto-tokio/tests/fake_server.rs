//! Tests against a minimal in-file AMI server (no simulator): start-up
//! events, pings, cancellation, logoff on drop.

use std::time::Duration;

use amiproto::{Action, Decoder, Frame};
use amiproto_tokio::{connect, ClientConfig, ConnectionState, EventItem};
use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Answers Login (with FullyBooted + 3 events in the same write), Ping, and
/// Logoff; ignores `Slow` actions (never answers them). Returns the port and
/// a receiver of the action names seen.
async fn fake() -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        sock.write_all(b"Asterisk Call Manager/11.0.0\r\n")
            .await
            .unwrap();
        let mut dec = Decoder::new();
        let mut buf = BytesMut::new();
        loop {
            if sock.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                return;
            }
            while let Ok(Some(Frame::Packet(p))) = dec.decode(&mut buf) {
                let name = p.action().unwrap().decode_text().into_owned();
                let id = p.get_str("ActionID").unwrap_or("").to_owned();
                let _ = tx.send(name.clone());
                let out = match name.as_str() {
                    "Login" => format!(
                        "Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n\
                         Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n\
                         Event: A\r\n\r\nEvent: B\r\n\r\nEvent: C\r\n\r\n"
                    ),
                    "Ping" => format!("Response: Success\r\nActionID: {id}\r\nPing: Pong\r\n\r\n"),
                    "Logoff" => {
                        let g = format!("Response: Goodbye\r\nActionID: {id}\r\nMessage: Thanks for all the fish.\r\n\r\n");
                        sock.write_all(g.as_bytes()).await.unwrap();
                        return;
                    }
                    _ => continue,
                };
                sock.write_all(out.as_bytes()).await.unwrap();
            }
        }
    });
    (port, rx)
}

fn config(port: u16) -> ClientConfig {
    ClientConfig::new("127.0.0.1", port, "admin", "amp111")
        .action_timeout(Some(Duration::from_secs(5)))
}

#[tokio::test]
async fn startup_events_reach_the_first_stream() {
    let (port, _seen) = fake().await;
    let (client, mut events) = connect(config(port).into_plain_login()).await.unwrap();
    let mut names = Vec::new();
    for _ in 0..4 {
        match events.recv().await.unwrap() {
            EventItem::Event(p) => names.push(p.event().unwrap().decode_text().into_owned()),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(names, ["FullyBooted", "A", "B", "C"]);
    assert_eq!(client.status().state, ConnectionState::Ready);
    client.ping().await.unwrap();
    client.logoff().await.unwrap();
    assert_eq!(client.status().state, ConnectionState::Closed);
    assert!(events.recv().await.is_none());
}

#[tokio::test]
async fn dropped_future_cancels_and_drop_logs_off() {
    let (port, mut seen) = fake().await;
    let (client, _events) = connect(config(port).into_plain_login()).await.unwrap();
    // Never answered: drop it after it was written.
    let slow = client.send(Action::new("Slow"));
    let r = tokio::time::timeout(Duration::from_millis(50), slow).await;
    assert!(r.is_err());
    // Later actions still work.
    client.ping().await.unwrap();
    let watch = client.status_watch();
    drop(client);
    let mut watch = watch;
    tokio::time::timeout(
        Duration::from_secs(5),
        watch.wait_for(|s| s.state == ConnectionState::Closed),
    )
    .await
    .unwrap()
    .unwrap();
    let mut names = Vec::new();
    while let Ok(n) = seen.try_recv() {
        names.push(n);
    }
    assert_eq!(names, ["Login", "Slow", "Ping", "Logoff"]);
}

trait PlainLogin {
    fn into_plain_login(self) -> Self;
}

impl PlainLogin for ClientConfig {
    fn into_plain_login(mut self) -> Self {
        self.ami.auth = amiproto::AuthMethod::Plain;
        self
    }
}
