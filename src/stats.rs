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

use crate::loadgen::ScenarioRun;
use crate::plan::{LoadGenSettings, Scenario};

/// LoadGen's confidence for early stopping.
const CONFIDENCE: f64 = 0.99;
/// The second early-stopping percentile LoadGen always reports (for MultiStream
/// inference from SingleStream).
pub const SECOND_ES_PERCENTILE: f64 = 0.99;

/// `sorted[floor(n * q)]`, the product taken in double as LoadGen does
/// (`size_t * double`, then truncated). `sorted` must be non-empty.
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    let idx = (sorted.len() as f64 * q) as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// The six rows LoadGen logs.
pub fn percentiles(sorted: &[u64]) -> Percentiles {
    Percentiles {
        p50: percentile(sorted, 0.5),
        p90: percentile(sorted, 0.9),
        p95: percentile(sorted, 0.95),
        p97: percentile(sorted, 0.97),
        p99: percentile(sorted, 0.99),
        p999: percentile(sorted, 0.999),
    }
}

/// Integer `sum / n` (LoadGen truncates). 0 for no latencies.
pub fn mean(latencies: &[u64]) -> u64 {
    if latencies.is_empty() {
        return 0;
    }
    let sum: u128 = latencies.iter().map(|&l| u128::from(l)).sum();
    (sum / latencies.len() as u128) as u64
}

/// `h(k)` for k = 1, 2, ...: the fewest under-latency queries that, together
/// with k over-latency ones, show with confidence 0.99 that the true
/// percentile-p latency is below the observed threshold:
/// `h(k) = min{ h : P[Binomial(h+k, 1-p) <= k] < 1 - c }`.
///
/// Computed exactly in the sense of the definition (no series truncation): the
/// binomial CDF `F(h, k) = I_p(h, k+1)` is walked along h and k with the two
/// exact recurrences of the regularized incomplete beta,
/// `F(h+1, k) = F(h, k) - C(h+k, k) p^h q^(k+1)` and
/// `F(h, k+1) = F(h, k) + C(h+k, k+1) p^h q^(k+1)`, with the binomial
/// coefficients carried as logarithms. Every step is O(1), so all h(k) up to a
/// run of n queries cost O(n) and rounding stays far below LoadGen's own 2^-33.
#[derive(Debug, Clone)]
pub struct MinPassing {
    p: f64,
    ln_p: f64,
    ln_q: f64,
    k: u64,
    h: u64,
    /// F(h, k).
    cdf: f64,
    /// ln C(h + k, k).
    ln_binom: f64,
}

impl MinPassing {
    /// Starts at k = 1 with h(1) found. `p` in (0, 1).
    pub fn new(p: f64) -> Self {
        let q = 1.0 - p;
        // F(0, 1) = P[Bin(1, q) <= 1] = 1; C(1, 1) = 1.
        let mut s = MinPassing {
            p,
            ln_p: p.ln(),
            ln_q: q.ln(),
            k: 1,
            h: 0,
            cdf: 1.0,
            ln_binom: 0.0,
        };
        s.settle();
        s
    }

    /// Percentile this walker was built for.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// Current k and h(k).
    pub fn current(&self) -> (u64, u64) {
        (self.k, self.h)
    }

    fn term(&self, ln_binom: f64) -> f64 {
        (ln_binom + self.h as f64 * self.ln_p + (self.k + 1) as f64 * self.ln_q).exp()
    }

    /// Raises h until F(h, k) < 1 - c.
    fn settle(&mut self) {
        while self.cdf >= 1.0 - CONFIDENCE {
            self.cdf -= self.term(self.ln_binom);
            // C(h+1+k, k) = C(h+k, k) * (h+k+1) / (h+1)
            self.ln_binom += ((self.h + self.k + 1) as f64 / (self.h + 1) as f64).ln();
            self.h += 1;
        }
        // Rounding can take a true probability of ~0 slightly below zero; the
        // threshold comparison above is what matters, so clamp for the next steps.
        if self.cdf < 0.0 {
            self.cdf = 0.0;
        }
    }

    /// Moves to k + 1 and returns h(k + 1).
    pub fn next_k(&mut self) -> u64 {
        // C(h+k, k+1) = C(h+k, k) * h / (k+1)
        if self.h > 0 {
            let ln_b = self.ln_binom + (self.h as f64 / (self.k + 1) as f64).ln();
            self.cdf += self.term(ln_b);
        }
        // C(h+k+1, k+1) = C(h+k, k) * (h+k+1) / (k+1)
        self.ln_binom += ((self.h + self.k + 1) as f64 / (self.k + 1) as f64).ln();
        self.k += 1;
        self.settle();
        self.h
    }
}

