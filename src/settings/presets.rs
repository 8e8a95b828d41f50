//! The named starting points of a plan's LoadGen settings (table in `settings`).

use crate::plan::{LoadGenSettings, WarmUp};

/// mlperf.conf's seeds.
pub const OFFICIAL_QSL_RNG_SEED: u64 = 2_085_463_073_848_966_840;
pub const OFFICIAL_SAMPLE_INDEX_RNG_SEED: u64 = 2_747_215_439_041_700_203;
/// Latency store reserved before timing (12 bytes a query: u64 latency + u32 index).
pub const DEFAULT_MAX_STORED_QUERIES: u64 = 1 << 20;

/// The preset used when none is named.
pub const DEFAULT_PRESET: &str = "quick";

/// A preset's LoadGen settings, or None for an unknown name.
pub fn preset(name: &str) -> Option<LoadGenSettings> {
    let official = LoadGenSettings {
        min_duration_ns: 600_000 * 1_000_000,
        max_duration_ns: 0,
        min_query_count: 100,
        max_query_count: 0,
        performance_sample_count: 1024,
        total_sample_count: 50_000,
        qsl_rng_seed: OFFICIAL_QSL_RNG_SEED,
        sample_index_rng_seed: OFFICIAL_SAMPLE_INDEX_RNG_SEED,
        target_percentile: 0.90,
        offline_expected_qps: 100.0,
        warm_up: WarmUp::Queries(10),
        max_stored_queries: DEFAULT_MAX_STORED_QUERIES,
    };
    match name {
        "official" => Some(official),
        "quick" => Some(LoadGenSettings {
            min_duration_ns: 2_000 * 1_000_000,
            total_sample_count: 1024,
            ..official
        }),
        _ => None,
    }
}
