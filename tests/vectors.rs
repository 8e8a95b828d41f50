//! Replays every LoadGen vector in `../shared/vectors/loadgen/`: from the settings
//! alone the loaded set and issued order must equal LoadGen's, and from the
//! recorded latencies every statistic and the verdict must equal what LoadGen
//! logged. New vector files are picked up by iterating the directory.

mod common;

use std::path::Path;

use edgemark::loadgen::{ScenarioRun, qsl};
use edgemark::plan::{LoadGenSettings, Scenario, WarmUp};
use edgemark::stats::{self, format_g6};
use serde_json::Value;

fn u(v: &Value, key: &str) -> u64 {
    v.get(key)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("missing integer {key}"))
}

fn f(v: &Value, key: &str) -> f64 {
    v.get(key)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("missing number {key}"))
}

fn list(v: &Value, key: &str) -> Vec<u64> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("missing array {key}"))
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

fn settings_of(v: &Value) -> LoadGenSettings {
    let s = &v["settings"];
    LoadGenSettings {
        min_duration_ns: u(s, "min_duration_ms") * 1_000_000,
        max_duration_ns: 0,
        min_query_count: u(s, "min_query_count"),
        max_query_count: 0,
        performance_sample_count: u(s, "performance_sample_count"),
        total_sample_count: u(s, "total_sample_count"),
        qsl_rng_seed: u(s, "qsl_rng_seed"),
        sample_index_rng_seed: u(s, "sample_index_rng_seed"),
        target_percentile: 0.90,
        offline_expected_qps: s
            .get("offline_expected_qps")
            .and_then(Value::as_f64)
            .unwrap_or(1.0),
        warm_up: WarmUp::Queries(0),
        max_stored_queries: 1 << 20,
    }
}

/// LoadGen prints doubles with 6 significant digits: compare in that form.
fn assert_g6(name: &str, ours: f64, loadgen: f64) {
    assert_eq!(
        format_g6(ours),
        format_g6(loadgen),
        "{name}: ours {ours}, LoadGen {loadgen}"
    );
}

fn check(path: &Path) {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let rep = &v["loadgen_reported"];
    let settings = settings_of(&v);
    let scenario = match v["scenario"].as_str().unwrap() {
        "SingleStream" => Scenario::SingleStream,
        "Offline" => Scenario::Offline,
        other => panic!("unknown scenario {other}"),
    };
    let issued = list(&v, "issued_sample_index");
    let latencies = list(&v, "latency_ns_in_issue_order");
    assert_eq!(issued.len(), latencies.len());

    // 1. Loaded set and issue order from the settings alone.
    let loaded = qsl::loaded_set(&settings);
    let loaded_u64: Vec<u64> = loaded.iter().map(|&x| x as u64).collect();
    assert_eq!(loaded_u64, list(rep, "loaded_qsl_set"), "loaded set");
    let order: Vec<u64> = match scenario {
        Scenario::SingleStream => qsl::single_stream_order(&settings, &loaded, issued.len()),
        Scenario::Offline => {
            assert_eq!(
                settings.offline_samples_per_query(),
                u(rep, "effective_samples_per_query"),
                "samples per query"
            );
            qsl::offline_order(&loaded, issued.len())
        }
    }
    .into_iter()
    .map(u64::from)
    .collect();
    assert_eq!(order, issued, "issued order");

    // 2. Statistics from the latencies. LoadGen logs no SingleStream duration;
    // it is recovered from the logged QPS with overhead, (n-1)/duration.
    let n = latencies.len() as u64;
    let duration_ns = match scenario {
        Scenario::SingleStream => {
            ((n - 1) as f64 / f(rep, "result_qps_with_loadgen_overhead") * 1e9).round() as u64
        }
        Scenario::Offline => *latencies.iter().max().unwrap(),
    };
    let run = ScenarioRun {
        scenario,
        loaded_set: loaded,
        issued_sample_index: issued.iter().map(|&x| x as u32).collect(),
        latency_ns: latencies,
        start_ns: 0,
        duration_ns,
        aborted: false,
        store_full: false,
    };
    let r = stats::summarize(&settings, &run);
    let p = &r.percentiles;
    for (key, ours) in [
        ("result_50.00_percentile_latency_ns", p.p50),
        ("result_90.00_percentile_latency_ns", p.p90),
        ("result_95.00_percentile_latency_ns", p.p95),
        ("result_97.00_percentile_latency_ns", p.p97),
        ("result_99.00_percentile_latency_ns", p.p99),
        ("result_99.90_percentile_latency_ns", p.p999),
        ("result_mean_latency_ns", r.mean_ns),
        ("result_min_latency_ns", r.min_ns),
        ("result_max_latency_ns", r.max_ns),
        ("result_query_count", r.query_count),
    ] {
        assert_eq!(ours, u(rep, key), "{key}");
    }
    match scenario {
        Scenario::SingleStream => {
            let es90 = r.early_stopping_90.as_ref().unwrap();
            let es99 = r.early_stopping_99.as_ref().unwrap();
            assert_eq!(es90.estimate_ns, Some(u(rep, "early_stopping_latency_ss")));
            assert_eq!(es99.estimate_ns, Some(u(rep, "early_stopping_latency_ms")));
            let text = rep["early_stopping_result"].as_str().unwrap();
            let discard = format!("Would discard {} highest", es90.t - 1);
            assert!(text.contains(&discard), "{text:?} lacks {discard:?}");
            assert_g6(
                "qps without overhead",
                r.qps_without_overhead,
                f(rep, "result_qps_without_loadgen_overhead"),
            );
            assert_g6(
                "qps with overhead",
                r.qps_with_overhead,
                f(rep, "result_qps_with_loadgen_overhead"),
            );
        }
        Scenario::Offline => {
            assert_g6(
                "samples per second",
                r.samples_per_second,
                f(rep, "result_samples_per_second"),
            );
        }
    }
    assert_eq!(
        rep["early_stopping_met"].as_bool().unwrap(),
        r.early_stopping_90.as_ref().is_none_or(|e| e.met),
        "early_stopping_met"
    );

    // 3. The verdict.
    assert_eq!(
        r.min_duration_met,
        rep["result_min_duration_met"].as_bool().unwrap()
    );
    assert_eq!(
        r.min_queries_met,
        rep["result_min_queries_met"].as_bool().unwrap()
    );
    assert_eq!(r.valid, rep["result_validity"].as_str().unwrap() == "VALID");
    if let Some(reason) = rep.get("result_invalid_reason").and_then(Value::as_str) {
        assert!(!r.valid);
        let named: Vec<&str> = r.invalid_reasons.iter().map(|x| x.explain()).collect();
        assert!(
            named.iter().any(|x| reason.contains(x)),
            "LoadGen's reason {reason:?} not among ours {named:?}"
        );
    }
}

#[test]
fn every_loadgen_vector_replays_exactly() {
    let Some(dir) = common::shared_path("vectors/loadgen") else {
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no vectors in {}", dir.display());
    for path in &files {
        eprintln!("vector {}", path.display());
        check(path);
    }
}
