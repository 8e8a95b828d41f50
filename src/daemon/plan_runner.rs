//! The production [`JobRunner`]: job TOML -> `settings` -> [`Plan`] ->
//! `run::execute`, the same pipeline as `edgemark run --config JOB.toml`, so a
//! job's records are exactly those of a `run`.

use std::path::Path;
use std::sync::Arc;

use crate::daemon::runner::{JobError, JobOutcome, JobRequest, JobRunner, JobShape};
use crate::loadgen::Control;
use crate::plan::Plan;
use crate::run::{self, RunContext};
use crate::settings;

#[derive(Debug)]
pub struct PlanRunner;

/// The runner the `edgemark` binary uses.
pub fn default_runner() -> Arc<dyn JobRunner> {
    Arc::new(PlanRunner)
}

impl PlanRunner {
    fn plan(job_toml: &str, root: &Path) -> Result<Plan, JobError> {
        let raw = settings::RawSettings::from_toml(job_toml).map_err(JobError::usage)?;
        settings::validate(raw, root).map_err(JobError::usage)
    }
}

impl JobRunner for PlanRunner {
    fn check(&self, job_toml: &str, root: &Path) -> Result<JobShape, JobError> {
        let plan = Self::plan(job_toml, root)?;
        // Progress by time only: `completed` counts queries or samples depending
        // on the scenario, so it has no single total.
        Ok(JobShape {
            expected_ns: plan.settings.min_duration_ns * plan.scenarios.len() as u64,
            expected_queries: 0,
        })
    }

    fn run(&self, req: &JobRequest, control: &Control) -> Result<JobOutcome, JobError> {
        let plan = Self::plan(&req.toml, &req.root)?;
        let ctx = RunContext {
            root: req.root.clone(),
            results_dir: Some(req.results_dir.clone()),
            control,
            warnings: req.warnings.clone(),
        };
        let out = run::execute(&plan, &ctx).map_err(|e| JobError {
            kind: e.kind(),
            message: e.to_string(),
        })?;
        // A scenario cut short, or scenarios never started, both mean aborted.
        let aborted =
            out.outcomes.iter().any(|o| o.run.aborted) || out.outcomes.len() < plan.scenarios.len();
        // execute() put req.warnings first in its warnings (and every record).
        let warnings = out.warnings;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    fn request(toml: &str, dir: &std::path::Path) -> JobRequest {
        JobRequest {
            id: "t".into(),
            toml: toml.into(),
            root: "/".into(),
            results_dir: dir.to_owned(),
            warnings: vec!["cooldown gate gave up".into()],
        }
    }

    const JOB: &str = "sut = \"synthetic:null\"\nscenario = \"single-stream\"\n\
                       min_duration_ms = 20\nmin_query_count = 10\n";

    #[test]
    fn check_names_the_bad_key_and_sizes_progress_by_time() {
        let e = PlanRunner
            .check(
                "sut = \"synthetic:null\"\nmin_duraton_ms = 5",
                Path::new("/"),
            )
            .unwrap_err();
        assert!(e.message.contains("min_duraton_ms"), "{e}");
        assert_eq!(e.kind, crate::error::ErrorKind::Usage);
        let e = PlanRunner
            .check(
                "sut = \"synthetic:null\"\nmin_duration_ms = -5",
                Path::new("/"),
            )
            .unwrap_err();
        assert!(e.message.contains("min_duration_ms"), "{e}");
        let shape = PlanRunner
            .check(
                "sut = \"synthetic:null\"\nscenario = \"both\"\nmin_duration_ms = 20",
                Path::new("/"),
            )
            .unwrap();
        assert_eq!(shape.expected_ns, 2 * 20_000_000);
    }

    #[test]
    fn runs_a_synthetic_job_and_reports_abort() {
        let dir = std::env::temp_dir().join(format!("edgemark-planrunner-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let control = Control::default();
        let out = PlanRunner.run(&request(JOB, &dir), &control).unwrap();
        assert!(!out.aborted, "{out:?}");
        assert!(out.summary.starts_with("SingleStream "), "{}", out.summary);
        assert_eq!(out.warnings[0], "cooldown gate gave up");
        assert!(control.completed.load(Ordering::Relaxed) >= 10);

        let control = Control::default();
        control.abort.store(true, Ordering::Relaxed);
        let out = PlanRunner.run(&request(JOB, &dir), &control).unwrap();
        assert!(out.aborted, "{out:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
