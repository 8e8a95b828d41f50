//! LoadGen's statistics for a finished scenario run: percentiles, integer mean,
//! early-stopping estimates, QPS and samples/s, and VALID/INVALID with reasons.

use serde::{Deserialize, Serialize};

/// Why a run is INVALID. Persisted: append-only, never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InvalidReason {
    MinDurationNotMet,
    MinQueriesNotMet,
    EarlyStoppingNotMet,
    /// Offline finished before min_duration: "Increase expected QPS ...".
    OfflineExpectedQpsTooLow,
    Aborted,
    /// The reserved latency store filled before the stop rules were met.
    LatencyStoreFull,
    SutError,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p95: u64,
    pub p97: u64,
    pub p99: u64,
    pub p999: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// 0.90 or 0.99.
    pub percentile: f64,
    /// Queries needed for any estimate (64 at 0.90, 662 at 0.99).
    pub min_queries: u64,
    pub met: bool,
    /// t: the estimate is the t-th largest latency (LoadGen "would discard t-1").
    pub t: u64,
    /// None when not met.
    pub estimate_ns: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub scenario: crate::plan::Scenario,
    /// SingleStream: queries; Offline: 1.
    pub query_count: u64,
    pub sample_count: u64,
    pub duration_ns: u64,
    pub min_ns: u64,
    pub max_ns: u64,
    /// Integer sum / n, as LoadGen.
    pub mean_ns: u64,
    pub percentiles: Percentiles,
    /// Latency at the plan's target percentile.
    pub target_percentile_ns: u64,
    /// SingleStream only.
    pub early_stopping_90: Option<EarlyStopping>,
    pub early_stopping_99: Option<EarlyStopping>,
    /// SingleStream: (n-1)/(last issue - start); 0 for Offline.
    pub qps_with_overhead: f64,
    /// SingleStream: 1e9/mean; 0 for Offline.
    pub qps_without_overhead: f64,
    /// Offline: samples / (last completion - issue); SingleStream: same formula on its run.
    pub samples_per_second: f64,
    pub min_duration_met: bool,
    pub min_queries_met: bool,
    pub valid: bool,
    pub invalid_reasons: Vec<InvalidReason>,
}
