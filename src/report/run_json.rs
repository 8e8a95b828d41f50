//! `--json`: one machine-readable object per command. Keys follow LoadGen's
//! `mlperf_log_detail.txt` names where LoadGen has one, so existing LoadGen log
//! parsers carry over; with `--trace` the per-sample arrays are included.
//!
//! A run's scenarios and its accuracy are rendered from their records, like
//! every other summary and export (the misclassified files too: the accuracy
//! record's optional details); what a record does not keep (its file, how
//! the Offline QPS was calibrated, the loaded sample set) is passed beside it.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::percentile_rows;
use crate::loadgen::calibrate::{QpsCalibration, SAFETY_FACTOR};
use crate::plan::{Plan, WarmUp};
use crate::record::{Accuracy, AccuracyDetails, EarlyStopping, Record, Results, Scenario};
use crate::run::RunOutput;
use crate::stats::{self, LatencyStats};

fn es_json(es: Option<&EarlyStopping>) -> Value {
    match es {
        None => Value::Null,
        Some(es) => json!({
            "percentile": es.percentile,
            "min_queries": es.min_queries,
            "met": es.met,
            "t": es.t,
            "would_discard": es.t.saturating_sub(1),
            "estimate_ns": es.estimate_ns,
        }),
    }
}

/// Min, max, mean and the percentile rows, in LoadGen's key names.
fn latency_fields(
    m: &mut Map<String, Value>,
    (min, max, mean): (u64, u64, u64),
    rows: &[(&str, u64)],
) {
    m.insert("result_min_latency_ns".into(), min.into());
    m.insert("result_max_latency_ns".into(), max.into());
    m.insert("result_mean_latency_ns".into(), mean.into());
    for (name, v) in rows {
        m.insert(format!("result_{name}_percentile_latency_ns"), (*v).into());
    }
}

/// What one scenario's object holds that its record does not.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScenarioNotes<'a> {
    /// The record's file, when one was written.
    pub record_path: Option<&'a Path>,
    /// How Offline's expected QPS was measured, when it was.
    pub calibration: Option<&'a QpsCalibration>,
    /// The loaded sample set (printed with `--trace`).
    pub loaded_set: &'a [usize],
}

/// Validity, reasons, counts and the latency figures of a result.
fn verdict_fields(m: &mut Map<String, Value>, res: &Results) {
    m.insert(
        "result_validity".into(),
        if res.valid { "VALID" } else { "INVALID" }.into(),
    );
    m.insert(
        "invalid_reasons".into(),
        res.invalid_reasons
            .iter()
            .map(|&x| {
                json!({"reason": format!("{x:?}"), "explanation": stats::InvalidReason::from(x).explain()})
            })
            .collect::<Vec<_>>()
            .into(),
    );
    m.insert(
        "result_min_duration_met".into(),
        res.min_duration_met.into(),
    );
    m.insert("result_min_queries_met".into(), res.min_queries_met.into());
    m.insert(
        "early_stopping_met".into(),
        res.early_stopping_90.as_ref().is_none_or(|e| e.met).into(),
    );
    m.insert("result_query_count".into(), res.query_count.into());
    m.insert("result_sample_count".into(), res.sample_count.into());
    m.insert("duration_ns".into(), res.duration_ns.into());
    latency_fields(
        m,
        (res.min_ns, res.max_ns, res.mean_ns),
        &res.percentile_rows(),
    );
    m.insert(
        "target_percentile_latency_ns".into(),
        res.target_percentile_ns.into(),
    );
}

