//! The record stage end to end, as `run::execute` uses it: probe a (fixture)
//! box, sample sensors around a scenario, build the record from the in-memory
//! results, write it, and read it back through `edgemark report`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use edgemark::loadgen::ScenarioRun;
use edgemark::loadgen::warm_up::WarmUpDone;
use edgemark::probe::{self, Sampler};
use edgemark::record::{Record, RunFacts, writer};
use edgemark::{plan, stats, sut};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn raspberry_pi_run_to_report() {
    let root = fixture("rpi4");
    let (system, describe_warnings) = probe::describe(&root);
    let sampler = Sampler::start(&root, Duration::from_millis(100));
    let sensors = sampler.stop();

    let plan = plan::Plan {
        preset: "quick".into(),
        scenarios: vec![plan::Scenario::SingleStream],
        mode: plan::Mode::Performance,
        settings: plan::LoadGenSettings {
            min_duration_ns: 1_000_000,
            max_duration_ns: 0,
            min_query_count: 4,
            max_query_count: 0,
            performance_sample_count: 8,
            total_sample_count: 8,
            qsl_rng_seed: 0,
            sample_index_rng_seed: 0,
            target_percentile: 0.9,
            offline_expected_qps: 0.0,
            warm_up: plan::WarmUp::Queries(1),
            max_stored_queries: 16,
        },
        sut: plan::SutSpec::Synthetic("busy:1".into()),
        trace: true,
        calibrate_offline_qps: false,
        dataset: None,
        board: None,
        warnings: vec![],
    };
    let sut = sut::SutInfo {
        kind: "synthetic".into(),
        description: "busy 1 ms".into(),
        ..Default::default()
    };
    let run = ScenarioRun {
        scenario: plan::Scenario::SingleStream,
        loaded_set: vec![0, 1, 2, 3],
        issued_sample_index: vec![3, 0, 2, 2],
        latency_ns: vec![1_000_100, 1_000_300, 1_000_200, 1_000_900],
        start_ns: 0,
        duration_ns: 3_100_000,
        aborted: false,
        store_full: false,
    };
    let result = stats::ScenarioResult {
        scenario: plan::Scenario::SingleStream,
        query_count: 4,
        sample_count: 4,
        duration_ns: 3_100_000,
        min_ns: 1_000_100,
        max_ns: 1_000_900,
        mean_ns: 1_000_375,
        percentiles: stats::Percentiles {
            p50: 1_000_300,
            p90: 1_000_900,
            p95: 1_000_900,
            p97: 1_000_900,
            p99: 1_000_900,
            p999: 1_000_900,
        },
        target_percentile_ns: 1_000_900,
        early_stopping_90: None,
        early_stopping_99: None,
        qps_with_overhead: 967.7,
        qps_without_overhead: 999.6,
        samples_per_second: 967.7,
        min_duration_met: true,
        min_queries_met: true,
        valid: false,
        invalid_reasons: vec![stats::InvalidReason::EarlyStoppingNotMet],
    };
    let rss = probe::read_rss(&root);
    // As `run` collects them: what describing the box could not read.
    let mut box_warnings = edgemark::warnings::Warnings::default();
    box_warnings.extend(
        describe_warnings
            .into_iter()
            .map(edgemark::warnings::RunWarning::Box),
    );
    let rec = Record::from_run(&RunFacts {
        plan: &plan,
        settings: &plan.settings,
        sut: &sut,
        scenario: Some((&run, &result)),
        warm_up: WarmUpDone {
            queries: 1,
            ns: 1_000_000,
        },
        accuracy: None,
        accuracy_details: None,
        system: &system,
        sensors: &sensors,
        rss_before_load_bytes: rss.rss_bytes,
        peak_rss_bytes: rss.peak_rss_bytes,
        run_id: writer::random_run_id(),
        wall_start_ns: 1_795_867_980_000_000_000,
        wall_end_ns: 1_795_867_981_000_000_000,
        warnings: &box_warnings,
    });
    assert_eq!(
        rec.host.board.as_deref(),
        Some("Raspberry Pi 4 Model B Rev 1.4")
    );
    assert_eq!(rec.sensors.samples, 2);
    assert_eq!(rec.sensors.zones[0].max_millicelsius, 48_312);
    assert!(
        rec.warnings.iter().any(|w| w.contains("\"ondemand\"")),
        "{:?}",
        rec.warnings
    );
    assert_eq!(rec.trace.as_ref().unwrap().latency_ns, run.latency_ns);

    let dir = std::env::temp_dir().join(format!("edgemark-pipeline-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = writer::write_record(&dir, &rec).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("pi4-lab_20261128T121300Z_single-stream_"),
        "{name}"
    );
    assert!(std::fs::metadata(&path).unwrap().len() < 4096);

    let out = Command::new(env!("CARGO_BIN_EXE_edgemark"))
        .args(["report", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = &v["records"][0];
    assert_eq!(row["host"], "pi4-lab");
    assert_eq!(row["board"], "Raspberry Pi 4 Model B Rev 1.4");
    assert_eq!(row["model"], "synthetic:busy:1");
    assert_eq!(row["p90_ns"], 1_000_900);
    assert_eq!(row["temperature_max_celsius"], 48.312);
    assert_eq!(row["samples_per_second_per_core"], 967.7 / 4.0);
    assert!(row["average_watts"].is_null(), "no energy sensor on a Pi 4");
    std::fs::remove_dir_all(&dir).unwrap();
}
