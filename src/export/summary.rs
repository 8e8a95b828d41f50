//! The human summary, shaped like LoadGen's `mlperf_log_summary.txt` (same line
//! labels where LoadGen has them), and the TTY-only progress line.

use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{percent_label, percentile_rows};
use crate::loadgen::Control;
use crate::plan::{Plan, Scenario, WarmUp};
use crate::run::{RunOutput, ScenarioOutcome};
use crate::stats::{EarlyStopping, LatencyStats, format_g6};

const RULE: &str = "================================================";

fn yes(b: bool) -> &'static str {
    if b { "Yes" } else { "NO" }
}

fn es_lines(w: &mut dyn Write, es: &EarlyStopping, n: u64, first: bool) -> io::Result<()> {
    let label = percent_label(es.percentile);
    match (es.met, first) {
        (false, true) => writeln!(
            w,
            " * Only processed {n} queries.\n * Need to process at least {} queries for early stopping.",
            es.min_queries
        ),
        (false, false) => writeln!(
            w,
            " * Not enough queries processed for {label}th percentile early stopping estimate \
             (would need at least {} total queries).",
            es.min_queries
        ),
        (true, true) => writeln!(
            w,
            " * Processed at least {} queries ({n}).\n * Would discard {} highest latency queries.\n \
             * Early stopping {label}th percentile estimate: {}",
            es.min_queries,
            es.t - 1,
            es.estimate_ns.unwrap_or(0)
        ),
        (true, false) => writeln!(
            w,
            " * Early stopping {label}th percentile estimate: {}",
            es.estimate_ns.unwrap_or(0)
        ),
    }
}

fn scenario(
    w: &mut dyn Write,
    plan: &Plan,
    out: &RunOutput,
    o: &ScenarioOutcome,
) -> io::Result<()> {
    let r = &o.result;
    // What this scenario ran with (a calibrated offline_expected_qps differs from the plan).
    let s = &o.settings;
    writeln!(w, "{RULE}\nedgemark Results Summary\n{RULE}")?;
    writeln!(w, "SUT name : {}", out.sut.description)?;
    writeln!(w, "Scenario : {:?}", r.scenario)?;
    writeln!(w, "Mode     : {:?}", plan.mode)?;
    writeln!(w, "Preset   : {}", plan.preset)?;
    if let Some(b) = &plan.board {
        let how = if b.detected { "detected" } else { "--board" };
        writeln!(w, "Board    : {} ({how})", b.name)?;
    }
    if out.sut.kind == "tract" {
        writeln!(w, "Cores    : {}", cores_line(out, r.scenario))?;
    }
    match r.scenario {
        Scenario::SingleStream => {
            writeln!(
                w,
                "{}th percentile latency (ns) : {}",
                percent_label(s.target_percentile),
                r.target_percentile_ns
            )?;
            if let Some(es) = &r.early_stopping_90 {
                match es.estimate_ns {
                    Some(e) => writeln!(
                        w,
                        "Early stopping {}th percentile estimate (ns) : {e}   <- metric",
                        percent_label(es.percentile)
                    )?,
                    None => writeln!(w, "Early stopping estimate : none (too few queries)")?,
                }
            }
        }
        Scenario::Offline => {
            writeln!(w, "Samples per second: {}", format_g6(r.samples_per_second))?
        }
    }
    writeln!(
        w,
        "Result is : {}",
        if r.valid { "VALID" } else { "INVALID" }
    )?;
    writeln!(w, "  Min duration satisfied : {}", yes(r.min_duration_met))?;
    writeln!(w, "  Min queries satisfied : {}", yes(r.min_queries_met))?;
    let es_met = r.early_stopping_90.as_ref().is_none_or(|e| e.met);
    writeln!(w, "  Early stopping satisfied: {}", yes(es_met))?;
    if !r.valid {
        writeln!(w, "Why INVALID:")?;
        for reason in &r.invalid_reasons {
            writeln!(w, " * {reason:?}: {}", reason.explain())?;
        }
    }
    if let (Some(es), Some(es99)) = (&r.early_stopping_90, &r.early_stopping_99) {
        writeln!(w, "Early Stopping Result:")?;
        es_lines(w, es, r.query_count, true)?;
        es_lines(w, es99, r.query_count, false)?;
    }
    writeln!(w, "\n{RULE}\nAdditional Stats\n{RULE}")?;
    if r.scenario == Scenario::SingleStream {
        writeln!(
            w,
            "QPS w/ loadgen overhead         : {}",
            format_g6(r.qps_with_overhead)
        )?;
        writeln!(
            w,
            "QPS w/o loadgen overhead        : {}",
            format_g6(r.qps_without_overhead)
        )?;
        writeln!(w)?;
    }
    writeln!(w, "Min latency (ns)                : {}", r.min_ns)?;
    writeln!(w, "Max latency (ns)                : {}", r.max_ns)?;
    writeln!(w, "Mean latency (ns)               : {}", r.mean_ns)?;
    for (name, v) in percentile_rows(&r.percentiles) {
        writeln!(w, "{name} percentile latency (ns)   : {v}")?;
    }
    writeln!(w)?;
    writeln!(w, "Query count                     : {}", r.query_count)?;
    writeln!(w, "Sample count                    : {}", r.sample_count)?;
    writeln!(
        w,
        "Duration                        : {:.3} s ({} ns)",
        r.duration_ns as f64 / 1e9,
        r.duration_ns
    )?;
    writeln!(
        w,
        "Warm-up (untimed)               : {} queries, {:.3} s",
        o.run.warm_up_queries,
        o.run.warm_up_ns as f64 / 1e9
    )?;
    writeln!(w, "\n{RULE}\nTest Parameters Used\n{RULE}")?;
    writeln!(w, "min_duration (ms): {}", s.min_duration_ns / 1_000_000)?;
    writeln!(w, "max_duration (ms): {}", s.max_duration_ns / 1_000_000)?;
    writeln!(w, "min_query_count : {}", s.min_query_count)?;
    writeln!(w, "max_query_count : {}", s.max_query_count)?;
    writeln!(w, "qsl_rng_seed : {}", s.qsl_rng_seed)?;
    writeln!(w, "sample_index_rng_seed : {}", s.sample_index_rng_seed)?;
    writeln!(
        w,
        "performance_sample_count : {}",
        s.performance_sample_count
    )?;
    if r.scenario == Scenario::Offline {
        match &o.calibration {
            Some(c) => writeln!(
                w,
                "offline_expected_qps : {} (calibrated from an untimed warm-up query: {} samples in {:.3} s = {} samples/s, x{}{})",
                format_g6(s.offline_expected_qps),
                c.samples,
                c.ns as f64 / 1e9,
                format_g6(c.measured_qps),
                crate::loadgen::calibrate::SAFETY_FACTOR,
                if c.capped {
                    ", capped by max_stored_queries"
                } else {
                    ""
                }
            )?,
            None => writeln!(w, "offline_expected_qps : {}", s.offline_expected_qps)?,
        }
        writeln!(w, "samples_per_query : {}", s.offline_samples_per_query())?;
    }
    match s.warm_up {
        WarmUp::Queries(n) => writeln!(w, "warm-up : {n} queries")?,
        WarmUp::DurationNs(d) => writeln!(w, "warm-up : {} ms", d / 1_000_000)?,
    }
    writeln!(w, "max_stored_queries : {}", s.max_stored_queries)?;
    writeln!(w)
}

