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
///
/// Cheap readings are "ticks": nanoseconds on the coarse clock (or, where
/// that is the precise clock, since the clock was made), compared as plain
/// integers.
#[derive(Debug)]
pub(crate) struct Clock {
    /// An instant and the ticks at that instant: cheap instants are
    /// `base + (ticks - base_ticks)`. Moved to every precise reading when
    /// ticks are coarse; fixed at creation when they are precise.
    base: Instant,
    base_ticks: u64,
    /// The latest instant handed out: handed-out instants never go back.
    last: Instant,
    /// How far apart two tick readings can be from the true time passed,
    /// in nanoseconds; zero when ticks are precise.
    resolution: u64,
    /// Ticks come from the precise clock (the coarse one is too coarse for
    /// the checks, or missing).
    precise: bool,
}

impl Clock {
    /// A clock whose coarse readings are used only if its resolution is
    /// below `finest_check` (the shortest interval a check measures; a
    /// coarser clock would make every check pass).
    pub(crate) fn new(finest_check: Duration) -> Clock {
        let resolution = coarse_resolution().filter(|r| *r < finest_check);
        let now = Instant::now();
        Clock {
            base: now,
            base_ticks: if resolution.is_some() { coarse() } else { 0 },
            last: now,
            resolution: resolution.map_or(0, nanos),
            precise: resolution.is_none(),
        }
    }

    /// The exact time (and, for coarse ticks, a new base).
    pub(crate) fn now(&mut self) -> Instant {
        let now = Instant::now();
        if !self.precise {
            self.base = now;
            self.base_ticks = coarse();
        }
        self.last = self.last.max(now);
        self.last
    }

    /// The cheap clock: one read of the coarse clock (where there is one).
    #[inline]
    pub(crate) fn ticks(&self) -> u64 {
        if self.precise {
            nanos(self.base.elapsed())
        } else {
            coarse()
        }
    }

    /// The instant `ticks` stand for, to within two resolutions; never
    /// earlier than an instant handed out before.
    #[inline]
    pub(crate) fn instant_at(&mut self, ticks: u64) -> Instant {
        let at = self.base + Duration::from_nanos(ticks.saturating_sub(self.base_ticks));
        self.last = self.last.max(at);
        self.last
    }

    /// How much an interval measured in ticks can fall short of the true
    /// one, in nanoseconds (zero for precise ticks).
    pub(crate) fn resolution(&self) -> u64 {
        self.resolution
    }
}

/// A duration in nanoseconds (saturating: 584 years).
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[inline]
fn coarse() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse);
    (t.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(t.tv_nsec as u64)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn coarse_resolution() -> Option<Duration> {
    let r = rustix::time::clock_getres(rustix::time::ClockId::MonotonicCoarse);
    let r = Duration::new(r.tv_sec as u64, r.tv_nsec as u32);
    (!r.is_zero()).then_some(r)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn coarse() -> u64 {
    0
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn coarse_resolution() -> Option<Duration> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cheap_instants_follow_the_precise_clock_and_never_go_back() {
        let mut c = Clock::new(Duration::from_millis(5));
        let mut last = c.now();
        let slack = Duration::from_nanos(2 * c.resolution());
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_millis(30) {
            let before = Instant::now();
            let cheap = c.instant_at(c.ticks());
            let after = Instant::now();
            assert!(cheap >= last);
            assert!(cheap + slack >= before, "{cheap:?} {before:?}");
            assert!(cheap <= after + slack, "{cheap:?} {after:?}");
            last = cheap;
        }
        assert!(c.now() >= last);
    }

    #[test]
    fn ticks_measure_intervals_within_the_resolution() {
        for finest in [Duration::from_millis(5), Duration::ZERO] {
            // ZERO: no coarse clock is fine enough, ticks are precise.
            let c = Clock::new(finest);
            let a = c.ticks();
            std::thread::sleep(Duration::from_millis(20));
            let b = c.ticks();
            assert!(b - a + c.resolution() >= 20_000_000, "{}", b - a);
            if finest.is_zero() {
                assert_eq!(c.resolution(), 0);
            }
        }
    }
}
