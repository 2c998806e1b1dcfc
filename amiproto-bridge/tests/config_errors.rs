//! Bad configuration gets clear errors; an unreachable NATS at start is
//! retried with backoff, and the logs say so.

mod common;

use std::io::Write;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use amiproto_bridge::config::Env;
use amiproto_bridge::{Bridge, BridgeConfig, BridgeError, ConfigError};
use amiproto_testkit::{SimConfig, Simulator};
use common::*;

fn run_binary(toml: &str, env: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bridge.toml");
    std::fs::write(&path, toml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_amiproto-bridge"))
        .arg("--config")
        .arg(&path)
        .arg("--check")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout),
    )
}

const GOOD: &str = "[[pbx]]\nname = \"paris\"\nurl = \"ami://admin:amp111@127.0.0.1:5038\"\n";

#[test]
fn the_binary_explains_bad_config() {
    let (code, out) = run_binary(GOOD, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("configuration OK"), "{out}");

    let (code, out) = run_binary(GOOD, &[("AMI_BRIDGE_PBX_LYON_SECRET", "x")]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("unknown PBX \"LYON\"") && out.contains("AMI_BRIDGE_PBX_LYON_SECRET"),
        "{out}"
    );

    let (code, out) = run_binary(&GOOD.replace("ami://", "htp://"), &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("PBX \"paris\": bad AMI URL"), "{out}");

    let (code, out) = run_binary(GOOD, &[("AMI_BRIDGE_NATS_URL", "nats://host:70000")]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("bad NATS URL \"nats://host:70000\""), "{out}");

    let (code, out) = run_binary(&format!("{GOOD}secret_env = \"PARIS_SECRET\"\n"), &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("PARIS_SECRET is not set"), "{out}");

    let (code, out) = run_binary("[publish]\nwindow = 0\n", &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("publish.window"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_pbx_in_the_api() {
    let c = BridgeConfig::from_toml(GOOD, &Env::default()).unwrap();
    let bridge = Bridge::start(c).await.unwrap();
    assert!(matches!(bridge.status("lyon"), Err(BridgeError::UnknownPbx(n)) if n == "lyon"));
    assert!(bridge.status("PARIS").is_ok());
    bridge.shutdown(Duration::from_millis(100)).await.unwrap();
    let e = BridgeConfig::from_toml(
        GOOD,
        &Env::from_pairs([("AMI_BRIDGE_PBX_X_URL", "ami://a:b@c")]),
    )
    .unwrap_err();
    assert!(matches!(e, ConfigError::UnknownPbx { .. }), "{e}");
}

/// Captures log lines.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_nats_at_start_is_retried_and_logged() {
    let logs = Logs::default();
    let sink = logs.clone();
    tracing_subscriber::fmt()
        .with_env_filter("amiproto_bridge=info")
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .init();
    let port = free_port();
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let url = format!("nats://127.0.0.1:{port}");
    let bridge = Bridge::start(config(&url, &[("p1", sim.url())], ""))
        .await
        .unwrap();
    let text = || String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while text().matches("NATS unreachable").count() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "no retries logged: {}",
            text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let t = text();
    assert!(
        t.contains(&format!("url={url}"))
            && t.contains("retry_in=100ms")
            && t.contains("retry_in=200ms"),
        "{t}"
    );
    // Events read meanwhile are buffered, and flow once NATS is there.
    wait_status(&bridge, "AMI up", Duration::from_secs(30), |s| {
        s[0].state == "ready"
    })
    .await;
    assert_eq!(sim.flood(100, None), 1);
    wait_status(&bridge, "flood buffered", Duration::from_secs(30), |s| {
        s[0].buffer_depth >= 100
    })
    .await;
    let _nats = Nats::start_on(port);
    wait_up(&bridge).await;
    let got = read_stream(&url, "AMI", Duration::from_secs(60), |g| {
        g.iter()
            .filter(|g| g.subject == "ami.p1.event.UserEvent")
            .count()
            >= 100
    })
    .await;
    check_coverage(&got, "p1");
    assert!(text().contains("connected to NATS"), "{}", text());
    bridge.shutdown(Duration::from_secs(10)).await.unwrap();
}
