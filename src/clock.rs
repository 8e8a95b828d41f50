//! The clocks of the timed path: the monotonic clock every real run uses, and a
//! fake one that only moves when told to, so scenario tests are exact and never
//! sleep. Below both the scenario engine (`loadgen`) and the SUTs (`sut`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Monotonic nanoseconds since an arbitrary origin. Tests use a fake clock.
pub trait Clock: Sync {
    fn now_ns(&self) -> u64;
    /// Busy-wait until `deadline_ns` (synthetic SUTs that "compute"). A fake
    /// clock jumps to the deadline instead, so tests never wait.
    fn spin_until(&self, deadline_ns: u64) {
        while self.now_ns() < deadline_ns {
            std::hint::spin_loop();
        }
    }
    /// Give the CPU away until `deadline_ns` (synthetic SUTs that "wait").
    /// A fake clock jumps to the deadline instead.
    fn sleep_until(&self, deadline_ns: u64) {
        loop {
            let now = self.now_ns();
            if now >= deadline_ns {
                return;
            }
            std::thread::sleep(std::time::Duration::from_nanos(deadline_ns - now));
        }
    }
}

/// CLOCK_MONOTONIC through `std::time::Instant` (vDSO on Linux, no syscall):
/// never steps with NTP or the wall clock, unlike LoadGen's CLOCK_REALTIME.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    pub fn new() -> Self {
        MonotonicClock {
            origin: Instant::now(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    #[inline]
    fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }
}

/// A clock that stands still until advanced. Reading it can optionally cost a
/// fixed tick, which models the harness's own time between queries.
#[derive(Debug, Default)]
pub struct FakeClock {
    now: AtomicU64,
    tick_per_read: u64,
}

impl FakeClock {
    pub fn new(start_ns: u64) -> Self {
        FakeClock {
            now: AtomicU64::new(start_ns),
            tick_per_read: 0,
        }
    }

    /// Every `now_ns` call advances the clock by `tick_ns` after reading.
    pub fn with_tick(start_ns: u64, tick_ns: u64) -> Self {
        FakeClock {
            now: AtomicU64::new(start_ns),
            tick_per_read: tick_ns,
        }
    }

    pub fn advance(&self, ns: u64) {
        self.now.fetch_add(ns, Ordering::Relaxed);
    }

    pub fn set(&self, ns: u64) {
        self.now.store(ns, Ordering::Relaxed);
    }
}

impl Clock for FakeClock {
    fn now_ns(&self) -> u64 {
        self.now.fetch_add(self.tick_per_read, Ordering::Relaxed)
    }

    fn spin_until(&self, deadline_ns: u64) {
        self.now.fetch_max(deadline_ns, Ordering::Relaxed);
    }

    fn sleep_until(&self, deadline_ns: u64) {
        self.now.fetch_max(deadline_ns, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_clock_never_goes_back() {
        let c = MonotonicClock::new();
        let mut last = c.now_ns();
        for _ in 0..10_000 {
            let now = c.now_ns();
            assert!(now >= last);
            last = now;
        }
    }

    #[test]
    fn fake_clock_moves_only_when_told() {
        let c = FakeClock::new(5);
        assert_eq!(c.now_ns(), 5);
        assert_eq!(c.now_ns(), 5);
        c.advance(10);
        assert_eq!(c.now_ns(), 15);
        c.spin_until(100);
        assert_eq!(c.now_ns(), 100);
        c.sleep_until(50); // never backwards
        assert_eq!(c.now_ns(), 100);
        let t = FakeClock::with_tick(0, 7);
        assert_eq!((t.now_ns(), t.now_ns()), (0, 7));
    }
}
