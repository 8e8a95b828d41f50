//! Stop rules, warm-up and validity of whole scenario runs, on a deterministic
//! fake clock driven by the synthetic SUT: exact, and nothing ever sleeps.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use edgemark::loadgen::{Clock, Control, FakeClock, qsl};
use edgemark::plan::Plan;
use edgemark::run::{RunContext, RunOutput, execute_with_clock};
use edgemark::settings::{RawSettings, validate};
use edgemark::stats::InvalidReason::{self, *};

const MS: u64 = 1_000_000;

fn plan(toml: &str) -> Plan {
    validate(RawSettings::from_toml(toml).unwrap(), &common::bare_root()).unwrap()
}

fn run_on(plan: &Plan, clock: Arc<FakeClock>, control: &Control) -> RunOutput {
    let ctx = RunContext {
        // A box with no sensors: this machine's governor must not add warnings.
        root: concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/bare").into(),
        results_dir: None,
        control,
        warnings: Vec::new(),
    };
    execute_with_clock(plan, &ctx, clock).unwrap()
}

fn run(toml: &str) -> RunOutput {
    run_on(
        &plan(toml),
        Arc::new(FakeClock::new(0)),
        &Control::default(),
    )
}

fn reasons(out: &RunOutput) -> Vec<InvalidReason> {
    out.outcomes[0].result.invalid_reasons.clone()
}

const SS: &str = "scenario = \"single-stream\"\nwarmup_queries = 0\n";

#[test]
fn stops_at_min_query_count_once_min_duration_passed() {
    let out = run(&format!(
        "{SS}sut = \"synthetic:busy:1\"\nmin_duration_ms = 50\nmin_query_count = 100"
    ));
    let o = &out.outcomes[0];
    assert_eq!(o.run.latency_ns.len(), 100);
    assert!(o.run.latency_ns.iter().all(|&l| l == MS));
    // Query i is issued at i ms; duration is the last issue time.
    assert_eq!(o.run.duration_ns, 99 * MS);
    assert!(o.result.valid, "{:?}", o.result.invalid_reasons);
    assert_eq!(o.result.percentiles.p90, MS);
}

#[test]
fn min_duration_keeps_it_going_past_min_query_count() {
    let out = run(&format!(
        "{SS}sut = \"synthetic:busy:1\"\nmin_duration_ms = 200\nmin_query_count = 100"
    ));
    let o = &out.outcomes[0];
    // The query issued at exactly 200 ms is the last one.
    assert_eq!(o.run.latency_ns.len(), 201);
    assert_eq!(o.run.duration_ns, 200 * MS);
    assert!(o.result.valid);
}

#[test]
fn issued_order_is_loadgens() {
    let p = plan(&format!(
        "{SS}sut = \"synthetic:null\"\nmin_duration_ms = 0\nmin_query_count = 300\nperformance_sample_count = 64"
    ));
    let out = run_on(&p, Arc::new(FakeClock::new(0)), &Control::default());
    let loaded = qsl::loaded_set(&p.settings);
    assert_eq!(out.outcomes[0].run.loaded_set, loaded);
    assert_eq!(
        out.outcomes[0].run.issued_sample_index,
        qsl::single_stream_order(&p.settings, &loaded, 300)
    );
}

#[test]
fn max_query_count_ends_an_unfinished_run_invalid() {
    let out = run(&format!(
        "{SS}sut = \"synthetic:busy:1\"\nmin_duration_ms = 10000\nmin_query_count = 100\nmax_query_count = 150"
    ));
    assert_eq!(out.outcomes[0].run.latency_ns.len(), 150);
    assert_eq!(reasons(&out), vec![MinDurationNotMet]);
    assert!(!out.outcomes[0].run.store_full);
}

#[test]
fn max_duration_ends_before_min_query_count() {
    let out = run(&format!(
        "{SS}sut = \"synthetic:busy:1\"\nmin_duration_ms = 100\nmax_duration_ms = 100\nmin_query_count = 1000"
    ));
    assert_eq!(out.outcomes[0].run.latency_ns.len(), 101);
    assert_eq!(reasons(&out), vec![MinQueriesNotMet]);
}

#[test]
fn too_few_queries_for_early_stopping_is_invalid() {
    let out = run(&format!(
        "{SS}sut = \"synthetic:busy:1\"\nmin_duration_ms = 5\nmin_query_count = 10"
    ));
    let r = &out.outcomes[0].result;
    assert_eq!(r.query_count, 10);
    assert_eq!(r.invalid_reasons, vec![EarlyStoppingNotMet]);
    let es = r.early_stopping_90.as_ref().unwrap();
    assert!(!es.met && es.estimate_ns.is_none() && es.min_queries == 64);
}

#[test]
fn full_store_ends_the_run_and_is_named() {
    let out = run(&format!(
        "{SS}sut = \"synthetic:busy:1\"\nmin_duration_ms = 1000\nmin_query_count = 100\nmax_stored_queries = 120"
    ));
    let o = &out.outcomes[0];
    assert_eq!(o.run.latency_ns.len(), 120);
    assert!(o.run.store_full);
    assert_eq!(
        o.result.invalid_reasons,
        vec![MinDurationNotMet, LatencyStoreFull]
    );
    assert_eq!(out.warnings.len(), 1);
}

