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

use super::ExportError;
use crate::record::{InvalidReason, Mode, Record, Results, Scenario};

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

const BAR: &str = "================================================";

/// LoadGen's `mlperf_log_summary.txt` of a record: the result, additional
/// stats, the test parameters, the warnings.
pub fn summary(r: &Record) -> String {
    // Accuracy records have no LoadGen performance log; write_all skips them.
    let Some(res) = r.result.as_ref() else {
        return Default::default();
    };
    let mut lines = result_lines(r, res);
    lines.extend(additional_stats_lines(r, res));
    lines.extend(test_parameter_lines(r));
    lines.extend(warning_lines(r));
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

fn heading(title: &str) -> [String; 3] {
    [BAR.into(), title.into(), BAR.into()]
}

/// Who ran what, the metric, the verdict and the early-stopping result.
fn result_lines(r: &Record, res: &Results) -> Vec<String> {
    let mut v = Vec::from(heading("MLPerf Results Summary"));
    v.push(format!(
        "SUT name : edgemark {} ({})",
        r.model_name(),
        r.host.hostname
    ));
    v.push(format!("Scenario : {}", r.plan.scenario.name()));
    v.push(format!("Mode     : {}", test_mode(r)));
    v.push(match r.plan.scenario {
        Scenario::SingleStream => format!(
            "{}th percentile latency (ns) : {}",
            super::percent_label(r.plan.settings.target_percentile),
            res.target_percentile_ns
        ),
        Scenario::Offline => format!("Samples per second: {}", res.samples_per_second),
    });
    v.push(format!(
        "Result is : {}",
        if res.valid { "VALID" } else { "INVALID" }
    ));
    v.push(format!(
        "  Min duration satisfied : {}",
        yes(res.min_duration_met)
    ));
    v.push(format!(
        "  Min queries satisfied : {}",
        yes(res.min_queries_met)
    ));
    let es_met = res.early_stopping_90.as_ref().is_none_or(|e| e.met);
    v.push(format!("  Early stopping satisfied: {}", yes(es_met)));
    if !res.valid {
        v.push("Recommendations:".into());
        for reason in &res.invalid_reasons {
            v.push(format!(" * {}", reason.describe()));
        }
    }
    let es = early_stopping_lines(r);
    if !es.is_empty() {
        v.push("Early Stopping Result:".into());
        v.extend(es);
    }
    v.push(String::new());
    v
}

/// QPS (SingleStream) and the latency spread.
fn additional_stats_lines(r: &Record, res: &Results) -> Vec<String> {
    let mut v = Vec::from(heading("Additional Stats"));
    if r.plan.scenario == Scenario::SingleStream {
        v.push(format!(
            "QPS w/ loadgen overhead         : {:.2}",
            res.qps_with_overhead
        ));
        v.push(format!(
            "QPS w/o loadgen overhead        : {:.2}",
            res.qps_without_overhead
        ));
        v.push(String::new());
    }
    v.push(format!("Min latency (ns)                : {}", res.min_ns));
    v.push(format!("Max latency (ns)                : {}", res.max_ns));
    v.push(format!("Mean latency (ns)               : {}", res.mean_ns));
    for (p, ns) in res.percentile_rows() {
        v.push(format!("{p} percentile latency (ns)   : {ns}"));
    }
    v.push(String::new());
    v
}

/// The settings in LoadGen's names; LoadGen's defaults where edgemark has none.
fn test_parameter_lines(r: &Record) -> Vec<String> {
    let set = &r.plan.settings;
    let mut v = Vec::from(heading("Test Parameters Used"));
    v.extend([
        format!("samples_per_query : {}", samples_per_query(r)),
        format!("target_qps : {}", set.offline_expected_qps),
        "target_latency (ns): 0".into(),
        "max_async_queries : 1".into(),
        format!("min_duration (ms): {}", set.min_duration_ns / 1_000_000),
        format!("max_duration (ms): {}", set.max_duration_ns / 1_000_000),
        format!("min_query_count : {}", set.min_query_count),
        format!("max_query_count : {}", set.max_query_count),
        format!("qsl_rng_seed : {}", set.qsl_rng_seed),
        format!("sample_index_rng_seed : {}", set.sample_index_rng_seed),
        format!("schedule_rng_seed : {SCHEDULE_RNG_SEED}"),
        "accuracy_log_rng_seed : 0".into(),
        "accuracy_log_probability : 0".into(),
        "accuracy_log_sampling_target : 0".into(),
        "print_timestamps : 0".into(),
        "performance_issue_unique : 0".into(),
        "performance_issue_same : 0".into(),
        "performance_issue_same_index : 0".into(),
        format!(
            "performance_sample_count : {}",
            set.performance_sample_count
        ),
        String::new(),
    ]);
    v
}

fn warning_lines(r: &Record) -> Vec<String> {
    let mut v = Vec::new();
    if r.warnings.is_empty() {
        v.push("No warnings encountered during test.".into());
    } else {
        v.push(format!(
            "{} warning(s) encountered during test:",
            r.warnings.len()
        ));
        v.extend(r.warnings.iter().map(|w| format!(" * {w}")));
    }
    v.push(String::new());
    v.push("No errors encountered during test.".into());
    v
}

/// The (key, value) pairs of the detail log, in LoadGen's key names: who ran
/// what, the effective settings, the early-stopping verdict, the results.
pub fn detail_entries(r: &Record) -> Vec<(String, Value)> {
    // Accuracy records have no LoadGen performance log; write_all skips them.
    let Some(res) = r.result.as_ref() else {
        return Default::default();
    };
    let mut v = identity_entries(r);
    v.extend(settings_entries(r));
    v.push(("generated_query_count".into(), json!(res.query_count)));
    v.extend(early_stopping_entries(r, res));
    v.push(("num_errors".into(), json!(0)));
    v.extend(result_entries(r, res));
    v
}

fn entry(key: &str, value: Value) -> (String, Value) {
    (key.to_string(), value)
}

/// edgemark's version and the box and model it ran on.
fn identity_entries(r: &Record) -> Vec<(String, Value)> {
    vec![
        entry("edgemark_version", json!(r.tool.version)),
        entry("edgemark_git_hash", json!(r.tool.git_hash)),
        entry("sut_host", json!(r.host.hostname)),
        entry("sut_board", json!(r.host.board)),
        entry("sut_model", json!(r.model_name())),
    ]
}

/// LoadGen's `effective_*` settings: ours where edgemark has the setting,
/// LoadGen's defaults for our two scenarios where it does not.
fn settings_entries(r: &Record) -> Vec<(String, Value)> {
    let set = &r.plan.settings;
    let offline = r.plan.scenario == Scenario::Offline;
    let min_duration_ms = set.min_duration_ns / 1_000_000;
    vec![
        entry("effective_scenario", json!(r.plan.scenario.name())),
        entry("effective_test_mode", json!(test_mode(r))),
        entry("effective_samples_per_query", json!(samples_per_query(r))),
        entry("effective_target_qps", json!(set.offline_expected_qps)),
        entry("effective_target_latency_ns", json!(0)),
        entry(
            "effective_target_latency_percentile",
            json!(set.target_percentile),
        ),
        entry("effective_max_async_queries", json!(1)),
        entry(
            "effective_target_duration_ms",
            json!(if offline { 0 } else { min_duration_ms }),
        ),
        entry("effective_min_duration_ms", json!(min_duration_ms)),
        entry(
            "effective_max_duration_ms",
            json!(set.max_duration_ns / 1_000_000),
        ),
        entry(
            "effective_min_query_count",
            // LoadGen's Offline is one query carrying every sample.
            json!(if offline { 1 } else { set.min_query_count }),
        ),
        entry("effective_max_query_count", json!(set.max_query_count)),
        entry(
            "effective_min_sample_count",
            json!(if offline {
                samples_per_query(r)
            } else {
                set.min_query_count
            }),
        ),
        entry(
            "effective_accuracy_sample_count",
            json!(set.total_sample_count),
        ),
        entry("effective_qsl_rng_seed", json!(set.qsl_rng_seed)),
        entry(
            "effective_sample_index_rng_seed",
            json!(set.sample_index_rng_seed),
        ),
        entry("effective_schedule_rng_seed", json!(SCHEDULE_RNG_SEED)),
        entry("effective_accuracy_log_rng_seed", json!(0)),
        entry("effective_accuracy_log_probability", json!(0)),
        entry("effective_accuracy_log_sampling_target", json!(0)),
        entry("effective_print_timestamps", json!(false)),
        entry("effective_performance_issue_unique", json!(false)),
        entry("effective_performance_issue_same", json!(false)),
        entry("effective_performance_issue_same_index", json!(0)),
        entry(
            "effective_performance_sample_count",
            json!(set.performance_sample_count),
        ),
        entry("effective_sample_concatenate_permutation", json!(false)),
    ]
}

/// Met or not, LoadGen's result text, and the estimates there are.
fn early_stopping_entries(r: &Record, res: &Results) -> Vec<(String, Value)> {
    let (Some(e90), Some(e99)) = (&res.early_stopping_90, &res.early_stopping_99) else {
        return vec![
            entry("early_stopping_met", json!(true)),
            entry("early_stopping_result", json!("")),
        ];
    };
    let mut v = vec![
        entry("early_stopping_met", json!(e90.met)),
        entry(
            "early_stopping_result",
            json!(early_stopping_lines(r).join(" ")),
        ),
    ];
    if let Some(ns) = e90.estimate_ns {
        v.push(entry("early_stopping_latency_ss", json!(ns)));
    }
    if let Some(ns) = e99.estimate_ns {
        v.push(entry("early_stopping_latency_ms", json!(ns)));
    }
    v
}

/// Latencies, the stop rules, the scenario's metric, validity and why.
fn result_entries(r: &Record, res: &Results) -> Vec<(String, Value)> {
    let mut v = Vec::new();
    for (p, ns) in res.percentile_rows() {
        v.push((format!("result_{p}_percentile_latency_ns"), json!(ns)));
    }
    v.push(entry("result_max_latency_ns", json!(res.max_ns)));
    v.push(entry("result_mean_latency_ns", json!(res.mean_ns)));
    v.push(entry("result_min_latency_ns", json!(res.min_ns)));
    v.push(entry(
        "result_min_duration_met",
        json!(res.min_duration_met),
    ));
    v.push(entry("result_min_queries_met", json!(res.min_queries_met)));
    match r.plan.scenario {
        Scenario::SingleStream => {
            v.push(entry(
                "result_qps_with_loadgen_overhead",
                json!(res.qps_with_overhead),
            ));
            v.push(entry(
                "result_qps_without_loadgen_overhead",
                json!(res.qps_without_overhead),
            ));
        }
        Scenario::Offline => v.push(entry(
            "result_samples_per_second",
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
        v.push(entry("result_invalid_reason", json!(text)));
    }
    v.push(entry("result_query_count", json!(res.query_count)));
    v.push(entry(
        "result_validity",
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
pub fn write_all(out: &Path, records: &[(PathBuf, Record)]) -> Result<String, ExportError> {
    let mut listing = String::new();
    // An accuracy record has no scenario result to put into LoadGen's logs.
    for (path, r) in records.iter().filter(|(_, r)| !r.is_accuracy_only()) {
        let stem = path.file_stem().map_or_else(
            || format!("{:016x}", r.run_id),
            |s| s.to_string_lossy().into_owned(),
        );
        let dir = out.join(stem);
        std::fs::create_dir_all(&dir).map_err(|source| ExportError::CreateDir {
            path: dir.clone(),
            source,
        })?;
        for (name, text) in [
            ("mlperf_log_summary.txt", summary(r)),
            ("mlperf_log_detail.txt", detail(r)),
        ] {
            let p = dir.join(name);
            std::fs::write(&p, text).map_err(|source| ExportError::Write { path: p, source })?;
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

    #[test]
    fn an_output_folder_that_cannot_be_made_is_an_error_naming_it() {
        let base = std::env::temp_dir().join(format!("edgemark-mlperf-{}", std::process::id()));
        std::fs::create_dir_all(&base).unwrap();
        let file = base.join("a-file");
        std::fs::write(&file, "not a folder").unwrap();
        let records = [(PathBuf::from("x.emrec"), example_record(1))];
        let e = write_all(&file, &records).unwrap_err();
        assert!(matches!(e, ExportError::CreateDir { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains("cannot create") && text.contains("a-file/x"),
            "{text}"
        );
        std::fs::remove_dir_all(&base).unwrap();
    }
}
