//! Model variants side by side: the fp32 and int8 (QDQ, quantised, ...)
//! builds of one model, with the accuracy the quantised one lost and the speed
//! it gained. The table itself is `report::accuracy::write_comparison`, the
//! same one a single run prints; this module only decides which records belong
//! together.
//!
//! Grouping rule: records of the same host and data set whose model file names
//! are equal once precision tokens are removed (`mobilenetv2-fp32.onnx` and
//! `mobilenetv2-int8-qdq.onnx` are both family `mobilenetv2`). Speed is only
//! compared on one host, and accuracy only on one data set. Only records
//! carrying an accuracy result take part.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::record::{Accuracy, Record, Scenario};
use crate::report::accuracy as acc_out;

/// Name tokens that say a model's precision or quantisation, not what it is.
const PRECISION_TOKENS: &[&str] = &[
    "fp32",
    "f32",
    "float",
    "float32",
    "fp16",
    "f16",
    "float16",
    "int8",
    "i8",
    "uint8",
    "u8",
    "qint8",
    "quint8",
    "q8",
    "qdq",
    "qop",
    "quant",
    "quantized",
    "quantised",
    "dynamic",
    "static",
];
/// Tokens that mark the unquantised baseline.
const FLOAT_TOKENS: &[&str] = &["fp32", "f32", "float", "float32"];

fn tokens(model: &str) -> Vec<String> {
    let stem = model
        .strip_suffix(".onnx")
        .or_else(|| model.strip_suffix(".tflite"))
        .unwrap_or(model);
    stem.split(['-', '_', '.'])
        .filter(|t| !t.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// The model's family: its file name without extension and precision tokens.
pub fn family(model: &str) -> String {
    let kept: Vec<String> = tokens(model)
        .into_iter()
        .filter(|t| !PRECISION_TOKENS.contains(&t.as_str()))
        .collect();
    if kept.is_empty() {
        model.to_string()
    } else {
        kept.join("-")
    }
}

fn has_any(model: &str, set: &[&str]) -> bool {
    tokens(model).iter().any(|t| set.contains(&t.as_str()))
}

/// What a group's speed figures are: the same for every variant of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpeedBasis {
    /// SingleStream p90 (its early-stopping estimate when there is one).
    SingleStreamP90,
    /// Offline: 1 / samples per second.
    OfflineTimePerSample,
    /// No common performance scenario: the accuracy run's mean inference time.
    AccuracyRunMean,
}

impl SpeedBasis {
    pub fn describe(self) -> &'static str {
        match self {
            SpeedBasis::SingleStreamP90 => "SingleStream p90 latency",
            SpeedBasis::OfflineTimePerSample => "Offline time per sample (1 / samples/s)",
            SpeedBasis::AccuracyRunMean => "mean inference time of the accuracy run",
        }
    }
}

/// One model of a group: its latest accuracy and its speed on the group's basis.
#[derive(Debug, Clone)]
pub struct Member {
    pub model: String,
    pub accuracy: Accuracy,
    pub latency_ns: u64,
}

/// Variants of one model family on one host and data set.
#[derive(Debug, Clone)]
pub struct Group {
    pub host: String,
    pub dataset: String,
    pub family: String,
    pub basis: SpeedBasis,
    pub baseline: Member,
    pub candidates: Vec<Member>,
}

/// Per model of a group: the latest accuracy, and the latest SingleStream and
/// Offline performance records.
#[derive(Default)]
struct Seen<'a> {
    accuracy: Option<&'a Record>,
    single_stream: Option<&'a Record>,
    offline: Option<&'a Record>,
}

fn later<'a>(slot: &mut Option<&'a Record>, r: &'a Record) {
    if slot.is_none_or(|s| (r.wall_start_ns, r.run_id) > (s.wall_start_ns, s.run_id)) {
        *slot = Some(r);
    }
}

fn p90(r: &Record) -> Option<u64> {
    let res = r.result.as_ref()?;
    Some(
        res.early_stopping_90
            .as_ref()
            .and_then(|e| e.estimate_ns)
            .unwrap_or(res.p90_ns),
    )
}