/// `h(1..=count)` for percentile `p` (the spec's check values).
pub fn min_passing_table(p: f64, count: usize) -> Vec<u64> {
    let mut w = MinPassing::new(p);
    let mut out = vec![w.current().1];
    while out.len() < count {
        out.push(w.next_k());
    }
    out
}

/// Early stopping for n queries whose latencies are `sorted`: the largest t with
/// `n >= h(t) + t`, and the estimate `sorted[n - t]`. Not met (no estimate)
/// below `h(1) + 1` queries.
pub fn early_stopping(sorted: &[u64], p: f64) -> EarlyStopping {
    let n = sorted.len() as u64;
    let mut w = MinPassing::new(p);
    let min_queries = w.current().1 + 1;
    if n < min_queries {
        return EarlyStopping {
            percentile: p,
            min_queries,
            met: false,
            t: 0,
            estimate_ns: None,
        };
    }
    let mut t = 1;
    loop {
        let h = w.next_k();
        let k = w.current().0;
        if n < h + k {
            break;
        }
        t = k;
    }
    EarlyStopping {
        percentile: p,
        min_queries,
        met: true,
        t,
        estimate_ns: Some(sorted[(n - t) as usize]),
    }
}

/// Latency statistics alone (for `edgemark stats` on latencies from any source).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyStats {
    pub count: u64,
    pub min_ns: u64,
    pub max_ns: u64,
    pub mean_ns: u64,
    pub percentiles: Percentiles,
    pub target_percentile: f64,
    pub target_percentile_ns: u64,
    /// At the target percentile.
    pub early_stopping_target: EarlyStopping,
    /// At 0.99, as LoadGen always reports it.
    pub early_stopping_99: EarlyStopping,
}

/// Why latencies cannot be summarised.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StatsError {
    #[error("no latencies to summarise")]
    Empty,
    #[error("percentile must be in (0, 1) (or (0, 100) as a percentage), got {0}")]
    Percentile(f64),
}

/// Accepts 90 or 0.9 for the 90th percentile; `None` outside (0, 1) after scaling.
pub fn normalize_percentile(p: f64) -> Option<f64> {
    let p = if p > 1.0 { p / 100.0 } else { p };
    (p > 0.0 && p < 1.0 && p.is_finite()).then_some(p)
}

/// LoadGen's statistics for bare latencies (any order).
pub fn latency_stats(latencies: &[u64], target: f64) -> Result<LatencyStats, StatsError> {
    let target = normalize_percentile(target).ok_or(StatsError::Percentile(target))?;
    if latencies.is_empty() {
        return Err(StatsError::Empty);
    }
    let mut sorted = latencies.to_vec();
    sorted.sort_unstable();
    Ok(LatencyStats {
        count: sorted.len() as u64,
        min_ns: sorted[0],
        max_ns: sorted[sorted.len() - 1],
        mean_ns: mean(&sorted),
        percentiles: percentiles(&sorted),
        target_percentile: target,
        target_percentile_ns: percentile(&sorted, target),
        early_stopping_target: early_stopping(&sorted, target),
        early_stopping_99: early_stopping(&sorted, SECOND_ES_PERCENTILE),
    })
}

/// A finished scenario run -> LoadGen's statistics and verdict.
pub fn summarize(settings: &LoadGenSettings, run: &ScenarioRun) -> ScenarioResult {
    let n = run.latency_ns.len() as u64;
    let mut sorted = run.latency_ns.clone();
    sorted.sort_unstable();
    let secs = run.duration_ns as f64 / 1e9;
    let min_duration_met = run.duration_ns >= settings.min_duration_ns;
    let (query_count, min_queries_met) = match run.scenario {
        Scenario::SingleStream => (n, n >= settings.min_query_count && n > 0),
        // One query carrying every sample; it counts only if all completed.
        Scenario::Offline => {
            let q = u64::from(n > 0);
            (q, n > 0 && n >= settings.offline_samples_per_query())
        }
    };
    let mut result = ScenarioResult {
        scenario: run.scenario,
        query_count,
        sample_count: n,
        duration_ns: run.duration_ns,
        min_ns: sorted.first().copied().unwrap_or(0),
        max_ns: sorted.last().copied().unwrap_or(0),
        mean_ns: mean(&sorted),
        percentiles: if sorted.is_empty() {
            Percentiles {
                p50: 0,
                p90: 0,
                p95: 0,
                p97: 0,
                p99: 0,
                p999: 0,
            }
        } else {
            percentiles(&sorted)
        },
        target_percentile_ns: if sorted.is_empty() {
            0
        } else {
            percentile(&sorted, settings.target_percentile)
        },
        early_stopping_90: None,
        early_stopping_99: None,
        qps_with_overhead: 0.0,
        qps_without_overhead: 0.0,
        samples_per_second: if secs > 0.0 { n as f64 / secs } else { 0.0 },
        min_duration_met,
        min_queries_met,
        valid: false,
        invalid_reasons: Vec::new(),
    };
    if run.scenario == Scenario::SingleStream {
        single_stream_figures(&mut result, settings, &sorted, secs);
    }
    result.invalid_reasons = invalid_reasons(run, &result);
    result.valid = result.invalid_reasons.is_empty();
    result
}

