//! LoadGen's own log files, one folder per record: `mlperf_log_summary.txt`
//! (the human summary, same line labels) and `mlperf_log_detail.txt`
//! (`:::MLLOG {json}` lines with LoadGen's keys: `result_validity`,
//! `result_90.00_percentile_latency_ns`, `early_stopping_latency_ss`,
//! `result_samples_per_second`, `effective_*`, ...), so a parser written for
//! LoadGen's output reads edgemark's. Settings LoadGen has and edgemark does
//! not use (schedule seed, accuracy log) are written with LoadGen's defaults
//! for our two scenarios.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::record::{InvalidReason, Mode, Record, Scenario};

const SCHEDULE_RNG_SEED: u64 = 16159082839903944936;

fn yes(b: bool) -> &'static str {
    if b { "Yes" } else { "NO" }
}

fn test_mode(r: &Record) -> &'static str {
    match r.plan.mode {
        Mode::Performance => "PerformanceOnly",
        Mode::Accuracy => "AccuracyOnly",
        // LoadGen's name for accuracy followed by performance.
        Mode::Both => "SubmissionRun",
    }
}

fn samples_per_query(r: &Record) -> u64 {
    match r.plan.scenario {
        Scenario::SingleStream => 1,
        Scenario::Offline => r.result.as_ref().map_or(0, |res| res.sample_count),
    }
}

fn early_stopping_lines(r: &Record) -> Vec<String> {
    // Accuracy records have no LoadGen performance log; write_all skips them.
    let Some(res) = r.result.as_ref() else {
        return Default::default();
    };
    let (Some(e90), Some(e99)) = (&res.early_stopping_90, &res.early_stopping_99) else {
        return vec![];
    };
    if !e90.met {
        return vec![
            " * Run unsuccessful.".into(),
            format!(" * Processed {} queries.", res.query_count),
            format!(" * Would need to run at least {} queries.", e90.min_queries),
        ];
    }
    let mut v = vec![
        format!(
            " * Processed at least {} queries ({}).",
            e90.min_queries, res.query_count
        ),
        format!(
            " * Would discard {} highest latency queries.",
            e90.t.saturating_sub(1)
        ),
        // LoadGen prints the plan's target percentile with one decimal.
        format!(
            " * Early stopping {:.1}th percentile estimate: {}",
            e90.percentile * 100.0,
            e90.estimate_ns.unwrap_or(0)
        ),
    ];
    match e99.estimate_ns {
        Some(ns) if e99.met => v.push(format!(
            " * Early stopping {:.1}th percentile estimate: {ns}",
            e99.percentile * 100.0
        )),
        _ => v.push(format!(
            " * Not enough queries processed for {:.1}th percentile early stopping estimate \
             (would need to process at least {} total queries).",
            e99.percentile * 100.0,
            e99.min_queries
        )),
    }
    v
}

