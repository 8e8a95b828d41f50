//! Prometheus text exposition format for node_exporter's textfile collector.
//! A gauge set per (host, model, scenario, mode), from the latest record of
//! each: the collector wants one sample per label set and no timestamps, and a
//! dashboard wants the current state; history stays in the records.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

use crate::record::{PowerBasis, Record};

/// Escapes a label value: backslash, double quote and line feed.
pub fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Metric {
    name: &'static str,
    help: &'static str,
    samples: Vec<(String, f64)>,
}

/// The one summary (quantiles of the latest run's latencies, with its sum
/// and count): Prometheus reserves the `quantile` label for summaries.
const SUMMARY: &str = "edgemark_latency_seconds";

pub fn render(records: &[(PathBuf, Record)]) -> String {
    let mut latest: BTreeMap<(String, String, &'static str, &'static str), &Record> =
        BTreeMap::new();
    // Accuracy records time no scenario: no gauges from them.
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
    let mut metrics = [
        Metric {
            name: "edgemark_valid",
            help: "1 if the latest run was VALID by the LoadGen rules, else 0.",
            samples: vec![],
        },
        Metric {
            name: "edgemark_latency_seconds",
            help: "SingleStream latency percentiles of the latest run.",
            samples: vec![],
        },
        Metric {
            name: "edgemark_early_stopping_latency_seconds",
            help: "SingleStream early-stopping latency estimate (the official metric at percentile 0.9).",
            samples: vec![],
        },
        Metric {
            name: "edgemark_samples_per_second",
            help: "Throughput of the latest run.",
            samples: vec![],
        },
        Metric {
            name: "edgemark_queries",
            help: "Queries completed in the latest run.",
            samples: vec![],
        },
        Metric {
            name: "edgemark_temperature_max_celsius",
            help: "Highest thermal-zone temperature during the latest run.",
            samples: vec![],
        },
        Metric {
            name: "edgemark_power_watts",
            help: "Average power during the latest run (informative).",
            samples: vec![],
        },
        Metric {
            name: "edgemark_inferences_per_joule",
            help: "Samples per second per watt (informative).",
            samples: vec![],
        },
        Metric {
            name: "edgemark_warnings",
            help: "Number of warnings the latest run carries.",
            samples: vec![],
        },
        Metric {
            name: "edgemark_run_end_timestamp_seconds",
            help: "Wall-clock end of the latest run, Unix seconds.",
            samples: vec![],
        },
        Metric {
            name: "edgemark_estimated_power_watts",
            help: "Board profile's nominal power under load, when no sensor measured energy (estimated, not measured).",
            samples: vec![],
        },
        Metric {
            name: "edgemark_estimated_inferences_per_joule",
            help: "Samples per second per estimated watt (estimated, not measured).",
            samples: vec![],
        },
    ];
    // The summary's (labels, sum of latencies s, count) per series.
    let mut sums: Vec<(String, f64, u64)> = Vec::new();
    for ((host, model, scenario, mode), r) in &latest {
        let base = format!(
            "host=\"{}\",board=\"{}\",model=\"{}\",scenario=\"{scenario}\",mode=\"{mode}\"",
            label(host),
            label(r.host.board.as_deref().unwrap_or("")),
            label(model)
        );
        let Some(res) = r.result.as_ref() else {
            continue;
        };
        metrics[0]
            .samples
            .push((base.clone(), if res.valid { 1.0 } else { 0.0 }));
        if r.plan.scenario == crate::record::Scenario::SingleStream {
            for (q, ns) in [
                ("0.5", res.p50_ns),
                ("0.9", res.p90_ns),
                ("0.99", res.p99_ns),
            ] {
                metrics[1]
                    .samples
                    .push((format!("{base},quantile=\"{q}\""), ns as f64 / 1e9));
            }
            for (q, es) in [
                ("0.9", &res.early_stopping_90),
                ("0.99", &res.early_stopping_99),
            ] {
                if let Some(ns) = es.as_ref().and_then(|e| e.estimate_ns) {
                    metrics[2]
                        .samples
                        .push((format!("{base},percentile=\"{q}\""), ns as f64 / 1e9));
                }
            }
            sums.push((
                base.clone(),
                res.mean_ns as f64 * res.query_count as f64 / 1e9,
                res.query_count,
            ));
        }
        metrics[3]
            .samples
            .push((base.clone(), res.samples_per_second));
        metrics[4]
            .samples
            .push((base.clone(), res.query_count as f64));
        if let Some(t) = r.max_temp_millicelsius() {
            metrics[5].samples.push((base.clone(), t as f64 / 1000.0));
        }
        if let Some(w) = r.average_watts() {
            metrics[6].samples.push((base.clone(), w));
        }
        if let Some(x) = r.inferences_per_joule() {
            metrics[7].samples.push((base.clone(), x));
        }
        metrics[8]
            .samples
            .push((base.clone(), r.warnings.len() as f64));
        metrics[9]
            .samples
            .push((base.clone(), r.wall_end_ns as f64 / 1e9));
        // Estimates go to their own gauges, never into the measured ones.
        if let Some((w, PowerBasis::Estimated)) = r.watts() {
            metrics[10].samples.push((base.clone(), w));
        }
        if let Some((x, PowerBasis::Estimated)) = r.samples_per_watt() {
            metrics[11].samples.push((base, x));
        }
    }
    let mut out = String::new();
    for m in metrics.iter().filter(|m| !m.samples.is_empty()) {
        let kind = if m.name == SUMMARY {
            "summary"
        } else {
            "gauge"
        };
        let _ = writeln!(out, "# HELP {} {}", m.name, m.help);
        let _ = writeln!(out, "# TYPE {} {kind}", m.name);
        for (labels, v) in &m.samples {
            let _ = writeln!(out, "{}{{{labels}}} {v}", m.name);
        }
        if m.name == SUMMARY {
            for (labels, sum, count) in &sums {
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
}
