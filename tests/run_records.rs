//! `edgemark run` leaves one record per scenario in the results directory,
//! prints its path, and carries the probes' warnings in record and summary.

use std::path::PathBuf;
use std::process::Command;

use edgemark::record::{Record, Scenario};

#[test]
fn run_writes_one_record_per_scenario_and_prints_the_path() {
    let results = std::env::temp_dir().join(format!("edgemark-run-records-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&results);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rpi4");
    let out = Command::new(env!("CARGO_BIN_EXE_edgemark"))
        .args([
            "run",
            "--sut",
            "synthetic:null",
            "--min-duration-ms",
            "10",
            "--offline-expected-qps",
            "1000",
        ])
        .arg("--results")
        .arg(&results)
        .arg("--root")
        .arg(&root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let printed: Vec<PathBuf> = stdout
        .lines()
        // The short summary's `  Record:   PATH` line of each scenario.
        .filter_map(|l| l.trim_start().strip_prefix("Record:").map(str::trim))
        .map(PathBuf::from)
        .collect();
    assert_eq!(printed.len(), 2, "{stdout}");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&results)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut printed_sorted = printed.clone();
    printed_sorted.sort();
    assert_eq!(files, printed_sorted);

    let recs: Vec<Record> = printed.iter().map(|p| Record::read(p).unwrap()).collect();
    assert_eq!(recs[0].plan.scenario, Scenario::SingleStream);
    assert_eq!(recs[1].plan.scenario, Scenario::Offline);
    for r in &recs {
        // The fixture Pi, not this machine, was probed.
        assert_eq!(r.host.hostname, "pi4-lab");
        assert_eq!(
            r.host.board.as_deref(),
            Some("Raspberry Pi 4 Model B Rev 1.4")
        );
        assert!(r.sensors.samples >= 2);
        assert!(
            r.warnings.iter().any(|w| w.contains("\"ondemand\"")),
            "{:?}",
            r.warnings
        );
        assert!(r.trace.is_none());
        assert!(r.wall_end_ns >= r.wall_start_ns && r.wall_start_ns > 0);
    }
    assert!(recs[0].result.as_ref().unwrap().query_count >= 100);
    assert_eq!(recs[0].sut.kind, "synthetic");
    // The summary shows the governor warning too.
    assert!(
        stdout.contains("warning: cpufreq governor is \"ondemand\""),
        "{stdout}"
    );

    // --json carries the path as "record".
    let out = Command::new(env!("CARGO_BIN_EXE_edgemark"))
        .args([
            "run",
            "--sut",
            "synthetic:null",
            "--scenario",
            "offline",
            "--json",
            "--trace",
        ])
        .args(["--offline-expected-qps", "1000", "--min-duration-ms", "5"])
        .arg("--results")
        .arg(&results)
        .arg("--root")
        .arg(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = PathBuf::from(v["scenarios"][0]["record"].as_str().unwrap());
    let r = Record::read(&p).unwrap();
    let trace = r.trace.expect("--trace keeps the trace in the record");
    assert_eq!(
        trace.latency_ns.len() as u64,
        r.result.as_ref().unwrap().sample_count
    );
    std::fs::remove_dir_all(&results).unwrap();
}
