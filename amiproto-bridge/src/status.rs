//! Health of one PBX's bridge: counters, and the status snapshot published
//! on `PREFIX.PBX.status`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::Serialize;

/// Counters one PBX's tasks update.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Packets read from AMI (events, and numbers counted in AMI-side gaps).
    pub(crate) events_in: AtomicU64,
    /// Events acked by JetStream (duplicates included: they are stored).
    pub(crate) events_out: AtomicU64,
    /// Acks that said the message was already stored.
    pub(crate) duplicates: AtomicU64,
    /// Publishes awaiting an ack now.
    pub(crate) acks_pending: AtomicU64,
    /// Publishes that failed or timed out (then retried).
    pub(crate) publish_failures: AtomicU64,
    /// Records stored by JetStream after a later record of the same PBX
    /// (possible only after a failure on a live connection).
    pub(crate) reordered: AtomicU64,
    /// Action requests answered (success or error).
    pub(crate) actions: AtomicU64,
    /// AMI sessions started.
    pub(crate) sessions: AtomicU64,
    /// Whether the JetStream side is connected.
    pub(crate) nats_connected: AtomicBool,
}

impl Counters {
    pub(crate) fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// One PBX's health, as JSON on `PREFIX.PBX.status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PbxStatus {
    /// PBX name.
    pub pbx: String,
    /// AMI side: `connecting`, `authenticating`, `ready`, `reconnecting`,
    /// `closed`.
    pub state: String,
    /// AMI version from the banner.
    pub ami_version: Option<String>,
    /// Current AMI session id.
    pub session: Option<String>,
    /// AMI sessions started since the bridge started.
    pub sessions: u64,
    /// Whether NATS is connected.
    pub nats_connected: bool,
    /// Packets read from AMI.
    pub events_in: u64,
    /// Events, gaps and markers acked by JetStream.
    pub events_out: u64,
    /// Of those, how many the server had already (re-published copies).
    pub duplicates: u64,
    /// Publishes awaiting an ack.
    pub acks_pending: u64,
    /// Records waiting in the buffer (memory and spill file).
    pub buffer_depth: u64,
    /// Bytes waiting in memory.
    pub buffer_bytes: u64,
    /// Records waiting in the spill file.
    pub spilled: u64,
    /// Bytes waiting in the spill file.
    pub spill_bytes: u64,
    /// Gap messages made.
    pub gaps: u64,
    /// Events counted in gaps (never published).
    pub events_dropped: u64,
    /// Publishes that failed or timed out and were retried.
    pub publish_failures: u64,
    /// Records stored out of order after a failed publish (see the README).
    pub reordered: u64,
    /// Action requests answered.
    pub actions: u64,
    /// The last AMI connection error, if the PBX is not connected.
    pub last_error: Option<String>,
}