fn per_sample(r: &Record) -> Option<u64> {
    let sps = r.result.as_ref()?.samples_per_second;
    (sps > 0.0).then(|| (1e9 / sps).round() as u64)
}

/// Groups of two or more variants, sorted by host, data set, family. The
/// baseline is `baseline` (a model file name) when it is in the group, else
/// the variant named fp32/float, else one with no precision token, else the
/// first by name.
pub fn groups(records: &[(PathBuf, Record)], baseline: Option<&str>) -> Vec<Group> {
    // (host, data set, family) -> model -> what was seen. Performance records
    // join only if their run had an accuracy result on the same data set.
    let mut by: BTreeMap<(String, String, String), BTreeMap<String, Seen>> = BTreeMap::new();
    for (_, r) in records {
        let Some(a) = &r.accuracy else { continue };
        let model = r.model_name();
        let seen = by
            .entry((r.host.hostname.clone(), a.dataset.clone(), family(&model)))
            .or_default()
            .entry(model)
            .or_default();
        later(&mut seen.accuracy, r);
        match (&r.result, r.plan.scenario) {
            (None, _) => {}
            (Some(_), Scenario::SingleStream) => later(&mut seen.single_stream, r),
            (Some(_), Scenario::Offline) => later(&mut seen.offline, r),
        }
    }
    let mut out = Vec::new();
    for ((host, dataset, fam), models) in by {
        if models.len() < 2 {
            continue;
        }
        let basis = if models.values().all(|s| s.single_stream.is_some()) {
            SpeedBasis::SingleStreamP90
        } else if models.values().all(|s| s.offline.is_some()) {
            SpeedBasis::OfflineTimePerSample
        } else {
            SpeedBasis::AccuracyRunMean
        };
        let mut members: Vec<Member> = models
            .into_iter()
            .filter_map(|(model, seen)| {
                let accuracy = seen.accuracy?.accuracy.clone()?;
                let latency_ns = match basis {
                    SpeedBasis::SingleStreamP90 => seen.single_stream.and_then(p90)?,
                    SpeedBasis::OfflineTimePerSample => seen.offline.and_then(per_sample)?,
                    SpeedBasis::AccuracyRunMean => accuracy.per_sample_ns().1,
                };
                Some(Member {
                    model,
                    accuracy,
                    latency_ns,
                })
            })
            .collect();
        if members.len() < 2 {
            continue;
        }
        let pick = members
            .iter()
            .position(|m| Some(m.model.as_str()) == baseline)
            .or_else(|| members.iter().position(|m| has_any(&m.model, FLOAT_TOKENS)))
            .or_else(|| {
                members
                    .iter()
                    .position(|m| !has_any(&m.model, PRECISION_TOKENS))
            })
            .unwrap_or(0);
        let base = members.remove(pick);
        out.push(Group {
            host,
            dataset,
            family: fam,
            basis,
            baseline: base,
            candidates: members,
        });
    }
    out
}

fn variant(m: &Member) -> acc_out::Variant<'_> {
    acc_out::Variant {
        name: &m.model,
        accuracy: &m.accuracy,
        latency_ns: m.latency_ns,
    }
}

/// The comparison of a group's candidate against its baseline.
pub fn compare(g: &Group, cand: &Member) -> acc_out::Comparison {
    acc_out::compare(&variant(&g.baseline), &variant(cand))
}

