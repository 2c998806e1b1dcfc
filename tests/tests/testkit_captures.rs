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
async fn queuerule_and_its_empty_packet_match_capture_08() {
    same_as_capture("08-queuerule").await;
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

/// Header keys of each event, by event name (first occurrence; Dial and
/// Hangup events vary with the call's path, so only the keys of events
/// whose name occurs in both streams are compared).
fn keys_by_event(bytes: &[u8], with_id: bool) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut dec = amiproto::Decoder::new();
    let mut buf = bytes::BytesMut::from(bytes);
    let mut out = std::collections::BTreeMap::new();
    while let Ok(Some(f)) = dec.decode(&mut buf) {
        if let amiproto::Frame::Packet(p) = f {
            if let Some(name) = p.event() {
                out.entry(name.to_string()).or_insert_with(|| {
                    p.headers()
                        .map(|h| h.key_str().into_owned())
                        .filter(|k| with_id || k != "ActionID")
                        .collect::<Vec<_>>()
                });
            }
        }
    }
    out
}

#[tokio::test]
async fn call_events_have_the_headers_of_capture_10() {
    let sim = sim().await;
    let client =
        String::from_utf8(capture("asterisk-22.10.1/10-originate-events.client.bin")).unwrap();
    // Everything but the Logoff: read the events for a while instead.
    let client: String = client
        .split_inclusive("\r\n\r\n")
        .filter(|m| !m.starts_with("Action: Logoff"))
        .collect();
    let mut s = TcpStream::connect(sim.addr()).await.unwrap();
    s.write_all(client.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    let end = tokio::time::Instant::now() + Duration::from_millis(300);
    while let Ok(Ok(n)) = tokio::time::timeout_at(end, s.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    let ours = keys_by_event(&got, false);
    let theirs = keys_by_event(
        &capture("asterisk-22.10.1/10-originate-events.server.bin"),
        false,
    );
    let mut compared = 0;
    for (name, keys) in &ours {
        if let Some(want) = theirs.get(name) {
            assert_eq!(keys, want, "{name}");
            compared += 1;
        }
    }
    assert!(
        compared >= 12,
        "only {compared} event kinds compared: {:?}",
        ours.keys()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn list_items_have_the_headers_and_order_of_capture_07() {
    let sim = sim().await;
    let mut s = TcpStream::connect(sim.addr()).await.unwrap();
    s.write_all(
        b"Action: Login\r\nActionID: login\r\nUsername: admin\r\nSecret: amp111\r\nEvents: off\r\n\r\n\
          Action: Originate\r\nActionID: o1\r\nChannel: Local/700@ami-test\r\nApplication: Wait\r\nData: 30\r\nAsync: yes\r\n\r\n\
          Action: Originate\r\nActionID: o2\r\nChannel: Local/301@ami-test\r\nApplication: Wait\r\nData: 30\r\nAsync: yes\r\n\r\n",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.write_all(
        b"Action: CoreShowChannels\r\nActionID: csc\r\n\r\n\
          Action: Status\r\nActionID: st\r\n\r\n\
          Action: QueueStatus\r\nActionID: qs\r\n\r\n\
          Action: Hangup\r\nActionID: h\r\nChannel: /^Local\\/(700|301)@/\r\n\r\n\
          Action: Logoff\r\n\r\n",
    )
    .await
    .unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(T, s.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    let ours = keys_by_event(&got, true);
    let theirs = keys_by_event(
        &capture("asterisk-22.10.1/07-list-actions.server.bin"),
        true,
    );
    for name in [
        "CoreShowChannel",
        "CoreShowChannelsComplete",
        "Status",
        "StatusComplete",
        "QueueParams",
        "QueueMember",
        "QueueEntry",
        "QueueStatusComplete",
        "ChannelHungup",
        "ChannelsHungupListComplete",
    ] {
        assert_eq!(ours.get(name), theirs.get(name), "{name}");
        assert!(ours.contains_key(name), "{name} missing");
    }
    sim.shutdown().await;
}

/// `ListCommands` lines are those of capture 07 for every simulated action.
#[tokio::test]
async fn listcommands_lines_come_from_capture_07() {
    let sim = sim().await;
    let got = session(
        &sim,
        b"Action: Login\r\nUsername: admin\r\nSecret: amp111\r\nEvents: off\r\n\r\n\
          Action: ListCommands\r\nActionID: lc\r\n\r\nAction: Logoff\r\n\r\n",
    )
    .await;
    let got = String::from_utf8(got).unwrap();
    let want = String::from_utf8_lossy(&capture("asterisk-22.10.1/07-list-actions.server.bin"))
        .into_owned();
    let listed: Vec<&str> = got
        .split("ActionID: lc\r\n")
        .nth(1)
        .unwrap()
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .split("\r\n")
        .collect();
    assert!(listed.len() >= 19);
    for line in listed {
        assert!(want.contains(&format!("\r\n{line}\r\n")), "{line}");
    }
    sim.shutdown().await;
}
