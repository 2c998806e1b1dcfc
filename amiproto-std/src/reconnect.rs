//! The client's reconnect bookkeeping: its place in the [`Reconnect`]
//! policy (the core's [`Backoff`]), when the next attempt is due, and the
//! event mask and filters the server accepted, to re-apply after each
//! login. No I/O here: the client opens the connections.

use std::time::{Duration, Instant};

use amiproto::{
    Action, ActionError, ActionHandle, Backoff, Config, Connection, EventMask, Outcome, Reconnect,
    ResponseStatus, SendOptions,
};

/// A mask or filter change sent and not answered yet.
#[derive(Debug)]
pub(crate) enum Change {
    Mask(EventMask),
    Filter(String),
}

/// Reconnect state of a client whose first login succeeded.
#[derive(Debug)]
pub(crate) struct Reconnector {
    backoff: Backoff,
    /// When the next attempt may start; `None` while a connection is open
    /// (or once the policy gave up).
    next_at: Option<Instant>,
    /// The mask for the next login: the configured one, or the last one
    /// the server accepted.
    mask: EventMask,
    /// Filters the server accepted, in order.
    filters: Vec<String>,
    /// Changes sent and not answered yet.
    unconfirmed: Vec<(ActionHandle, Change)>,
    /// Logins after the first (each one a reconnect that succeeded).
    logins: u32,
}

impl Reconnector {
    /// Start in `policy`, the first connection logged in at `now` with
    /// `mask`.
    pub(crate) fn new(policy: Reconnect, mask: EventMask, now: Instant) -> Reconnector {
        let mut backoff = Backoff::new(policy);
        backoff.logged_in(now);
        Reconnector {
            backoff,
            next_at: None,
            mask,
            filters: Vec::new(),
            unconfirmed: Vec::new(),
            logins: 0,
        }
    }

    pub(crate) fn policy(&self) -> &Reconnect {
        self.backoff.policy()
    }

    /// Attempts made since a connection last stayed up.
    pub(crate) fn attempts(&self) -> u32 {
        self.backoff.attempts()
    }

    /// When the next attempt is due, while one is scheduled.
    pub(crate) fn next_at(&self) -> Option<Instant> {
        self.next_at
    }

    /// A connection logged in at `now`.
    pub(crate) fn logged_in(&mut self, now: Instant) -> u32 {
        self.backoff.logged_in(now);
        self.logins += 1;
        self.logins
    }

    /// Logins after the first so far.
    pub(crate) fn logins(&self) -> u32 {
        self.logins
    }

    /// The connection ended at `now` (or an attempt to open one failed):
    /// schedule the next attempt with jitter `unit`. `false` once the
    /// policy gives up.
    pub(crate) fn schedule(&mut self, now: Instant, unit: f64) -> bool {
        self.backoff.ended(now);
        self.unconfirmed.clear();
        self.next_at = self.backoff.next_delay(unit).map(|d| now + d);
        self.next_at.is_some()
    }

    /// Stop scheduling: a connection is open.
    pub(crate) fn opened(&mut self) {
        self.next_at = None;
    }

    /// Settings for the next login: `config` with the accepted mask.
    pub(crate) fn login_config(&self, config: &Config) -> Config {
        let mut config = config.clone();
        config.events = self.mask.clone();
        config
    }

    /// Queue the accepted filters on a fresh connection: held by the core,
    /// written right after the login.
    pub(crate) fn reapply_filters(&self, conn: &mut Connection, now: Instant) {
        for f in &self.filters {
            let _ = conn.send_with(
                Action::filter_add(f.clone()),
                SendOptions::new().no_reply(),
                now,
            );
        }
    }

    /// Remember `change` once the action `handle` is accepted.
    pub(crate) fn track(&mut self, handle: ActionHandle, change: Change) {
        self.unconfirmed.push((handle, change));
    }

    /// Forget a tracked change whose action was cancelled.
    pub(crate) fn untrack(&mut self, handle: ActionHandle) {
        self.unconfirmed.retain(|(h, _)| *h != handle);
    }

    /// Whether a change waits for its answer (a cheap check before
    /// [`Reconnector::confirm`]).
    #[inline]
    pub(crate) fn tracking(&self) -> bool {
        !self.unconfirmed.is_empty()
    }

    /// An action finished: keep its change for later logins only if the
    /// server answered `Response: Success` (a refused mask or filter must
    /// not poison every reconnect).
    pub(crate) fn confirm(&mut self, handle: ActionHandle, result: &Result<Outcome, ActionError>) {
        let Some(at) = self.unconfirmed.iter().position(|(h, _)| *h == handle) else {
            return;
        };
        let (_, change) = self.unconfirmed.swap_remove(at);
        let accepted = matches!(
            result,
            Ok(Outcome::Response(p)) if p.response_status() == Some(ResponseStatus::Success)
        );
        if accepted {
            match change {
                Change::Mask(m) => self.mask = m,
                Change::Filter(f) => self.filters.push(f),
            }
        }
    }
}

/// A uniform random number in `[0, 1)` for the jitter, from fresh OS-keyed
/// randomness.
pub(crate) fn random_unit() -> f64 {
    (crate::entropy::connection_entropy() >> 11) as f64 / (1u64 << 53) as f64
}

/// What is left of `deadline` at `now` (zero once passed).
pub(crate) fn left(deadline: Instant, now: Instant) -> Duration {
    deadline.saturating_duration_since(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handles(n: usize) -> Vec<ActionHandle> {
        let now = Instant::now();
        let mut conn = Connection::new(Config::new("u", "s"), now);
        (0..n)
            .map(|_| conn.send(Action::ping(), now).unwrap())
            .collect()
    }

    fn response(status: &str) -> Result<Outcome, ActionError> {
        Ok(Outcome::Response(
            amiproto::Packet::builder()
                .header("Response", status)
                .build()
                .unwrap(),
        ))
    }

    #[test]
    fn only_accepted_changes_are_kept() {
        let h = handles(3);
        let now = Instant::now();
        let mut r = Reconnector::new(Reconnect::default(), EventMask::On, now);
        r.track(h[0], Change::Mask(EventMask::Off));
        r.track(h[1], Change::Filter("Event: A".into()));
        r.track(h[2], Change::Filter("Event: (".into()));
        r.confirm(h[2], &response("Error"));
        r.confirm(h[0], &response("Success"));
        r.confirm(h[1], &response("Success"));
        assert!(!r.tracking());
        assert_eq!(r.mask, EventMask::Off);
        assert_eq!(r.filters, ["Event: A"]);
        let cfg = r.login_config(&Config::new("u", "s"));
        assert_eq!(cfg.events, EventMask::Off);
    }

    #[test]
    fn schedules_with_the_policy_and_gives_up() {
        let now = Instant::now();
        let policy = Reconnect::default()
            .delays(Duration::from_millis(10), Duration::from_secs(1))
            .jitter(0.0)
            .max_attempts(2);
        let mut r = Reconnector::new(policy, EventMask::On, now);
        assert!(r.schedule(now, 0.5));
        assert_eq!(r.next_at(), Some(now + Duration::from_millis(10)));
        assert!(r.schedule(now, 0.5));
        assert_eq!(r.next_at(), Some(now + Duration::from_millis(20)));
        assert!(!r.schedule(now, 0.5));
        assert_eq!(r.next_at(), None);
    }

    #[test]
    fn random_units_are_in_range_and_differ() {
        let a: Vec<f64> = (0..32).map(|_| random_unit()).collect();
        assert!(a.iter().all(|u| (0.0..1.0).contains(u)));
        assert!(a.windows(2).any(|w| w[0] != w[1]));
    }
}
