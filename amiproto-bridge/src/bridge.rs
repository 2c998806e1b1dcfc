//! The bridge: one reader per PBX, and a NATS supervisor that connects
//! (retrying with backoff), makes sure the stream exists, and runs each
//! PBX's publisher, action service and status service for as long as the
//! connection lasts.
//!
//! Each NATS connection is used once: when it drops, the client is thrown
//! away with everything it still held, the unacked records go back to the
//! front of their buffers, and a fresh connection publishes them again in
//! order (the server drops the copies it already has, by `Nats-Msg-Id`).
//! That keeps each PBX's records in order in the stream across outages.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::actions::run_actions;
use crate::buffer::Buffer;
use crate::config::{BridgeConfig, NatsAuth};
use crate::error::BridgeError;
use crate::pbx::{logoff, run_reader, PbxShared};
use crate::publish::{run_publisher, Mode, PublishEnd};
use crate::spill::Spill;
use crate::status::PbxStatus;
use crate::stream::{ensure_stream, StreamProblem};
use crate::subject::PbxSubjects;

/// A running bridge.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use amiproto_bridge::{Bridge, BridgeConfig};
/// use std::time::Duration;
///
/// let config = BridgeConfig::load("bridge.toml".as_ref())?;
/// let bridge = Bridge::start(config).await?;
/// tokio::signal::ctrl_c().await?;
/// let report = bridge.shutdown(Duration::from_secs(10)).await?;
/// println!("{report:?}");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Bridge {
    pbxs: Vec<Arc<PbxShared>>,
    by_name: HashMap<String, usize>,
    stop_readers: watch::Sender<bool>,
    readers: JoinSet<()>,
    mode: watch::Sender<Mode>,
    supervisor: tokio::task::JoinHandle<Result<(), BridgeError>>,
}

/// Reads the bridge's statuses; see [`Bridge::status_handle`].
#[derive(Clone, Debug)]
pub struct StatusHandle {
    pbxs: Vec<Arc<PbxShared>>,
}

impl StatusHandle {
    /// Every PBX's status, in configuration order.
    pub fn statuses(&self) -> Vec<PbxStatus> {
        self.pbxs.iter().map(|p| p.status()).collect()
    }
}

/// What [`Bridge::shutdown`] left behind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Whether every record was acked before the deadline.
    pub drained: bool,
    /// Records kept in spill files for the next start, per PBX.
    pub persisted: Vec<(String, u64)>,
    /// Records neither acked nor kept (no spill file), per PBX.
    pub lost: Vec<(String, u64)>,
}

impl Bridge {
    /// Open the spill files and start every task on the current runtime.
    /// Returns at once: NATS and the PBXs are connected in the background
    /// (with retries, logged); see [`Bridge::status`].
    pub async fn start(config: BridgeConfig) -> Result<Bridge, BridgeError> {
        let config = Arc::new(config);
        let mut pbxs = Vec::new();
        let mut by_name = HashMap::new();
        for (i, p) in config.pbxs.iter().enumerate() {
            let spill = match &config.buffer.spill_dir {
                Some(dir) => {
                    let path = dir.join(format!("{}.spill", p.name));
                    let open = std::fs::create_dir_all(dir)
                        .and_then(|()| Spill::open(&path, config.buffer.spill_max_bytes));
                    let spill = open.map_err(|source| BridgeError::Spill { path, source })?;
                    if spill.records() > 0 {
                        tracing::info!(pbx = %p.name, records = spill.records(), "replaying records kept by the previous run");
                    }
                    Some(spill)
                }
                None => None,
            };
            let subjects = PbxSubjects::new(&config.stream.prefix, &p.name);
            let buffer = Buffer::new(
                p.name.as_str().into(),
                subjects.gap(),
                config.buffer.max_events,
                config.buffer.max_bytes,
                spill,
            );
            pbxs.push(Arc::new(PbxShared::new(&p.name, subjects, buffer)));
            by_name.insert(p.name.to_ascii_lowercase(), i);
        }
        let (stop_readers, stop_rx) = watch::channel(false);
        let mut readers = JoinSet::new();
        for (shared, cfg) in pbxs.iter().zip(&config.pbxs) {
            readers.spawn(run_reader(shared.clone(), cfg.clone(), stop_rx.clone()));
        }
        let (mode, mode_rx) = watch::channel(Mode::Run);
        let supervisor = tokio::spawn(supervise(config.clone(), pbxs.clone(), mode_rx));
        Ok(Bridge {
            pbxs,
            by_name,
            stop_readers,
            readers,
            mode,
            supervisor,
        })
    }

    fn pbx(&self, name: &str) -> Result<&Arc<PbxShared>, BridgeError> {
        self.by_name
            .get(&name.to_ascii_lowercase())
            .map(|&i| &self.pbxs[i])
            .ok_or_else(|| BridgeError::UnknownPbx(name.to_owned()))
    }

    /// One PBX's status.
    pub fn status(&self, pbx: &str) -> Result<PbxStatus, BridgeError> {
        Ok(self.pbx(pbx)?.status())
    }

