//! Real captured bytes through the client (the test kit's replay mode): every
//! packet the client does not claim reaches the event stream, in order,
//! including those that arrive in the same read as the login response.

use std::time::Duration;

use amiproto::{AuthMethod, BannerMode, Decoder, Frame, Packet};
use amiproto_testkit::{Replay, SimConfig, Simulator};
use amiproto_tokio::{connect, ClientConfig, EventItem, Overflow};
use bytes::{Bytes, BytesMut};
use tokio::time::timeout;

fn capture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../tests/data/asterisk-22.10.1/{name}.server.bin",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(path).unwrap()
}

fn packets(bytes: &Bytes) -> Vec<Packet> {
    let mut dec = Decoder::new().banner_mode(BannerMode::Required);
    let mut buf = BytesMut::from(&bytes[..]);
    let mut out = Vec::new();
    while let Some(frame) = dec.decode(&mut buf).unwrap() {
        if let Frame::Packet(p) = frame {
            out.push(p);
        }
    }
    out
}

async fn run(name: &str, chunk: Option<usize>) {
    let bytes = Bytes::from(capture(name));
    // Everything but the login response (which the client claims).
    let expected: Vec<Packet> = packets(&bytes).into_iter().skip(1).collect();
    assert!(!expected.is_empty());
    // Kept open: a server closing with the client's bytes unread resets the
    // connection, and the kernel may discard what the client has not read.
    // The recorded login answer gets the client's (random) login ActionID.
    let mut replay = Replay::new(bytes.clone())
        .keep_open()
        .adopt_client_id("login");
    if let Some(n) = chunk {
        replay = replay.chunk_size(n);
    }
    let sim = Simulator::start(SimConfig::default().replay(replay))
        .await
        .unwrap();
    let mut config = ClientConfig::from_url(&sim.url())
        .unwrap()
        .events_overflow(Overflow::Lossless);
    config.ami.auth = AuthMethod::Plain;
    let (_client, mut events) = connect(config).await.unwrap();
    let mut got = Vec::new();
    while got.len() < expected.len() {
        match timeout(Duration::from_secs(20), events.recv())
            .await
            .unwrap()
        {
            Some(EventItem::Event(p)) => got.push(p),
            other => panic!("after {} packets: {other:?}", got.len()),
        }
    }
    assert_eq!(got.len(), expected.len(), "{name} chunk {chunk:?}");
    assert!(got == expected, "{name}: packets differ");
    sim.shutdown().await;
}

#[tokio::test]
async fn login_logoff_capture() {
    run("01-login-logoff", None).await;
    run("01-login-logoff", Some(1)).await;
}

#[tokio::test]
async fn originate_capture() {
    run("10-originate-events", Some(97)).await;
}

#[tokio::test]
async fn event_flood_capture() {
    run("13-event-flood", None).await;
    run("13-event-flood", Some(1400)).await;
}
