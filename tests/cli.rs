//! The binary as a user meets it: bad settings are usage errors (exit 2) that
//! name the field and never panic; a quick synthetic run and `stats` work end to
//! end, in text and JSON.

use std::path::PathBuf;
use std::process::{Command, Output};

fn edgemark(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edgemark"));
    cmd.args(args);
    // `run` writes records by default; keep them out of the source tree.
    if args.first() == Some(&"run") && !args.contains(&"--results") {
        let dir =
            std::env::temp_dir().join(format!("edgemark-test-results-{}", std::process::id()));
        cmd.arg("--results").arg(dir);
    }
    cmd.output().expect("run edgemark")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn temp_file(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("edgemark-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

fn assert_usage_error(o: &Output, needle: &str) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {e}");
    assert!(e.contains(needle), "{needle:?} not in {e:?}");
    assert!(!e.contains("panicked"), "{e}");
}

#[test]
fn bad_flags_name_the_field_and_exit_2() {
    let base = ["run", "--sut", "synthetic:null"];
    for (extra, needle) in [
        (vec!["--min-duration-ms=-5"], "min_duration_ms"),
        (
            vec!["--performance-sample-count", "0"],
            "performance_sample_count",
        ),
        (vec!["--preset", "fastest"], "preset"),
        (vec!["--target-percentile", "150"], "target_percentile"),
        (vec!["--scenario", "server"], "scenario"),
        (vec!["--warmup-ms=-1"], "warmup_ms"),
    ] {
        let mut args: Vec<&str> = base.to_vec();
        args.extend(extra);
        assert_usage_error(&edgemark(&args), needle);
    }
    assert_usage_error(&edgemark(&["run", "--sut", "synthetic:busy:x"]), "busy:x");
}

#[test]
fn bad_config_files_exit_2_with_path_and_line() {
    let p = temp_file("typo.toml", "min_duration_ms = 10\nmin_querry_count = 5\n");
    let o = edgemark(&["run", "--config", p.to_str().unwrap()]);
    assert_usage_error(&o, "min_querry_count");
    assert!(stderr(&o).contains("line 2"), "{}", stderr(&o));
    assert!(stderr(&o).contains("typo.toml"));

    let p = temp_file("broken.toml", "min_duration_ms = = 3\n");
    assert_usage_error(
        &edgemark(&["run", "--config", p.to_str().unwrap()]),
        "line 1",
    );

    let p = temp_file("neg.toml", "min_duration_ms = -3\n");
    assert_usage_error(
        &edgemark(&["run", "--config", p.to_str().unwrap()]),
        "min_duration_ms",
    );

    assert_usage_error(
        &edgemark(&["run", "--config", "/nonexistent/edgemark.toml"]),
        "/nonexistent/edgemark.toml",
    );
}

#[test]
fn quick_synthetic_run_prints_a_valid_summary() {
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--sut",
            "synthetic:null",
            "--scenario",
            "single-stream",
            "--min-duration-ms",
            "20",
            "--target-percentile",
            "95",
        ];
        args.extend_from_slice(extra);
        let o = edgemark(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    // The default answers first: metric and verdict on the second line.
    let out = run(&[]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("SingleStream"), "{out}");
    assert!(
        lines[1].contains("p95 (early stopping)") && lines[1].contains("VALID"),
        "{out}"
    );
    for needle in ["Latency p50/p90/p99:", "queries in", "Record:"] {
        assert!(out.contains(needle), "{needle:?} missing from:\n{out}");
    }
    assert!(out.lines().count() <= 8, "{out}");
    // LoadGen's full summary text behind a flag, labelled at the target percentile.
    let out = run(&["--mlperf-summary"]);
    for needle in [
        "Scenario : SingleStream",
        "Result is : VALID",
        "95th percentile latency (ns)",
        "Early stopping 95.0th percentile estimate",
        "99.90 percentile latency (ns)",
        "min_query_count : 100",
        "Record written to : ",
    ] {
        assert!(out.contains(needle), "{needle:?} missing from:\n{out}");
    }
}

#[test]
fn json_run_with_trace_has_the_arrays() {
    let o = edgemark(&[
        "run",
        "--sut",
        "synthetic:null",
        "--min-duration-ms",
        "10",
        "--offline-expected-qps",
        "1000",
        "--json",
        "--trace",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    let scenarios = v["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 2);
    let ss = &scenarios[0];
    assert_eq!(ss["scenario"], "SingleStream");
    let n = ss["result_query_count"].as_u64().unwrap();
    assert!(n >= 100);
    assert_eq!(
        ss["issued_sample_index"].as_array().unwrap().len() as u64,
        n
    );
    assert_eq!(ss["latency_ns"].as_array().unwrap().len() as u64, n);
    assert!(ss["result_90.00_percentile_latency_ns"].is_u64());
    assert_eq!(scenarios[1]["scenario"], "Offline");
    assert!(scenarios[1]["result_samples_per_second"].as_f64().unwrap() > 0.0);
    // Without --trace the arrays stay out.
    let o = edgemark(&[
        "run",
        "--sut",
        "synthetic:null",
        "--scenario",
        "offline",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["scenarios"][0].get("latency_ns").is_none());
}

#[test]
fn stats_reads_lines_and_json_arrays() {
    let lines: String = (1..=100).map(|i| format!("{}\n", i * 10)).collect();
    let p = temp_file("lat.txt", &lines);
    let o = edgemark(&["stats", "--json", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // sorted[floor(100 * 0.9)] = 910; early stopping t = 3 -> sorted[97] = 980.
    assert_eq!(v["result_90.00_percentile_latency_ns"], 910);
    assert_eq!(v["early_stopping_latency_ss"], 980);
    assert_eq!(v["result_mean_latency_ns"], 505);
    assert_eq!(v["early_stopping_latency_ms"], serde_json::Value::Null);

    let p = temp_file("lat.json", "[5, 1, 3]");
    let o = edgemark(&["stats", "--percentile", "50", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("50th percentile latency (ns)    : 3"), "{out}");
    // h(1) at p = 0.5 is 10: P[Bin(11, 0.5) <= 1] = 12/2048 < 0.01.
    assert!(out.contains("Need to process at least 11"), "{out}");
}

#[test]
fn stats_bad_input_names_path_and_line() {
    let p = temp_file("bad.txt", "100\n200\nabc\n");
    let o = edgemark(&["stats", p.to_str().unwrap()]);
    assert_usage_error(&o, "bad.txt:3");
    let p = temp_file("empty.txt", "\n");
    assert_usage_error(&edgemark(&["stats", p.to_str().unwrap()]), "no latencies");
    let p = temp_file("ok.txt", "1\n");
    assert_usage_error(
        &edgemark(&["stats", "--percentile", "0", p.to_str().unwrap()]),
        "percentile",
    );
    assert_usage_error(
        &edgemark(&["stats", "/nonexistent/lat.txt"]),
        "/nonexistent/lat.txt",
    );
}

#[test]
fn help_states_the_preset_values() {
    let o = edgemark(&["run", "--help"]);
    let out = String::from_utf8_lossy(&o.stdout);
    let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        out.contains("quick: min_duration 2 s, min_query_count 100"),
        "{out}"
    );
    assert!(out.contains("official"));
}
