//! What a lossy subscriber promises, against the simulator: it holds at
//! most its capacity, counts exactly the events it dropped, and never
//! drops a reconnect marker.

use std::time::Duration;

use amiproto::Packet;
use amiproto_testkit::{SimConfig, Simulator};
use amiproto_tokio::{
    connect, ClientConfig, ConnectionState, EventItem, EventStream, Overflow, Reconnect,
};
use tokio::time::timeout;

const T: Duration = Duration::from_secs(20);

fn test_event(n: usize) -> Packet {
    Packet::builder()
        .header("Event", "Test")
        .header("Privilege", "system,all")
        .header("N", n.to_string())
        .build()
        .unwrap()
}

/// Read `all` (lossless) until `pred` has held for `want` events; returns
/// how many events it read.
async fn read_until(all: &mut EventStream, want: usize, pred: impl Fn(&Packet) -> bool) -> u64 {
    let mut seen = 0;
    let mut events = 0;
    while seen < want {
        match timeout(T, all.recv()).await.unwrap().unwrap() {
            EventItem::Event(p) => {
                events += 1;
                seen += usize::from(pred(&p));
            }
            EventItem::Reconnected { .. } => {}
            other => panic!("lossless stream got {other:?}"),
        }
    }
    events
}

/// Everything waiting in `s`: (events, sum of Lagged, markers).
fn drain(s: &mut EventStream) -> (u64, u64, Vec<u32>) {
    let (mut events, mut lagged, mut markers) = (0, 0, Vec::new());
    while let Some(item) = s.try_recv() {
        match item {
            EventItem::Event(_) => events += 1,
            EventItem::Lagged(n) => lagged += n,
            EventItem::Reconnected { generation } => markers.push(generation),
            other => panic!("{other:?}"),
        }
    }
    (events, lagged, markers)
}

#[tokio::test]
async fn reconnect_marker_survives_a_full_lossy_subscriber() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let config = ClientConfig::from_url(&sim.url()).unwrap().reconnect(
        Reconnect::default().delays(Duration::from_millis(20), Duration::from_millis(200)),
    );
    let (client, _first) = connect(config).await.unwrap();
    let mut lossy = client.events_with(Overflow::Lossy { capacity: 10 });
    let mut all = client.events_with(Overflow::Lossless);
    client.ping().await.unwrap();
    for n in 0..20 {
        sim.push_event(test_event(n));
    }
    let mut total = read_until(&mut all, 20, |p| p.is_event("Test")).await;

    sim.restart().await.unwrap();
    let mut w = client.status_watch();
    timeout(
        T,
        w.wait_for(|s| s.generation >= 1 && s.state == ConnectionState::Ready),
    )
    .await
    .unwrap()
    .unwrap();
    for n in 0..50 {
        sim.push_event(test_event(1000 + n));
    }
    total += read_until(&mut all, 50, |p| p.is_event("Test")).await;

    let (events, lagged, markers) = drain(&mut lossy);
    assert_eq!(markers, [1], "the reconnect marker was dropped");
    assert!(lagged > 0, "the subscriber never fell behind");
    // Lagged counts the events dropped, and nothing else.
    assert_eq!(events + lagged, total);
    assert_eq!(lossy.lagged_total(), lagged);
    client.logoff().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn lossy_subscriber_holds_at_most_its_capacity() {
    const CAP: usize = 1000;
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let (client, _first) = connect(ClientConfig::from_url(&sim.url()).unwrap())
        .await
        .unwrap();
    let mut lossy = client.events_with(Overflow::Lossy { capacity: CAP });
    let mut all = client.events_with(Overflow::Lossless);
    client.ping().await.unwrap();
    let is_flood = |p: &Packet| p.get_str("UserEvent") == Some("Flood");

    assert_eq!(sim.flood(2 * CAP as u64, None), 1);
    let mut total = read_until(&mut all, 2 * CAP, is_flood).await;
    assert!(lossy.len() <= CAP, "{} waiting", lossy.len());
    // The reader takes one item, then falls behind again.
    let first = lossy.try_recv().unwrap();
    let (mut events, mut lagged) = match first {
        EventItem::Lagged(n) => (0, n),
        EventItem::Event(_) => (1, 0),
        other => panic!("{other:?}"),
    };
    sim.flood(2 * CAP as u64, None);
    total += read_until(&mut all, 2 * CAP, is_flood).await;
    assert!(
        lossy.len() <= CAP,
        "{} waiting with capacity {CAP}",
        lossy.len()
    );

    let (e, l, markers) = drain(&mut lossy);
    assert!(markers.is_empty());
    events += e;
    lagged += l;
    assert_eq!(events + lagged, total);
    assert_eq!(lossy.lagged_total(), lagged);
    client.logoff().await.unwrap();
    sim.shutdown().await;
}
