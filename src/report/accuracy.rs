//! Human-readable accuracy output, rendered from the record's [`Accuracy`]:
//! the summary of one classification run, and two variants of a model (fp32
//! vs int8) side by side with the accuracy they lost and the speed they
//! gained. The misclassified files and class names come from the record's
//! optional [`AccuracyDetails`].

use std::io::{self, Write};

use crate::record::{Accuracy, AccuracyDetails};

fn class_name(details: Option<&AccuracyDetails>, c: u32) -> String {
    match details.and_then(|d| d.class_name(c)) {
        Some(n) => format!("{c} ({n})"),
        None => c.to_string(),
    }
}

fn pct(n: u64, d: u64) -> String {
    if d == 0 {
        "-".into()
    } else {
        format!("{n}/{d} {:.1}%", 100.0 * n as f64 / d as f64)
    }
}

fn ms(ns: u64) -> String {
    format!("{:.2} ms", ns as f64 / 1e6)
}

/// Print one run: accuracy, failures, worst classes, timing, then, from the
/// record's `details` when it has them, the misclassified files.
pub fn write_summary(
    w: &mut dyn Write,
    title: &str,
    a: &Accuracy,
    details: Option<&AccuracyDetails>,
) -> io::Result<()> {
    writeln!(w, "accuracy: {title}")?;
    writeln!(
        w,
        "  samples {} (scored {}, unscored {}, failed {})",
        a.samples,
        a.scored,
        a.unscored,
        a.failed.len()
    )?;
    writeln!(w, "  top-1   {}", pct(a.top1, a.scored))?;
    writeln!(w, "  top-5   {}", pct(a.top5, a.scored))?;
    let (load, infer) = a.per_sample_ns();
    writeln!(
        w,
        "  per image: load+preprocess {}, inference {}",
        ms(load),
        ms(infer)
    )?;
    for f in &a.failed {
        writeln!(w, "  FAILED {}: {}", f.sample, f.reason)?;
    }
    if !a.worst_classes.is_empty() {
        writeln!(
            w,
            "  worst classes (top-1 right / samples; predicted instead):"
        )?;
        for c in &a.worst_classes {
            let conf: Vec<String> = c
                .confused_with
                .iter()
                .map(|&(p, n)| format!("{} x{n}", class_name(details, p)))
                .collect();
            writeln!(
                w,
                "    {}: {}/{}; {}",
                class_name(details, c.class),
                c.top1_correct,
                c.samples,
                if conf.is_empty() {
                    "-".into()
                } else {
                    conf.join(", ")
                }
            )?;
        }
    }
    let misses = details.map_or(&[][..], |d| &d.misclassified[..]);
    if !misses.is_empty() {
        writeln!(w, "  misclassified:")?;
        for m in misses {
            let got = match m.top5.first() {
                Some(&p) => format!(
                    "predicted {} (score {:.3})",
                    class_name(details, p),
                    m.score()
                ),
                None => "failed".into(),
            };
            writeln!(
                w,
                "    {}: want {:?}, {got}; top-5 {:?}",
                m.sample, m.accept, m.top5
            )?;
        }
    }
    Ok(())
}

/// One model variant in a side-by-side comparison.
#[derive(Debug, Clone, Copy)]
pub struct Variant<'a> {
    pub name: &'a str,
    pub accuracy: &'a Accuracy,
    /// Latency per inference to compare speed with: a performance run's p90 when
    /// there is one, else the accuracy run's mean inference time.
    pub latency_ns: u64,
}

impl<'a> Variant<'a> {
    /// A variant timed by its accuracy run alone.
    pub fn from_accuracy(name: &'a str, accuracy: &'a Accuracy) -> Self {
        Variant {
            name,
            accuracy,
            latency_ns: accuracy.per_sample_ns().1,
        }
    }
}

/// What the candidate (e.g. int8) costs and gains against the baseline (fp32).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// Percentage points, candidate minus baseline.
    pub top1_delta_pts: f64,
    pub top5_delta_pts: f64,
    /// Baseline latency / candidate latency (>1: candidate faster).
    pub speedup: f64,
}