pub fn summary(r: &Record) -> String {
    // Accuracy records have no LoadGen performance log; write_all skips them.
    let Some(res) = r.result.as_ref() else {
        return Default::default();
    };
    let set = &r.plan.settings;
    let bar = "================================================";
    let mut s = String::new();
    let mut l = |line: String| {
        s.push_str(&line);
        s.push('\n');
    };
    l(bar.into());
    l("MLPerf Results Summary".into());
    l(bar.into());
    l(format!(
        "SUT name : edgemark {} ({})",
        r.model_name(),
        r.host.hostname
    ));
    l(format!("Scenario : {}", r.plan.scenario.name()));
    l(format!("Mode     : {}", test_mode(r)));
    match r.plan.scenario {
        Scenario::SingleStream => l(format!(
            "{}th percentile latency (ns) : {}",
            super::percent_label(set.target_percentile),
            res.target_percentile_ns
        )),
        Scenario::Offline => l(format!("Samples per second: {}", res.samples_per_second)),
    }
    l(format!(
        "Result is : {}",
        if res.valid { "VALID" } else { "INVALID" }
    ));
    l(format!(
        "  Min duration satisfied : {}",
        yes(res.min_duration_met)
    ));
    l(format!(
        "  Min queries satisfied : {}",
        yes(res.min_queries_met)
    ));
    let es_met = res.early_stopping_90.as_ref().is_none_or(|e| e.met);
    l(format!("  Early stopping satisfied: {}", yes(es_met)));
    if !res.valid {
        l("Recommendations:".into());
        for reason in &res.invalid_reasons {
            l(format!(" * {}", reason.describe()));
        }
    }
    let es = early_stopping_lines(r);
    if !es.is_empty() {
        l("Early Stopping Result:".into());
        for line in es {
            l(line);
        }
    }
    l(String::new());
    l(bar.into());
    l("Additional Stats".into());
    l(bar.into());
    if r.plan.scenario == Scenario::SingleStream {
        l(format!(
            "QPS w/ loadgen overhead         : {:.2}",
            res.qps_with_overhead
        ));
        l(format!(
            "QPS w/o loadgen overhead        : {:.2}",
            res.qps_without_overhead
        ));
        l(String::new());
    }
    l(format!("Min latency (ns)                : {}", res.min_ns));
    l(format!("Max latency (ns)                : {}", res.max_ns));
    l(format!("Mean latency (ns)               : {}", res.mean_ns));
    for (p, v) in res.percentile_rows() {
        l(format!("{p} percentile latency (ns)   : {v}"));
    }
    l(String::new());
    l(bar.into());
    l("Test Parameters Used".into());
    l(bar.into());
    l(format!("samples_per_query : {}", samples_per_query(r)));
    l(format!("target_qps : {}", set.offline_expected_qps));
    l("target_latency (ns): 0".into());
    l("max_async_queries : 1".into());
    l(format!(
        "min_duration (ms): {}",
        set.min_duration_ns / 1_000_000
    ));
    l(format!(
        "max_duration (ms): {}",
        set.max_duration_ns / 1_000_000
    ));
    l(format!("min_query_count : {}", set.min_query_count));
    l(format!("max_query_count : {}", set.max_query_count));
    l(format!("qsl_rng_seed : {}", set.qsl_rng_seed));
    l(format!(
        "sample_index_rng_seed : {}",
        set.sample_index_rng_seed
    ));
    l(format!("schedule_rng_seed : {SCHEDULE_RNG_SEED}"));
    l("accuracy_log_rng_seed : 0".into());
    l("accuracy_log_probability : 0".into());
    l("accuracy_log_sampling_target : 0".into());
    l("print_timestamps : 0".into());
    l("performance_issue_unique : 0".into());
    l("performance_issue_same : 0".into());
    l("performance_issue_same_index : 0".into());
    l(format!(
        "performance_sample_count : {}",
        set.performance_sample_count
    ));
    l(String::new());
    if r.warnings.is_empty() {
        l("No warnings encountered during test.".into());
    } else {
        l(format!(
            "{} warning(s) encountered during test:",
            r.warnings.len()
        ));
        for w in &r.warnings {
            l(format!(" * {w}"));
        }
    }
    l(String::new());
    l("No errors encountered during test.".into());
    s
}

