//! hyperfine's `--export-json` shape, so tools that plot hyperfine results
//! (its scripts, CI dashboards) read edgemark runs. One "command" per record;
//! times are per-inference seconds. With a trace, `times` holds every sample's
//! latency. Without one (the default), `times` is drawn from the record's
//! latency histogram: [`TIMES_FROM_HISTOGRAM`] values (fewer if fewer queries
//! ran), the histogram's quantiles at (j + 0.5) / n, each its bucket's
//! midpoint. Their distribution is the histogram's, so percentiles taken
//! over `times` (hyperfine's scripts use numpy) agree with the record's
//! within the histogram's error plus 1/n in rank. `stddev` is computed from
//! `times`; `mean`, `median`, `min` and `max` are the record's exact figures.
//! Offline has no per-query latency: its entry is the throughput as seconds
//! per sample (mean = median = min = max = 1/(samples/s)), and `times` holds
//! that one value: hyperfine's scripts take numpy percentiles of every entry's
//! `times`, which fail on an empty list (a default `edgemark run` exports an
//! Offline entry too).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::record::{Record, Results, Scenario};

/// Values `times` gets from a histogram (when the record has no trace).
pub const TIMES_FROM_HISTOGRAM: u64 = 1000;

#[derive(Serialize)]
struct Export {
    results: Vec<Entry>,
}

#[derive(Serialize)]
struct Entry {
    command: String,
    mean: f64,
    stddev: Option<f64>,
    median: f64,
    user: f64,
    system: f64,
    min: f64,
    max: f64,
    times: Vec<f64>,
    exit_codes: Vec<i32>,
    parameters: BTreeMap<&'static str, String>,
}

fn entry(r: &Record, res: &Results) -> Entry {
    let s = |ns: u64| ns as f64 / 1e9;
    let mut parameters = BTreeMap::new();
    parameters.insert("host", r.host.hostname.clone());
    parameters.insert("model", r.model_name());
    parameters.insert("scenario", r.plan.scenario.name().to_string());
    parameters.insert(
        "validity",
        if res.valid { "VALID" } else { "INVALID" }.to_string(),
    );
    parameters.insert("run_id", format!("{:016x}", r.run_id));
    let command = format!(
        "edgemark {} {} on {}",
        r.plan.scenario.name(),
        r.model_name(),
        r.host.hostname
    );
    match r.plan.scenario {
        Scenario::SingleStream => {
            let times: Vec<f64> = match (&r.trace, &r.latency_histogram) {
                (Some(t), _) => t.latency_ns.iter().map(|&ns| s(ns)).collect(),
                (None, Some(h)) => h
                    .spread(h.total().min(TIMES_FROM_HISTOGRAM) as usize)
                    .into_iter()
                    .map(s)
                    .collect(),
                (None, None) => Vec::new(),
            };
            let stddev = (times.len() > 1).then(|| {
                let n = times.len() as f64;
                let m = times.iter().sum::<f64>() / n;
                (times.iter().map(|t| (t - m) * (t - m)).sum::<f64>() / (n - 1.0)).sqrt()
            });
            Entry {
                command,
                mean: s(res.mean_ns),
                stddev,
                median: s(res.p50_ns),
                user: 0.0,
                system: 0.0,
                min: s(res.min_ns),
                max: s(res.max_ns),
                exit_codes: vec![0; times.len()],
                times,
                parameters,
            }
        }
        Scenario::Offline => {
            let per = if res.samples_per_second > 0.0 {
                1.0 / res.samples_per_second
            } else {
                0.0
            };
            Entry {
                command,
                mean: per,
                stddev: None,
                median: per,
                user: 0.0,
                system: 0.0,
                min: per,
                max: per,
                times: vec![per],
                exit_codes: vec![0],
                parameters,
            }
        }
    }
}

