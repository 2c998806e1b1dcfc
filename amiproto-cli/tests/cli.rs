//! The `ami` binary driven as a process against the simulated Asterisk:
//! every subcommand, exit codes, where the secret comes from, TLS, and
//! `ami sim` serving another client.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use amiproto::Packet;
use amiproto_testkit::{BlockingSimulator, SimConfig};
use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

/// Generous: the machine running the tests may be loaded.
const PROCESS_TIMEOUT: Duration = Duration::from_secs(60);

/// `ami` with no AMI_URL/AMI_SECRET inherited from the environment.
fn ami() -> Command {
    let mut c = Command::cargo_bin("ami").expect("the ami binary is built");
    c.env_remove("AMI_URL")
        .env_remove("AMI_SECRET")
        .timeout(PROCESS_TIMEOUT);
    c
}

fn sim() -> BlockingSimulator {
    let config = SimConfig::default().auth_failure_delay(Duration::from_millis(10));
    BlockingSimulator::start(config).expect("simulator starts")
}

fn stdout_of(out: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(out.get_output().stdout.clone()).expect("UTF-8 output")
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// A scratch file path unique to this test process.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ami-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A listener that nobody should ever connect to: the URL points at it, and
/// the test checks that no connection arrived (usage errors are found
/// before connecting).
struct Tripwire(TcpListener);

impl Tripwire {
    fn new() -> Tripwire {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        Tripwire(l)
    }
    fn url(&self) -> String {
        format!("ami://admin:x@{}", self.0.local_addr().unwrap())
    }
    fn untouched(&self) -> bool {
        self.0.accept().is_err()
    }
}

#[test]
fn help_and_version_go_to_stdout_with_status_0() {
    for flag in ["--help", "-h"] {
        ami()
            .arg(flag)
            .assert()
            .success()
            .stdout(predicate::str::contains("Usage: ami"))
            .stdout(predicate::str::contains("AMI_SECRET"))
            .stderr("");
    }
    ami()
        .arg("--version")
        .assert()
        .success()
        .stdout(format!("ami {}\n", env!("CARGO_PKG_VERSION")));
    ami()
        .args(["sim", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--legacy"));
}

#[test]
fn usage_errors_exit_2_before_connecting() {
    let trip = Tripwire::new();
    let url = trip.url();
    let secretless = url.replace(":x@", "@");
    let cases: Vec<Vec<String>> = vec![
        vec!["frobnicate".into()],
        vec![
            url.clone(),
            "action".into(),
            "Getvar".into(),
            "novalue".into(),
        ],
        vec![
            url.clone(),
            "action".into(),
            "Getvar".into(),
            "Variable=a\r\nAction: Hangup".into(),
        ],
        vec![url.clone(), "originate".into(), "PJSIP/1".into()],
        vec![url.clone(), "command".into()],
        vec![url.clone()],
        vec![url.clone(), "--timeout".into(), "-1".into(), "ping".into()],
        vec![
            url.clone(),
            "--ca".into(),
            "/nonexistent".into(),
            "ping".into(),
        ],
        vec![url.replace("ami://", "http://"), "ping".into()],
        vec![
            secretless.clone(),
            "--secret-file".into(),
            "/nonexistent".into(),
            "ping".into(),
        ],
        // No secret anywhere and no terminal to ask on.
        vec![secretless, "ping".into()],
        // TLS trust options need amis://.
        vec![
            url.clone(),
            "--accept-self-signed".into(),
            "Cargo.toml".into(),
            "ping".into(),
        ],
        // No URL at all.
        vec!["ping".into()],
        vec![url.clone(), "sim".into()],
    ];
    for args in cases {
        ami()
            .args(&args)
            .write_stdin("")
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::is_empty().not());
    }
    assert!(trip.untouched(), "a usage error opened a connection");
}

#[test]
fn ping_prints_the_round_trip_and_json() {
    let sim = sim();
    ami()
        .args([&sim.url(), "ping"])
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"^Pong in .+ \(AMI 11\.0\.0\)\n$").unwrap());
    let out = ami()
        .args([&sim.url(), "ping", "--json"])
        .assert()
        .success();
    let lines = json_lines(&stdout_of(&out));
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["Response"], "Success");
    assert_eq!(lines[0]["Ping"], "Pong");
}

