//! What `edgemark run` and `edgemark stats` print on a terminal. A run's
//! scenarios are rendered from their records (`short`, or `mlperf`'s LoadGen
//! summary text); `stats` prints LoadGen's statistics of a latency file.

use std::io::{self, Write};

use super::{percent_label, percentile_rows};
use crate::run::RunOutput;
use crate::stats::{EarlyStopping, LatencyStats, format_g6};

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

/// Writes what `edgemark run` prints: the accuracy run's summary, then each
/// scenario's record as the short summary (or, with `mlperf`, LoadGen's
/// summary text, the one `report --format mlperf` writes), then the warnings.
/// The board profile the plan applied comes first: the records keep its cores,
/// not its name.
pub fn write_run(
    w: &mut dyn Write,
    out: &RunOutput,
    board: Option<&crate::plan::BoardChoice>,
    mlperf: bool,
) -> io::Result<()> {
    if let Some(b) = board {
        let how = if b.detected { "detected" } else { "named" };
        writeln!(w, "Board    : {} ({how})", b.name)?;
        writeln!(w)?;
    }
    if let Some((rec, a)) = out
        .accuracy_record
        .as_ref()
        .and_then(|r| Some((r, r.accuracy.as_ref()?)))
    {
        let title = format!("{} on {}", rec.sut.description, a.dataset);
        let details = rec.accuracy_details.as_ref();
        super::accuracy::write_summary(w, &title, a, details)?;
        writeln!(w)?;
        if let Some(p) = &out.accuracy_record_path {
            writeln!(w, "Record written to : {}", p.display())?;
            writeln!(w)?;
        }
    }
    for o in &out.outcomes {
        if mlperf {
            write!(w, "{}", super::mlperf::summary(&o.record))?;
            if let Some(p) = &o.record_path {
                writeln!(w, "Record written to : {}", p.display())?;
            }
        } else {
            let notes: Vec<(&str, String)> = o
                .calibration
                .iter()
                .map(|c| {
                    let capped = if c.capped {
                        ", capped by max_stored_queries"
                    } else {
                        ""
                    };
                    let how = format!(
                        "{} (calibrated: {} samples in {:.3} s = {} samples/s, x{}{capped})",
                        format_g6(o.record.plan.settings.offline_expected_qps),
                        c.samples,
                        c.ns as f64 / 1e9,
                        format_g6(c.measured_qps),
                        crate::loadgen::calibrate::SAFETY_FACTOR,
                    );
                    ("Expected QPS", how)
                })
                .collect();
            let text = super::short::render(&o.record, o.record_path.as_deref(), &notes);
            write!(w, "{text}")?;
        }
        writeln!(w)?;
    }
    for warning in &out.warnings {
        writeln!(w, "warning: {warning}")?;
    }
    Ok(())
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