    /// Every PBX's status, in configuration order.
    pub fn statuses(&self) -> Vec<PbxStatus> {
        self.pbxs.iter().map(|p| p.status()).collect()
    }

    /// A cheap handle that reads the statuses from elsewhere (a health
    /// endpoint, a metrics task).
    pub fn status_handle(&self) -> StatusHandle {
        StatusHandle {
            pbxs: self.pbxs.clone(),
        }
    }

    /// The AMI client of a PBX while it is connected (to send actions from
    /// the embedding program).
    pub fn client(&self, pbx: &str) -> Result<Option<amiproto_tokio::Client>, BridgeError> {
        Ok(self.pbx(pbx)?.client.borrow().clone())
    }

    /// Whether the bridge stopped on its own (a fatal stream error).
    pub fn is_finished(&self) -> bool {
        self.supervisor.is_finished()
    }

    /// Clean shutdown: stop reading AMI, publish what is buffered and wait
    /// for its acks (up to `drain_timeout`), keep what is left in the spill
    /// files (if configured), then log off every PBX.
    pub async fn shutdown(
        mut self,
        drain_timeout: Duration,
    ) -> Result<ShutdownReport, BridgeError> {
        tracing::info!("shutting down: draining acks");
        let _ = self.stop_readers.send(true);
        while self.readers.join_next().await.is_some() {}
        let _ = self.mode.send(Mode::Drain);
        let mut report = ShutdownReport::default();
        let result = match tokio::time::timeout(drain_timeout, &mut self.supervisor).await {
            Ok(r) => {
                report.drained = true;
                r
            }
            Err(_) => {
                tracing::warn!(?drain_timeout, "not every record was acked in time");
                let _ = self.mode.send(Mode::Stop);
                (&mut self.supervisor).await
            }
        };
        let result = result.unwrap_or(Ok(()));
        for p in &self.pbxs {
            let left;
            let persisted;
            {
                let mut buf = p.buffer();
                let depth = buf.stats().depth;
                left = buf.persist() as u64;
                persisted = depth.saturating_sub(left);
            }
            if left > 0 || persisted > 0 {
                report.drained = false;
            }
            if persisted > 0 {
                tracing::info!(pbx = %p.name, records = persisted, "kept in the spill file for the next start");
                report.persisted.push((p.name.to_string(), persisted));
            }
            if left > 0 {
                tracing::error!(pbx = %p.name, records = left, "records not delivered at shutdown (no spill file)");
                report.lost.push((p.name.to_string(), left));
            }
        }
        for p in &self.pbxs {
            logoff(p, Duration::from_secs(5)).await;
        }
        result.map(|()| report)
    }

    /// Wait until the bridge stops on its own (only a fatal error does
    /// that); returns the error.
    pub async fn wait(&mut self) -> Result<(), BridgeError> {
        (&mut self.supervisor).await.unwrap_or(Ok(()))
    }
}

fn set_connected(pbxs: &[Arc<PbxShared>], up: bool) {
    for p in pbxs {
        p.counters
            .nats_connected
            .store(up, std::sync::atomic::Ordering::Relaxed);
    }
}

async fn connect_options(config: &BridgeConfig) -> Result<async_nats::ConnectOptions, String> {
    let mut o = match &config.nats.auth {
        NatsAuth::None => async_nats::ConnectOptions::new(),
        NatsAuth::UserPassword { user, password } => {
            async_nats::ConnectOptions::with_user_and_password(user.clone(), password.clone())
        }
        NatsAuth::Token(t) => async_nats::ConnectOptions::with_token(t.clone()),
        NatsAuth::CredsFile(path) => async_nats::ConnectOptions::with_credentials_file(path)
            .await
            .map_err(|e| format!("credentials file {}: {e}", path.display()))?,
    };
    o = o
        .name(config.nats.name.clone())
        .connection_timeout(config.nats.connect_timeout)
        .ping_interval(Duration::from_secs(10))
        // One connection per client: see the module documentation.
        .max_reconnects(1)
        .ignore_discovered_servers();
    Ok(o)
}