/// The (key, value) pairs of the detail log, in LoadGen's key names.
pub fn detail_entries(r: &Record) -> Vec<(String, Value)> {
    // Accuracy records have no LoadGen performance log; write_all skips them.
    let Some(res) = r.result.as_ref() else {
        return Default::default();
    };
    let set = &r.plan.settings;
    let offline = r.plan.scenario == Scenario::Offline;
    let mut v: Vec<(String, Value)> = vec![
        ("edgemark_version".into(), json!(r.tool.version)),
        ("edgemark_git_hash".into(), json!(r.tool.git_hash)),
        ("sut_host".into(), json!(r.host.hostname)),
        ("sut_board".into(), json!(r.host.board)),
        ("sut_model".into(), json!(r.model_name())),
        ("effective_scenario".into(), json!(r.plan.scenario.name())),
        ("effective_test_mode".into(), json!(test_mode(r))),
        (
            "effective_samples_per_query".into(),
            json!(samples_per_query(r)),
        ),
        (
            "effective_target_qps".into(),
            json!(set.offline_expected_qps),
        ),
        ("effective_target_latency_ns".into(), json!(0)),
        (
            "effective_target_latency_percentile".into(),
            json!(set.target_percentile),
        ),
        ("effective_max_async_queries".into(), json!(1)),
        (
            "effective_target_duration_ms".into(),
            json!(if offline {
                0
            } else {
                set.min_duration_ns / 1_000_000
            }),
        ),
        (
            "effective_min_duration_ms".into(),
            json!(set.min_duration_ns / 1_000_000),
        ),
        (
            "effective_max_duration_ms".into(),
            json!(set.max_duration_ns / 1_000_000),
        ),
        (
            "effective_min_query_count".into(),
            // LoadGen's Offline is one query carrying every sample.
            json!(if offline { 1 } else { set.min_query_count }),
        ),
        (
            "effective_max_query_count".into(),
            json!(set.max_query_count),
        ),
        (
            "effective_min_sample_count".into(),
            json!(if offline {
                samples_per_query(r)
            } else {
                set.min_query_count
            }),
        ),
        (
            "effective_accuracy_sample_count".into(),
            json!(set.total_sample_count),
        ),
        ("effective_qsl_rng_seed".into(), json!(set.qsl_rng_seed)),
        (
            "effective_sample_index_rng_seed".into(),
            json!(set.sample_index_rng_seed),
        ),
        (
            "effective_schedule_rng_seed".into(),
            json!(SCHEDULE_RNG_SEED),
        ),
        ("effective_accuracy_log_rng_seed".into(), json!(0)),
        ("effective_accuracy_log_probability".into(), json!(0)),
        ("effective_accuracy_log_sampling_target".into(), json!(0)),
        ("effective_print_timestamps".into(), json!(false)),
        ("effective_performance_issue_unique".into(), json!(false)),
        ("effective_performance_issue_same".into(), json!(false)),
        ("effective_performance_issue_same_index".into(), json!(0)),
        (
            "effective_performance_sample_count".into(),
            json!(set.performance_sample_count),
        ),
        (
            "effective_sample_concatenate_permutation".into(),
            json!(false),
        ),
        ("generated_query_count".into(), json!(res.query_count)),
    ];
    if let (Some(e90), Some(e99)) = (&res.early_stopping_90, &res.early_stopping_99) {
        v.push(("early_stopping_met".into(), json!(e90.met)));
        v.push((
            "early_stopping_result".into(),
            json!(early_stopping_lines(r).join(" ")),
        ));
        if let Some(ns) = e90.estimate_ns {
            v.push(("early_stopping_latency_ss".into(), json!(ns)));
        }
        if let Some(ns) = e99.estimate_ns {
            v.push(("early_stopping_latency_ms".into(), json!(ns)));
        }
    } else {
        v.push(("early_stopping_met".into(), json!(true)));
        v.push(("early_stopping_result".into(), json!("")));
    }
    v.push(("num_errors".into(), json!(0)));
    for (p, ns) in res.percentile_rows() {
        v.push((format!("result_{p}_percentile_latency_ns"), json!(ns)));
    }
    v.push(("result_max_latency_ns".into(), json!(res.max_ns)));
    v.push(("result_mean_latency_ns".into(), json!(res.mean_ns)));
    v.push(("result_min_latency_ns".into(), json!(res.min_ns)));
    v.push((
        "result_min_duration_met".into(),
        json!(res.min_duration_met),
    ));
    v.push(("result_min_queries_met".into(), json!(res.min_queries_met)));
    match r.plan.scenario {
        Scenario::SingleStream => {
            v.push((
                "result_qps_with_loadgen_overhead".into(),
                json!(res.qps_with_overhead),
            ));
            v.push((
                "result_qps_without_loadgen_overhead".into(),
                json!(res.qps_without_overhead),
            ));
        }
        Scenario::Offline => v.push((
            "result_samples_per_second".into(),
            json!(res.samples_per_second),
        )),
    }
    for reason in &res.invalid_reasons {
        let text = match reason {
            // LoadGen's own words for this one (a parser may match on them).
            InvalidReason::OfflineExpectedQpsTooLow => {
                "Increase expected QPS so the loadgen pre-generates a larger (coalesced) query. "
                    .to_string()
            }
            other => other.describe().to_string(),
        };
        v.push(("result_invalid_reason".into(), json!(text)));
    }
    v.push(("result_query_count".into(), json!(res.query_count)));
    v.push((
        "result_validity".into(),
        json!(if res.valid { "VALID" } else { "INVALID" }),
    ));
    v
}

/// One detail line, fields in LoadGen's order and spacing (`"key": value, ...`).
fn mllog_line(key: &str, value: &Value, is_warning: bool) -> String {
    format!(
        ":::MLLOG {{\"key\": {}, \"value\": {value}, \"time_ms\": 0.000000, \"namespace\": \"mlperf::logging\", \"event_type\": \"POINT_IN_TIME\", \"metadata\": {{\"is_error\": false, \"is_warning\": {is_warning}, \"file\": \"edgemark\", \"line_no\": 0, \"pid\": 0, \"tid\": 0}}}}",
        Value::from(key)
    )
}

pub fn detail(r: &Record) -> String {
    let mut s = String::new();
    for (k, v) in detail_entries(r) {
        let _ = writeln!(s, "{}", mllog_line(&k, &v, false));
    }
    for w in &r.warnings {
        let _ = writeln!(
            s,
            "{}",
            mllog_line("warning_generic_message", &json!(w), true)
        );
    }
    s
}

