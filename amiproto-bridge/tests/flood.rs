//! Three simulated PBXs flood 100 000 events each through the bridge into a
//! real nats-server: every event arrives once, in each PBX's order.

mod common;

use std::time::Duration;

use amiproto_testkit::{SimConfig, Simulator};
use common::*;

const PER_PBX: u64 = 100_000;

fn flood_events(got: &[Got], pbx: &str) -> u64 {
    let subject = format!("ami.{pbx}.event.UserEvent");
    got.iter().filter(|g| g.subject == subject).count() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_pbxs_flood_every_event_once_in_order() {
    init_logs();
    let nats = Nats::start();
    let mut sims = Vec::new();
    for _ in 0..3 {
        sims.push(Simulator::start(SimConfig::default()).await.unwrap());
    }
    let names = ["alpha", "beta", "gamma"];
    let pbxs: Vec<(&str, String)> = names
        .iter()
        .zip(&sims)
        .map(|(n, s)| (*n, s.url()))
        .collect();
    // Room for the whole flood: this test is about order and exactness,
    // not the bound (the simulators write faster than any real PBX, and a
    // busy 2-core machine can hold the publishers back for seconds).
    let roomy = "[buffer]\nmax_events = 250000\nmax_bytes = 268435456\nami_queue = 250000\n";
    let bridge = amiproto_bridge::Bridge::start(config(&nats.url(), &pbxs, roomy))
        .await
        .unwrap();
    wait_up(&bridge).await;
    for s in &sims {
        assert_eq!(s.flood(PER_PBX, None), 1);
    }
    if std::env::var("TEST_LOG").is_ok() {
        let b = bridge.status_handle();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(3)).await;
                eprintln!("{:?}", b.statuses());
            }
        });
    }
    let got = read_stream(&nats.url(), "AMI", Duration::from_secs(400), |g| {
        names.iter().all(|n| flood_events(g, n) >= PER_PBX)
    })
    .await;
    for n in names {
        // Every event read from AMI (the flood and the login's own events),
        // no gap.
        let (events, gapped) = check_coverage(&got, n);
        assert_eq!(gapped, 0, "{n}");
        assert_eq!(flood_events(&got, n), PER_PBX, "{n}");
        let status = bridge.status(n).unwrap();
        assert_eq!(events, status.events_in, "{n}: {status:?}");
    }
    // Payloads are the simulator's events, in order: Seq 0, 1, 2…
    let beta = got
        .iter()
        .filter(|g| g.pbx == "beta" && g.subject == "ami.beta.event.UserEvent");
    for (want, g) in (0u64..).zip(beta) {
        let j = g.json();
        assert_eq!(j["Event"], "UserEvent");
        assert_eq!(j["Seq"].as_str().unwrap().parse::<u64>().unwrap(), want);
    }
    let statuses = bridge.statuses();
    for s in &statuses {
        assert!(s.events_in >= PER_PBX, "{s:?}");
        assert_eq!(s.events_dropped, 0, "{s:?}");
        assert_eq!(s.reordered, 0, "{s:?}");
    }
    let report = bridge.shutdown(Duration::from_secs(20)).await.unwrap();
    assert!(report.drained, "{report:?}");
    assert!(report.lost.is_empty());
    // Clean shutdown logs off every PBX.
    for s in &sims {
        assert!(
            s.received()
                .iter()
                .any(|p| p.get_str("Action") == Some("Logoff")),
            "no Logoff"
        );
    }
}

/// Events of a real Asterisk capture reach the stream verbatim: the same
/// JSON as `PacketMap` makes of each packet, in order, on its event's
/// subject.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_capture_replay_reaches_the_stream_verbatim() {
    init_logs();
    let capture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/asterisk-22.10.1/10-originate-events.server.bin"
    ))
    .unwrap();
    let mut dec = amiproto::Decoder::new().banner_mode(amiproto::BannerMode::Auto);
    let mut buf = bytes::BytesMut::from(&capture[..]);
    let mut events = Vec::new();
    while let Ok(Some(f)) = dec.decode(&mut buf) {
        if let amiproto::Frame::Packet(p) = f {
            if p.event().is_some() {
                events.push(p);
            }
        }
    }
    assert!(events.len() > 100);
    let nats = Nats::start();
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let bridge = amiproto_bridge::Bridge::start(config(&nats.url(), &[("real", sim.url())], ""))
        .await
        .unwrap();
    wait_up(&bridge).await;
    let before = bridge.status("real").unwrap().events_in;
    let n = events.len() as u64 * 3;
    assert_eq!(sim.flood_from_capture(&capture, n, None), 1);
    let got = read_stream(&nats.url(), "AMI", Duration::from_secs(120), |g| {
        g.iter().filter(|g| g.is_event()).count() as u64 >= before + n
    })
    .await;
    let (count, gapped) = check_coverage(&got, "real");
    assert_eq!((count, gapped), (before + n, 0));
    let replayed: Vec<&Got> = got
        .iter()
        .filter(|g| g.is_event())
        .skip(before as usize)
        .collect();
    for (i, g) in replayed.iter().enumerate() {
        let p = &events[i % events.len()];
        let want = serde_json::to_vec(&amiproto::serde::PacketMap(p)).unwrap();
        assert_eq!(&g.payload[..], &want[..], "event {i}");
        let name = amiproto_bridge::subject::event_token(p.event().unwrap().as_bytes());
        assert_eq!(g.subject, format!("ami.real.event.{name}"));
    }
    bridge.shutdown(Duration::from_secs(20)).await.unwrap();
}
