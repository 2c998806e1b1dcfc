//! A session with write class `user` can make Asterisk broadcast any header
//! lines it likes in a `UserEvent`. One such event carrying
//! `Response: Follows` and a colon-less line must reach every other session
//! as an ordinary event and must not deafen it: both clients keep decoding
//! what follows.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use amiproto_testkit::{BlockingSimulator, SimConfig, Simulator};
use amiproto_tokio::{connect, ClientConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

const T: Duration = Duration::from_secs(20);

/// The action another session sends, bare line included, byte for byte.
const FORGED: &[u8] = b"Action: UserEvent\r\nUserEvent: Hi\r\nResponse: Follows\r\nhello\r\n\r\n";

const LOGIN: &[u8] =
    b"Action: Login\r\nActionID: l\r\nUsername: admin\r\nSecret: amp111\r\nEvents: off\r\n\r\n";

/// Read until `needle` has arrived (or fail).
fn read_until(sock: &mut TcpStream, needle: &[u8]) -> Vec<u8> {
    sock.set_read_timeout(Some(T)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(needle.len()).any(|w| w == needle) {
        let n = sock.read(&mut buf).expect("the simulator answers");
        assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    got
}

/// What the simulator sends the other sessions is exactly what Asterisk
/// 22.10.1 sends: the lines in the sender's order, the bare one kept.
fn assert_forged_event(ev: &amiproto::Packet) {
    assert_eq!(ev.get_str("UserEvent"), Some("Hi"));
    assert_eq!(ev.get_str("Response"), Some("Follows"));
    assert_eq!(ev.body(), None);
    let bare: Vec<_> = ev
        .headers()
        .filter(|h| h.is_bare())
        .map(|h| h.value().to_string())
        .collect();
    assert_eq!(bare, ["hello"]);
}

#[tokio::test]
async fn tokio_client_stays_live_after_a_foreign_user_event_with_response_follows() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let (client, _all) = connect(ClientConfig::from_url(&sim.url()).unwrap())
        .await
        .unwrap();
    let mut user_events = client.events_matching("UserEvent");

    let mut other = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    other.write_all(LOGIN).await.unwrap();
    other.write_all(FORGED).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.windows(10).any(|w| w == b"Event Sent") {
        let n = timeout(T, other.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0);
        seen.extend_from_slice(&buf[..n]);
    }

    let ev = timeout(T, user_events.next_event())
        .await
        .expect("the event arrives")
        .expect("stream open");
    assert_forged_event(&ev);
    // The stream after it still decodes: actions are answered.
    for _ in 0..3 {
        timeout(T, client.ping()).await.expect("answered").unwrap();
    }
    let out = timeout(T, client.command("core show version"))
        .await
        .unwrap()
        .unwrap();
    assert!(!out.text().is_empty());
    client.logoff().await.unwrap();
    sim.shutdown().await;
}

#[test]
fn std_client_stays_live_after_a_foreign_user_event_with_response_follows() {
    let sim = BlockingSimulator::start(SimConfig::default()).unwrap();
    let mut client = amiproto_std::connect(&sim.url()).unwrap();

    let mut other = TcpStream::connect(sim.addr()).unwrap();
    other.write_all(LOGIN).unwrap();
    other.write_all(FORGED).unwrap();
    read_until(&mut other, b"Event Sent");

    let ev = loop {
        let item = client
            .next_event(Some(T))
            .unwrap()
            .expect("the event arrives in time");
        let amiproto_std::EventItem::Event(ev) = item else {
            panic!("no lag expected: {item:?}")
        };
        if ev.event().is_some_and(|e| e == "UserEvent") {
            break ev;
        }
    };
    assert_forged_event(&ev);
    for _ in 0..3 {
        client.ping().unwrap();
    }
    assert!(!client
        .command("core show version")
        .unwrap()
        .text()
        .is_empty());
    client.logoff().unwrap();
}
