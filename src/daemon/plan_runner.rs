//! The production [`JobRunner`]: job TOML -> `settings` -> [`Plan`] ->
//! `run::execute`, the same pipeline as `edgemark run --config JOB.toml`.
//!
//! MERGE: not yet in the module tree, because `settings` and `run::execute`
//! live on the engine branch. Checked against it (trial merge of `engine` into
//! this branch: builds, and the daemon integration tests that do not read
//! records pass with it). To switch over: add `pub mod plan_runner;` to
//! `daemon/mod.rs` and make `runner::default_runner` return
//! `Arc::new(plan_runner::PlanRunner)`.

use crate::daemon::runner::{JobOutcome, JobRequest, JobRunner, JobShape};
use crate::loadgen::Control;
use crate::plan::Plan;
use crate::run::{self, RunContext};
use crate::settings;

#[derive(Debug)]
pub struct PlanRunner;

impl PlanRunner {
    fn plan(job_toml: &str) -> Result<Plan, String> {
        let raw = settings::RawSettings::from_toml(job_toml)?;
        settings::validate(raw).map_err(|e| e.to_string())
    }
}

impl JobRunner for PlanRunner {
    fn check(&self, job_toml: &str) -> Result<JobShape, String> {
        let plan = Self::plan(job_toml)?;
        // Progress by time only: `completed` counts queries or samples depending
        // on the scenario, so it has no single total.
        Ok(JobShape {
            expected_ns: plan.settings.min_duration_ns * plan.scenarios.len() as u64,
            expected_queries: 0,
        })
    }

    fn run(&self, req: &JobRequest, control: &Control) -> Result<JobOutcome, String> {
        let plan = Self::plan(&req.toml)?;
        // MERGE: `req.warnings` (cooldown gate gave up) must reach the records:
        // RunContext needs a field for caller warnings that execute() puts into
        // every record it writes.
        let ctx = RunContext {
            root: req.root.clone(),
            results_dir: Some(req.results_dir.clone()),
            control,
        };
        let out = run::execute(&plan, &ctx).map_err(|e| e.to_string())?;
        // A scenario cut short, or scenarios never started, both mean aborted.
        let aborted = out.outcomes.iter().any(|o| o.run.aborted)
            || out.outcomes.len() < plan.scenarios.len();
        let mut warnings = req.warnings.clone();
        warnings.extend(out.warnings);
        let summary = out
            .outcomes
            .iter()
            .map(|o| {
                format!(
                    "{:?} {} queries {}",
                    o.result.scenario,
                    o.result.query_count,
                    if o.result.valid { "VALID" } else { "INVALID" }
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        Ok(JobOutcome {
            aborted,
            records: out
                .outcomes
                .iter()
                .filter_map(|o| o.record_path.clone())
                .collect(),
            warnings,
            summary,
        })
    }
}
