//! What the client logs through `tracing`: spans and events, never secrets.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use amiproto::AuthMethod;
use amiproto_testkit::{SimConfig, Simulator};
use amiproto_tokio::{connect, ClientConfig};
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

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut line = format!("span {}", span.metadata().name());
        span.record(&mut Line(&mut line));
        let mut log = self.log.lock().unwrap();
        log.push_str(&line);
        log.push('\n');
        Id::from_u64(self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut line = String::from("record");
        values.record(&mut Line(&mut line));
        let mut log = self.log.lock().unwrap();
        log.push_str(&line);
        log.push('\n');
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = format!("event {}", event.metadata().level());
        event.record(&mut Line(&mut line));
        let mut log = self.log.lock().unwrap();
        log.push_str(&line);
        log.push('\n');
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[test]
fn spans_and_events_without_secrets() {
    let rec = Recorder::default();
    let _guard = tracing::subscriber::set_default(rec.clone());
    // Everything (driver and simulator) runs on this thread.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let sim = Simulator::start(SimConfig::default().auth_failure_delay(Default::default()))
            .await
            .unwrap();
        for auth in [AuthMethod::Plain, AuthMethod::Md5] {
            let mut config = ClientConfig::from_url(&sim.url()).unwrap();
            config.ami.auth = auth;
            let (client, _ev) = connect(config).await.unwrap();
            client.ping().await.unwrap();
            client.logoff().await.unwrap();
        }
        let mut bad = ClientConfig::from_url(&sim.url()).unwrap();
        bad.ami.secret = "s3cr3t-wrong".into();
        assert!(connect(bad).await.is_err());
        sim.shutdown().await;
    });
    let log = rec.log.lock().unwrap().clone();
    assert!(log.contains("span ami"), "{log}");
    assert!(log.contains("user=admin"), "{log}");
    assert!(log.contains("logged in"), "{log}");
    assert!(log.contains("action=\"Ping\""), "{log}");
    assert!(log.contains("login failed"), "{log}");
    assert!(!log.contains("amp111"), "secret logged:\n{log}");
    assert!(!log.contains("s3cr3t"), "secret logged:\n{log}");
}
