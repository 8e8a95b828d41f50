//! TEST DOUBLE, to be replaced at merge (see `runner.rs`): a simulated job runner
//! so the daemon's integration tests exercise spooling, signals, cooldown and
//! sd_notify until `run::execute` writes records.
//!
//! It reads a minimal job TOML (`sut = "synthetic:sleep:MS"`, `scenario`, `min_duration_ms`,
//! `min_query_count`; unknown keys are errors), "runs" queries by sleeping,
//! checks `Control::abort` before each one, and writes
//! `RESULTS/ID.simulated.toml` saying how many queries ran and whether it was
//! aborted. It measures nothing and is not a record format.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::runner::{JobOutcome, JobRequest, JobRunner, JobShape};
use crate::loadgen::Control;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SimJob {
    sut: String,
    /// Accepted so the same job files work with the real runner; one run either way.
    scenario: Option<String>,
    #[serde(default)]
    min_duration_ms: u64,
    #[serde(default)]
    min_query_count: u64,
}

/// What the simulated "record" holds; the integration tests read it.
#[derive(Debug, Serialize, Deserialize)]
pub struct SimulatedRecord {
    pub job: String,
    pub queries: u64,
    pub aborted: bool,
    pub warnings: Vec<String>,
}

#[derive(Debug)]
pub struct SimulatedRunner;

impl SimulatedRunner {
    fn parse(toml_text: &str) -> Result<(SimJob, Duration), String> {
        let job: SimJob = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        let ms = job
            .sut
            .strip_prefix("synthetic:sleep:")
            .and_then(|ms| ms.parse::<u64>().ok())
            .ok_or_else(|| {
                format!(
                    "sut {:?}: the simulated runner only knows synthetic:sleep:MS",
                    job.sut
                )
            })?;
        Ok((job, Duration::from_millis(ms)))
    }
}

impl JobRunner for SimulatedRunner {
    fn check(&self, job_toml: &str) -> Result<JobShape, String> {
        let (job, _) = Self::parse(job_toml)?;
        if let Some(s) = &job.scenario
            && !matches!(s.as_str(), "single-stream" | "offline" | "both")
        {
            return Err(format!(
                "scenario {s:?}: expected single-stream, offline or both"
            ));
        }
        Ok(JobShape {
            expected_ns: job.min_duration_ms * 1_000_000,
            expected_queries: job.min_query_count,
        })
    }

    fn run(&self, req: &JobRequest, control: &Control) -> Result<JobOutcome, String> {
        let (job, query) = Self::parse(&req.toml)?;
        let start = Instant::now();
        let min = Duration::from_millis(job.min_duration_ms);
        let mut queries = 0u64;
        let mut aborted = false;
        while start.elapsed() < min || queries < job.min_query_count {
            if control.abort.load(Ordering::Relaxed) {
                aborted = true;
                break;
            }
            std::thread::sleep(query);
            queries += 1;
            control.completed.store(queries, Ordering::Relaxed);
        }
        let record = SimulatedRecord {
            job: req.id.clone(),
            queries,
            aborted,
            warnings: req.warnings.clone(),
        };
        let path = req.results_dir.join(format!("{}.simulated.toml", req.id));
        let text = toml::to_string(&record).map_err(|e| e.to_string())?;
        super::spool::write_atomic(&path, text.as_bytes()).map_err(|e| e.to_string())?;
        Ok(JobOutcome {
            aborted,
            records: vec![path],
            warnings: req.warnings.clone(),
            summary: format!("{queries} simulated queries"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_unknown_keys_and_suts() {
        let r = SimulatedRunner;
        assert!(
            r.check("sut = \"synthetic:sleep:5\"\nmin_duration_ms = 10")
                .is_ok()
        );
        assert!(
            r.check("sut = \"synthetic:sleep:5\"\nmin_duraton_ms = 10")
                .is_err()
        );
        assert!(r.check("sut = \"model.onnx\"").is_err());
        assert!(
            r.check("sut = \"synthetic:sleep:1\"\nscenario = \"offline\"")
                .is_ok()
        );
        assert!(
            r.check("sut = \"synthetic:sleep:1\"\nscenario = \"server\"")
                .is_err()
        );
        assert!(r.check("sut = ").is_err());
    }

    #[test]
    fn stops_at_a_query_boundary_when_aborted() {
        let dir = std::env::temp_dir().join(format!("edgemark-sim-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let control = Control::default();
        control.abort.store(true, Ordering::Relaxed);
        let req = JobRequest {
            id: "j".into(),
            toml: "sut = \"synthetic:sleep:1\"\nmin_query_count = 1000".into(),
            root: "/".into(),
            results_dir: dir.clone(),
            warnings: vec!["w".into()],
        };
        let out = SimulatedRunner.run(&req, &control).unwrap();
        assert!(out.aborted);
        let rec: SimulatedRecord =
            toml::from_str(&std::fs::read_to_string(&out.records[0]).unwrap()).unwrap();
        assert_eq!(
            (rec.queries, rec.aborted, rec.warnings),
            (0, true, vec!["w".to_string()])
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
