//! Prometheus text exposition format for node_exporter's textfile collector.
//! A gauge set per (host, model, scenario, mode), from the latest record of
//! each: the collector wants one sample per label set and no timestamps, and a
//! dashboard wants the current state; history stays in the records.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

use crate::record::{PowerBasis, Record, Results, Scenario};

/// Escapes a label value: backslash, double quote and line feed.
pub fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The metrics in output order: (name, help). Their indices below.
const METRICS: [(&str, &str); 12] = [
    (
        "edgemark_valid",
        "1 if the latest run was VALID by the LoadGen rules, else 0.",
    ),
    (
        "edgemark_latency_seconds",
        "SingleStream latency percentiles of the latest run.",
    ),
    (
        "edgemark_early_stopping_latency_seconds",
        "SingleStream early-stopping latency estimates by percentile (the official metric is the one at the target percentile, 0.9 by default).",
    ),
    (
        "edgemark_samples_per_second",
        "Throughput of the latest run.",
    ),
    ("edgemark_queries", "Queries completed in the latest run."),
    (
        "edgemark_temperature_max_celsius",
        "Highest thermal-zone temperature during the latest run.",
    ),
    (
        "edgemark_power_watts",
        "Average power during the latest run (informative).",
    ),
    (
        "edgemark_inferences_per_joule",
        "Samples per second per watt (informative).",
    ),
    (
        "edgemark_warnings",
        "Number of warnings the latest run carries.",
    ),
    (
        "edgemark_run_end_timestamp_seconds",
        "Wall-clock end of the latest run, Unix seconds.",
    ),
    (
        "edgemark_estimated_power_watts",
        "Board profile's nominal power under load, when no sensor measured energy (estimated, not measured).",
    ),
    (
        "edgemark_estimated_inferences_per_joule",
        "Samples per second per estimated watt (estimated, not measured).",
    ),
];
const VALID: usize = 0;
const LATENCY: usize = 1;
const EARLY_STOPPING: usize = 2;
const SAMPLES_PER_SECOND: usize = 3;
const QUERIES: usize = 4;
const TEMPERATURE: usize = 5;
const POWER: usize = 6;
const INFERENCES_PER_JOULE: usize = 7;
const WARNINGS: usize = 8;
const RUN_END: usize = 9;
const ESTIMATED_POWER: usize = 10;
const ESTIMATED_INFERENCES_PER_JOULE: usize = 11;

/// The one summary (quantiles of the latest run's latencies, with its sum
/// and count): Prometheus reserves the `quantile` label for summaries.
const SUMMARY: &str = "edgemark_latency_seconds";

/// Samples per metric (indexed like [`METRICS`]): (labels, value).
type Samples = [Vec<(String, f64)>; METRICS.len()];

/// A summary's series: (labels, sum of latencies in s, count).
type Sums = Vec<(String, f64, u64)>;

/// The label set of a (host, model, scenario, mode) series.
type SeriesKey = (String, String, &'static str, &'static str);

pub fn render(records: &[(PathBuf, Record)]) -> String {
    let mut samples = Samples::default();
    let mut sums = Sums::new();
    for ((host, model, scenario, mode), r) in latest(records) {
        let Some(res) = r.result.as_ref() else {
            continue;
        };
        let base = format!(
            "host=\"{}\",board=\"{}\",model=\"{}\",scenario=\"{scenario}\",mode=\"{mode}\"",
            label(&host),
            label(r.host.board.as_deref().unwrap_or("")),
            label(&model)
        );
        if r.plan.scenario == Scenario::SingleStream {
            latency_samples(&mut samples, &base, res);
            sums.push((
                base.clone(),
                res.mean_ns as f64 * res.query_count as f64 / 1e9,
                res.query_count,
            ));
        }
        record_samples(&mut samples, base, r, res);
    }
    text(&samples, &sums)
}

/// The latest record of each (host, model, scenario, mode). Accuracy records
/// time no scenario: no gauges from them.
fn latest(records: &[(PathBuf, Record)]) -> BTreeMap<SeriesKey, &Record> {
    let mut latest: BTreeMap<SeriesKey, &Record> = BTreeMap::new();
    for (_, r) in records.iter().filter(|(_, r)| !r.is_accuracy_only()) {
        let mode = r.plan.mode.name();
        let key = (
            r.host.hostname.clone(),
            r.model_name(),
            r.plan.scenario.name(),
            mode,
        );
        let e = latest.entry(key).or_insert(r);
        if (r.wall_start_ns, r.run_id) > (e.wall_start_ns, e.run_id) {
            *e = r;
        }
    }
    latest
}

/// SingleStream's quantiles and early-stopping estimates.
fn latency_samples(samples: &mut Samples, base: &str, res: &Results) {
    for (q, ns) in [
        ("0.5", res.p50_ns),
        ("0.9", res.p90_ns),
        ("0.99", res.p99_ns),
    ] {
        samples[LATENCY].push((format!("{base},quantile=\"{q}\""), ns as f64 / 1e9));
    }
    // Each estimate is labelled with its own percentile: the first is at the
    // plan's target (0.9 by default, 0.95 under --target-percentile 0.95).
    // A target of 0.99 makes both the same series: it is written once.
    let mut seen = Vec::new();
    for e in [&res.early_stopping_90, &res.early_stopping_99]
        .into_iter()
        .flatten()
    {
        if let Some(ns) = e.estimate_ns.filter(|_| !seen.contains(&e.percentile)) {
            seen.push(e.percentile);
            let labels = format!("{base},percentile=\"{}\"", e.percentile);
            samples[EARLY_STOPPING].push((labels, ns as f64 / 1e9));
        }
    }
}

