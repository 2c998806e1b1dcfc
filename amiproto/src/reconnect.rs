//! The reconnect policy both clients share, and its backoff, sans I/O.
//!
//! [`Reconnect`] says how a client re-establishes a lost connection:
//! exponential backoff with jitter, an optional limit on attempts, when the
//! backoff starts again, and what happens to actions submitted meanwhile.
//! [`Backoff`] keeps a client's place in that policy. Both are pure: the
//! caller passes in the time and the randomness; nothing here reads a clock,
//! sleeps or draws a random number.
//!
//! ```
//! use amiproto::reconnect::{Backoff, Reconnect};
//! use std::time::{Duration, Instant};
//!
//! let policy = Reconnect::default()
//!     .delays(Duration::from_millis(100), Duration::from_secs(1))
//!     .max_attempts(3);
//! let mut backoff = Backoff::new(policy);
//! let t0 = Instant::now(); // the caller's clock
//! backoff.logged_in(t0);
//! backoff.ended(t0 + Duration::from_secs(1)); // up only 1 s: no reset
//! // `unit` is the caller's uniform random number in [0, 1): 0 means no jitter.
//! assert_eq!(backoff.next_delay(0.0), Some(Duration::from_millis(100)));
//! assert_eq!(backoff.next_delay(0.0), Some(Duration::from_millis(200)));
//! assert_eq!(backoff.next_delay(0.0), Some(Duration::from_millis(400)));
//! assert_eq!(backoff.next_delay(0.0), None, "three failed attempts: give up");
//! ```

use std::time::{Duration, Instant};

use crate::error::CloseReason;

/// What happens to actions submitted while the client is reconnecting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum WhileReconnecting {
    /// Hold them until the connection is back, up to each action's own
    /// timeout (then it fails with [`crate::ActionError::Timeout`]).
    #[default]
    Wait,
    /// Fail them at once with [`crate::ClientError::NotConnected`].
    FailFast,
}

/// Automatic reconnects: exponential backoff with jitter.
///
/// Attempt `n` (from 0) waits `min(max_delay, initial_delay × multiplier^n)`,
/// shortened by a random fraction of up to `jitter` of itself. The counter
/// restarts only once a connection has stayed logged in for `reset_after`
/// (10 s by default): a server that accepts the login and drops the
/// connection right after is retried with a growing delay, not in a tight
/// loop, and such a short-lived connection counts as a failed attempt for
/// `max_attempts`. Every reconnect logs in again with the same credentials
/// and re-applies the event mask and filters set through the client
/// (`set_event_mask`, `add_filter`) that the server accepted. A connection
/// that ended with a permanent error
/// ([`crate::ConnectionError::is_permanent`]: a login that can never be
/// encoded) or with a logoff is not retried (see [`Reconnect::retries`]).
/// Actions pending when a connection drops fail with
/// [`crate::ActionError::Closed`]; they are never re-sent.
///
/// Both clients take this type (`amiproto_tokio::Reconnect`,
/// `amiproto_std::Reconnect`).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Reconnect {
    /// Delay before the first attempt. Default 100 ms.
    pub initial_delay: Duration,
    /// Cap on the delay. Default 30 s.
    pub max_delay: Duration,
    /// Growth factor per attempt. Default 2.
    pub multiplier: f64,
    /// Random shortening, a fraction from 0 to 1. Default 0.3.
    pub jitter: f64,
    /// Give up after this many failed attempts in a row (a connection that
    /// did not stay up for `reset_after` counts as failed); `None`
    /// (default): never.
    pub max_attempts: Option<u32>,
    /// How long a connection must stay logged in before the attempt counter
    /// (and so the delay) starts again from the beginning. Default 10 s.
    pub reset_after: Duration,
    /// Actions submitted while disconnected: wait or fail fast.
    pub while_reconnecting: WhileReconnecting,
}

impl Default for Reconnect {
    fn default() -> Reconnect {
        Reconnect {
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(30),
            multiplier: 2.0,
            jitter: 0.3,
            max_attempts: None,
            reset_after: Duration::from_secs(10),
            while_reconnecting: WhileReconnecting::Wait,
        }
    }
}

impl Reconnect {
    /// Set the first delay and the cap.
    pub fn delays(mut self, initial: Duration, max: Duration) -> Reconnect {
        self.initial_delay = initial;
        self.max_delay = max;
        self
    }

    /// Set the jitter fraction (clamped to 0..=1).
    pub fn jitter(mut self, jitter: f64) -> Reconnect {
        self.jitter = jitter.clamp(0.0, 1.0);
        self
    }

    /// Give up after `n` failed attempts in a row.
    pub fn max_attempts(mut self, n: u32) -> Reconnect {
        self.max_attempts = Some(n);
        self
    }

    /// Set how long a connection must stay logged in before the backoff
    /// starts again from `initial_delay`.
    pub fn reset_after(mut self, stable: Duration) -> Reconnect {
        self.reset_after = stable;
        self
    }

    /// Choose what happens to actions submitted while disconnected.
    pub fn while_reconnecting(mut self, mode: WhileReconnecting) -> Reconnect {
        self.while_reconnecting = mode;
        self
    }