#[test]
fn abort_stops_at_a_query_boundary() {
    let control = Control::default();
    control.abort.store(true, Ordering::Relaxed);
    let p = plan("sut = \"synthetic:busy:1\"\nwarmup_queries = 5");
    let out = run_on(&p, Arc::new(FakeClock::new(0)), &control);
    assert_eq!(out.outcomes.len(), 1, "no second scenario after an abort");
    let o = &out.outcomes[0];
    assert_eq!(o.warm_up.queries, 0);
    assert_eq!(o.run.latency_ns.len(), 0);
    assert!(o.run.aborted);
    assert!(o.result.invalid_reasons.contains(&Aborted));
    assert!(!o.result.valid);
}

#[test]
fn warm_up_is_untimed_by_count_or_duration() {
    let out = run(
        "scenario = \"single-stream\"\nsut = \"synthetic:busy:1\"\nwarmup_queries = 5\nmin_duration_ms = 0",
    );
    let o = &out.outcomes[0];
    assert_eq!((o.warm_up.queries, o.warm_up.ns), (5, 5 * MS));
    assert_eq!(o.run.latency_ns.len(), 100);
    assert_eq!(o.run.start_ns, 5 * MS, "timing starts after the warm-up");
    let out = run(
        "scenario = \"single-stream\"\nsut = \"synthetic:busy:1\"\nwarmup_ms = 3\nmin_duration_ms = 0",
    );
    assert_eq!(out.outcomes[0].warm_up.queries, 3);
}

#[test]
fn harness_gap_counts_as_duration_not_latency() {
    // Every clock read costs 1 us: the SUT reads once, the engine twice a query.
    let p = plan(&format!(
        "{SS}sut = \"synthetic:busy:1\"\nmin_duration_ms = 0\nmin_query_count = 100"
    ));
    let clock = Arc::new(FakeClock::with_tick(0, 1_000));
    let control = Control::default();
    let out = run_on(&p, clock, &control);
    let o = &out.outcomes[0];
    assert!(o.run.latency_ns.iter().all(|&l| l == MS + 1_000));
    assert_eq!(o.run.duration_ns, 99 * (MS + 2_000));
    assert!(o.result.qps_with_overhead < o.result.qps_without_overhead);
    assert_eq!(control.completed.load(Ordering::Relaxed), 100);
}

#[test]
fn offline_runs_one_query_of_the_loaded_set_repeated() {
    let p = plan(
        "scenario = \"offline\"\nsut = \"synthetic:busy:1\"\nwarmup_queries = 0\nmin_duration_ms = 100\n\
         offline_expected_qps = 2000\nperformance_sample_count = 64",
    );
    let out = run_on(&p, Arc::new(FakeClock::new(0)), &Control::default());
    let o = &out.outcomes[0];
    // max(100, floor(1.1 * 0.1 s * 2000)) = 220 samples.
    assert_eq!(o.run.issued_sample_index.len(), 220);
    let loaded = qsl::loaded_set(&p.settings);
    assert_eq!(o.run.issued_sample_index, qsl::offline_order(&loaded, 220));
    assert_eq!(o.run.latency_ns[0], MS);
    assert_eq!(o.run.latency_ns[219], 220 * MS);
    assert_eq!(o.result.duration_ns, 220 * MS);
    assert_eq!(o.result.query_count, 1);
    assert_eq!(o.result.samples_per_second, 1000.0);
    assert!(o.result.valid);
    assert!(o.result.early_stopping_90.is_none());
}

#[test]
fn offline_finishing_early_asks_for_higher_expected_qps() {
    let out = run(
        "scenario = \"offline\"\nsut = \"synthetic:busy:1\"\nmin_duration_ms = 1000\noffline_expected_qps = 100",
    );
    // 110 samples of 1 ms finish at 110 ms < 1 s.
    assert_eq!(out.outcomes[0].result.sample_count, 110);
    assert_eq!(reasons(&out), vec![OfflineExpectedQpsTooLow]);
}

#[test]
fn both_scenarios_run_in_order_with_a_fake_clock() {
    let clock = Arc::new(FakeClock::new(0));
    let out = run_on(
        &plan("sut = \"synthetic:lognormal:1,0.3@4\"\nmin_duration_ms = 50"),
        clock.clone(),
        &Control::default(),
    );
    assert_eq!(out.outcomes.len(), 2);
    assert!(clock.now_ns() > 0);
    assert_eq!(out.sut.kind, "synthetic");
    // Seeded: the same plan gives the same latencies.
    let again = run_on(
        &plan("sut = \"synthetic:lognormal:1,0.3@4\"\nmin_duration_ms = 50"),
        Arc::new(FakeClock::new(0)),
        &Control::default(),
    );
    assert_eq!(
        out.outcomes[0].run.latency_ns,
        again.outcomes[0].run.latency_ns
    );
}

