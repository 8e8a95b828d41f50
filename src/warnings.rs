//! A run's warnings, typed by kind while they are collected; they become text
//! (their `Display`) only where they leave: in the records and in the run's
//! output. Each kind says where it comes from, so the stage that adds one need
//! not know the others' wording. Below `probe`, `record` and `run`, so each of
//! them can add its own kind.

use std::fmt;

use crate::plan::Scenario;

/// One warning of a run.
#[derive(Debug, Clone, PartialEq)]
pub enum RunWarning {
    /// Given by the caller (daemon: the cooldown gate gave up waiting) or by
    /// the plan (settings adjusted during validation).
    Given(String),
    /// What probing the box found before the model loaded (an unreadable
    /// sysfs file, a slow cpufreq governor).
    Box(String),
    /// The latency store filled up and ended the scenario.
    StoreFull {
        scenario: Scenario,
        max_stored_queries: u64,
    },
    /// Offline's calibrated query was cut to fit the latency store.
    CalibrationCapped {
        measured_qps: f64,
        max_stored_queries: u64,
    },
    /// What the probes saw during a scenario (throttling, heat, a sensor lost).
    Probe { scenario: Scenario, text: String },
    /// The SUT failed in a pass (a scenario or the accuracy pass); the first
    /// line of its error.
    SutFailed { pass: String, error: String },
    /// One of the failed SUT's last stderr lines.
    SutStderr(String),
    /// What the box's setup and the probes say in a record of one pass (a
    /// slow governor, throttling, a sensor lost): the record names no scenario.
    Sensors(String),
    /// The spin transport with fewer than two CPUs for edgemark and the SUT
    /// together: each spins in the other's time slice.
    SpinOneCpu { cpus: usize },
}

impl fmt::Display for RunWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunWarning::Given(s) | RunWarning::Box(s) | RunWarning::Sensors(s) => f.write_str(s),
            RunWarning::StoreFull {
                scenario,
                max_stored_queries,
            } => write!(
                f,
                "{scenario:?}: the latency store ({max_stored_queries} queries) filled up and ended the run"
            ),
            RunWarning::CalibrationCapped {
                measured_qps,
                max_stored_queries,
            } => write!(
                f,
                "Offline: measured {measured_qps:.0} samples/s, but the query is limited to max_stored_queries ({max_stored_queries}) samples; it may end before min_duration"
            ),
            RunWarning::Probe { scenario, text } => write!(f, "{scenario:?}: {text}"),
            RunWarning::SutFailed { pass, error } => {
                write!(f, "{pass}: the SUT failed: {error}")
            }
            RunWarning::SutStderr(line) => write!(f, "SUT stderr: {line}"),
            RunWarning::SpinOneCpu { cpus } => write!(
                f,
                "sut_transport = spin with {cpus} CPU(s) allowed to edgemark and the SUT together: spinning needs two (one each); each now waits out the other's time slice, expect latencies worse than over pipes"
            ),
        }
    }
}

/// The warnings collected so far, in the order they were added.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Warnings(Vec<RunWarning>);

impl Warnings {
    pub fn push(&mut self, w: RunWarning) {
        self.0.push(w);
    }

    /// Adds `w` unless an equal warning is already there (the same probe
    /// finding in two scenarios is two warnings; twice in one is one).
    pub fn push_once(&mut self, w: RunWarning) {
        if !self.0.contains(&w) {
            self.0.push(w);
        }
    }

    /// Adds `w` unless a warning of the same text is already there, of any
    /// kind: the box's setup and the probes can say what the run already
    /// said, and a record says it once.
    pub fn push_new_text(&mut self, w: RunWarning) {
        let text = w.to_string();
        if !self.0.iter().any(|x| x.to_string() == text) {
            self.0.push(w);
        }
    }

    pub fn extend(&mut self, ws: impl IntoIterator<Item = RunWarning>) {
        self.0.extend(ws);
    }

    pub fn iter(&self) -> impl Iterator<Item = &RunWarning> {
        self.0.iter()
    }

    /// As the records and the run's output carry them.
    pub fn texts(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_as_before_and_repeats_are_kept_once() {
        let mut w = Warnings::default();
        w.push(RunWarning::Given("cooldown gate gave up".into()));
        w.push(RunWarning::StoreFull {
            scenario: Scenario::SingleStream,
            max_stored_queries: 120,
        });
        let hot = RunWarning::Probe {
            scenario: Scenario::Offline,
            text: "throttled".into(),
        };
        w.push_once(hot.clone());
        w.push_once(hot);
        w.push_once(RunWarning::Probe {
            scenario: Scenario::SingleStream,
            text: "throttled".into(),
        });
        w.push(RunWarning::SutFailed {
            pass: "accuracy pass".into(),
            error: "exited with status 3".into(),
        });
        w.push(RunWarning::SutStderr("boom".into()));
        assert_eq!(
            w.texts(),
            [
                "cooldown gate gave up",
                "SingleStream: the latency store (120 queries) filled up and ended the run",
                "Offline: throttled",
                "SingleStream: throttled",
                "accuracy pass: the SUT failed: exited with status 3",
                "SUT stderr: boom",
            ]
        );
        let capped = RunWarning::CalibrationCapped {
            measured_qps: 15578642.6,
            max_stored_queries: 1048576,
        };
        // A record's probe text that the run already said is not said twice.
        let mut r = w.clone();
        r.push_new_text(RunWarning::Sensors("SUT stderr: boom".into()));
        r.push_new_text(RunWarning::Sensors("cpu0 throttled".into()));
        r.push_new_text(RunWarning::Sensors("cpu0 throttled".into()));
        assert_eq!(r.texts().len(), w.texts().len() + 1);
        assert_eq!(r.texts().last().unwrap(), "cpu0 throttled");
        assert_eq!(
            capped.to_string(),
            "Offline: measured 15578643 samples/s, but the query is limited to max_stored_queries (1048576) samples; it may end before min_duration"
        );
    }
}
