//! What the client logs through `tracing`: the same span and messages as
//! the tokio client, never a secret (feature `tracing`, on by default).
#![allow(clippy::result_large_err)]

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use amiproto::AuthMethod;
use amiproto_std::{Client, ClientConfig, EventItem, Reconnect};
use amiproto_testkit::{BlockingSimulator, SimConfig};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Records every span and event, with all fields, as text lines.
#[derive(Clone, Default)]
struct Recorder {
    log: Arc<Mutex<String>>,
    next: Arc<AtomicU64>,
}

struct Line<'a>(&'a mut String);

impl Visit for Line<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl Recorder {
    fn push(&self, line: &str) {
        let mut log = self.log.lock().unwrap();
        log.push_str(line);
        log.push('\n');
    }

    fn text(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut line = format!("span {}", span.metadata().name());
        span.record(&mut Line(&mut line));
        self.push(&line);
        Id::from_u64(self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut line = String::from("record");
        values.record(&mut Line(&mut line));
        self.push(&line);
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        // Every message of the client names its span as parent.
        let parent = if event.parent().is_some() {
            " in-span"
        } else {
            ""
        };
        let mut line = format!("event {}{parent}", event.metadata().level());
        event.record(&mut Line(&mut line));
        self.push(&line);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

fn fast(url: &str) -> ClientConfig {
    ClientConfig::from_url(url)
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .map_config(|c| c.action_timeout(Some(Duration::from_secs(10))))
}

#[test]
fn spans_and_events_without_secrets() {
    let rec = Recorder::default();
    let _guard = tracing::subscriber::set_default(rec.clone());
    let sim =
        BlockingSimulator::start(SimConfig::default().auth_failure_delay(Duration::ZERO)).unwrap();
    for auth in [AuthMethod::Plain, AuthMethod::Md5] {
        let mut config = fast(&sim.url());
        config.config.auth = auth;
        let mut client = Client::connect(config).unwrap();
        client.ping().unwrap();
        client.logoff().unwrap();
    }
    let mut bad = fast(&sim.url());
    bad.config.secret = "s3cr3t-wrong".into();
    assert!(Client::connect(bad).is_err());
    let log = rec.text();
    assert!(log.contains("span ami"), "{log}");
    assert!(log.contains("host=127.0.0.1"), "{log}");
    assert!(log.contains("user=admin"), "{log}");
    assert!(log.contains("tls=false"), "{log}");
    assert!(
        log.contains("event DEBUG in-span message=connecting"),
        "{log}"
    );
    assert!(
        log.contains("event INFO in-span message=logged in"),
        "{log}"
    );
    assert!(
        log.contains("event DEBUG in-span message=send action=\"Ping\""),
        "{log}"
    );
    assert!(
        log.contains("event WARN in-span message=login failed"),
        "{log}"
    );
    assert!(
        log.contains("message=connection closed reason=logged off"),
        "{log}"
    );
    assert!(!log.contains("amp111"), "secret logged:\n{log}");
    assert!(!log.contains("s3cr3t"), "secret logged:\n{log}");
    assert!(
        log.lines()
            .filter(|l| l.starts_with("event"))
            .all(|l| l.contains("in-span")),
        "a message outside the span:\n{log}"
    );
}

#[test]
fn reconnects_log_at_info_and_warn() {
    let rec = Recorder::default();
    let _guard = tracing::subscriber::set_default(rec.clone());
    let sim = BlockingSimulator::start(SimConfig::default()).unwrap();
    let config = fast(&sim.url()).reconnect(
        Reconnect::default().delays(Duration::from_millis(20), Duration::from_millis(100)),
    );
    let mut client = Client::connect(config).unwrap();
    sim.restart().unwrap();
    let marker = loop {
        match client.next_event(Some(Duration::from_secs(10))).unwrap() {
            Some(item @ EventItem::Reconnected { .. }) => break item,
            Some(_) => {}
            None => panic!("no reconnect within 10 s:\n{}", rec.text()),
        }
    };
    assert!(matches!(marker, EventItem::Reconnected { generation } if generation >= 1));
    client.ping().unwrap();
    let log = rec.text();
    assert!(
        log.contains("event WARN in-span message=connection lost; reconnecting"),
        "{log}"
    );
    assert!(
        log.contains("event INFO in-span message=reconnected generation=1"),
        "{log}"
    );
    assert!(log.contains("message=logged in generation=1"), "{log}");
    assert!(!log.contains("amp111"), "secret logged:\n{log}");
    client.logoff().unwrap();
}