/// Writes both files per record under `out/<record file stem>/`; returns the
/// list of folders written (for stdout).
pub fn write_all(out: &Path, records: &[(PathBuf, Record)]) -> Result<String, String> {
    let mut listing = String::new();
    // An accuracy record has no scenario result to put into LoadGen's logs.
    for (path, r) in records.iter().filter(|(_, r)| !r.is_accuracy_only()) {
        let stem = path.file_stem().map_or_else(
            || format!("{:016x}", r.run_id),
            |s| s.to_string_lossy().into_owned(),
        );
        let dir = out.join(stem);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        for (name, text) in [
            ("mlperf_log_summary.txt", summary(r)),
            ("mlperf_log_detail.txt", detail(r)),
        ] {
            let p = dir.join(name);
            std::fs::write(&p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        }
        let _ = writeln!(listing, "{}", dir.display());
    }
    Ok(listing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::example_record;

    #[test]
    fn detail_lines_parse_as_mllog_json_with_loadgen_keys() {
        let r = example_record(0);
        let text = detail(&r);
        let mut keys = std::collections::HashMap::new();
        for line in text.lines() {
            let json = line
                .strip_prefix(":::MLLOG ")
                .expect("every line is an MLLOG line");
            let v: Value = serde_json::from_str(json).unwrap();
            keys.insert(v["key"].as_str().unwrap().to_string(), v["value"].clone());
        }
        assert_eq!(keys["result_validity"], "INVALID");
        assert_eq!(keys["result_90.00_percentile_latency_ns"], 11_000_000);
        assert_eq!(keys["result_99.90_percentile_latency_ns"], 12_500_000);
        assert_eq!(keys["early_stopping_latency_ss"], 11_100_000);
        assert_eq!(keys["effective_scenario"], "SingleStream");
        assert_eq!(keys["effective_qsl_rng_seed"], 2085463073848966840u64);
        assert_eq!(keys["effective_min_duration_ms"], 600_000);
        assert_eq!(keys["result_qps_with_loadgen_overhead"], 97.5);
        assert!(keys.contains_key("warning_generic_message"));
    }

    #[test]
    fn summary_uses_loadgen_labels() {
        let mut r = example_record(0);
        r.result.as_mut().unwrap().valid = true;
        r.result.as_mut().unwrap().invalid_reasons.clear();
        r.result
            .as_mut()
            .unwrap()
            .early_stopping_99
            .as_mut()
            .unwrap()
            .met = true;
        r.result
            .as_mut()
            .unwrap()
            .early_stopping_99
            .as_mut()
            .unwrap()
            .estimate_ns = Some(12_300_000);
        let s = summary(&r);
        for want in [
            "MLPerf Results Summary",
            "Scenario : SingleStream",
            "Mode     : PerformanceOnly",
            "90th percentile latency (ns) : 11000000",
            "Result is : VALID",
            "  Min duration satisfied : Yes",
            " * Would discard 5828 highest latency queries.",
            " * Early stopping 90.0th percentile estimate: 11100000",
            " * Early stopping 99.0th percentile estimate: 12300000",
            "99.90 percentile latency (ns)   : 12500000",
            "qsl_rng_seed : 2085463073848966840",
        ] {
            assert!(s.contains(want), "missing {want:?} in\n{s}");
        }
        r.plan.scenario = Scenario::Offline;
        r.result.as_mut().unwrap().samples_per_second = 1996.5;
        let s = summary(&r);
        assert!(s.contains("Samples per second: 1996.5"), "{s}");
        assert!(detail(&r).contains(
            ":::MLLOG {\"key\": \"result_samples_per_second\", \"value\": 1996.5, \"time_ms\""
        ));
    }

    /// The early-stopping estimate is computed at the plan's target
    /// percentile; its label says which (it was a fixed "90.0th").
    #[test]
    fn labels_follow_the_target_percentile() {
        let mut r = example_record(0);
        r.plan.settings.target_percentile = 0.95;
        let res = r.result.as_mut().unwrap();
        res.early_stopping_90.as_mut().unwrap().percentile = 0.95;
        res.target_percentile_ns = 11_800_000;
        let s = summary(&r);
        assert!(s.contains("95th percentile latency (ns) : 11800000"), "{s}");
        assert!(
            s.contains(" * Early stopping 95.0th percentile estimate: 11100000"),
            "{s}"
        );
        assert!(!s.contains("90.0th"), "{s}");
    }
}