#[test]
fn no_loaded_samples_means_no_queries_not_a_panic() {
    let p = plan(SS);
    let mut sut =
        edgemark::sut::synthetic::SyntheticSut::new("null", Arc::new(FakeClock::new(0))).unwrap();
    let run = edgemark::loadgen::single_stream::run(
        &mut sut,
        &p.settings,
        &[],
        &FakeClock::new(0),
        &Control::default(),
    )
    .unwrap();
    assert!(run.latency_ns.is_empty() && !run.store_full);
    let r = edgemark::stats::summarize(&p.settings, &run);
    assert!(!r.valid && r.invalid_reasons.contains(&MinQueriesNotMet));
}

#[test]
fn calibrated_offline_qps_turns_a_too_short_query_valid() {
    // The same SUT and min_duration: a user-given QPS that is too low is INVALID...
    let fixed = run(
        "scenario = \"offline\"\nsut = \"synthetic:busy:1\"\nmin_duration_ms = 1000\noffline_expected_qps = 100",
    );
    assert_eq!(reasons(&fixed), vec![OfflineExpectedQpsTooLow]);
    assert!(fixed.outcomes[0].calibration.is_none());
    let e = &fixed.outcomes[0].settings;
    assert_eq!(e.settings().offline_expected_qps, 100.0);
    assert_eq!(e.calibrated_offline_qps, None);

    // ...while without one, the run measures 1000 samples/s untimed and sizes
    // the query with 1.5 x that: floor(1.1 x 1 s x 1500) = 1650 samples of 1 ms.
    let p = plan("scenario = \"offline\"\nsut = \"synthetic:busy:1\"\nmin_duration_ms = 1000");
    assert!(p.calibrate_offline_qps);
    let out = run_on(&p, Arc::new(FakeClock::new(0)), &Control::default());
    let o = &out.outcomes[0];
    let c = o.calibration.as_ref().expect("calibrated");
    assert_eq!(c.measured_qps, 1000.0);
    assert_eq!(c.expected_qps, 1500.0);
    assert!(!c.capped);
    // The calibration query grew until it lasted the 200 ms target.
    assert_eq!((c.samples, c.ns), (256, 256 * MS));
    assert_eq!(o.settings.settings().offline_expected_qps, 1500.0);
    // The derived value is kept apart from the plan's, typed.
    assert_eq!(o.settings.calibrated_offline_qps, Some(1500.0));
    assert_eq!(o.settings.dataset_samples, None);
    // The plan itself is untouched.
    assert_eq!(p.settings.offline_expected_qps, 100.0);
    assert_eq!(o.result.sample_count, 1650);
    assert_eq!(o.result.duration_ns, 1650 * MS);
    assert!(o.result.valid, "{:?}", o.result.invalid_reasons);
}

#[test]
fn calibration_of_an_instant_sut_is_capped_by_the_store() {
    let out = run(
        "scenario = \"offline\"\nsut = \"synthetic:null\"\nmin_duration_ms = 1000\nmax_stored_queries = 5000",
    );
    let o = &out.outcomes[0];
    let c = o.calibration.as_ref().unwrap();
    assert!(c.capped && c.measured_qps.is_infinite());
    // floor(1.1 x 1 s x QPS) fits the 5000-query store instead of failing.
    assert!(o.result.sample_count <= 5000 && o.result.sample_count >= 4999);
    assert!(!o.run.store_full);
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("max_stored_queries"))
    );
}

/// Records `Control::completed` each time the engine issues a sample.
struct ProgressProbe {
    control: &'static Control,
    seen: Vec<u64>,
}

impl edgemark::sut::Sut for ProgressProbe {
    fn info(&self) -> edgemark::sut::SutInfo {
        edgemark::sut::SutInfo::default()
    }
    fn load_samples(&mut self, _: &[usize]) -> Result<(), edgemark::sut::SutError> {
        Ok(())
    }
    fn warm_up(&mut self, _: usize) -> Result<(), edgemark::sut::SutError> {
        Ok(())
    }
    fn issue(&mut self, _: usize) -> Result<(), edgemark::sut::SutError> {
        self.seen
            .push(self.control.completed.load(Ordering::Relaxed));
        Ok(())
    }
}

#[test]
fn offline_progress_moves_during_the_query() {
    static CONTROL: Control = Control {
        completed: std::sync::atomic::AtomicU64::new(0),
        abort: std::sync::atomic::AtomicBool::new(false),
    };
    let p = plan("scenario = \"offline\"\nmin_query_count = 5\nmin_duration_ms = 0");
    let mut sut = ProgressProbe {
        control: &CONTROL,
        seen: Vec::new(),
    };
    let loaded = qsl::loaded_set(&p.settings);
    let run = edgemark::loadgen::offline::run(
        &mut sut,
        &p.settings,
        &loaded,
        &FakeClock::new(0),
        &CONTROL,
    )
    .unwrap();
    assert_eq!(run.latency_ns.len(), 5);
    // Sample i is issued after i completions were counted, not all at the end.
    assert_eq!(sut.seen, vec![0, 1, 2, 3, 4]);
    assert_eq!(CONTROL.completed.load(Ordering::Relaxed), 5);
}
