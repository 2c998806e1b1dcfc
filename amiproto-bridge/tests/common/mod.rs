//! Test support: a real `nats-server` with JetStream on a free loopback
//! port in a temporary directory, bridge configs, and a stream reader.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use amiproto_bridge::config::Env;
use amiproto_bridge::{Bridge, BridgeConfig, PbxStatus};
use async_nats::jetstream::{self, consumer};
use futures_util::StreamExt;

/// Logs to stderr when `TEST_LOG` is set (an `EnvFilter` string).
pub fn init_logs() {
    if let Ok(f) = std::env::var("TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(f))
            .with_test_writer()
            .try_init();
    }
}

/// A `nats-server -js` of the test's own.
pub struct Nats {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
}

fn nats_binary() -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':').chain([
        "/usr/sbin",
        "/usr/bin",
        "/usr/local/bin",
    ]) {
        let p = PathBuf::from(dir).join("nats-server");
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "nats-server not found: these tests need the real server \
         (Debian: apt-get install -y nats-server; .ci/run installs it)"
    );
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Nats {
    /// Start on a free port.
    pub fn start() -> Nats {
        Nats::start_on(free_port())
    }

    /// Start on `port`.
    pub fn start_on(port: u16) -> Nats {
        let mut n = Nats {
            child: None,
            port,
            dir: tempfile::tempdir().unwrap(),
        };
        n.restart();
        n
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kill the server (SIGKILL: no goodbye to clients).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start again with the same port and store.
    pub fn restart(&mut self) {
        self.stop();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("nats.log"))
            .unwrap();
        let store = self.dir.path().join("store");
        let child = Command::new(nats_binary())
            .args(["-js", "-a", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .arg("-sd")
            .arg(&store)
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(120);
        // Ready once it accepts and JetStream answers (checked by clients).
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A config for `pbxs` (name, AMI URL) against `nats_url`, with `extra`
/// TOML sections appended (the top-level ones must come first: pass them
/// as `extra`).
pub fn config(nats_url: &str, pbxs: &[(&str, String)], extra: &str) -> BridgeConfig {
    let mut t = format!(
        "{extra}\n[nats]\nurls = [\"{nats_url}\"]\nretry_delay_ms = 100\nmax_retry_delay_ms = 500\n"
    );
    for (name, url) in pbxs {
        t.push_str(&format!("[[pbx]]\nname = \"{name}\"\nurl = \"{url}\"\n"));
    }
    BridgeConfig::from_toml(&t, &Env::default()).expect("test config")
}

/// Wait until `f` holds for the bridge's statuses.
pub async fn wait_status(
    bridge: &Bridge,
    what: &str,
    limit: Duration,
    f: impl Fn(&[PbxStatus]) -> bool,
) {
    let deadline = Instant::now() + limit;
    loop {
        let s = bridge.statuses();
        if f(&s) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {s:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every PBX ready on AMI and connected to NATS.
pub async fn wait_up(bridge: &Bridge) {
    wait_status(
        bridge,
        "AMI ready and NATS connected",
        Duration::from_secs(120),
        |s| s.iter().all(|p| p.state == "ready" && p.nats_connected),
    )
    .await;
}

/// One message read back from the stream.
#[derive(Clone, Debug)]
pub struct Got {
    pub subject: String,
    pub pbx: String,
    pub session: String,
    pub seq: u64,
    pub gap_last: Option<u64>,
    pub msg_id: String,
    pub payload: bytes::Bytes,
    pub stream_seq: u64,
}

impl Got {
    pub fn is_event(&self) -> bool {
        self.subject.contains(".event.")
    }
    pub fn is_gap(&self) -> bool {
        self.subject.ends_with(".gap")
    }
    pub fn is_session(&self) -> bool {
        self.subject.ends_with(".session")
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap()
    }
}

/// A NATS client for the test's own reads and requests.
pub async fn client(url: &str) -> async_nats::Client {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let opts = async_nats::ConnectOptions::new().request_timeout(Some(Duration::from_secs(60)));
        match async_nats::connect_with_options(url, opts).await {
            Ok(c) => return c,
            Err(e) => {
                assert!(Instant::now() < deadline, "cannot connect to {url}: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Read the whole stream `name` (from the start) until `done` holds for
/// what was read, or fail after `limit`.
pub async fn read_stream(
    url: &str,
    name: &str,
    limit: Duration,
    done: impl Fn(&[Got]) -> bool,
) -> Vec<Got> {
    let nc = client(url).await;
    let js = jetstream::new(nc);
    let stream = js.get_stream(name).await.expect("stream exists");
    let consumer = stream
        .create_consumer(consumer::pull::Config {
            ack_policy: consumer::AckPolicy::None,
            deliver_policy: consumer::DeliverPolicy::All,
            inactive_threshold: Duration::from_secs(60),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    while !done(&got) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out reading the stream: {} messages read; (events, gaps, markers) by PBX: {:?}",
            got.len(),
            summary(&got)
        );
        let mut batch = consumer
            .fetch()
            .max_messages(2000)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .unwrap();
        while let Some(m) = batch.next().await {
            let m = m.expect("fetch");
            let h = m.headers.as_ref().expect("headers");
            let get = |k: &str| h.get(k).map(|v| v.as_str().to_owned());
            let info = m.info().unwrap();
            got.push(Got {
                subject: m.subject.to_string(),
                pbx: get("Ami-Pbx").unwrap(),
                session: get("Ami-Session").unwrap(),
                seq: get("Ami-Seq").unwrap().parse().unwrap(),
                gap_last: get("Ami-Gap-Last").map(|v| v.parse().unwrap()),
                msg_id: h
                    .get(async_nats::header::NATS_MESSAGE_ID)
                    .map(|v| v.as_str().to_owned())
                    .unwrap_or_else(|| panic!("no Nats-Msg-Id in {h:?}")),
                payload: m.payload.clone(),
                stream_seq: info.stream_sequence,
            });
        }
    }
    got
}

/// Counts by PBX and kind.
pub fn summary(got: &[Got]) -> HashMap<String, (usize, usize, usize)> {
    let mut m: HashMap<String, (usize, usize, usize)> = HashMap::new();
    for g in got {
        let e = m.entry(g.pbx.clone()).or_default();
        if g.is_event() {
            e.0 += 1;
        } else if g.is_gap() {
            e.1 += 1;
        } else {
            e.2 += 1;
        }
    }
    m
}

/// Events of `pbx` read so far.
pub fn events_of(got: &[Got], pbx: &str) -> usize {
    got.iter().filter(|g| g.pbx == pbx && g.is_event()).count()
}

/// Check the invariant for one PBX: within each session, every sequence
/// number from 1 to the last appears exactly once, as an event or inside a
/// gap, in increasing order; message ids are unique. Returns (events,
/// numbers in gaps).
pub fn check_coverage(got: &[Got], pbx: &str) -> (u64, u64) {
    let mut ids = std::collections::HashSet::new();
    let mut next: HashMap<String, u64> = HashMap::new();
    let (mut events, mut gapped) = (0, 0);
    for g in got.iter().filter(|g| g.pbx == pbx) {
        assert!(
            ids.insert(g.msg_id.clone()),
            "duplicate message id {}",
            g.msg_id
        );
        if g.is_session() {
            assert!(
                next.insert(g.session.clone(), 1).is_none(),
                "two markers for {}",
                g.session
            );
            continue;
        }
        let want = next
            .get_mut(&g.session)
            .unwrap_or_else(|| panic!("{} before its session marker", g.msg_id));
        assert_eq!(g.seq, *want, "{pbx}: out of order at {}", g.msg_id);
        if g.is_gap() {
            let last = g.gap_last.unwrap();
            let j = g.json();
            assert_eq!(j["count"].as_u64().unwrap(), last - g.seq + 1);
            assert_eq!(j["first_seq"].as_u64().unwrap(), g.seq);
            gapped += last - g.seq + 1;
            *want = last + 1;
        } else {
            events += 1;
            *want += 1;
        }
    }
    (events, gapped)
}
