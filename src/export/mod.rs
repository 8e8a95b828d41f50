//! Presentation, kept apart from measuring: each output format in its own file,
//! each a function of finished results (plus the TTY progress line, which only
//! reads `Control` from outside the timed path).

pub mod accuracy;
pub mod json;
pub mod summary;

use crate::stats::Percentiles;

/// LoadGen's row names for the six logged percentiles, with our values.
pub fn percentile_rows(p: &Percentiles) -> [(&'static str, u64); 6] {
    [
        ("50.00", p.p50),
        ("90.00", p.p90),
        ("95.00", p.p95),
        ("97.00", p.p97),
        ("99.00", p.p99),
        ("99.90", p.p999),
    ]
}

/// "90" for 0.9, "99.9" for 0.999: how LoadGen names a percentile in prose.
pub fn percent_label(q: f64) -> String {
    let s = format!("{:.4}", q * 100.0);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