/// SingleStream's early-stopping estimates (at the target percentile and at
/// 0.99) and its QPS with and without LoadGen's overhead.
fn single_stream_figures(
    result: &mut ScenarioResult,
    settings: &LoadGenSettings,
    sorted: &[u64],
    secs: f64,
) {
    let n = sorted.len() as u64;
    result.early_stopping_90 = Some(early_stopping(sorted, settings.target_percentile));
    result.early_stopping_99 = Some(early_stopping(sorted, SECOND_ES_PERCENTILE));
    if n > 1 && secs > 0.0 {
        result.qps_with_overhead = (n - 1) as f64 / secs;
    }
    if result.mean_ns > 0 {
        result.qps_without_overhead = 1.0 / (result.mean_ns as f64 / 1e9);
    }
}

/// LoadGen's verdict on a summarised run: why it is INVALID, in LoadGen's
/// order (none: VALID).
fn invalid_reasons(run: &ScenarioRun, r: &ScenarioResult) -> Vec<InvalidReason> {
    let mut reasons = Vec::new();
    if run.aborted {
        reasons.push(InvalidReason::Aborted);
    }
    match run.scenario {
        Scenario::SingleStream => {
            if !r.early_stopping_90.as_ref().is_some_and(|e| e.met) {
                reasons.push(InvalidReason::EarlyStoppingNotMet);
            }
            if !r.min_duration_met {
                reasons.push(InvalidReason::MinDurationNotMet);
            }
        }
        Scenario::Offline => {
            if !r.min_duration_met {
                reasons.push(if run.aborted {
                    InvalidReason::MinDurationNotMet
                } else {
                    InvalidReason::OfflineExpectedQpsTooLow
                });
            }
        }
    }
    if !r.min_queries_met {
        reasons.push(InvalidReason::MinQueriesNotMet);
    }
    if run.store_full && !reasons.is_empty() {
        reasons.push(InvalidReason::LatencyStoreFull);
    }
    reasons
}

impl InvalidReason {
    /// What to tell the user, LoadGen's wording where LoadGen has one.
    pub fn explain(self) -> &'static str {
        match self {
            InvalidReason::MinDurationNotMet => "min duration not met",
            InvalidReason::MinQueriesNotMet => {
                "min query count not met: the test exited early, before enough queries were issued"
            }
            InvalidReason::EarlyStoppingNotMet => {
                "early stopping not met: too few queries for an early-stopping estimate"
            }
            InvalidReason::OfflineExpectedQpsTooLow => {
                "Increase expected QPS so the loadgen pre-generates a larger (coalesced) query."
            }
            InvalidReason::Aborted => "run aborted before the stop rules were met",
            InvalidReason::LatencyStoreFull => {
                "latency store full before the stop rules were met (raise max_stored_queries)"
            }
            InvalidReason::SutError => "the system under test failed",
        }
    }
}

