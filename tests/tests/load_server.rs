//! The benchmarks' load server (`amiproto_testkit::load`, the `ami-load`
//! binary) against both clients with their defaults: MD5 login, the whole
//! flood in order up to the marker, every pipelined action answered.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use amiproto::{Action, Outcome};
use amiproto_testkit::load::{ConnReport, Corpus, LoadConfig, LoadServer, END_EVENT};

/// Serve `conns` connections on a thread; returns the address and the
/// reports once they have ended.
fn start(config: LoadConfig) -> (SocketAddr, JoinHandle<Vec<ConnReport>>) {
    let server = LoadServer::bind("127.0.0.1:0".parse().unwrap(), config).unwrap();
    let addr = server.local_addr().unwrap();
    let reports = Arc::new(Mutex::new(Vec::new()));
    let r = Arc::clone(&reports);
    let t = std::thread::spawn(move || {
        server
            .serve(move |report| r.lock().unwrap().push(report.clone()))
            .unwrap();
        let got = reports.lock().unwrap().clone();
        got
    });
    (addr, t)
}

/// A flood of more than one corpus copy, the last one partial.
fn flood_events(corpus: &Corpus) -> u64 {
    corpus.events() * 2 + 17
}

#[test]
fn std_client_gets_the_whole_flood_in_order() {
    let corpus = Arc::new(Corpus::flood_capture().unwrap());
    let n = flood_events(&corpus);
    let (addr, server) = start(LoadConfig::events(corpus.clone(), n).max_conns(1));
    let mut client = amiproto_std::connect(&format!("ami://bench:bench@{addr}")).unwrap();
    let mut names = Vec::new();
    loop {
        match client.next_event(Some(Duration::from_secs(30))).unwrap() {
            Some(amiproto_std::EventItem::Event(ev)) => {
                let name = ev.event().map(|v| v.to_str().unwrap().to_owned()).unwrap();
                if name == END_EVENT {
                    break;
                }
                names.push(name);
            }
            Some(other) => panic!("unexpected {other:?}"),
            None => panic!("no marker after {} events", names.len()),
        }
    }
    assert_eq!(names[0], "FullyBooted");
    assert_eq!(names.len() as u64, n + 1);
    // The events follow the corpus, copy after copy.
    let first_copy: Vec<String> = names[1..=corpus.events() as usize].to_vec();
    let second_copy = &names[1 + corpus.events() as usize..1 + 2 * corpus.events() as usize];
    assert_eq!(first_copy, second_copy);
    assert_eq!(names[names.len() - 17..], first_copy[..17]);
    drop(client);
    let reports = server.join().unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].events, n);
    assert_eq!(reports[0].error, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_client_gets_the_whole_flood_and_pings_are_answered_meanwhile() {
    let corpus = Arc::new(Corpus::flood_capture().unwrap());
    let n = flood_events(&corpus);
    let (addr, server) = start(LoadConfig::events(corpus, n).max_conns(1));
    let (client, mut events) = amiproto_tokio::connect_url(&format!("ami://bench:bench@{addr}"))
        .await
        .unwrap();
    let pong = client.send(Action::ping()).await.unwrap();
    assert!(matches!(pong, Outcome::Response(ref p) if p.get_str("Ping") == Some("Pong")));
    let mut count = 0u64;
    loop {
        match tokio::time::timeout(Duration::from_secs(30), events.recv())
            .await
            .expect("marker in time")
        {
            Some(amiproto_tokio::EventItem::Event(ev)) => {
                if ev.event().is_some_and(|v| v == END_EVENT) {
                    break;
                }
                count += 1;
            }
            Some(amiproto_tokio::EventItem::Lagged(k)) => panic!("lagged {k}"),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(count, n + 1, "FullyBooted and the flood");
    drop(client);
    drop(events);
    let reports = tokio::task::spawn_blocking(move || server.join().unwrap())
        .await
        .unwrap();
    assert_eq!(reports[0].events, n);
    assert!(
        reports[0].actions >= 3,
        "challenge, login, ping: {:?}",
        reports[0]
    );
}

#[test]
fn pipelined_pings_are_all_answered_with_their_action_ids() {
    let (addr, server) = start(LoadConfig::ping().max_conns(1));
    let mut client = amiproto_std::connect(&format!("ami://bench:bench@{addr}")).unwrap();
    let mut inflight = VecDeque::new();
    let mut ok = 0;
    for _ in 0..5_000 {
        if inflight.len() == 256 {
            let h = inflight.pop_front().unwrap();
            ok += client.wait(h).is_ok() as u32;
        }
        inflight.push_back(client.submit(Action::ping()).unwrap());
    }
    while let Some(h) = inflight.pop_front() {
        ok += client.wait(h).is_ok() as u32;
    }
    assert_eq!(ok, 5_000);
    client.logoff().unwrap();
    let reports = server.join().unwrap();
    assert_eq!(
        reports[0].actions,
        5_000 + 3,
        "challenge, login, pings, logoff"
    );
}

#[test]
fn the_binary_prints_its_port_and_a_report() {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ami-load"))
        .args(["--max-conns", "1", "events", "--events", "10"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("{\"listening\":\"")
        .and_then(|s| s.strip_suffix("\"}"))
        .unwrap_or_else(|| panic!("first line: {line}"))
        .to_owned();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"Action: Login\r\nUsername: a\r\nSecret: b\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    while !got.ends_with(b"Event: BenchEnd\r\n\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed early");
        got.extend_from_slice(&buf[..n]);
    }
    drop(s);
    let mut report = String::new();
    out.read_to_string(&mut report).unwrap();
    assert!(child.wait().unwrap().success());
    assert!(
        report.starts_with("{\"conn\":1,\"mode\":\"events\",\"events\":10,"),
        "{report}"
    );
}
