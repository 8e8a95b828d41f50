//! `--json`: one machine-readable object per command. Keys follow LoadGen's
//! `mlperf_log_detail.txt` names where LoadGen has one, so existing LoadGen log
//! parsers carry over; with `--trace` the per-sample arrays are included.

use serde_json::{Map, Value, json};

use super::percentile_rows;
use crate::accuracy::mode::AccuracyOutput;
use crate::plan::{Plan, Scenario, WarmUp};
use crate::run::{RunOutput, ScenarioOutcome};
use crate::stats::{EarlyStopping, LatencyStats, ScenarioResult};

fn es_json(es: &Option<EarlyStopping>) -> Value {
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

fn latency_fields(m: &mut Map<String, Value>, r: &ScenarioResult) {
    m.insert("result_min_latency_ns".into(), r.min_ns.into());
    m.insert("result_max_latency_ns".into(), r.max_ns.into());
    m.insert("result_mean_latency_ns".into(), r.mean_ns.into());
    for (name, v) in percentile_rows(&r.percentiles) {
        m.insert(format!("result_{name}_percentile_latency_ns"), v.into());
    }
}

fn scenario_json(plan: &Plan, o: &ScenarioOutcome) -> Value {
    let r = &o.result;
    let mut m = Map::new();
    m.insert("scenario".into(), format!("{:?}", r.scenario).into());
    m.insert(
        "result_validity".into(),
        if r.valid { "VALID" } else { "INVALID" }.into(),
    );
    m.insert(
        "invalid_reasons".into(),
        r.invalid_reasons
            .iter()
            .map(|x| json!({"reason": format!("{x:?}"), "explanation": x.explain()}))
            .collect::<Vec<_>>()
            .into(),
    );
    m.insert("result_min_duration_met".into(), r.min_duration_met.into());
    m.insert("result_min_queries_met".into(), r.min_queries_met.into());
    m.insert(
        "early_stopping_met".into(),
        r.early_stopping_90.as_ref().is_none_or(|e| e.met).into(),
    );
    m.insert("result_query_count".into(), r.query_count.into());
    m.insert("result_sample_count".into(), r.sample_count.into());
    m.insert("duration_ns".into(), r.duration_ns.into());
    latency_fields(&mut m, r);
    m.insert(
        "target_percentile_latency_ns".into(),
        r.target_percentile_ns.into(),
    );
    match r.scenario {
        Scenario::SingleStream => {
            m.insert(
                "result_qps_with_loadgen_overhead".into(),
                r.qps_with_overhead.into(),
            );
            m.insert(
                "result_qps_without_loadgen_overhead".into(),
                r.qps_without_overhead.into(),
            );
            let est = |e: &Option<EarlyStopping>| e.as_ref().and_then(|e| e.estimate_ns);
            m.insert(
                "early_stopping_latency_ss".into(),
                est(&r.early_stopping_90).into(),
            );
            m.insert(
                "early_stopping_latency_ms".into(),
                est(&r.early_stopping_99).into(),
            );
        }
        Scenario::Offline => {
            m.insert(
                "result_samples_per_second".into(),
                r.samples_per_second.into(),
            );
        }
    }
    m.insert(
        "early_stopping_target".into(),
        es_json(&r.early_stopping_90),
    );
    m.insert("early_stopping_99".into(), es_json(&r.early_stopping_99));
    // A data set sizes the QSL (total_sample_count = its samples).
    m.insert(
        "effective_total_sample_count".into(),
        o.settings.total_sample_count.into(),
    );
    m.insert(
        "effective_performance_sample_count".into(),
        o.settings.performance_sample_count.into(),
    );
    if r.scenario == Scenario::Offline {
        m.insert(
            "effective_offline_expected_qps".into(),
            o.settings.offline_expected_qps.into(),
        );
        m.insert(
            "offline_expected_qps_calibration".into(),
            match &o.calibration {
                None => Value::Null,
                Some(c) => json!({
                    "samples": c.samples,
                    "ns": c.ns,
                    "measured_qps": c.measured_qps,
                    "safety_factor": crate::loadgen::calibrate::SAFETY_FACTOR,
                    "expected_qps": c.expected_qps,
                    "capped": c.capped,
                    "total_ns": c.total_ns,
                }),
            },
        );
    }
    m.insert("warm_up_queries".into(), o.run.warm_up_queries.into());
    m.insert("warm_up_ns".into(), o.run.warm_up_ns.into());
    m.insert("aborted".into(), o.run.aborted.into());
    m.insert("latency_store_full".into(), o.run.store_full.into());
    if let Some(p) = &o.record_path {
        m.insert("record".into(), p.display().to_string().into());
    }
    if plan.trace {
        m.insert("loaded_qsl_set".into(), o.run.loaded_set.clone().into());
        m.insert(
            "issued_sample_index".into(),
            o.run.issued_sample_index.clone().into(),
        );
        m.insert("latency_ns".into(), o.run.latency_ns.clone().into());
    }
    Value::Object(m)
}

/// Accuracy mode's result: counts, ratios, failures and misses by file.
fn accuracy_json(a: &AccuracyOutput) -> Value {
    let r = &a.result;
    let s = &r.summary;
    json!({
        "dataset": a.dataset,
        "samples": r.samples,
        "scored": s.scored,
        "unscored": s.unscored,
        "failed": r.failed.iter().map(|f| json!({"sample": f.sample, "reason": f.reason})).collect::<Vec<_>>(),
        "num_classes": s.num_classes,
        "top1": s.top1,
        "top5": s.top5,
        "top1_ratio": s.top1_ratio(),
        "top5_ratio": s.top5_ratio(),
        "misclassified": s.misclassified.iter().map(|m| json!({
            "sample": m.sample, "accept": m.accept, "top5": m.top5, "score": m.score,
        })).collect::<Vec<_>>(),
        "worst_classes": s.worst_classes.iter().map(|c| json!({
            "class": c.class, "samples": c.samples, "top1_correct": c.top1_correct,
            "confused_with": c.confused_with,
        })).collect::<Vec<_>>(),
        "load_ns": r.load_ns,
        "inference_ns": r.inference_ns,
    })
}

/// The whole run as one object.
pub fn run_json(plan: &Plan, out: &RunOutput) -> Value {
    let s = &plan.settings;
    let (warmup_queries, warmup_ns) = match s.warm_up {
        WarmUp::Queries(n) => (Some(n), None),
        WarmUp::DurationNs(d) => (None, Some(d)),
    };
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
        "accuracy": out.accuracy.as_ref().map(accuracy_json),
        "accuracy_record": out.accuracy_record_path.as_ref().map(|p| p.display().to_string()),
        "scenarios": out.outcomes.iter().map(|o| scenario_json(plan, o)).collect::<Vec<_>>(),
        "warnings": out.warnings,
    })
}