/// Writes the summary of every scenario, then the run's warnings.
pub fn write_run(w: &mut dyn Write, plan: &Plan, out: &RunOutput) -> io::Result<()> {
    if let Some(a) = &out.accuracy {
        let title = format!("{} on {}", out.sut.description, a.dataset);
        super::accuracy::write_summary(w, &title, &a.result, a.class_names.as_deref())?;
        writeln!(w)?;
        if let Some(p) = &out.accuracy_record_path {
            writeln!(w, "Record written to : {}", p.display())?;
            writeln!(w)?;
        }
    }
    for o in &out.outcomes {
        scenario(w, plan, out, o)?;
        if let Some(p) = &o.record_path {
            writeln!(w, "Record written to : {}", p.display())?;
            writeln!(w)?;
        }
    }
    for warning in &out.warnings {
        writeln!(w, "warning: {warning}")?;
    }
    Ok(())
}

/// Where a scenario's workers ran: SingleStream's one instance and its
/// intra-op threads, or Offline's instances (always one core each).
fn cores_line(out: &RunOutput, scenario: Scenario) -> String {
    let cpus = out.sut.cpus.for_scenario(scenario);
    let list = || crate::boards::CpuSet::List(cpus.to_vec()).to_string();
    match scenario {
        Scenario::SingleStream if cpus.is_empty() => {
            format!("not pinned, {} intra-op threads", out.sut.threads)
        }
        Scenario::SingleStream => format!("{}, {} intra-op threads", list(), out.sut.threads),
        Scenario::Offline => format!("{}, {} instances", list(), out.sut.instances),
    }
}

/// `edgemark stats`.
pub fn write_stats(w: &mut dyn Write, st: &LatencyStats) -> io::Result<()> {
    writeln!(w, "Latencies                       : {}", st.count)?;
    writeln!(
        w,
        "{}th percentile latency (ns)    : {}",
        percent_label(st.target_percentile),
        st.target_percentile_ns
    )?;
    writeln!(w, "Early Stopping Result:")?;
    es_lines(w, &st.early_stopping_target, st.count, true)?;
    es_lines(w, &st.early_stopping_99, st.count, false)?;
    writeln!(w, "Min latency (ns)                : {}", st.min_ns)?;
    writeln!(w, "Max latency (ns)                : {}", st.max_ns)?;
    writeln!(w, "Mean latency (ns)               : {}", st.mean_ns)?;
    for (name, v) in percentile_rows(&st.percentiles) {
        writeln!(w, "{name} percentile latency (ns)   : {v}")?;
    }
    Ok(())
}

/// Runs `f` while a separate thread shows "N done" on stderr, only when stderr
/// is a terminal. The thread reads `Control` with relaxed loads and sleeps
/// between updates; it never touches the engine's timed path.
pub fn with_progress<T>(control: &Control, f: impl FnOnce() -> T) -> T {
    if !io::stderr().is_terminal() {
        return f();
    }
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let start = Instant::now();
            let mut shown = false;
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(250));
                let n = control.completed.load(Ordering::Relaxed);
                eprint!(
                    "\r\x1b[2Kedgemark: {n} completed, {:.1} s",
                    start.elapsed().as_secs_f64()
                );
                shown = true;
            }
            if shown {
                eprint!("\r\x1b[2K");
            }
        });
        let result = f();
        done.store(true, Ordering::Relaxed);
        result
    })
}