/// "90" for 0.9, "99.9" for 0.999: how LoadGen names a percentile in prose.
pub fn percent_label(q: f64) -> String {
    let s = format!("{:.4}", q * 100.0);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// C++ `ostream << double` with the default precision (6 significant digits,
/// `%g`): how LoadGen's logs print QPS and samples/s. Lets a reader compare
/// against LoadGen's printed figures exactly.
pub fn format_g6(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let exp = x.abs().log10().floor() as i32;
    if !(-5..6).contains(&exp) {
        return format!("{:.5e}", x);
    }
    let decimals = (5 - exp).max(0) as usize;
    let s = format!("{:.*}", decimals, x);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h_check_values_at_p90() {
        assert_eq!(
            min_passing_table(0.90, 7),
            vec![63, 79, 94, 109, 122, 136, 149]
        );
    }

    /// P[Binomial(h+k, 1-p) <= k] summed term by term: an independent check of
    /// the recurrence walk.
    fn direct_cdf(h: u64, k: u64, p: f64) -> f64 {
        let n = h + k;
        let q = 1.0 - p;
        let mut term = p.powi(n as i32);
        let mut sum = term;
        for x in 0..k {
            term *= (n - x) as f64 / (x + 1) as f64 * q / p;
            sum += term;
        }
        sum
    }

    #[test]
    fn walk_agrees_with_direct_binomial_sums() {
        for p in [0.5, 0.9, 0.95, 0.99] {
            let table = min_passing_table(p, 60);
            for (i, &h) in table.iter().enumerate() {
                let k = i as u64 + 1;
                assert!(direct_cdf(h, k, p) < 0.01, "p {p} k {k} h {h}");
                assert!(
                    direct_cdf(h - 1, k, p) >= 0.01,
                    "p {p} k {k} h {h} not minimal"
                );
            }
        }
    }

    fn t_for(n: usize, p: f64) -> u64 {
        let sorted: Vec<u64> = (0..n as u64).collect();
        early_stopping(&sorted, p).t
    }

    #[test]
    fn t_check_values_at_p90() {
        assert_eq!(t_for(100, 0.90), 3);
        assert_eq!(t_for(1000, 0.90), 78);
        assert_eq!(t_for(60_000, 0.90), 5829);
    }

    #[test]
    fn min_queries_for_early_stopping() {
        let es = early_stopping(&(0..63).collect::<Vec<u64>>(), 0.90);
        assert!(!es.met);
        assert_eq!(es.min_queries, 64);
        assert_eq!(es.estimate_ns, None);
        let es = early_stopping(&(0..64).collect::<Vec<u64>>(), 0.90);
        assert!(es.met);
        assert_eq!((es.t, es.estimate_ns), (1, Some(63)));
        let es = early_stopping(&(0..661).collect::<Vec<u64>>(), 0.99);
        assert!(!es.met);
        assert_eq!(es.min_queries, 662);
        assert!(early_stopping(&(0..662).collect::<Vec<u64>>(), 0.99).met);
    }

    #[test]
    fn estimate_is_t_th_largest() {
        let sorted: Vec<u64> = (0..100).map(|i| i * 10).collect();
        let es = early_stopping(&sorted, 0.90);
        assert_eq!(es.t, 3);
        assert_eq!(es.estimate_ns, Some(sorted[97]));
    }

    #[test]
    fn percentile_truncates_double_product() {
        let sorted: Vec<u64> = (0..10).collect();
        assert_eq!(percentile(&sorted, 0.5), 5);
        assert_eq!(percentile(&sorted, 0.99), 9);
        // 100 * 0.29 is 28.999999999999996 in double: LoadGen takes index 28,
        // where exact arithmetic would take 29.
        let sorted: Vec<u64> = (0..100).collect();
        assert_eq!(percentile(&sorted, 0.29), 28);
        assert_eq!(percentile(&sorted, 0.97), 97);
    }

    #[test]
    fn mean_is_integer_division() {
        assert_eq!(mean(&[1, 2]), 1);
        assert_eq!(mean(&[u64::MAX, u64::MAX]), u64::MAX);
        assert_eq!(mean(&[]), 0);
    }

    #[test]
    fn g6_matches_cpp_default_stream_format() {
        assert_eq!(format_g6(1996.5020074827685), "1996.5");
        assert_eq!(format_g6(9803.248214204657), "9803.25");
        assert_eq!(format_g6(2546.213780108978), "2546.21");
        assert_eq!(format_g6(2000.0), "2000");
        assert_eq!(format_g6(0.5), "0.5");
    }

    #[test]
    fn percentile_normalisation() {
        assert_eq!(normalize_percentile(90.0), Some(0.9));
        assert_eq!(normalize_percentile(0.99), Some(0.99));
        assert_eq!(normalize_percentile(0.0), None);
        assert_eq!(normalize_percentile(100.0), None);
        assert_eq!(normalize_percentile(-3.0), None);
    }

    #[test]
    fn latency_stats_rejects_empty_and_bad_percentile() {
        assert!(matches!(latency_stats(&[], 0.9), Err(StatsError::Empty)));
        assert!(matches!(
            latency_stats(&[1], 0.0),
            Err(StatsError::Percentile(_))
        ));
    }
}
