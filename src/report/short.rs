//! The answer-first terminal summary of `edgemark run` (the default; LoadGen's
//! full summary text is `--mlperf-summary`, and `report --format mlperf`):
//! per scenario record a few hyperfine-like lines: the metric and the
//! verdict with its reasons, the latency spread or the throughput, where it
//! ran, and the record file.
//!
//! ```text
//! SingleStream  tract 0.23.9 mobilenetv2-fp32.onnx (SUT description)
//!   p90 (early stopping):  5.123 ms   VALID
//!   Latency p50/p90/p99:   4.981 ms / 5.102 ms / 5.611 ms   (1834 queries in 10.004 s)
//!   Cores:                 4-7, 1 intra-op thread
//!   Record:                edgemark-results/....emrec
//! ```

use std::fmt::Write as _;
use std::path::Path;

use super::{human_ns, percent_label};
use crate::boards::CpuSet;
use crate::record::{Record, Scenario};

/// The lines of one scenario's record (nothing for an accuracy record), with
/// `notes` (label, text) the record does not hold, e.g. how the Offline QPS
/// was calibrated.
pub fn render(r: &Record, path: Option<&Path>, notes: &[(&str, String)]) -> String {
    let Some(res) = &r.result else {
        return String::new();
    };
    let mut s = String::new();
    let verdict = if res.valid { "VALID" } else { "INVALID" };
    let _ = writeln!(s, "{:<13} {}", r.plan.scenario.name(), r.sut.description);
    let row = |s: &mut String, label: &str, value: String| {
        let _ = writeln!(s, "  {:<22} {value}", format!("{label}:"));
    };
    match r.plan.scenario {
        Scenario::SingleStream => {
            let target = percent_label(r.plan.settings.target_percentile);
            let es = res.early_stopping_90.as_ref().and_then(|e| e.estimate_ns);
            let (label, ns) = match es {
                Some(ns) => (format!("p{target} (early stopping)"), ns),
                None => (format!("p{target}"), res.target_percentile_ns),
            };
            row(&mut s, &label, format!("{}   {verdict}", human_ns(ns)));
            row(
                &mut s,
                "Latency p50/p90/p99",
                format!(
                    "{} / {} / {}   ({} queries in {:.3} s)",
                    human_ns(res.p50_ns),
                    human_ns(res.p90_ns),
                    human_ns(res.p99_ns),
                    res.query_count,
                    res.duration_ns as f64 / 1e9
                ),
            );
        }
        Scenario::Offline => {
            row(
                &mut s,
                "Throughput",
                format!("{:.1} samples/s   {verdict}", res.samples_per_second),
            );
            row(
                &mut s,
                "Samples",
                format!(
                    "{} in {:.3} s (latency p50 {}, max {})",
                    res.sample_count,
                    res.duration_ns as f64 / 1e9,
                    human_ns(res.p50_ns),
                    human_ns(res.max_ns)
                ),
            );
        }
    }
    if !res.invalid_reasons.is_empty() {
        let why: Vec<&str> = res.invalid_reasons.iter().map(|r| r.describe()).collect();
        row(&mut s, "Why INVALID", why.join("; "));
    }
    for (label, text) in notes {
        row(&mut s, label, text.clone());
    }
    // A synthetic SUT has no workers to place.
    if r.sut.kind != "synthetic" {
        row(&mut s, "Cores", cores(r));
    }
    if !r.warnings.is_empty() {
        row(
            &mut s,
            "Warnings",
            format!("{} (listed below)", r.warnings.len()),
        );
    }
    if let Some(p) = path {
        row(&mut s, "Record", p.display().to_string());
    }
    s
}

/// Where the workers ran, as far as the record says.
fn cores(r: &Record) -> String {
    let pinned = if r.sut.cpus.is_empty() {
        "not pinned".to_string()
    } else {
        CpuSet::List(r.sut.cpus.clone()).to_string()
    };
    let plural = |n: u32, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    match r.plan.scenario {
        Scenario::SingleStream => format!("{pinned}, {}", plural(r.sut.threads, "intra-op thread")),
        Scenario::Offline => format!("{pinned}, {}", plural(r.sut.instances, "instance")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{InvalidReason, example_record};

    #[test]
    fn answers_first_with_metric_verdict_spread_and_record() {
        let r = example_record(1);
        let text = render(&r, Some(Path::new("out/x.emrec")), &[]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() <= 7, "{text}");
        assert!(lines[0].starts_with(r.plan.scenario.name()), "{text}");
        assert!(
            lines[1].contains("VALID") || lines[1].contains("INVALID"),
            "{text}"
        );
        assert!(
            text.contains("Record:") && text.contains("out/x.emrec"),
            "{text}"
        );
        assert_eq!(text.contains("Cores:"), r.sut.kind != "synthetic", "{text}");
    }

    #[test]
    fn invalid_runs_say_why_and_the_label_follows_the_target_percentile() {
        let mut r = example_record(2);
        r.plan.scenario = Scenario::SingleStream;
        r.plan.settings.target_percentile = 0.95;
        let res = r.result.as_mut().unwrap();
        res.valid = false;
        res.invalid_reasons = vec![InvalidReason::MinDurationNotMet];
        let text = render(&r, None, &[("Expected QPS", "12 (calibrated)".into())]);
        assert!(text.contains("p95"), "{text}");
        assert!(text.contains("INVALID"), "{text}");
        assert!(
            text.contains("Why INVALID:") && text.contains("min duration not met"),
            "{text}"
        );
        assert!(!text.contains("Record:"), "{text}");
        assert!(
            text.contains("Expected QPS:          12 (calibrated)"),
            "{text}"
        );
    }
}