/// The scenario's metric: SingleStream's QPS and early-stopping estimates,
/// Offline's throughput.
fn metric_fields(m: &mut Map<String, Value>, scenario: Scenario, res: &Results) {
    match scenario {
        Scenario::SingleStream => {
            m.insert(
                "result_qps_with_loadgen_overhead".into(),
                res.qps_with_overhead.into(),
            );
            m.insert(
                "result_qps_without_loadgen_overhead".into(),
                res.qps_without_overhead.into(),
            );
            let est = |e: &Option<EarlyStopping>| e.as_ref().and_then(|e| e.estimate_ns);
            m.insert(
                "early_stopping_latency_ss".into(),
                est(&res.early_stopping_90).into(),
            );
            m.insert(
                "early_stopping_latency_ms".into(),
                est(&res.early_stopping_99).into(),
            );
        }
        Scenario::Offline => {
            m.insert(
                "result_samples_per_second".into(),
                res.samples_per_second.into(),
            );
        }
    }
    m.insert(
        "early_stopping_target".into(),
        es_json(res.early_stopping_90.as_ref()),
    );
    m.insert(
        "early_stopping_99".into(),
        es_json(res.early_stopping_99.as_ref()),
    );
}

fn calibration_json(c: Option<&QpsCalibration>) -> Value {
    match c {
        None => Value::Null,
        Some(c) => json!({
            "samples": c.samples,
            "ns": c.ns,
            "measured_qps": c.measured_qps,
            "safety_factor": SAFETY_FACTOR,
            "expected_qps": c.expected_qps,
            "capped": c.capped,
            "total_ns": c.total_ns,
        }),
    }
}

/// One scenario's object, from its record (Null for an accuracy record).
pub fn scenario_json(r: &Record, notes: &ScenarioNotes) -> Value {
    let Some(res) = &r.result else {
        return Value::Null;
    };
    let set = &r.plan.settings;
    let mut m = Map::new();
    m.insert("scenario".into(), r.plan.scenario.name().into());
    verdict_fields(&mut m, res);
    metric_fields(&mut m, r.plan.scenario, res);
    // A data set sizes the QSL (total_sample_count = its samples).
    m.insert(
        "effective_total_sample_count".into(),
        set.total_sample_count.into(),
    );
    m.insert(
        "effective_performance_sample_count".into(),
        set.performance_sample_count.into(),
    );
    if r.plan.scenario == Scenario::Offline {
        m.insert(
            "effective_offline_expected_qps".into(),
            set.offline_expected_qps.into(),
        );
        m.insert(
            "offline_expected_qps_calibration".into(),
            calibration_json(notes.calibration),
        );
    }
    m.insert("warm_up_queries".into(), r.timing.warm_up_queries.into());
    m.insert("warm_up_ns".into(), r.timing.warm_up_ns.into());
    m.insert("aborted".into(), r.timing.aborted.into());
    m.insert("latency_store_full".into(), r.timing.store_full.into());
    if let Some(p) = notes.record_path {
        m.insert("record".into(), p.display().to_string().into());
    }
    if let Some(t) = &r.trace {
        m.insert("loaded_qsl_set".into(), notes.loaded_set.into());
        m.insert(
            "issued_sample_index".into(),
            t.issued_sample_index.clone().into(),
        );
        m.insert("latency_ns".into(), t.latency_ns.clone().into());
    }
    Value::Object(m)
}

/// Accuracy mode's result, from its record: counts, ratios, failures, the
/// worst classes, and the misclassified files of its `details` (none without).
pub fn accuracy_json(a: &Accuracy, details: Option<&AccuracyDetails>) -> Value {
    let misses = details.map_or(&[][..], |d| &d.misclassified[..]);
    json!({
        "dataset": a.dataset,
        "samples": a.samples,
        "scored": a.scored,
        "unscored": a.unscored,
        "failed": a.failed.iter().map(|f| json!({"sample": f.sample, "reason": f.reason})).collect::<Vec<_>>(),
        "num_classes": a.num_classes,
        "top1": a.top1,
        "top5": a.top5,
        // 0 when nothing was scored, as before the record held them.
        "top1_ratio": a.top1_fraction().unwrap_or(0.0),
        "top5_ratio": a.top5_fraction().unwrap_or(0.0),
        "misclassified": misses.iter().map(|m| json!({
            "sample": m.sample, "accept": m.accept, "top5": m.top5, "score": m.score(),
        })).collect::<Vec<_>>(),
        "worst_classes": a.worst_classes.iter().map(|c| json!({
            "class": c.class, "samples": c.samples, "top1_correct": c.top1_correct,
            "confused_with": c.confused_with,
        })).collect::<Vec<_>>(),
        "load_ns": a.load_ns,
        "inference_ns": a.inference_ns,
    })
}

