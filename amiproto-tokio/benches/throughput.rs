//! In-process throughput through the client beside a raw-socket baseline,
//! both against the test kit's simulator running in this process (for what
//! a user's program gets, with the server in another process, see
//! `cargo bench -p amiproto-testkit --bench user_shaped`):
//!
//! - `in_process_events/client`: flood events received through `Client::events()`
//!   (lossless subscriber) vs `in_process_events/raw_socket`: the same flood read from a
//!   bare socket, counting `\r\n\r\n` terminators;
//! - `in_process_ping/client`: pipelined `Ping` actions through `Client::send` vs
//!   `in_process_ping/raw_socket`: the same actions written in one go on a bare socket
//!   while their answers are counted.
//!
//! - `in_process_ping_fast/*`: the same two against a minimal Ping responder (no
//!   simulator), which shows what the client itself can carry when the
//!   server is not the bottleneck.
//!
//! `cargo bench -p amiproto-tokio --bench throughput`

use std::time::{Duration, Instant};

use amiproto::Action;
use amiproto_testkit::{SimConfig, Simulator};
use amiproto_tokio::{connect, ClientConfig, EventItem, Overflow};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use memchr::memmem;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const EVENTS: u64 = 200_000;
const PINGS: u64 = 50_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A raw logged-in socket with events on; returns it after the login answer.
async fn raw_login(sim: &Simulator, events: bool) -> TcpStream {
    let mut s = TcpStream::connect(sim.addr()).await.unwrap();
    s.set_nodelay(true).unwrap();
    let login = format!(
        "Action: Login\r\nActionID: l\r\nUsername: admin\r\nSecret: amp111\r\nEvents: {}\r\n\r\n",
        if events { "on" } else { "off" }
    );
    s.write_all(login.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 4096];
    while memmem::find(&buf, b"Authentication accepted").is_none() {
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "login failed");
        buf.extend_from_slice(&chunk[..n]);
    }
    // Let start-up events (FullyBooted) arrive and drop them.
    tokio::time::sleep(Duration::from_millis(50)).await;
    while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(10), s.read(&mut chunk)).await
    {
        if n == 0 {
            break;
        }
    }
    s
}

/// Read until `want` packet terminators were seen.
async fn count_terminators(s: &mut (impl AsyncReadExt + Unpin), want: u64) {
    let finder = memmem::Finder::new(b"\r\n\r\n");
    let mut buf = vec![0u8; 64 * 1024];
    let mut carry = 0usize;
    let mut seen = 0u64;
    while seen < want {
        let n = s.read(&mut buf[carry..]).await.unwrap();
        assert!(n > 0, "EOF after {seen} packets");
        let end = carry + n;
        let mut last = 0;
        for i in finder.find_iter(&buf[..end]) {
            seen += 1;
            last = i + 4;
        }
        // Keep up to 3 bytes that could start a terminator.
        let keep_from = last.max(end.saturating_sub(3));
        buf.copy_within(keep_from..end, 0);
        carry = end - keep_from;
    }
}

fn events(c: &mut Criterion) {
    let rt = runtime();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    let mut g = c.benchmark_group("in_process_events");
    g.sample_size(10).throughput(Throughput::Elements(EVENTS));

    g.bench_function("raw_socket", |b| {
        let mut sock = rt.block_on(raw_login(&sim, true));
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let _ = sim.flood(EVENTS, None);
                    count_terminators(&mut sock, EVENTS).await;
                }
                start.elapsed()
            })
        });
        drop(sock);
    });

    g.bench_function("client", |b| {
        let config = ClientConfig::from_url(&sim.url())
            .unwrap()
            .events_overflow(Overflow::Lossless);
        let (client, mut stream) = rt.block_on(connect(config)).unwrap();
        rt.block_on(async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            while stream.try_recv().is_some() {}
        });
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let _ = sim.flood(EVENTS, None);
                    let mut got = 0;
                    while got < EVENTS {
                        match stream.recv().await.unwrap() {
                            EventItem::Event(_) => got += 1,
                            other => panic!("{other:?}"),
                        }
                    }
                }
                start.elapsed()
            })
        });
        rt.block_on(client.logoff()).unwrap();
    });
    g.finish();
    rt.block_on(sim.shutdown());
}

