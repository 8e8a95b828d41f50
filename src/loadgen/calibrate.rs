//! Offline expected-QPS calibration: an explicit, untimed step between warm-up and
//! the timed Offline query, taken only when the user did not set
//! `offline_expected_qps`. The plan is never changed; the run derives an
//! *effective* copy of its settings from the measurement and records both.
//!
//! LoadGen sizes the single Offline query from the expected QPS
//! (`max(min_query_count, 1.1 x min_duration x QPS)` samples); a guess that is
//! too low makes the query finish before min_duration and the run INVALID
//! (`OfflineExpectedQpsTooLow`). LoadGen users fix it by measuring first and
//! setting the value a bit above what they measured; this does the same.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{Clock, Control};
use crate::plan::LoadGenSettings;
use crate::sut::{Sut, SutError};

/// Expected QPS = measured x this. With QPS = measured the query would last
/// about 1.1 x min_duration, but only if the timed run is no faster than the
/// calibration; it often is a little (the short calibration query ends with idle
/// instances waiting for the last samples, caches and clocks settle), and the
/// run is VALID only while the timed throughput stays below 1.1 x factor x
/// measured. 1.5 tolerates a timed run 65 % faster than calibrated; the price on a
/// steady SUT is a query of ~1.65 x min_duration instead of 1.1 x. A SUT slower
/// than calibrated (thermal throttling) only makes the query longer, never INVALID.
pub const SAFETY_FACTOR: f64 = 1.5;

/// The calibration queries grow (doubling) until one lasts this long...
const MIN_CALIBRATION_NS: u64 = 200_000_000;
/// ...or holds this many samples (a SUT so fast that the count, not time, ends it).
const MAX_CALIBRATION_SAMPLES: usize = 1 << 16;

/// What the calibration measured and the expected QPS derived from it.
#[derive(Debug, Clone, PartialEq)]
pub struct QpsCalibration {
    /// Samples in the last (longest) calibration query.
    pub samples: u64,
    /// Issue to last completion of that query.
    pub ns: u64,
    /// samples / ns of that query.
    pub measured_qps: f64,
    /// What the timed query is sized with (measured x [`SAFETY_FACTOR`], capped).
    pub expected_qps: f64,
    /// Lowered so the query fits `max_stored_queries` (the run may then end
    /// before min_duration: INVALID, and the summary says why).
    pub capped: bool,
    /// Untimed time spent calibrating in total (all doubling steps).
    pub total_ns: u64,
}

/// Measures Offline throughput with untimed `issue_all` queries on the loaded
/// samples (so multi-instance SUTs are measured the way Offline uses them) and
/// derives the expected QPS. Returns None when aborted or nothing is loaded.
pub fn offline_qps(
    sut: &mut dyn Sut,
    settings: &LoadGenSettings,
    loaded: &[usize],
    clock: &dyn Clock,
    control: &Control,
) -> Result<Option<QpsCalibration>, SutError> {
    if loaded.is_empty() {
        return Ok(None);
    }
    // Never more than the duration we would spend anyway on a short run.
    let target_ns = MIN_CALIBRATION_NS.min(settings.min_duration_ns.max(1));
    let untimed_progress = AtomicU64::new(0);
    let begin = clock.now_ns();
    let mut n = loaded.len().min(8);
    loop {
        if control.abort.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let samples: Vec<usize> = loaded.iter().copied().cycle().take(n).collect();
        let mut done = vec![0u64; n];
        let issue = clock.now_ns();
        sut.issue_all(&samples, clock, &mut done, &untimed_progress)?;
        let ns = done
            .iter()
            .map(|&c| c.saturating_sub(issue))
            .max()
            .unwrap_or(0);
        if ns >= target_ns || n >= MAX_CALIBRATION_SAMPLES {
            let measured_qps = if ns == 0 {
                f64::INFINITY
            } else {
                n as f64 / (ns as f64 / 1e9)
            };
            let (expected_qps, capped) = expected_qps(settings, measured_qps);
            return Ok(Some(QpsCalibration {
                samples: n as u64,
                ns,
                measured_qps,
                expected_qps,
                capped,
                total_ns: clock.now_ns().saturating_sub(begin),
            }));
        }
        n = (n * 2).min(MAX_CALIBRATION_SAMPLES);
    }
}

/// measured x [`SAFETY_FACTOR`], lowered so `1.1 x min_duration x QPS` fits the
/// latency store (`settings` rejects explicit values beyond it; a calibrated one
/// is clipped instead, with `capped` set).
pub fn expected_qps(settings: &LoadGenSettings, measured_qps: f64) -> (f64, bool) {
    let want = measured_qps * SAFETY_FACTOR;
    let min_duration_s = settings.min_duration_ns as f64 / 1e9;
    if min_duration_s <= 0.0 {
        return (if want.is_finite() { want } else { 1.0 }, false);
    }
    // floor(1.1 x d x q) <= max_stored_queries
    let limit = settings.max_stored_queries as f64 / (1.1 * min_duration_s);
    if want > limit {
        (limit, true)
    } else {
        (want, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::preset;

    #[test]
    fn expected_is_measured_times_factor_and_fits_the_store() {
        let s = preset("quick").unwrap();
        let (q, capped) = expected_qps(&s, 1000.0);
        assert_eq!((q, capped), (1500.0, false));
        let (q, capped) = expected_qps(&s, f64::INFINITY);
        assert!(capped);
        let eff = crate::plan::EffectiveSettings::of(&s, None).calibrated(Some(q));
        let eff = eff.settings();
        assert!(eff.offline_samples_per_query() <= s.max_stored_queries);
        assert!(eff.offline_samples_per_query() > s.max_stored_queries - 2);
    }
}
