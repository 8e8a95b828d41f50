//! The scenario engine: drives a [`Sut`](crate::sut::Sut) through SingleStream or
//! Offline exactly as MLPerf LoadGen does, and hands the raw run to `stats`.

pub mod calibrate;
pub mod clock;
pub mod offline;
pub mod qsl;
pub mod single_stream;
pub mod warm_up;

use std::sync::atomic::{AtomicBool, AtomicU64};

pub use clock::{FakeClock, MonotonicClock};

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

/// Shared with observers outside the timed path (TTY progress line, daemon
/// STATUS=, signal handling). The engine only does relaxed atomic stores/loads.
#[derive(Debug, Default)]
pub struct Control {
    /// Queries (SingleStream) or samples (Offline) completed so far.
    pub completed: AtomicU64,
    /// Set from outside (SIGTERM): stop at the next query boundary.
    pub abort: AtomicBool,
}

/// What one scenario run produced, before any statistics. Times in ns of the
/// engine's monotonic clock.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioRun {
    pub scenario: crate::plan::Scenario,
    /// LoadGen's loaded_qsl_set, in load order.
    pub loaded_set: Vec<usize>,
    /// QSL sample index of every issued sample, in issue order.
    pub issued_sample_index: Vec<u32>,
    /// Latency of each issued sample, same order.
    pub latency_ns: Vec<u64>,
    /// Clock value when timing started (first issue for Offline).
    pub start_ns: u64,
    /// SingleStream: issue time of the last query, relative to start (LoadGen's
    /// duration for min_duration and QPS with overhead). Offline: last completion
    /// relative to the issue.
    pub duration_ns: u64,
    /// Untimed warm-up: queries run and time spent.
    pub warm_up_queries: u64,
    pub warm_up_ns: u64,
    /// Stopped early by `Control::abort`.
    pub aborted: bool,
    /// Stopped because the reserved latency store was full.
    pub store_full: bool,
}