pub fn compare(base: &Variant<'_>, cand: &Variant<'_>) -> Comparison {
    let (b, c) = (base.accuracy, cand.accuracy);
    // No sample scored counts as 0 %, as a missing figure would compare.
    let pts = |f: fn(&Accuracy) -> Option<f64>| 100.0 * (f(c).unwrap_or(0.0) - f(b).unwrap_or(0.0));
    Comparison {
        top1_delta_pts: pts(Accuracy::top1_fraction),
        top5_delta_pts: pts(Accuracy::top5_fraction),
        speedup: base.latency_ns as f64 / cand.latency_ns.max(1) as f64,
    }
}

/// Baseline and candidate in one table, then the delta row.
pub fn write_comparison(
    w: &mut dyn Write,
    base: &Variant<'_>,
    cand: &Variant<'_>,
) -> io::Result<()> {
    let width = base.name.len().max(cand.name.len()).max(12);
    writeln!(
        w,
        "{:<width$}  {:>16}  {:>16}  {:>12}",
        "model", "top-1", "top-5", "latency"
    )?;
    for v in [base, cand] {
        let a = v.accuracy;
        writeln!(
            w,
            "{:<width$}  {:>16}  {:>16}  {:>12}",
            v.name,
            pct(a.top1, a.scored),
            pct(a.top5, a.scored),
            ms(v.latency_ns)
        )?;
    }
    let c = compare(base, cand);
    writeln!(
        w,
        "{:<width$}  {:>16}  {:>16}  {:>12}",
        "delta",
        format!("{:+.1} pts", c.top1_delta_pts),
        format!("{:+.1} pts", c.top5_delta_pts),
        format!("{:.2}x speed", c.speedup)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{FailedSample, Misclassified};

    fn result(top1: u64, top5: u64, scored: u64, inference_ns: u64) -> Accuracy {
        Accuracy {
            dataset: "images".into(),
            labels: None,
            preprocess: "imagenet-torch".into(),
            samples: scored,
            scored,
            unscored: 0,
            failed: Vec::new(),
            top1,
            top5,
            num_classes: 1000,
            worst_classes: Vec::new(),
            load_ns: 0,
            inference_ns,
        }
    }

    #[test]
    fn comparison_deltas_and_speedup() {
        let fp32 = result(13, 15, 15, 15 * 20_000_000);
        let int8 = result(12, 15, 15, 15 * 8_000_000);
        let (a, b) = (
            Variant::from_accuracy("fp32", &fp32),
            Variant::from_accuracy("int8", &int8),
        );
        let c = compare(&a, &b);
        assert!((c.top1_delta_pts - (-100.0 / 15.0)).abs() < 1e-9);
        assert_eq!(c.top5_delta_pts, 0.0);
        assert!((c.speedup - 2.5).abs() < 1e-9);
        let mut out = Vec::new();
        write_comparison(&mut out, &a, &b).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("13/15 86.7%"), "{text}");
        assert!(
            text.contains("-6.7 pts") && text.contains("2.50x speed"),
            "{text}"
        );
    }

    #[test]
    fn summary_names_failures_and_misses() {
        let mut r = result(0, 1, 2, 1_000_000);
        r.samples = 3;
        r.failed.push(FailedSample {
            sample: "bad.jpg".into(),
            reason: "bad.jpg: cannot decode image".into(),
        });
        let details = AccuracyDetails {
            misclassified: vec![Misclassified {
                sample: "cat.png".into(),
                accept: vec![281],
                top5: vec![1, 281],
                score_bits: 3.5f32.to_bits(),
            }],
            class_names: vec![(1, "c1".into()), (281, "c281".into())],
        };
        let mut out = Vec::new();
        write_summary(&mut out, "m.onnx", &r, Some(&details)).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("FAILED bad.jpg"), "{text}");
        assert!(
            text.contains("cat.png: want [281], predicted 1 (c1)"),
            "{text}"
        );
        assert!(text.contains("top-1   0/2 0.0%"), "{text}");
        // Two samples ran (one failed): per image is the total over two.
        assert!(text.contains("inference 0.50 ms"), "{text}");
    }
}
