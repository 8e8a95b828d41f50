//! hyperfine's `--export-json` shape, so tools that plot hyperfine results
//! (its scripts, CI dashboards) read edgemark runs. One "command" per record;
//! times are per-inference seconds. With a trace, `times` holds every sample's
//! latency and `stddev` is computed from them; without, `times` is empty and
//! `stddev` null. Offline has no per-sample latency: its entry is the
//! throughput as seconds per sample (mean = median = min = max = 1/(samples/s)).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::record::{Record, Results, Scenario};

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
            let times: Vec<f64> = r
                .trace
                .as_ref()
                .map(|t| t.latency_ns.iter().map(|&ns| s(ns)).collect())
                .unwrap_or_default();
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
                times: vec![],
                exit_codes: vec![],
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