fn pings(c: &mut Criterion) {
    let rt = runtime();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    let mut g = c.benchmark_group("in_process_ping");
    g.sample_size(10).throughput(Throughput::Elements(PINGS));

    g.bench_function("raw_socket", |b| {
        let sock = rt.block_on(raw_login(&sim, false));
        let (mut rd, mut wr) = sock.into_split();
        let mut wire = Vec::new();
        for i in 0..PINGS {
            wire.extend_from_slice(format!("Action: Ping\r\nActionID: p{i}\r\n\r\n").as_bytes());
        }
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let (w, ()) =
                        tokio::join!(wr.write_all(&wire), count_terminators(&mut rd, PINGS));
                    w.unwrap();
                }
                start.elapsed()
            })
        });
    });

    g.bench_function("client", |b| {
        let config = ClientConfig::from_url(&sim.url())
            .unwrap()
            .events(amiproto::EventMask::Off);
        let (client, _stream) = rt.block_on(connect(config)).unwrap();
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let futs: Vec<_> = (0..PINGS).map(|_| client.send(Action::ping())).collect();
                    for f in futs {
                        f.await.unwrap();
                    }
                }
                start.elapsed()
            })
        });
        rt.block_on(client.logoff()).unwrap();
    });
    g.finish();
    rt.block_on(sim.shutdown());
}

/// A minimal AMI server: a banner, then `Ping: Pong` (or `Goodbye` to a
/// Logoff) for every packet, echoing its ActionID. Serves connections one
/// after another.
async fn fast_responder() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            s.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                if s.write_all(b"Asterisk Call Manager/11.0.0\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                let end = memmem::Finder::new(b"\r\n\r\n");
                let id_key = memmem::Finder::new(b"ActionID: ");
                let mut buf = Vec::with_capacity(256 * 1024);
                let mut chunk = vec![0u8; 64 * 1024];
                let mut out = Vec::with_capacity(256 * 1024);
                loop {
                    let n = match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    buf.extend_from_slice(&chunk[..n]);
                    let mut start = 0;
                    let mut bye = false;
                    while let Some(i) = end.find(&buf[start..]) {
                        let packet = &buf[start..start + i + 2];
                        let id = id_key.find(packet).map(|k| {
                            let v = &packet[k + 10..];
                            &v[..memchr::memchr(b'\r', v).unwrap_or(v.len())]
                        });
                        if memmem::find(packet, b"Action: Logoff").is_some() {
                            out.extend_from_slice(b"Response: Goodbye\r\n");
                            bye = true;
                        } else {
                            out.extend_from_slice(b"Response: Success\r\n");
                        }
                        if let Some(id) = id {
                            out.extend_from_slice(b"ActionID: ");
                            out.extend_from_slice(id);
                            out.extend_from_slice(b"\r\n");
                        }
                        out.extend_from_slice(b"Ping: Pong\r\n\r\n");
                        start += i + 4;
                    }
                    buf.drain(..start);
                    if s.write_all(&out).await.is_err() || bye {
                        return;
                    }
                    out.clear();
                }
            });
        }
    });
    addr
}

fn pings_fast(c: &mut Criterion) {
    let rt = runtime();
    let addr = rt.block_on(fast_responder());
    let mut g = c.benchmark_group("in_process_ping_fast");
    g.sample_size(10).throughput(Throughput::Elements(PINGS));

    g.bench_function("raw_socket", |b| {
        let sock = rt.block_on(async {
            let s = TcpStream::connect(addr).await.unwrap();
            s.set_nodelay(true).unwrap();
            let mut s = s;
            let mut banner = [0u8; 30];
            s.read_exact(&mut banner).await.unwrap();
            s
        });
        let (mut rd, mut wr) = sock.into_split();
        let mut wire = Vec::new();
        for i in 0..PINGS {
            wire.extend_from_slice(format!("Action: Ping\r\nActionID: p{i}\r\n\r\n").as_bytes());
        }
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let (w, ()) =
                        tokio::join!(wr.write_all(&wire), count_terminators(&mut rd, PINGS));
                    w.unwrap();
                }
                start.elapsed()
            })
        });
    });

    g.bench_function("client", |b| {
        let mut config = ClientConfig::new(addr.ip().to_string(), addr.port(), "admin", "amp111");
        config.ami.auth = amiproto::AuthMethod::Plain;
        let (client, _stream) = rt.block_on(connect(config)).unwrap();
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let futs: Vec<_> = (0..PINGS).map(|_| client.send(Action::ping())).collect();
                    for f in futs {
                        f.await.unwrap();
                    }
                }
                start.elapsed()
            })
        });
        rt.block_on(client.logoff()).unwrap();
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = events, pings, pings_fast
}
criterion_main!(benches);
