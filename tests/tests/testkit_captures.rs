//! The simulator against the recorded Asterisk sessions: the same client
//! bytes must get the same server bytes, volatile values aside.

use std::time::Duration;

use amiproto_testkit::{SimConfig, Simulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const T: Duration = Duration::from_secs(10);

fn capture(name: &str) -> Vec<u8> {
    let path = format!("{}/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Headers whose values change from run to run.
const VOLATILE: &[&str] = &[
    "Timestamp",
    "EventTV",
    "SessionTV",
    "SessionID",
    "LocalAddress",
    "RemoteAddress",
    "Uptime",
    "LastReload",
    "Challenge",
    "CoreStartupDate",
    "CoreStartupTime",
    "CoreReloadDate",
    "CoreReloadTime",
];

/// Replace volatile values with `*`.
fn normalize(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.split("\r\n")
        .map(|line| match line.split_once(": ") {
            Some((k, _)) if VOLATILE.contains(&k) => format!("{k}: *"),
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// Send `client` in one write and read until the server closes.
async fn session(sim: &Simulator, client: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(sim.addr()).await.unwrap();
    s.write_all(client).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(T, s.read_to_end(&mut out))
        .await
        .expect("server did not close")
        .unwrap();
    out
}

async fn sim() -> Simulator {
    Simulator::start(SimConfig::default().auth_failure_delay(Duration::from_millis(10)))
        .await
        .unwrap()
}

async fn same_as_capture(name: &str) {
    let sim = sim().await;
    let client = capture(&format!("asterisk-22.10.1/{name}.client.bin"));
    let want = capture(&format!("asterisk-22.10.1/{name}.server.bin"));
    let got = session(&sim, &client).await;
    assert_eq!(normalize(&got), normalize(&want), "{name}");
    sim.shutdown().await;
}

#[tokio::test]
async fn login_logoff_matches_capture_01() {
    same_as_capture("01-login-logoff").await;
}

#[tokio::test]
async fn bad_secret_matches_capture_02() {
    same_as_capture("02-login-bad-secret").await;
}

#[tokio::test]
async fn ping_coresettings_corestatus_match_capture_04() {
    same_as_capture("04-events-off-ping-coresettings").await;
}

#[tokio::test]
async fn pipelined_pings_match_capture_05() {
    same_as_capture("05-pipelined-200-pings").await;
}

#[tokio::test]
async fn errors_and_quirks_match_capture_09a() {
    same_as_capture("09a-errors").await;
}

#[tokio::test]
async fn unauthenticated_matches_capture_09c() {
    same_as_capture("09c-unauthenticated").await;
}

#[tokio::test]
async fn userevent_echo_matches_capture_11() {
    same_as_capture("11-userevent").await;
}

#[tokio::test]
async fn line_too_long_matches_capture_14b() {
    same_as_capture("14b-line-too-long").await;
}

#[tokio::test]
async fn too_many_lines_matches_capture_14c() {
    same_as_capture("14c-too-many-headers").await;
}

#[tokio::test]
async fn md5_challenge_login_like_capture_03() {
    let sim = sim().await;
    let mut s = TcpStream::connect(sim.addr()).await.unwrap();
    let client = capture("asterisk-22.10.1/03-challenge-md5.client.bin");
    let text = String::from_utf8(client).unwrap();
    let (challenges, rest) = text.split_at(text.find("Action: Login").unwrap());
    s.write_all(challenges.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&got).contains("Challenge: ") || !got.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    let g = String::from_utf8_lossy(&got).into_owned();
    let ch = g
        .split("Challenge: ")
        .nth(1)
        .unwrap()
        .split("\r\n")
        .next()
        .unwrap();
    let key = amiproto::md5_key(ch, "amp111");
    let rest = rest.replace("9d38add58e0dc27db0f6de7e91ea10a1", &key);
    s.write_all(rest.as_bytes()).await.unwrap();
    tokio::time::timeout(T, s.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    let want = capture("asterisk-22.10.1/03-challenge-md5.server.bin");
    assert_eq!(normalize(&got), normalize(&want));
    sim.shutdown().await;
}

/// Capture 06's client bytes minus the commands whose long output is not
/// canned (`core show help`, `manager show commands`).
#[tokio::test]
async fn command_output_matches_capture_06_both_versions() {
    for (dir, config) in [
        ("asterisk-22.10.1", SimConfig::default()),
        ("asterisk-13.38.3", SimConfig::legacy()),
    ] {
        let sim = Simulator::start(config).await.unwrap();
        let client = String::from_utf8(capture(&format!("{dir}/06-command.client.bin"))).unwrap();
        let want =
            String::from_utf8_lossy(&capture(&format!("{dir}/06-command.server.bin"))).into_owned();
        let keep = |m: &&str| !m.contains("cmd-help") && !m.contains("cmd-mgr");
        let client: Vec<&str> = client.split_inclusive("\r\n\r\n").filter(keep).collect();
        let got = session(&sim, client.concat().as_bytes()).await;
        let got = String::from_utf8_lossy(&got).into_owned();
        let banner_end = want.find("\r\n").unwrap() + 2;
        let want_kept: String = std::iter::once(&want[..banner_end])
            .chain(want[banner_end..].split_inclusive("\r\n\r\n").filter(keep))
            .collect();
        assert_eq!(got, want_kept, "{dir}");
        sim.shutdown().await;
    }
}
