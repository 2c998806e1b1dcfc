//! Events per second from a simulated PBX's flood through the bridge into
//! JetStream (file storage, one local nats-server), beside a plain
//! async-nats JetStream publisher of the same payloads (same subject kind,
//! same headers, same window of acks in flight) in the same run, and CPU
//! time per event of this process and of nats-server for each.
//!
//! `cargo bench -p amiproto-bridge --bench bridge_throughput`
//!
//! The bridge's process CPU includes the in-process simulator that writes
//! the flood (and the AMI client reading it); the baseline's does not.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::VecDeque;
use std::future::IntoFuture;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use amiproto_bridge::Bridge;
use amiproto_testkit::{flood_event, SimConfig, Simulator};
use async_nats::jetstream;
use bytes::Bytes;
use common::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const EVENTS: u64 = 50_000;
const WINDOW: usize = 512;

/// Clock ticks of CPU (user + system) used by process `pid` ("self" for
/// this one).
fn cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 (utime, stime) are 12 and 13 after the name.
    f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Seconds per clock tick (100 Hz on Linux).
const TICK: f64 = 0.01;

#[derive(Default)]
struct Cpu {
    events: u64,
    own: u64,
    server: u64,
}

static CPU: Mutex<[Cpu; 2]> = Mutex::new([
    Cpu {
        events: 0,
        own: 0,
        server: 0,
    },
    Cpu {
        events: 0,
        own: 0,
        server: 0,
    },
]);

fn nats_pid(port: u16) -> String {
    // The child started by the helper: find it by its port argument.
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains("nats-server") && cmd.contains(&format!(" {port} ")) {
            return e.file_name().to_string_lossy().into_owned();
        }
    }
    panic!("nats-server pid not found");
}

/// Empty the stream, so each sample starts from the same state.
async fn purge(js: &jetstream::Context) {
    js.get_stream("AMI").await.unwrap().purge().await.unwrap();
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let nats = Nats::start();
    let pid = nats_pid(nats.port);
    let (sim, bridge) = rt.block_on(async {
        let sim = Simulator::start(SimConfig::default()).await.unwrap();
        let extra = format!("[stream]\nmax_messages = 400000\n[publish]\nwindow = {WINDOW}\n");
        let bridge = Bridge::start(config(&nats.url(), &[("bench", sim.url())], &extra))
            .await
            .unwrap();
        wait_up(&bridge).await;
        (sim, bridge)
    });
    // The baseline publishes exactly what the bridge publishes for a flood.
    let payloads: Vec<Bytes> = (0..1024)
        .map(|i| {
            Bytes::from(serde_json::to_vec(&amiproto::serde::PacketMap(&flood_event(i))).unwrap())
        })
        .collect();
    let js = rt.block_on(async {
        let nc = client(&nats.url()).await;
        jetstream::ContextBuilder::new()
            .max_ack_inflight(WINDOW * 2)
            .backpressure_on_inflight(true)
            .build(nc)
    });

    let mut g = c.benchmark_group("jetstream");
    g.throughput(Throughput::Elements(EVENTS));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("bridge_from_simulator", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    purge(&js).await;
                    let start_out = bridge.status("bench").unwrap().events_out;
                    let (own, srv) = (cpu_ticks("self"), cpu_ticks(&pid));
                    let t = Instant::now();
                    assert_eq!(sim.flood(EVENTS, None), 1);
                    loop {
                        let s = bridge.status("bench").unwrap();
                        if s.events_out >= start_out + EVENTS {
                            break;
                        }
                        tokio::time::sleep(Duration::from_micros(500)).await;
                    }
                    total += t.elapsed();
                    let mut cpu = CPU.lock().unwrap();
                    cpu[0].events += EVENTS;
                    cpu[0].own += cpu_ticks("self") - own;
                    cpu[0].server += cpu_ticks(&pid) - srv;
                }
                total
            })
        })
    });
    let mut seq = 0u64;
    g.bench_function("plain_async_nats_publisher", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    purge(&js).await;
                    let (own, srv) = (cpu_ticks("self"), cpu_ticks(&pid));
                    let t = Instant::now();
                    let mut inflight = VecDeque::with_capacity(WINDOW);
                    for i in 0..EVENTS {
                        seq += 1;
                        let p = jetstream::message::PublishMessage::build()
                            .payload(payloads[(i % 1024) as usize].clone())
                            .message_id(format!("base.S.{seq}"))
                            .header("Ami-Pbx", "base")
                            .header("Ami-Session", "S")
                            .header("Ami-Seq", seq.to_string().as_str());
                        let f = js
                            .send_publish("ami.base.event.UserEvent", p)
                            .await
                            .unwrap();
                        inflight.push_back(f.into_future());
                        if inflight.len() >= WINDOW {
                            inflight.pop_front().unwrap().await.unwrap();
                        }
                    }
                    for f in inflight {
                        f.await.unwrap();
                    }
                    total += t.elapsed();
                    let mut cpu = CPU.lock().unwrap();
                    cpu[1].events += EVENTS;
                    cpu[1].own += cpu_ticks("self") - own;
                    cpu[1].server += cpu_ticks(&pid) - srv;
                }
                total
            })
        })
    });
    g.finish();
    let cpu = CPU.lock().unwrap();
    for (name, c) in ["bridge_from_simulator", "plain_async_nats_publisher"]
        .iter()
        .zip(cpu.iter())
    {
        if c.events > 0 {
            let per = |ticks: u64| ticks as f64 * TICK * 1e6 / c.events as f64;
            println!(
                "cpu per event, {name}: this process {:.2} µs, nats-server {:.2} µs ({} events)",
                per(c.own),
                per(c.server),
                c.events
            );
        }
    }
    drop(cpu);
    rt.block_on(async {
        bridge.shutdown(Duration::from_secs(20)).await.unwrap();
        sim.shutdown().await;
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
