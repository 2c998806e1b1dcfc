//! The JetStream stream: created when missing, checked when present.

use async_nats::jetstream::{self, stream};

use crate::config::{Storage, StreamConfig};
use crate::error::BridgeError;
use crate::subject::stream_subjects;

/// The settings the bridge creates the stream with.
pub fn stream_settings(cfg: &StreamConfig) -> stream::Config {
    stream::Config {
        name: cfg.name.clone(),
        description: Some("AMI events from amiproto-bridge".to_owned()),
        subjects: stream_subjects(&cfg.prefix),
        retention: stream::RetentionPolicy::Limits,
        discard: stream::DiscardPolicy::Old,
        storage: match cfg.storage {
            Storage::File => stream::StorageType::File,
            Storage::Memory => stream::StorageType::Memory,
        },
        num_replicas: cfg.replicas,
        max_age: cfg.max_age.unwrap_or_default(),
        max_bytes: cfg.max_bytes.unwrap_or(-1),
        max_messages: cfg.max_messages.unwrap_or(-1),
        duplicate_window: cfg.duplicate_window,
        ..Default::default()
    }
}

/// Whether subject pattern `outer` matches every subject `inner` matches.
pub fn covers(outer: &str, inner: &str) -> bool {
    let mut o = outer.split('.');
    let mut i = inner.split('.');
    loop {
        match (o.next(), i.next()) {
            (Some(">"), Some(_)) => return true,
            (Some(_), Some(">")) => return false,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b && b != "*" => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Make sure the stream exists and captures the bridge's subjects.
///
/// A stream that exists with other subjects is an error (the bridge never
/// changes a stream it did not create that way); other settings of an
/// existing stream are kept.
pub(crate) async fn ensure_stream(
    js: &jetstream::Context,
    cfg: &StreamConfig,
) -> Result<(), StreamProblem> {
    let mut s = js
        .get_or_create_stream(stream_settings(cfg))
        .await
        .map_err(|e| StreamProblem::Transient(e.to_string()))?;
    let info = s
        .info()
        .await
        .map_err(|e| StreamProblem::Transient(e.to_string()))?;
    let have = &info.config.subjects;
    for want in stream_subjects(&cfg.prefix) {
        if !have.iter().any(|h| covers(h, &want)) {
            return Err(StreamProblem::Fatal(BridgeError::Stream {
                stream: cfg.name.clone(),
                reason: format!(
                    "it exists with subjects {have:?}, which do not capture {want:?}: add the bridge's subjects {:?} to it, or configure another stream name",
                    stream_subjects(&cfg.prefix)
                ),
            }));
        }
    }
    if info.config.duplicate_window.is_zero() {
        tracing::warn!(stream = %cfg.name, "stream has no duplicate window: re-published events will be stored twice");
    }
    Ok(())
}

/// Why the stream is not usable.
#[derive(Debug)]
pub(crate) enum StreamProblem {
    /// Retry later (JetStream not ready, timeout…).
    Transient(String),
    /// Configuration mismatch: stop.
    Fatal(BridgeError),
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn subject_coverage() {
        assert!(covers("ami.>", "ami.*.event.>"));
        assert!(covers("ami.*.event.>", "ami.*.event.>"));
        assert!(covers(">", "ami.*.gap"));
        assert!(covers("ami.*.gap", "ami.*.gap"));
        assert!(!covers("ami.p1.gap", "ami.*.gap"));
        assert!(!covers("ami.*.event.*", "ami.*.event.>"));
        assert!(!covers("other.>", "ami.*.gap"));
        assert!(!covers("ami.*", "ami.*.gap"));
    }
}