pub fn render(records: &[&Record]) -> String {
    let export = Export {
        // Accuracy records time no scenario: nothing to export.
        results: records
            .iter()
            .filter_map(|r| r.result.as_ref().map(|res| entry(r, res)))
            .collect(),
    };
    let mut s = serde_json::to_string_pretty(&export).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::example_record;

    #[test]
    fn hyperfine_shape() {
        let ss = example_record(0);
        let mut off = example_record(1);
        off.plan.scenario = Scenario::Offline;
        off.result.as_mut().unwrap().samples_per_second = 200.0;
        off.trace = None;
        let v: serde_json::Value = serde_json::from_str(&render(&[&ss, &off])).unwrap();
        let r0 = &v["results"][0];
        for k in [
            "command",
            "mean",
            "stddev",
            "median",
            "user",
            "system",
            "min",
            "max",
            "times",
            "exit_codes",
            "parameters",
        ] {
            assert!(r0.get(k).is_some(), "missing {k}");
        }
        assert_eq!(r0["mean"], 0.0102);
        assert_eq!(r0["times"].as_array().unwrap().len(), 3);
        assert_eq!(r0["times"][1], 0.009);
        assert!(r0["stddev"].as_f64().unwrap() > 0.0);
        assert_eq!(r0["parameters"]["scenario"], "SingleStream");
        let r1 = &v["results"][1];
        assert_eq!(r1["mean"], 0.005);
        assert!(r1["stddev"].is_null());
        // One value, so numpy's percentiles of it work (an empty list raises).
        assert_eq!(r1["times"], serde_json::json!([0.005]));
        assert_eq!(r1["exit_codes"], serde_json::json!([0]));
    }

    /// numpy.percentile's default ("linear"): the value at fractional rank
    /// (n - 1) * q of the sorted data, interpolated. This is what hyperfine's
    /// scripts/advanced_statistics.py computes on `results[].times`; done here
    /// in Rust so the test needs no Python.
    fn numpy_percentile(times: &[f64], q: f64) -> f64 {
        let mut v = times.to_vec();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let pos = (v.len() - 1) as f64 * q / 100.0;
        let lo = pos.floor() as usize;
        let hi = pos.ceil() as usize;
        v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
    }

    /// A default record (no trace) of `lat`, with LoadGen's p50/p90.
    fn default_record(lat: &[u64]) -> Record {
        let mut r = example_record(5);
        r.trace = None;
        r.plan.trace = false;
        let mut sorted = lat.to_vec();
        sorted.sort_unstable();
        let at = |q: f64| sorted[((q * lat.len() as f64) as usize).min(lat.len() - 1)];
        let res = r.result.as_mut().unwrap();
        res.p50_ns = at(0.5);
        res.p90_ns = at(0.9);
        res.min_ns = sorted[0];
        res.max_ns = *sorted.last().unwrap();
        res.mean_ns = lat.iter().sum::<u64>() / lat.len() as u64;
        res.query_count = lat.len() as u64;
        r.latency_histogram = Some(crate::record::LatencyHistogram::from_latencies(lat));
        r
    }

    #[test]
    fn default_record_times_give_numpy_the_records_percentiles() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let narrow: Vec<u64> = (0..600_000).map(|_| 950_000 + rnd() % 60_000).collect();
        let tail: Vec<u64> = (0..100_000)
            .map(|_| {
                let r = rnd();
                4_000_000
                    + r % 500_000
                    + if r % 50 == 0 {
                        (r >> 20) % 40_000_000
                    } else {
                        0
                    }
            })
            .collect();
        // Two modes (a core migrating between clusters), and very few queries.
        let bimodal: Vec<u64> = (0..50_000)
            .map(|i| if i % 3 == 0 { 20_000_000 } else { 9_000_000 } + rnd() % 300_000)
            .collect();
        let few: Vec<u64> = (0..64).map(|_| 30_000_000 + rnd() % 3_000_000).collect();
        for (name, lat) in [
            ("narrow", narrow),
            ("tail", tail),
            ("bimodal", bimodal),
            ("few", few),
        ] {
            let r = default_record(&lat);
            let v: serde_json::Value = serde_json::from_str(&render(&[&r])).unwrap();
            let times: Vec<f64> = v["results"][0]["times"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_f64().unwrap())
                .collect();
            assert_eq!(times.len(), lat.len().min(1000), "{name}");
            assert_eq!(
                v["results"][0]["exit_codes"].as_array().unwrap().len(),
                times.len()
            );
            let res = r.result.as_ref().unwrap();
            let median = numpy_percentile(&times, 50.0);
            let p50 = res.p50_ns as f64 / 1e9;
            let err = (median - p50).abs() / p50;
            eprintln!(
                "{name}: numpy median of times {median:.9} s, record p50 {p50:.9} s, {:.3} %",
                err * 100.0
            );
            assert!(err < 0.01, "{name}: median {median} vs p50 {p50}");
            let p90 = res.p90_ns as f64 / 1e9;
            let err90 = (numpy_percentile(&times, 90.0) - p90).abs() / p90;
            assert!(err90 < 0.01, "{name}: p90 off by {err90}");
        }
    }

    #[test]
    fn accuracy_records_are_skipped() {
        let perf = example_record(1);
        let mut acc = example_record(2);
        acc.result = None;
        let v: serde_json::Value = serde_json::from_str(&render(&[&acc, &perf])).unwrap();
        assert_eq!(v["results"].as_array().unwrap().len(), 1);
    }
}
