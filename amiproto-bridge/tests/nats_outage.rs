//! NATS goes away mid-flood: within the buffer's bound nothing is lost (and
//! order holds); past it the loss is reported exactly as a gap.

mod common;

use std::time::Duration;

use amiproto_bridge::Bridge;
use amiproto_testkit::{SimConfig, Simulator};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_restart_within_bound_loses_nothing() {
    init_logs();
    let mut nats = Nats::start();
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let spill = tempfile::tempdir().unwrap();
    // A small memory bound, so the outage goes through the spill file.
    let extra = format!(
        "[buffer]\nmax_events = 2000\nspill_dir = {:?}\n[publish]\nwindow = 256\nack_timeout_ms = 2000\n",
        spill.path().display().to_string()
    );
    let bridge = Bridge::start(config(&nats.url(), &[("p1", sim.url())], &extra))
        .await
        .unwrap();
    wait_up(&bridge).await;
    const N: u64 = 20_000;
    assert_eq!(sim.flood(N, Some(5_000)), 1);
    wait_status(&bridge, "some events out", Duration::from_secs(60), |s| {
        s[0].events_out > 1000
    })
    .await;
    nats.stop();
    wait_status(&bridge, "NATS loss noticed", Duration::from_secs(30), |s| {
        !s[0].nats_connected
    })
    .await;
    wait_status(&bridge, "spilling", Duration::from_secs(60), |s| {
        s[0].spilled > 0
    })
    .await;
    nats.restart();
    let got = read_stream(&nats.url(), "AMI", Duration::from_secs(300), |g| {
        g.iter()
            .filter(|g| g.subject == "ami.p1.event.UserEvent")
            .count() as u64
            >= N
    })
    .await;
    let (events, gapped) = check_coverage(&got, "p1");
    assert_eq!(gapped, 0);
    let s = bridge.status("p1").unwrap();
    assert_eq!(events, s.events_in, "{s:?}");
    assert_eq!(s.events_dropped, 0, "{s:?}");
    assert_eq!(s.reordered, 0, "{s:?}");
    // The flood's own numbering, in order.
    let seqs: Vec<u64> = got
        .iter()
        .filter(|g| g.subject == "ami.p1.event.UserEvent")
        .map(|g| g.json()["Seq"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(seqs, (0..N).collect::<Vec<_>>());
    let report = bridge.shutdown(Duration::from_secs(20)).await.unwrap();
    assert!(report.drained, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_down_past_bound_reports_the_exact_gap() {
    init_logs();
    let mut nats = Nats::start();
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let extra = "[buffer]\nmax_events = 500\n[publish]\nwindow = 64\n";
    let bridge = Bridge::start(config(&nats.url(), &[("p1", sim.url())], extra))
        .await
        .unwrap();
    wait_up(&bridge).await;
    // Let the login's own events out first.
    wait_status(&bridge, "login events out", Duration::from_secs(30), |s| {
        s[0].buffer_depth == 0 && s[0].acks_pending == 0 && s[0].events_out > 0
    })
    .await;
    nats.stop();
    wait_status(&bridge, "NATS loss noticed", Duration::from_secs(30), |s| {
        !s[0].nats_connected
    })
    .await;
    const N: u64 = 5_000;
    let before = bridge.status("p1").unwrap().events_in;
    assert_eq!(sim.flood(N, None), 1);
    wait_status(&bridge, "flood read", Duration::from_secs(60), |s| {
        s[0].events_in == before + N
    })
    .await;
    let s = bridge.status("p1").unwrap();
    assert_eq!(s.events_dropped, N - 500, "{s:?}");
    nats.restart();
    let total = before + N;
    let got = read_stream(&nats.url(), "AMI", Duration::from_secs(120), |g| {
        g.iter()
            .any(|g| g.pbx == "p1" && (g.seq == total || g.gap_last == Some(total)))
    })
    .await;
    let (events, gapped) = check_coverage(&got, "p1");
    assert_eq!(events + gapped, total);
    assert_eq!(gapped, N - 500);
    let gaps: Vec<serde_json::Value> = got
        .iter()
        .filter(|g| g.is_gap())
        .map(|g| g.json())
        .collect();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    let g = &gaps[0];
    assert_eq!(g["count"], N - 500);
    assert_eq!(g["first_seq"], before + 501);
    assert_eq!(g["last_seq"], total);
    assert_eq!(g["reason"], "buffer_full");
    assert_eq!(g["pbx"], "p1");
    let s = bridge.status("p1").unwrap();
    assert_eq!((s.gaps, s.events_dropped), (1, N - 500), "{s:?}");
    bridge.shutdown(Duration::from_secs(20)).await.unwrap();
}
