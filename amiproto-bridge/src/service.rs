//! The status service of one PBX: `PREFIX.PBX.status` answers requests with
//! a [`crate::PbxStatus`] as JSON, and the same is published there at a
//! fixed interval.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::watch;

use crate::pbx::PbxShared;

fn snapshot(shared: &PbxShared) -> Bytes {
    Bytes::from(serde_json::to_vec(&shared.status()).expect("plain JSON"))
}

/// Serve and publish the status until `stop`.
pub(crate) async fn run_status(
    shared: Arc<PbxShared>,
    nats: async_nats::Client,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let subject = shared.subjects.status();
    let mut sub = match nats.subscribe(subject.clone()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(pbx = %shared.name, error = %e, "cannot subscribe to {subject}");
            return;
        }
    };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let _ = nats.publish(subject.clone(), snapshot(&shared)).await;
            }
            m = sub.next() => {
                let Some(m) = m else { break };
                if let Some(reply) = m.reply {
                    let _ = nats.publish(reply, snapshot(&shared)).await;
                }
            }
            _ = stop.changed() => break,
        }
    }
}
