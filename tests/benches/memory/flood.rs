//! A long flood to a slow subscriber on the default (lossy) event stream:
//! resident memory must stay flat (the stream drops the oldest events and
//! says how many), and every event is either delivered or counted as
//! lagged, exactly.

use std::time::{Duration, Instant};

use amiproto_std::EventItem;

use crate::rss::{self, Sampler};

/// The subscriber sleeps this long after every [`BATCH`] events.
const NAP: Duration = Duration::from_millis(1);
const BATCH: u64 = 100;
/// Give up when no item comes for this long.
const STALL: Duration = Duration::from_secs(30);
const SAMPLE_EVERY: Duration = Duration::from_millis(50);

fn url(port: u16) -> String {
    format!("ami://bench:bench@127.0.0.1:{port}")
}

/// Counts what the subscriber was handed.
#[derive(Default)]
struct Tally {
    /// Every event item, FullyBooted and the marker included.
    delivered: u64,
    lagged: u64,
    marker: bool,
}

impl Tally {
    /// Count `item`; returns whether to take a nap.
    fn take(&mut self, item: EventItem) -> bool {
        match item {
            EventItem::Event(ev) => {
                self.delivered += 1;
                if ev.event().is_some_and(|n| n == "BenchEnd") {
                    self.marker = true;
                }
                self.delivered % BATCH == 0
            }
            EventItem::Lagged(k) => {
                self.lagged += k;
                false
            }
            _ => false,
        }
    }

    /// FullyBooted, the flood and the marker all accounted for.
    fn done(&self, n: u64) -> bool {
        self.marker || self.delivered + self.lagged >= n + 2
    }
}

fn line(what: &str, n: u64, t: &Tally, secs: f64, samples: &[(Duration, u64)]) -> String {
    // Steady state: from a tenth of the flood on (the stream's buffer fills
    // at once, allocator arenas settle).
    let end = samples.last().map_or(Duration::ZERO, |s| s.0);
    let steady: Vec<u64> = samples
        .iter()
        .filter(|s| s.0 >= end / 10)
        .map(|s| s.1)
        .collect();
    let mut sorted = steady.clone();
    sorted.sort_unstable();
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0);
    let max = samples.iter().map(|s| s.1).max().unwrap_or(0);
    let first = steady.first().copied().unwrap_or(0);
    // RSS at the end of each tenth of the run, in MiB.
    let tenths: Vec<String> = (1..=10)
        .filter_map(|k| samples.iter().rev().find(|s| s.0 <= end * k / 10))
        .map(|s| format!("{:.1}", s.1 as f64 / f64::from(1 << 20)))
        .collect();
    let last = steady.last().copied().unwrap_or(0);
    format!(
        "{{\"what\":\"{what}\",\"events\":{n},\"delivered\":{},\"lagged\":{},\"exact\":{},\"seconds\":{secs:.3},\"samples\":{},\"rss_steady\":{median},\"rss_max\":{max},\"rss_first\":{first},\"rss_last\":{last},\"rss_peak\":{},\"rss_tenths_mib\":[{}]}}",
        t.delivered,
        t.lagged,
        t.delivered + t.lagged == n + 2,
        samples.len(),
        rss::peak(),
        tenths.join(",")
    )
}

/// The tokio client's default stream, read slowly.
#[tokio::main]
pub async fn tokio_slow(port: u16, n: u64) -> String {
    let sampler = Sampler::start(SAMPLE_EVERY);
    let (_client, mut events) = amiproto_tokio::connect_url(&url(port))
        .await
        .expect("connect");
    let t0 = Instant::now();
    let mut tally = Tally::default();
    while !tally.done(n) {
        match tokio::time::timeout(STALL, events.recv()).await {
            Ok(Some(item)) => {
                if tally.take(item) {
                    tokio::time::sleep(NAP).await;
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    line("flood-tokio", n, &tally, secs, &sampler.finish())
}

/// The blocking client's default queue, read slowly (each call takes in
/// what the socket holds).
pub fn std_slow(port: u16, n: u64) -> String {
    let sampler = Sampler::start(SAMPLE_EVERY);
    let mut client = amiproto_std::connect(&url(port)).expect("connect");
    let t0 = Instant::now();
    let mut tally = Tally::default();
    while !tally.done(n) {
        match client.next_event(Some(STALL)) {
            Ok(Some(item)) => {
                if tally.take(item) {
                    std::thread::sleep(NAP);
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    line("flood-std", n, &tally, secs, &sampler.finish())
}