/// `edgemark stats --json`.
pub fn stats_json(st: &LatencyStats) -> Value {
    let mut m = Map::new();
    m.insert("result_query_count".into(), st.count.into());
    m.insert("result_min_latency_ns".into(), st.min_ns.into());
    m.insert("result_max_latency_ns".into(), st.max_ns.into());
    m.insert("result_mean_latency_ns".into(), st.mean_ns.into());
    for (name, v) in percentile_rows(&st.percentiles) {
        m.insert(format!("result_{name}_percentile_latency_ns"), v.into());
    }
    m.insert("target_percentile".into(), st.target_percentile.into());
    m.insert(
        "target_percentile_latency_ns".into(),
        st.target_percentile_ns.into(),
    );
    m.insert(
        "early_stopping_met".into(),
        st.early_stopping_target.met.into(),
    );
    m.insert(
        "early_stopping_latency_ss".into(),
        st.early_stopping_target.estimate_ns.into(),
    );
    m.insert(
        "early_stopping_latency_ms".into(),
        st.early_stopping_99.estimate_ns.into(),
    );
    m.insert(
        "early_stopping_target".into(),
        es_json(&Some(st.early_stopping_target.clone())),
    );
    m.insert(
        "early_stopping_99".into(),
        es_json(&Some(st.early_stopping_99.clone())),
    );
    Value::Object(m)
}
