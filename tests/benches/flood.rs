//! How fast the simulator floods one client: `Simulator::flood` of
//! generated events, read by a plain socket reader that only counts bytes,
//! beside a baseline of the same bytes written by a bare tokio task (the
//! loopback socket's own ceiling in this run).

use std::time::{Duration, Instant};

use amiproto_testkit::{flood_event, SimConfig, Simulator};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const EVENTS: u64 = 1_000_000;

async fn read_exactly(s: &mut TcpStream, mut left: usize, buf: &mut [u8]) {
    while left > 0 {
        let n = s.read(buf).await.unwrap();
        assert!(n > 0, "closed early");
        left -= n.min(left);
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let len = flood_event(0).raw().len();
    let total = len * EVENTS as usize;
    let mut g = c.benchmark_group("flood");
    g.throughput(Throughput::Elements(EVENTS));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));

    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    let mut s = rt.block_on(async {
        let mut s = TcpStream::connect(sim.addr()).await.unwrap();
        s.write_all(b"Action: Login\r\nUsername: admin\r\nSecret: amp111\r\n\r\n")
            .await
            .unwrap();
        // Banner, Success, FullyBooted, SuccessfulAuth: wait for the last.
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains("SessionTV") || !got.ends_with(b"\r\n\r\n") {
            let n = s.read(&mut buf).await.unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        s
    });
    let mut buf = vec![0u8; 1 << 20];
    g.bench_function("simulator_1M_events", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let t0 = Instant::now();
                for _ in 0..iters {
                    assert_eq!(sim.flood(EVENTS, None), 1);
                    read_exactly(&mut s, total, &mut buf).await;
                }
                t0.elapsed()
            })
        })
    });
    drop(s);
    rt.block_on(sim.shutdown());

    // Baseline: the same bytes from a bare writer task, 1 MiB writes.
    let (mut rd, listener) = rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let rd = TcpStream::connect(addr).await.unwrap();
        (rd, l)
    });
    let mut wr = Some(rt.block_on(listener.accept()).unwrap().0);
    let block = flood_event(0).raw().repeat((1 << 20) / len);
    g.bench_function("bare_socket_same_bytes", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let t0 = Instant::now();
                for _ in 0..iters {
                    let block = block.clone();
                    let mut w = wr.take().unwrap();
                    let writer = tokio::spawn(async move {
                        let mut left = total;
                        while left > 0 {
                            let n = left.min(block.len());
                            w.write_all(&block[..n]).await.unwrap();
                            left -= n;
                        }
                        w
                    });
                    read_exactly(&mut rd, total, &mut buf).await;
                    wr = Some(writer.await.unwrap());
                }
                t0.elapsed()
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