/// The whole run as one object.
pub fn run_json(plan: &Plan, out: &RunOutput) -> Value {
    let s = &plan.settings;
    let (warmup_queries, warmup_ns) = match s.warm_up {
        WarmUp::Queries(n) => (Some(n), None),
        WarmUp::DurationNs(d) => (None, Some(d)),
    };
    let accuracy = out.accuracy_record.as_ref().and_then(|r| {
        let a = r.accuracy.as_ref()?;
        Some(accuracy_json(a, r.accuracy_details.as_ref()))
    });
    json!({
        "edgemark_version": env!("CARGO_PKG_VERSION"),
        "preset": plan.preset,
        "mode": format!("{:?}", plan.mode),
        "sut": {
            "kind": out.sut.kind,
            "description": out.sut.description,
            "instances": out.sut.instances,
            "threads": out.sut.threads,
            "cpus": {
                "single_stream": out.sut.cpus.single_stream,
                "offline": out.sut.cpus.offline,
            },
        },
        "board": plan.board.as_ref().map(|b| json!({
            "name": b.name,
            "detected": b.detected,
        })),
        "settings": {
            "effective_min_duration_ms": s.min_duration_ns / 1_000_000,
            "effective_max_duration_ms": s.max_duration_ns / 1_000_000,
            "effective_min_query_count": s.min_query_count,
            "effective_max_query_count": s.max_query_count,
            "effective_performance_sample_count": s.performance_sample_count,
            "effective_total_sample_count": s.total_sample_count,
            "effective_qsl_rng_seed": s.qsl_rng_seed,
            "effective_sample_index_rng_seed": s.sample_index_rng_seed,
            "effective_target_latency_percentile": s.target_percentile,
            // The plan's value; a calibrated one is per scenario (Offline's object).
            "effective_offline_expected_qps": s.offline_expected_qps,
            "offline_expected_qps_calibrated": plan.calibrate_offline_qps,
            "warmup_queries": warmup_queries,
            "warmup_ns": warmup_ns,
            "max_stored_queries": s.max_stored_queries,
        },
        "accuracy": accuracy,
        "accuracy_record": out.accuracy_record_path.as_ref().map(|p| p.display().to_string()),
        "scenarios": out.outcomes.iter().map(|o| scenario_json(&o.record, &ScenarioNotes {
            record_path: o.record_path.as_deref(),
            calibration: o.calibration.as_ref(),
            loaded_set: &o.run.loaded_set,
        })).collect::<Vec<_>>(),
        "warnings": out.warnings,
    })
}

/// `edgemark stats --json`: the same keys and early-stopping objects as a
/// run's scenario, from the latency file's statistics.
pub fn stats_json(st: &LatencyStats) -> Value {
    let target = EarlyStopping::from(&st.early_stopping_target);
    let e99 = EarlyStopping::from(&st.early_stopping_99);
    let mut m = Map::new();
    m.insert("result_query_count".into(), st.count.into());
    latency_fields(
        &mut m,
        (st.min_ns, st.max_ns, st.mean_ns),
        &percentile_rows(&st.percentiles),
    );
    m.insert("target_percentile".into(), st.target_percentile.into());
    m.insert(
        "target_percentile_latency_ns".into(),
        st.target_percentile_ns.into(),
    );
    m.insert("early_stopping_met".into(), target.met.into());
    m.insert(
        "early_stopping_latency_ss".into(),
        target.estimate_ns.into(),
    );
    m.insert("early_stopping_latency_ms".into(), e99.estimate_ns.into());
    m.insert("early_stopping_target".into(), es_json(Some(&target)));
    m.insert("early_stopping_99".into(), es_json(Some(&e99)));
    Value::Object(m)
}
