//! The client's clocks: the precise one where a wait or a read needs it,
//! and a cheap one for the checks every call makes.
//!
//! Every call into the client asks "is the last read 5 ms old?" (see
//! `Client::take_in`), and every submit hands the core a `now` for the
//! action's deadline. `Instant::now()` costs 20–90 ns (a virtual machine's
//! clock is at the slow end), a large part of what a call costs when events
//! are handed out at millions per second. On Linux the kernel keeps a
//! coarse monotonic clock, updated at every tick (1–4 ms), that reads in a
//! few nanoseconds (`CLOCK_MONOTONIC_COARSE`, through `rustix`, without
//! `unsafe` here); elsewhere the cheap clock is the precise one.

use std::time::{Duration, Instant};

/// The precise clock, and a cheap estimate of it between precise readings.
#[derive(Debug)]
pub(crate) struct Clock {
    /// The last precise reading, and the coarse clock right after it.
    base: Instant,
    base_coarse: Duration,
    /// The latest instant handed out: handed-out instants never go back.
    last: Instant,
    /// How far apart two readings of the coarse clock can be from the true
    /// time passed; zero when the coarse clock is the precise one.
    resolution: Duration,
    /// The coarse clock is too coarse for the checks (or missing): read the
    /// precise one instead.
    precise_only: bool,
    /// Origin of [`Clock::ticks`] when they come from the precise clock.
    epoch: Instant,
}

impl Clock {
    /// A clock whose coarse readings are used only if its resolution is
    /// below `finest_check` (the shortest interval a check measures; a
    /// coarser clock would make every check pass).
    pub(crate) fn new(finest_check: Duration) -> Clock {
        let resolution = coarse_resolution();
        let precise_only = resolution.is_none_or(|r| r >= finest_check);
        let now = Instant::now();
        Clock {
            base: now,
            base_coarse: if precise_only {
                Duration::ZERO
            } else {
                coarse()
            },
            last: now,
            resolution: if precise_only {
                Duration::ZERO
            } else {
                resolution.unwrap_or_default()
            },
            precise_only,
            epoch: now,
        }
    }

    /// The exact time (and a new base for [`Clock::cheap`]).
    pub(crate) fn now(&mut self) -> Instant {
        let now = Instant::now();
        if !self.precise_only {
            self.base = now;
            self.base_coarse = coarse();
        }
        self.last = self.last.max(now);
        self.last
    }

    /// The time to within [`Clock::resolution`], for one read of the coarse
    /// clock; never earlier than an instant handed out before.
    #[inline]
    pub(crate) fn cheap(&mut self) -> Instant {
        if self.precise_only {
            return self.now();
        }
        let now = self.base + coarse().saturating_sub(self.base_coarse);
        self.last = self.last.max(now);
        self.last
    }

    /// A reading of the coarse clock, for intervals measured with
    /// [`Clock::resolution`] in mind; the precise clock when that is the
    /// cheap one.
    #[inline]
    pub(crate) fn ticks(&self) -> Duration {
        if self.precise_only {
            self.epoch.elapsed()
        } else {
            coarse()
        }
    }

    /// How much an interval measured with [`Clock::ticks`] can fall short
    /// of the true one (zero for the precise clock).
    pub(crate) fn resolution(&self) -> Duration {
        self.resolution
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn coarse() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn coarse_resolution() -> Option<Duration> {
    let r = rustix::time::clock_getres(rustix::time::ClockId::MonotonicCoarse);
    let r = Duration::new(r.tv_sec as u64, r.tv_nsec as u32);
    (!r.is_zero()).then_some(r)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn coarse() -> Duration {
    Duration::ZERO
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn coarse_resolution() -> Option<Duration> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cheap_time_follows_the_precise_clock_and_never_goes_back() {
        let mut c = Clock::new(Duration::from_millis(5));
        let mut last = c.now();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_millis(30) {
            let before = Instant::now();
            let cheap = c.cheap();
            let after = Instant::now();
            assert!(cheap >= last);
            // Within two resolutions (the base's tick and the reading's)
            // of the true time.
            let slack = c.resolution() * 2;
            assert!(cheap + slack >= before, "{cheap:?} {before:?}");
            assert!(cheap <= after + slack, "{cheap:?} {after:?}");
            last = cheap;
        }
        let precise = c.now();
        assert!(precise >= last);
    }

    #[test]
    fn ticks_measure_intervals_within_the_resolution() {
        let c = Clock::new(Duration::from_millis(5));
        let a = c.ticks();
        std::thread::sleep(Duration::from_millis(20));
        let b = c.ticks();
        assert!(
            b - a + c.resolution() >= Duration::from_millis(20),
            "{:?}",
            b - a
        );
    }
}
