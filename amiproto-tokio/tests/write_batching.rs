//! Actions submitted by tasks that run together leave in one write, not one
//! write per task.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use amiproto::AuthMethod;
use amiproto_tokio::{connect, ClientConfig};

const CALLS: usize = 200;

/// A blocking server on its own thread: plain login, then it counts the
/// reads it takes to receive `CALLS` Pings (reading as soon as bytes
/// arrive), answers them all, and reports the count.
fn counting_server() -> (u16, mpsc::Receiver<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        sock.set_nodelay(true).unwrap();
        sock.write_all(b"Asterisk Call Manager/11.0.0\r\n").unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let mut text = String::new();
        // The login.
        while !text.contains("\r\n\r\n") {
            let n = sock.read(&mut buf).unwrap();
            text.push_str(std::str::from_utf8(&buf[..n]).unwrap());
        }
        let id = |packet: &str| {
            packet
                .lines()
                .find_map(|l| l.strip_prefix("ActionID: "))
                .unwrap_or("")
                .to_owned()
        };
        let login = text.split("\r\n\r\n").next().unwrap().to_owned();
        let ok = format!(
            "Response: Success\r\nActionID: {}\r\nMessage: Authentication accepted\r\n\r\n",
            id(&login)
        );
        sock.write_all(ok.as_bytes()).unwrap();
        text.clear();
        let mut reads = 0;
        while text.matches("Action: Ping").count() < CALLS {
            let n = sock.read(&mut buf).unwrap();
            assert!(n > 0, "client left");
            reads += 1;
            text.push_str(std::str::from_utf8(&buf[..n]).unwrap());
        }
        let mut out = String::new();
        for packet in text.split("\r\n\r\n").filter(|p| p.contains("Ping")) {
            out.push_str(&format!(
                "Response: Success\r\nActionID: {}\r\nPing: Pong\r\n\r\n",
                id(packet)
            ));
        }
        sock.write_all(out.as_bytes()).unwrap();
        tx.send(reads).unwrap();
        // Stay until the client leaves.
        while sock.read(&mut buf).is_ok_and(|n| n > 0) {}
    });
    (port, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn calls_of_tasks_woken_together_share_one_write() {
    let (port, reads) = counting_server();
    let mut config = ClientConfig::new("127.0.0.1", port, "admin", "amp111");
    config.ami.auth = AuthMethod::Plain;
    let (client, _events) = connect(config).await.unwrap();
    // One task spawns the callers, so that they are all queued on the
    // worker before the first of them runs (and wakes the driver).
    let c = client.clone();
    let tasks = tokio::spawn(async move {
        (0..CALLS)
            .map(|_| {
                let c = c.clone();
                tokio::spawn(async move { c.ping().await })
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let reads = reads.recv().unwrap();
    // One write for the first caller's action and one for all the others
    // (a write per caller before; the server may merge some).
    assert!(reads <= 4, "{CALLS} Pings took {reads} reads");
    drop(client);
}
