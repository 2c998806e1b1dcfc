//! Time as the simulator shows it: wall-clock values derived from tokio's
//! clock (so paused test time gives repeatable timestamps), and a seeded
//! random source for challenges and bridge ids.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// The simulator's clock and random source.
#[derive(Debug)]
pub(crate) struct Clock {
    wall0: Duration,
    t0: Instant,
    rng: Mutex<u64>,
}

impl Clock {
    /// A clock whose wall time is `start` at tokio's `now()`.
    pub(crate) fn new(start: SystemTime, seed: u64) -> Clock {
        Clock {
            wall0: start.duration_since(UNIX_EPOCH).unwrap_or_default(),
            t0: Instant::now(),
            rng: Mutex::new(seed),
        }
    }

    /// Time since the simulator started.
    pub(crate) fn uptime(&self) -> Duration {
        self.t0.elapsed()
    }

    /// Wall time now, since the Unix epoch.
    pub(crate) fn wall(&self) -> Duration {
        self.wall0 + self.uptime()
    }

    /// Epoch seconds at start: the prefix of every uniqueid.
    pub(crate) fn start_secs(&self) -> u64 {
        self.wall0.as_secs()
    }

    /// `Timestamp:` of `Ping`: `<sec>.<usec>`.
    pub(crate) fn timestamp(&self) -> String {
        let w = self.wall();
        format!("{}.{:06}", w.as_secs(), w.subsec_micros())
    }

    /// `EventTV:` of security events: `2026-11-22T09:23:31.987+0000`.
    pub(crate) fn event_tv(&self) -> String {
        let w = self.wall();
        let (date, time) = civil(w.as_secs());
        format!("{date}T{time}.{:03}+0000", w.subsec_millis())
    }

    /// Start date and time (UTC) as `CoreStatus` shows them.
    pub(crate) fn start_date_time(&self) -> (String, String) {
        civil(self.wall0.as_secs())
    }

    /// Next pseudo-random number (SplitMix64).
    pub(crate) fn random(&self) -> u64 {
        let mut s = self.rng.lock().expect("rng");
        *s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// `(YYYY-MM-DD, HH:MM:SS)` of epoch seconds, UTC (Howard Hinnant's
/// days-to-civil).
fn civil(secs: u64) -> (String, String) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!("{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), ("1970-01-01".into(), "00:00:00".into()));
        // 1795339413 is the Timestamp of capture 03 (2026-11-22 09:23:33 UTC).
        assert_eq!(
            civil(1_795_339_413),
            ("2026-11-22".into(), "09:23:33".into())
        );
    }
}