/// One block per group and candidate: heading, both rows, the delta row.
pub fn render(groups: &[Group]) -> String {
    let mut out = Vec::new();
    for g in groups {
        for c in &g.candidates {
            out.extend_from_slice(
                format!(
                    "== {} on {}, data set {} (speed: {}) ==\n",
                    g.family,
                    g.host,
                    g.dataset,
                    g.basis.describe()
                )
                .as_bytes(),
            );
            // Writing into a Vec cannot fail.
            let _ = acc_out::write_comparison(&mut out, &variant(&g.baseline), &variant(c));
            out.push(b'\n');
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A group as the JSON report writes it.
#[derive(Debug, Serialize)]
pub struct JsonGroup {
    pub host: String,
    pub dataset: String,
    pub family: String,
    pub speed_basis: SpeedBasis,
    pub baseline: JsonMember,
    pub candidates: Vec<JsonMember>,
}

#[derive(Debug, Serialize)]
pub struct JsonMember {
    pub model: String,
    pub scored: u64,
    pub top1: u64,
    pub top5: u64,
    pub top1_fraction: Option<f64>,
    pub top5_fraction: Option<f64>,
    pub latency_ns: u64,
    /// Against the baseline (candidates only): percentage points and
    /// baseline latency / candidate latency.
    pub top1_delta_pts: Option<f64>,
    pub top5_delta_pts: Option<f64>,
    pub speedup: Option<f64>,
}

pub fn json_groups(groups: &[Group]) -> Vec<JsonGroup> {
    let member = |m: &Member, c: Option<acc_out::Comparison>| JsonMember {
        model: m.model.clone(),
        scored: m.accuracy.scored,
        top1: m.accuracy.top1,
        top5: m.accuracy.top5,
        top1_fraction: m.accuracy.top1_fraction(),
        top5_fraction: m.accuracy.top5_fraction(),
        latency_ns: m.latency_ns,
        top1_delta_pts: c.map(|c| c.top1_delta_pts),
        top5_delta_pts: c.map(|c| c.top5_delta_pts),
        speedup: c.map(|c| c.speedup),
    };
    groups
        .iter()
        .map(|g| JsonGroup {
            host: g.host.clone(),
            dataset: g.dataset.clone(),
            family: g.family.clone(),
            speed_basis: g.basis,
            baseline: member(&g.baseline, None),
            candidates: g
                .candidates
                .iter()
                .map(|c| member(c, Some(compare(g, c))))
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::example_record;

    /// A record of `model` on `host`: an accuracy record when `p90es_ns` is
    /// None, else a SingleStream record of `--mode both` with that estimate.
    fn rec(model: &str, host: &str, top1: u64, p90es_ns: Option<u64>, seed: u64) -> Record {
        let mut r = example_record(seed);
        r.host.hostname = host.into();
        r.sut.model.as_mut().unwrap().file_name = model.into();
        let a = r.accuracy.as_mut().unwrap();
        a.top1 = top1;
        // 15 samples in 150 ms: the accuracy run's mean is 10 ms for everyone.
        a.inference_ns = 150_000_000;
        a.failed.clear();
        a.samples = 15;
        match p90es_ns {
            None => r.result = None,
            Some(ns) => {
                let res = r.result.as_mut().unwrap();
                res.early_stopping_90.as_mut().unwrap().estimate_ns = Some(ns);
            }
        }
        r
    }

    fn set(recs: Vec<Record>) -> Vec<(PathBuf, Record)> {
        recs.into_iter()
            .enumerate()
            .map(|(i, r)| (PathBuf::from(format!("r{i}.emrec")), r))
            .collect()
    }

    #[test]
    fn family_drops_precision_tokens_and_extension() {
        assert_eq!(family("mobilenetv2-fp32.onnx"), "mobilenetv2");
        assert_eq!(family("mobilenetv2-int8-qdq.onnx"), "mobilenetv2");
        assert_eq!(family("MobileNetV2_Quant.tflite"), "mobilenetv2");
        assert_eq!(family("resnet50_v1.5-float.onnx"), "resnet50-v1-5");
        assert_ne!(
            family("mobilenetv3-int8.onnx"),
            family("mobilenetv2-fp32.onnx")
        );
        // Nothing but precision: the name itself, never an empty family.
        assert_eq!(family("int8.onnx"), "int8.onnx");
    }

    #[test]
    fn fp32_and_int8_of_one_host_and_data_set_side_by_side() {
        let recs = set(vec![
            rec("mobilenetv2-int8-qdq.onnx", "pi", 12, None, 1),
            rec("mobilenetv2-int8-qdq.onnx", "pi", 12, Some(8_000_000), 2),
            rec("mobilenetv2-fp32.onnx", "pi", 13, None, 3),
            rec("mobilenetv2-fp32.onnx", "pi", 13, Some(20_000_000), 4),
            // Alone in its family: no group.
            rec("resnet50-fp32.onnx", "pi", 11, Some(90_000_000), 5),
            // Another host: never compared with the pi.
            rec("mobilenetv2-int8-qdq.onnx", "x86", 12, Some(1_000_000), 6),
        ]);
        let mut no_accuracy = rec("mobilenetv2-qdq.onnx", "pi", 0, Some(1), 7);
        no_accuracy.accuracy = None;
        let mut recs = recs;
        recs.push((PathBuf::from("r7.emrec"), no_accuracy));

        let g = groups(&recs, None);
        assert_eq!(g.len(), 1, "{g:?}");
        let g = &g[0];
        assert_eq!((g.host.as_str(), g.family.as_str()), ("pi", "mobilenetv2"));
        assert_eq!(g.basis, SpeedBasis::SingleStreamP90);
        assert_eq!(g.baseline.model, "mobilenetv2-fp32.onnx");
        assert_eq!(g.baseline.latency_ns, 20_000_000);
        assert_eq!(g.candidates.len(), 1);
        let c = &g.candidates[0];
        assert_eq!(
            (c.model.as_str(), c.latency_ns),
            ("mobilenetv2-int8-qdq.onnx", 8_000_000)
        );
        let cmp = compare(g, c);
        assert!((cmp.top1_delta_pts - (-100.0 / 15.0)).abs() < 1e-9);
        assert!((cmp.speedup - 2.5).abs() < 1e-9);

        let text = render(std::slice::from_ref(g));
        assert!(text.contains("== mobilenetv2 on pi"), "{text}");
        assert!(
            text.contains("13/15 86.7%") && text.contains("12/15 80.0%"),
            "{text}"
        );
        assert!(
            text.contains("-6.7 pts") && text.contains("2.50x speed"),
            "{text}"
        );

        let j = serde_json::to_value(json_groups(std::slice::from_ref(g))).unwrap();
        assert_eq!(j[0]["baseline"]["model"], "mobilenetv2-fp32.onnx");
        assert_eq!(j[0]["candidates"][0]["speedup"], 2.5);
        assert_eq!(j[0]["speed_basis"], "single-stream-p90");
    }

    #[test]
    fn explicit_baseline_and_accuracy_only_speed() {
        // Only accuracy records: speed from the accuracy runs' mean inference.
        let mut slow = rec("net-fp32.onnx", "pi", 13, None, 1);
        slow.accuracy.as_mut().unwrap().inference_ns = 300_000_000;
        let recs = set(vec![slow, rec("net-int8.onnx", "pi", 12, None, 2)]);
        let g = &groups(&recs, Some("net-int8.onnx"))[0];
        assert_eq!(g.basis, SpeedBasis::AccuracyRunMean);
        assert_eq!(g.baseline.model, "net-int8.onnx");
        assert_eq!(g.baseline.latency_ns, 10_000_000);
        assert_eq!(g.candidates[0].latency_ns, 20_000_000);
        assert!((compare(g, &g.candidates[0]).speedup - 0.5).abs() < 1e-9);
        // A baseline name not in the group falls back to the fp32 one.
        assert_eq!(
            groups(&recs, Some("other.onnx"))[0].baseline.model,
            "net-fp32.onnx"
        );
    }

    #[test]
    fn accuracy_on_different_data_sets_is_not_compared() {
        let mut b = rec("net-int8.onnx", "pi", 12, None, 2);
        b.accuracy.as_mut().unwrap().dataset = "other/images".into();
        let recs = set(vec![rec("net-fp32.onnx", "pi", 13, None, 1), b]);
        assert!(groups(&recs, None).is_empty());
    }
}