#[test]
fn action_prints_the_answer_and_fails_on_error() {
    let sim = sim();
    ami()
        .args([&sim.url(), "action", "Getvar", "Variable=TESTGLOBAL"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Response: Success\r\n").not())
        .stdout(predicate::str::contains(
            "Variable: TESTGLOBAL\nValue: hello\n",
        ));
    assert!(sim
        .received()
        .iter()
        .any(|p| p.get_str("Action") == Some("Getvar")
            && p.get_str("Variable") == Some("TESTGLOBAL")));

    // The server's refusal is the answer: printed, then status 1.
    ami()
        .args([&sim.url(), "action", "NoSuchAction"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("Response: Error"))
        .stderr(predicate::str::contains("Invalid/unknown command"));

    // A user without the `call` write class.
    let limited = sim.url().replace("admin:", "limited:");
    ami()
        .args([
            &limited,
            "--json",
            "action",
            "Originate",
            "Channel=Local/1@default",
            "Exten=1",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(r#""Message":"Permission denied""#));
}

#[test]
fn repeated_keys_become_arrays_in_wire_order() {
    let sim = sim();
    let out = ami()
        .args([&sim.url(), "action", "QueueRule", "Rule=testrule", "--json"])
        .assert()
        .success();
    let lines = json_lines(&stdout_of(&out));
    assert_eq!(lines.len(), 1);
    let rule = &lines[0];
    assert_eq!(rule["RuleList"], "testrule");
    assert_eq!(
        rule["Rule"],
        serde_json::json!(["10,+2,+0", "20,+4,+1", "30,10,5"])
    );
    // Wire order: keys of the first line as the server sent them.
    let raw = stdout_of(&out);
    let first = raw.lines().next().unwrap();
    assert!(
        first.starts_with(r#"{"Response":"Success","ActionID":"#),
        "{first}"
    );
}

#[test]
fn command_prints_cli_output_in_both_formats() {
    let sim = sim();
    ami()
        .args([&sim.url(), "command", "core", "show", "version"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("Asterisk 22.10.1 built by"));
    let legacy = BlockingSimulator::start(SimConfig::legacy()).unwrap();
    let out = ami()
        .args([&legacy.url(), "--json", "command", "core show version"])
        .assert()
        .success();
    let lines = json_lines(&stdout_of(&out));
    assert_eq!(lines[0]["response"]["Response"], "Follows");
    assert!(lines[0]["output"][0]
        .as_str()
        .unwrap()
        .starts_with("Asterisk 13.38.3"));
    // An unknown CLI command fails like Asterisk says it does.
    ami()
        .args([&sim.url(), "command", "no such thing"])
        .assert()
        .code(1);
}

#[test]
fn list_prints_response_items_and_completion() {
    let sim = sim();
    let out = ami()
        .args([&sim.url(), "list", "QueueStatus", "--json"])
        .assert()
        .success()
        // Piped: no spinner, no terminal control codes.
        .stderr(predicate::str::contains('\r').not())
        .stderr(predicate::str::contains('\u{1b}').not());
    let lines = json_lines(&stdout_of(&out));
    assert_eq!(lines[0]["EventList"], "start");
    assert_eq!(lines.last().unwrap()["Event"], "QueueStatusComplete");
    let announced: usize = lines.last().unwrap()["ListItems"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(lines.len(), announced + 2);
    assert!(lines.iter().any(|l| l["Event"] == "QueueMember"));

    // Not a list action: status 1 with a hint.
    ami()
        .args([&sim.url(), "list", "Ping"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("ami action Ping"));
}

#[test]
fn originate_succeeds_on_answer_and_fails_on_busy() {
    let sim = sim();
    let out = ami()
        .args([
            &sim.url(),
            "originate",
            "Local/100@default",
            "--app",
            "Wait",
            "--data",
            "1",
            "--var",
            "FOO=bar",
            "--json",
        ])
        .assert()
        .success();
    let lines = json_lines(&stdout_of(&out));
    assert_eq!(lines[1]["Event"], "OriginateResponse");
    assert_eq!(lines[1]["Response"], "Success");
    let sent = sim
        .received()
        .into_iter()
        .find(|p| p.get_str("Action") == Some("Originate"))
        .expect("an Originate was sent");
    assert_eq!(sent.get_str("Async"), Some("true"));
    assert_eq!(sent.get_str("Variable"), Some("FOO=bar"));
    assert_eq!(sent.get_str("Timeout"), Some("30000"));

    ami()
        .args([
            &sim.url(),
            "originate",
            "Local/999@default",
            "--exten",
            "999",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("Response: Failure"))
        .stderr(predicate::str::contains("the call failed"));
}

/// Wait for `child` to exit, killing it after the timeout.
fn wait(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let until = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("process did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ami_process(args: &[&str]) -> StdCommand {
    let mut c = StdCommand::new(assert_cmd::cargo::cargo_bin("ami"));
    c.args(args)
        .env_remove("AMI_URL")
        .env_remove("AMI_SECRET")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

#[test]
fn events_prints_only_the_named_events_until_count() {
    let sim = sim();
    let url = sim.url();
    let mut child = ami_process(&[
        &url,
        "events",
        "--name",
        "userevent",
        "--count",
        "2",
        "--json",
    ])
    .spawn()
    .unwrap();
    let user_event = |n: u32| {
        Packet::builder()
            .header("Event", "UserEvent")
            .header("Privilege", "user,all")
            .header("UserEvent", "Test")
            .header("N", n.to_string())
            .header("Variable", "A=1")
            .header("Variable", "B=2")
            .build()
            .unwrap()
    };
    let hangup = Packet::builder()
        .header("Event", "Hangup")
        .header("Privilege", "call,all")
        .header("Channel", "PJSIP/1-0001")
        .build()
        .unwrap();
    // Push until the client has taken two (it may log in after the first pushes).
    let until = Instant::now() + PROCESS_TIMEOUT;
    let mut n = 0;
    while child.try_wait().unwrap().is_none() && Instant::now() < until {
        sim.push_event(hangup.clone());
        sim.push_event(user_event(n));
        n += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = wait(&mut child, Duration::from_secs(5));
    let out = child.wait_with_output().unwrap();
    assert!(status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = json_lines(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(lines.len(), 2);
    for l in &lines {
        assert_eq!(l["Event"], "UserEvent");
        assert_eq!(l["Variable"], serde_json::json!(["A=1", "B=2"]));
    }
    let first: u32 = lines[0]["N"].as_str().unwrap().parse().unwrap();
    assert_eq!(lines[1]["N"], (first + 1).to_string());
}

#[test]
fn events_end_with_status_1_when_the_server_goes_away() {
    let sim = sim();
    let url = sim.url();
    let mut child = ami_process(&[&url, "events"]).spawn().unwrap();
    let until = Instant::now() + PROCESS_TIMEOUT;
    while !sim
        .received()
        .iter()
        .any(|p| p.get_str("Action") == Some("Login"))
    {
        assert!(Instant::now() < until, "the client never logged in");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    sim.drop_clients();
    let status = wait(&mut child, PROCESS_TIMEOUT);
    assert_eq!(status.code(), Some(1));
    let out = child.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("connection closed"));
}

#[test]
fn secret_from_env_file_or_url_never_required_on_the_command_line() {
    let sim = sim();
    let url = sim.url();
    let without = url.replace(":amp111@", "@");
    assert_ne!(url, without);

    // AMI_URL and AMI_SECRET.
    ami()
        .env("AMI_URL", &without)
        .env("AMI_SECRET", "amp111")
        .arg("ping")
        .assert()
        .success();
    // --secret-file (first line; the newline is not part of it).
    let file = scratch("secret");
    std::fs::write(&file, "amp111\n").unwrap();
    ami()
        .arg(&without)
        .arg("--secret-file")
        .arg(&file)
        .arg("ping")
        .assert()
        .success();
    // A wrong secret is a refused login: status 1, the server's word.
    ami()
        .env("AMI_SECRET", "wrong")
        .args([&without, "ping"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "login refused: Authentication failed",
        ));
    // --secret-file wins over the URL's secret.
    std::fs::write(&file, "wrong").unwrap();
    ami()
        .arg(&url)
        .arg("--secret-file")
        .arg(&file)
        .arg("ping")
        .assert()
        .code(1);
}

#[test]
fn connection_refused_is_status_1() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    ami()
        .args([&format!("ami://admin:x@127.0.0.1:{port}"), "ping"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot connect"));
}

#[test]
fn tls_with_a_pinned_certificate_or_a_ca_file() {
    let sim = BlockingSimulator::start(SimConfig::default().tls()).unwrap();
    let url = sim.url();
    assert!(url.starts_with("amis://"));
    let der = scratch("sim.der");
    std::fs::write(&der, sim.tls_cert_der()).unwrap();
    let pem_file = scratch("sim.pem");
    std::fs::write(
        &pem_file,
        pem::encode(&pem::Pem::new("CERTIFICATE", sim.tls_cert_der())),
    )
    .unwrap();

    for cert in [&der, &pem_file] {
        ami()
            .arg("--accept-self-signed")
            .arg(cert)
            .args([&url, "command", "core show version"])
            .assert()
            .success()
            .stdout(predicate::str::starts_with("Asterisk 22.10.1"));
    }
    ami()
        .arg("--ca")
        .arg(&pem_file)
        .args([&url, "ping"])
        .assert()
        .success();
    // The system roots do not trust a self-signed certificate.
    ami()
        .args([&url, "ping"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("TLS"));
}

/// A running `ami sim`, stopped with SIGINT (Ctrl-C) when dropped.
struct SimProcess {
    child: Child,
    lines: Vec<String>,
}

impl SimProcess {
    fn start(extra: &[&str]) -> SimProcess {
        let mut args = vec!["sim", "--port", "0"];
        args.extend_from_slice(extra);
        let mut child = ami_process(&args).spawn().unwrap();
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 {
                panic!("ami sim ended early: {lines:?}");
            }
            let line = line.trim_end().to_owned();
            let done = line == "Ctrl-C to stop";
            lines.push(line);
            if done {
                break;
            }
        }
        SimProcess { child, lines }
    }

    fn url(&self, scheme: &str) -> String {
        self.lines
            .iter()
            .find_map(|l| {
                l.split_whitespace()
                    .find(|w| w.starts_with(&format!("{scheme}://admin:")))
            })
            .expect("the admin URL is printed")
            .to_owned()
    }

    /// Ctrl-C, then the exit status.
    fn interrupt(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = StdCommand::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        wait(&mut self.child, PROCESS_TIMEOUT)
    }
}

#[test]
fn sim_serves_clients_until_ctrl_c() {
    let sim = SimProcess::start(&[]);
    assert!(
        sim.lines[0].contains("simulated Asterisk 22.10.1 (AMI 11.0.0) listening on 127.0.0.1:")
    );
    assert!(sim
        .lines
        .iter()
        .any(|l| l.contains("ami://limited:amp111@")));
    let url = sim.url("ami");
    ami().args([&url, "ping"]).assert().success();
    ami()
        .args([&url, "list", "CoreShowChannels"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Event: CoreShowChannelsComplete"));
    // A plain socket, as an app in any language would use it.
    {
        use std::io::{Read, Write};
        let addr = url.rsplit('@').next().unwrap();
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(PROCESS_TIMEOUT)).unwrap();
        let mut banner = [0u8; 30];
        s.read_exact(&mut banner[..]).unwrap();
        assert_eq!(&banner, b"Asterisk Call Manager/11.0.0\r\n");
        s.write_all(b"Action: Logoff\r\n\r\n").unwrap();
    }
    assert!(sim.interrupt().success());
}

#[test]
fn sim_legacy_and_tls() {
    let legacy = SimProcess::start(&["--legacy"]);
    ami()
        .args([&legacy.url("ami"), "command", "core show version"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("Asterisk 13.38.3"));
    assert!(legacy.interrupt().success());

    let cert = scratch("sim-process.pem");
    let tls = SimProcess::start(&["--tls", "--cert-out", cert.to_str().unwrap()]);
    assert!(tls.lines.iter().any(|l| l.contains(cert.to_str().unwrap())));
    ami()
        .arg("--accept-self-signed")
        .arg(&cert)
        .args([&tls.url("amis"), "ping"])
        .assert()
        .success();
    assert!(tls.interrupt().success());
}

#[test]
fn no_arguments_runs_the_tour_against_the_built_in_simulator() {
    let out = ami().assert().success();
    let text = stdout_of(&out);
    assert!(text.contains("AMI version: 11.0.0\n"), "{text}");
    assert!(text.contains("Ping round trip:"));
    assert!(text.contains("core show version:\n  Asterisk 22.10.1"));
    assert!(text.contains("OriginateResponse: success=true"));
    assert!(text.contains("logged off: Closed"));
    // Event lines are JSON objects.
    let events: Vec<Value> = text
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(events.iter().any(|e| e["Event"] == "Newchannel"));
}