/// Keep a NATS connection and the per-PBX NATS tasks running until the
/// mode says stop (or drain completes).
async fn supervise(
    config: Arc<BridgeConfig>,
    pbxs: Vec<Arc<PbxShared>>,
    mut mode: watch::Receiver<Mode>,
) -> Result<(), BridgeError> {
    let urls = &config.nats.urls;
    let mut attempt: u32 = 0;
    let mut next_url = 0usize;
    loop {
        let m = *mode.borrow_and_update();
        if m == Mode::Stop {
            return Ok(());
        }
        if m == Mode::Drain && pbxs.iter().all(|p| p.buffer().is_empty()) {
            return Ok(());
        }
        let url = &urls[next_url % urls.len()];
        next_url += 1;
        let (lost_tx, mut lost_rx) = watch::channel(false);
        let lost_tx = Arc::new(lost_tx);
        let opts = match connect_options(&config).await {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(error = %e, "NATS credentials unusable");
                return Err(BridgeError::Stream {
                    stream: config.stream.name.clone(),
                    reason: e,
                });
            }
        };
        let opts = opts.event_callback(move |ev| {
            let tx = lost_tx.clone();
            async move {
                if matches!(
                    ev,
                    async_nats::Event::Disconnected | async_nats::Event::Closed
                ) {
                    let _ = tx.send(true);
                }
            }
        });
        let connected = tokio::select! {
            r = async_nats::connect_with_options(url.as_str(), opts) => r,
            _ = mode.changed() => continue,
        };
        let nc = match connected {
            Ok(nc) => nc,
            Err(e) => {
                let delay = backoff(&config, attempt);
                tracing::warn!(url = %url, error = %e, attempt, retry_in = ?delay, "NATS unreachable; events are buffered meanwhile, retrying");
                attempt = attempt.saturating_add(1);
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = mode.changed() => {}
                }
                continue;
            }
        };
        let window = config.publish.window;
        let js = jetstream::ContextBuilder::new()
            .timeout(config.publish.ack_timeout)
            .max_ack_inflight(window * pbxs.len() + 1024)
            .backpressure_on_inflight(true)
            .build(nc.clone());
        match ensure_stream(&js, &config.stream).await {
            Ok(()) => {}
            Err(StreamProblem::Fatal(e)) => {
                tracing::error!(error = %e, "stream unusable; stopping");
                return Err(e);
            }
            Err(StreamProblem::Transient(e)) => {
                let delay = backoff(&config, attempt);
                tracing::warn!(url = %url, error = %e, retry_in = ?delay, "JetStream not ready; retrying");
                attempt = attempt.saturating_add(1);
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = mode.changed() => {}
                }
                continue;
            }
        }
        attempt = 0;
        tracing::info!(url = %url, stream = %config.stream.name, "connected to NATS");
        set_connected(&pbxs, true);
        let end = run_session(&config, &pbxs, &nc, js, &mut mode, &mut lost_rx).await;
        set_connected(&pbxs, false);
        match end {
            SessionEnd::Drained => {
                let _ = tokio::time::timeout(Duration::from_secs(2), nc.flush()).await;
                return Ok(());
            }
            SessionEnd::Stopped => return Ok(()),
            SessionEnd::Lost => {
                tracing::warn!(url = %url, "NATS connection lost; unacked events will be published again on the next connection");
            }
        }
    }
}

fn backoff(config: &BridgeConfig, attempt: u32) -> Duration {
    let base = config.nats.retry_delay.as_secs_f64() * 2f64.powi(attempt.min(30) as i32);
    Duration::from_secs_f64(base.min(config.nats.max_retry_delay.as_secs_f64()))
}

enum SessionEnd {
    Drained,
    Stopped,
    Lost,
}

/// Run the per-PBX NATS tasks on one connection.
async fn run_session(
    config: &BridgeConfig,
    pbxs: &[Arc<PbxShared>],
    nc: &async_nats::Client,
    js: jetstream::Context,
    mode: &mut watch::Receiver<Mode>,
    lost: &mut watch::Receiver<bool>,
) -> SessionEnd {
    let (pub_mode_tx, pub_mode_rx) = watch::channel(*mode.borrow());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut publishers = JoinSet::new();
    let mut services = JoinSet::new();
    for p in pbxs {
        publishers.spawn(run_publisher(
            p.clone(),
            js.clone(),
            nc.clone(),
            config.publish.window,
            pub_mode_rx.clone(),
        ));
        services.spawn(run_actions(
            p.clone(),
            nc.clone(),
            config.actions.allow.clone(),
            config.actions.timeout,
            config.actions.max_concurrent,
            stop_rx.clone(),
        ));
        services.spawn(crate::service::run_status(
            p.clone(),
            nc.clone(),
            config.status_interval,
            stop_rx.clone(),
        ));
    }
    let mut drained = 0usize;
    let end = loop {
        tokio::select! {
            r = lost.wait_for(|l| *l) => {
                let _ = r;
                break SessionEnd::Lost;
            }
            r = mode.changed() => {
                if r.is_err() { break SessionEnd::Stopped; }
                let m = *mode.borrow_and_update();
                let _ = pub_mode_tx.send(m);
                if m == Mode::Stop { break SessionEnd::Stopped; }
            }
            Some(done) = publishers.join_next() => {
                match done {
                    Ok(PublishEnd::Drained) => {
                        drained += 1;
                        if drained == pbxs.len() { break SessionEnd::Drained; }
                    }
                    // A publisher gave up on this connection.
                    Ok(PublishEnd::Cancelled) | Err(_) => break SessionEnd::Lost,
                }
            }
        }
    };
    let _ = pub_mode_tx.send(Mode::Stop);
    let _ = stop_tx.send(true);
    while publishers.join_next().await.is_some() {}
    // Services finish the requests in progress, but not forever.
    if tokio::time::timeout(Duration::from_secs(5), async {
        while services.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        services.abort_all();
    }
    end
}