/// Every scenario's gauges: validity, throughput, queries, sensors, warnings.
fn record_samples(samples: &mut Samples, base: String, r: &Record, res: &Results) {
    let mut add = |metric: usize, v: f64| samples[metric].push((base.clone(), v));
    add(VALID, if res.valid { 1.0 } else { 0.0 });
    add(SAMPLES_PER_SECOND, res.samples_per_second);
    add(QUERIES, res.query_count as f64);
    if let Some(t) = r.max_temp_millicelsius() {
        add(TEMPERATURE, t as f64 / 1000.0);
    }
    if let Some(w) = r.average_watts() {
        add(POWER, w);
    }
    if let Some(x) = r.inferences_per_joule() {
        add(INFERENCES_PER_JOULE, x);
    }
    add(WARNINGS, r.warnings.len() as f64);
    add(RUN_END, r.wall_end_ns as f64 / 1e9);
    // Estimates go to their own gauges, never into the measured ones.
    if let Some((w, PowerBasis::Estimated)) = r.watts() {
        add(ESTIMATED_POWER, w);
    }
    if let Some((x, PowerBasis::Estimated)) = r.samples_per_watt() {
        add(ESTIMATED_INFERENCES_PER_JOULE, x);
    }
}

/// The exposition text: HELP, TYPE and samples of each metric that has any.
fn text(samples: &Samples, sums: &Sums) -> String {
    let mut out = String::new();
    for ((name, help), samples) in METRICS.iter().zip(samples) {
        if samples.is_empty() {
            continue;
        }
        let kind = if *name == SUMMARY { "summary" } else { "gauge" };
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(out, "{name}{{{labels}}} {v}");
        }
        if *name == SUMMARY {
            for (labels, sum, count) in sums {
                let _ = writeln!(out, "{SUMMARY}_sum{{{labels}}} {sum}");
                let _ = writeln!(out, "{SUMMARY}_count{{{labels}}} {count}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::example_record;

    #[test]
    fn latest_record_per_label_set_and_escaping() {
        let old = example_record(1);
        let mut new = example_record(2);
        new.result.as_mut().unwrap().samples_per_second = 123.0;
        let mut other = example_record(3);
        other.host.hostname = "q\"uote".into();
        let text = render(&[
            (PathBuf::from("new"), new.clone()),
            (PathBuf::from("old"), old),
            (PathBuf::from("o"), other),
        ]);
        let sps: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("edgemark_samples_per_second{"))
            .collect();
        assert_eq!(sps.len(), 2, "{text}");
        assert!(
            sps.iter()
                .any(|l| l.contains("host=\"pi4-lab\"") && l.ends_with(" 123")),
            "{text}"
        );
        assert!(
            sps.iter().any(|l| l.contains("host=\"q\\\"uote\"")),
            "{text}"
        );
        assert!(text.contains("# TYPE edgemark_latency_seconds summary"));
        assert!(text.contains("quantile=\"0.9\"} 0.011\n"), "{text}");
        // A summary's sum and count: the example's 3 queries of 10.2 ms mean.
        assert!(text.contains("scenario=\"SingleStream\",mode=\"performance\"} 3\n"));
        assert!(
            text.lines()
                .any(|l| l.starts_with("edgemark_latency_seconds_count{"))
        );
        assert!(
            text.lines()
                .any(|l| l.starts_with("edgemark_latency_seconds_sum{"))
        );
        // quantile is for summaries only: the early-stopping gauge says percentile.
        assert!(
            text.lines()
                .filter(|l| l.starts_with("edgemark_early_stopping"))
                .all(|l| l.contains("percentile=") && !l.contains("quantile=")),
            "{text}"
        );
        // Each metric's HELP/TYPE appears once.
        assert!(text.contains("percentile=\"0.9\"} 0.0111\n"), "{text}");
        assert_eq!(text.matches("# TYPE edgemark_valid gauge").count(), 1);
        // No timestamps: every sample line is "name{labels} value".
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            assert_eq!(
                l.rsplit_once("} ").map(|(_, v)| v.split(' ').count()),
                Some(1),
                "{l}"
            );
        }
    }

    #[test]
    fn early_stopping_estimates_are_labelled_with_their_own_percentile() {
        let mut r = example_record(1);
        r.plan.scenario = Scenario::SingleStream;
        r.plan.settings.target_percentile = 0.95;
        let res = r.result.as_mut().unwrap();
        let es = res.early_stopping_90.as_mut().unwrap();
        es.percentile = 0.95;
        es.estimate_ns = Some(12_000_000);
        let text = render(&[(PathBuf::from("a"), r.clone())]);
        let es: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("edgemark_early_stopping_latency_seconds{"))
            .collect();
        assert!(
            es.iter().any(|l| l.contains("percentile=\"0.95\"} 0.012")),
            "{text}"
        );
        assert!(!text.contains("percentile=\"0.9\""), "{text}");
        // Target 0.99: both estimates are one series, written once.
        let res = r.result.as_mut().unwrap();
        res.early_stopping_90.as_mut().unwrap().percentile = 0.99;
        res.early_stopping_99 = res.early_stopping_90.clone();
        let text = render(&[(PathBuf::from("a"), r)]);
        assert_eq!(text.matches("percentile=\"0.99\"").count(), 1, "{text}");
    }
}
