//! Offline: one query carrying every sample (the loaded set repeated and cut to
//! `samples_per_query`), each sample's latency measured from that single issue.
//! Completion times go into a buffer sized and touched before timing.

use std::sync::atomic::Ordering;

use super::{Clock, Control, ScenarioRun, qsl};
use crate::plan::{LoadGenSettings, Scenario};
use crate::sut::{Sut, SutError};

/// Runs Offline on already loaded samples. The query is cut to
/// `max_stored_queries` samples (then `store_full` is set); `settings` rejects
/// plans where that would happen, so this is a guard, not a path.
pub fn run(
    sut: &mut dyn Sut,
    settings: &LoadGenSettings,
    loaded: &[usize],
    clock: &dyn Clock,
    control: &Control,
) -> Result<ScenarioRun, SutError> {
    let wanted = settings.offline_samples_per_query();
    let samples = wanted.min(settings.max_stored_queries) as usize;
    let store_full = (samples as u64) < wanted;
    let issued = qsl::offline_order(loaded, samples);
    let samples_usize: Vec<usize> = issued.iter().map(|&s| s as usize).collect();
    let mut completed_ns = vec![u64::MAX; issued.len()];
    control.completed.store(0, Ordering::Relaxed);

    let mut run = ScenarioRun {
        store_full,
        ..ScenarioRun::empty(Scenario::Offline, loaded)
    };
    if control.abort.load(Ordering::Relaxed) || issued.is_empty() {
        run.aborted = control.abort.load(Ordering::Relaxed);
        return Ok(run);
    }

    let issue = clock.now_ns();
    // Workers bump `completed` as samples finish, so observers see Offline move.
    sut.issue_all(&samples_usize, clock, &mut completed_ns, &control.completed)?;

    let latency_ns: Vec<u64> = completed_ns
        .iter()
        .map(|&c| c.saturating_sub(issue))
        .collect();
    run.duration_ns = latency_ns.iter().copied().max().unwrap_or(0);
    run.start_ns = issue;
    run.issued_sample_index = issued;
    run.latency_ns = latency_ns;
    Ok(run)
}