    /// The delay before attempt `attempt` (from 0), given a uniform random
    /// number `unit` in `[0, 1)` (the caller's; values outside are clamped).
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let base = self.initial_delay.as_secs_f64()
            * self
                .multiplier
                .max(1.0)
                .powi(attempt.min(64) as i32)
                .min(1e9);
        let capped = base.min(self.max_delay.as_secs_f64());
        let jittered = capped * (1.0 - self.jitter.clamp(0.0, 1.0) * unit.clamp(0.0, 1.0));
        Duration::from_secs_f64(jittered.max(0.0))
    }

    /// Whether a connection that ended for `reason` is worth re-establishing:
    /// not after a logoff (answered or timed out), nor when no login could
    /// ever succeed ([`crate::ConnectionError::is_permanent`]). A refused
    /// login is retried (the account may be fixed meanwhile), with the
    /// growing delay.
    pub fn retries(&self, reason: &CloseReason) -> bool {
        match reason {
            _ if reason.is_logoff() => false,
            CloseReason::Error(e) => !e.is_permanent(),
            _ => true,
        }
    }
}

/// A client's place in its [`Reconnect`] policy: how many attempts were
/// made since a connection last stayed up, and since when the current
/// connection is logged in.
///
/// The caller reports logins and ends with its own clock and asks
/// [`Backoff::next_delay`] before each attempt, passing its own randomness.
#[derive(Clone, Debug)]
pub struct Backoff {
    policy: Reconnect,
    attempt: u32,
    up_since: Option<Instant>,
}

impl Backoff {
    /// A fresh place in `policy`: no attempt made.
    pub fn new(policy: Reconnect) -> Backoff {
        Backoff {
            policy,
            attempt: 0,
            up_since: None,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &Reconnect {
        &self.policy
    }

    /// Attempts made since a connection last stayed up for the policy's
    /// `reset_after` (the one about to be made is number `attempts()`, from
    /// 0).
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// A connection logged in at `now`.
    pub fn logged_in(&mut self, now: Instant) {
        self.up_since = Some(now);
    }

    /// The connection ended at `now`: if it had stayed logged in for the
    /// policy's `reset_after`, the attempt counter (and so the delay)
    /// starts again.
    pub fn ended(&mut self, now: Instant) {
        if let Some(since) = self.up_since.take() {
            if now.saturating_duration_since(since) >= self.policy.reset_after {
                self.attempt = 0;
            }
        }
    }

    /// Count one more attempt and return how long to wait before making it
    /// (`unit`: a uniform random number in `[0, 1)` for the jitter); `None`
    /// once `max_attempts` attempts in a row have failed: give up.
    pub fn next_delay(&mut self, unit: f64) -> Option<Duration> {
        if self.policy.max_attempts.is_some_and(|m| self.attempt >= m) {
            return None;
        }
        let delay = self.policy.delay(self.attempt, unit);
        self.attempt += 1;
        Some(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ConnectionError;

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let r = Reconnect::default().delays(Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(r.delay(0, 0.0), Duration::from_millis(100));
        assert_eq!(r.delay(1, 0.0), Duration::from_millis(200));
        assert_eq!(r.delay(3, 0.0), Duration::from_millis(800));
        assert_eq!(r.delay(4, 0.0), Duration::from_secs(1));
        assert_eq!(r.delay(1000, 0.0), Duration::from_secs(1));
        let j = r.delay(4, 0.999);
        assert!(
            j >= Duration::from_millis(700) && j < Duration::from_secs(1),
            "{j:?}"
        );
        // Out-of-range randomness is clamped, never a negative delay.
        assert_eq!(r.delay(0, 7.0), Duration::from_millis(70));
        assert_eq!(r.delay(0, -1.0), Duration::from_millis(100));
    }

    #[test]
    fn counter_restarts_only_after_a_connection_stayed_up() {
        let policy = Reconnect::default()
            .delays(Duration::from_millis(10), Duration::from_secs(60))
            .reset_after(Duration::from_secs(10));
        let mut b = Backoff::new(policy);
        let t0 = Instant::now();
        assert_eq!(b.next_delay(0.0), Some(Duration::from_millis(10)));
        assert_eq!(b.next_delay(0.0), Some(Duration::from_millis(20)));
        // Logged in, dropped after 1 s: still growing.
        b.logged_in(t0);
        b.ended(t0 + Duration::from_secs(1));
        assert_eq!(b.next_delay(0.0), Some(Duration::from_millis(40)));
        // An end without a login (a failed attempt) changes nothing.
        b.ended(t0 + Duration::from_secs(100));
        assert_eq!(b.attempts(), 3);
        // Up for 10 s: from the start again.
        b.logged_in(t0);
        b.ended(t0 + Duration::from_secs(10));
        assert_eq!(b.attempts(), 0);
        assert_eq!(b.next_delay(0.0), Some(Duration::from_millis(10)));
    }

    #[test]
    fn gives_up_after_max_attempts_in_a_row() {
        let mut b = Backoff::new(Reconnect::default().max_attempts(2));
        assert!(b.next_delay(0.5).is_some());
        assert!(b.next_delay(0.5).is_some());
        assert_eq!(b.next_delay(0.5), None);
        assert_eq!(b.next_delay(0.5), None);
        let mut never = Backoff::new(Reconnect::default().max_attempts(0));
        assert_eq!(never.next_delay(0.0), None);
    }

    #[test]
    fn permanent_errors_and_logoffs_are_not_retried() {
        let r = Reconnect::default();
        let unencodable = ConnectionError::LoginUnencodable(crate::EncodeError::EmptyActionName);
        assert!(!r.retries(&CloseReason::Error(unencodable)));
        assert!(!r.retries(&CloseReason::LoggedOff));
        assert!(!r.retries(&CloseReason::Error(ConnectionError::LogoffTimeout)));
        assert!(r.retries(&CloseReason::Error(ConnectionError::PeerClosed {
            mid_packet: false
        })));
        assert!(r.retries(&CloseReason::Error(ConnectionError::AuthFailed {
            message: "Authentication failed".into()
        })));
    }
}
