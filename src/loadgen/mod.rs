//! The scenario engine: drives a [`Sut`](crate::sut::Sut) through SingleStream or
//! Offline exactly as MLPerf LoadGen does, and hands the raw run to `stats`.

pub mod calibrate;
pub mod offline;
pub mod qsl;
pub mod single_stream;
pub mod warm_up;

use std::sync::atomic::{AtomicBool, AtomicU64};

// The clocks live below the engine (`crate::clock`): SUTs use them too.
pub use crate::clock::{Clock, FakeClock, MonotonicClock};

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
    /// Stopped early by `Control::abort`.
    pub aborted: bool,
    /// Stopped because the reserved latency store was full.
    pub store_full: bool,
}

impl ScenarioRun {
    /// A run of `scenario` on the `loaded` samples that has issued nothing yet.
    pub fn empty(scenario: crate::plan::Scenario, loaded: &[usize]) -> ScenarioRun {
        ScenarioRun {
            scenario,
            loaded_set: loaded.to_vec(),
            issued_sample_index: Vec::new(),
            latency_ns: Vec::new(),
            start_ns: 0,
            duration_ns: 0,
            aborted: false,
            store_full: false,
        }
    }
}
