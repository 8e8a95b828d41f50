//! SingleStream: one sample a query, the next issued when the previous completed,
//! until LoadGen's stop rules hold. The timed loop reads pre-generated sample
//! indices and writes latencies into storage reserved (and touched) before
//! timing: no allocation, no logging, relaxed atomics only.

use std::sync::atomic::Ordering;

use super::{Clock, Control, ScenarioRun, qsl};
use crate::plan::{LoadGenSettings, Scenario};
use crate::sut::{Sut, SutError};

/// Queries the reserved store holds: `max_stored_queries`, or fewer when
/// `max_query_count` caps the run anyway.
pub fn store_capacity(settings: &LoadGenSettings) -> usize {
    let cap = settings.max_stored_queries;
    let cap = if settings.max_query_count != 0 {
        cap.min(settings.max_query_count)
    } else {
        cap
    };
    cap as usize
}

/// Runs SingleStream on already loaded samples (`loaded` is LoadGen's
/// loaded_qsl_set). Warm-up is the caller's business and happens before.
pub fn run(
    sut: &mut dyn Sut,
    settings: &LoadGenSettings,
    loaded: &[usize],
    clock: &dyn Clock,
    control: &Control,
) -> Result<ScenarioRun, SutError> {
    // No loaded samples (a library caller's plan, never a validated one) means
    // an empty order, hence nothing to issue.
    let mut issued = qsl::single_stream_order(settings, loaded, store_capacity(settings));
    let cap = issued.len();
    // Both buffers are fully written here so their pages are faulted in before
    // timing, not by the first write in the timed loop.
    let mut latency_ns = vec![u64::MAX; cap];

    let mut count = 0usize;
    let mut start = 0u64;
    let mut last_issue = 0u64;
    let mut aborted = false;
    let mut store_full = false;
    control.completed.store(0, Ordering::Relaxed);
    loop {
        if count == cap {
            // The stop rules did not end the run but nothing more fits.
            store_full = cap > 0;
            break;
        }
        if control.abort.load(Ordering::Relaxed) {
            aborted = true;
            break;
        }
        let sample = issued[count] as usize;
        let t0 = clock.now_ns();
        sut.issue(sample)?;
        let t1 = clock.now_ns();
        if count == 0 {
            start = t0;
        }
        latency_ns[count] = t1.saturating_sub(t0);
        last_issue = t0;
        count += 1;
        control.completed.store(count as u64, Ordering::Relaxed);

        let elapsed = t0 - start;
        let n = count as u64;
        if n >= settings.min_query_count && elapsed >= settings.min_duration_ns {
            break;
        }
        if settings.max_query_count != 0 && n >= settings.max_query_count {
            break;
        }
        if settings.max_duration_ns != 0 && elapsed >= settings.max_duration_ns {
            break;
        }
    }

    issued.truncate(count);
    latency_ns.truncate(count);
    issued.shrink_to_fit();
    latency_ns.shrink_to_fit();
    Ok(ScenarioRun {
        scenario: Scenario::SingleStream,
        loaded_set: loaded.to_vec(),
        issued_sample_index: issued,
        latency_ns,
        start_ns: start,
        duration_ns: last_issue - start,
        aborted,
        store_full,
    })
}
