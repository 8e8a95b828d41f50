//! The harness floor, printed (not asserted): what edgemark reports for a SUT
//! that does nothing (`null`: targets p50 <= 300 ns) and for one that spins
//! exactly 1 ms (`busy:1`: targets p50 and p90 within 0.5 % of 1 ms).
//!
//!     cargo bench --profile bench-fast --no-default-features --bench harness
//!
//! Optional args: null query count (default 1000000), busy duration ms (3000).

use std::sync::atomic::Ordering;

use edgemark::loadgen::Control;
use edgemark::plan::Plan;
use edgemark::run::{RunContext, RunOutput, execute};
use edgemark::settings::{RawSettings, validate};

fn plan(sut: &str, min_duration_ms: i64, min_query_count: i64) -> Plan {
    validate(
        RawSettings {
            sut: Some(format!("synthetic:{sut}").parse().unwrap()),
            scenario: Some("single-stream".into()),
            min_duration_ms: Some(min_duration_ms),
            min_query_count: Some(min_query_count),
            max_stored_queries: Some(min_query_count.max(1 << 20)),
            warmup_queries: Some(1000),
            ..RawSettings::default()
        },
        std::path::Path::new("/"),
    )
    .expect("bench plan")
}

fn run(plan: &Plan) -> RunOutput {
    let control = Control::default();
    let ctx = RunContext {
        root: "/".into(),
        results_dir: None,
        control: &control,
        warnings: Vec::new(),
    };
    let out = execute(plan, &ctx).expect("bench run");
    assert_eq!(
        control.completed.load(Ordering::Relaxed) as usize,
        out.outcomes[0].run.latency_ns.len()
    );
    out
}

/// Involuntary context switches of this process so far (Linux; 0 elsewhere):
/// on a shared box a spinning SUT is preempted, which shows up as latency.
fn preempted() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("nonvoluntary_ctxt_switches:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let null_queries: i64 = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let busy_ms: i64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(3_000);

    let out = run(&plan("null", 0, null_queries));
    let r = &out.outcomes[0].result;
    let per_query = r.duration_ns as f64 / (r.query_count - 1) as f64;
    println!(
        "null SUT, {} queries (SingleStream, monotonic clock):",
        r.query_count
    );
    println!(
        "  reported latency ns: min {}  p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  mean {}",
        r.min_ns,
        r.percentiles.p50,
        r.percentiles.p90,
        r.percentiles.p99,
        r.percentiles.p999,
        r.max_ns,
        r.mean_ns
    );
    println!(
        "  issue-to-issue ns per query (clock reads + loop + SUT): {per_query:.1}   target p50 <= 300 ns: {}",
        if r.percentiles.p50 <= 300 {
            "met"
        } else {
            "NOT met"
        }
    );

    let before = preempted();
    let out = run(&plan("busy:1", busy_ms, 100));
    let preemptions = preempted() - before;
    let r = &out.outcomes[0].result;
    let late = out.outcomes[0]
        .run
        .latency_ns
        .iter()
        .filter(|&&l| l > 1_005_000)
        .count();
    let err = |v: u64| (v as f64 - 1e6) / 1e6 * 100.0;
    println!("busy:1 SUT, {} queries over {} ms:", r.query_count, busy_ms);
    println!(
        "  reported latency ns: min {}  p50 {} ({:+.4} %)  p90 {} ({:+.4} %)  p99 {} ({:+.4} %)  max {}",
        r.min_ns,
        r.percentiles.p50,
        err(r.percentiles.p50),
        r.percentiles.p90,
        err(r.percentiles.p90),
        r.percentiles.p99,
        err(r.percentiles.p99),
        r.max_ns
    );
    println!(
        "  queries over 1.005 ms: {late} of {}; involuntary context switches during the run: {preemptions}; load average: {}",
        r.query_count,
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let ok = err(r.percentiles.p50).abs() <= 0.5 && err(r.percentiles.p90).abs() <= 0.5;
    println!(
        "  target p50 and p90 within 0.5 % of 1 ms: {}",
        if ok { "met" } else { "NOT met" }
    );
}
