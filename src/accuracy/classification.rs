//! Classification scoring: top-1 and top-5 against each sample's accepted classes
//! (several where ImageNet has near-duplicates), the worst classes with what they
//! were confused with, and every misclassified file. Integer outputs are
//! dequantised before ranking.

use std::collections::BTreeMap;

use super::{AccuracyError, Scorer};
use crate::dataset::Tensor;
use crate::dataset::labels::{LabelKind, Labels};

/// How many classes `worst_classes` keeps.
pub const WORST_CLASSES: usize = 10;

#[derive(Debug)]
pub struct ClassificationScorer {
    labels: Labels,
    num_classes: usize,
    scored: usize,
    unscored: usize,
    failed: usize,
    top1: usize,
    top5: usize,
    /// Per true class (first accepted class): samples, top-1 right, predicted -> count.
    classes: BTreeMap<usize, (usize, usize, BTreeMap<usize, usize>)>,
    misclassified: Vec<Miss>,
    predictions: Vec<(String, Vec<usize>)>,
}

/// A scored sample whose top-1 was not accepted (or that failed: empty `top5`).
#[derive(Debug, Clone, PartialEq)]
pub struct Miss {
    pub sample: String,
    pub accept: Vec<usize>,
    pub top5: Vec<usize>,
    /// Dequantised score of the predicted class.
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClassStat {
    pub class: usize,
    pub samples: usize,
    pub top1_correct: usize,
    /// Predicted classes for this class's misses, most frequent first.
    pub confused_with: Vec<(usize, usize)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClassificationSummary {
    pub num_classes: usize,
    /// Samples counted in accuracy (failed ones included, as wrong).
    pub scored: usize,
    pub unscored: usize,
    pub failed: usize,
    pub top1: usize,
    pub top5: usize,
    /// Classes with at least one top-1 miss, worst accuracy first.
    pub worst_classes: Vec<ClassStat>,
    pub misclassified: Vec<Miss>,
    /// Every sample that ran, with its top-5, in run order.
    pub predictions: Vec<(String, Vec<usize>)>,
}

impl ClassificationSummary {
    pub fn top1_ratio(&self) -> f64 {
        self.top1 as f64 / self.scored.max(1) as f64
    }
    pub fn top5_ratio(&self) -> f64 {
        self.top5 as f64 / self.scored.max(1) as f64
    }
}

impl ClassificationScorer {
    /// Fails when a label is outside the model's `num_classes` outputs.
    pub fn new(labels: Labels, num_classes: usize) -> Result<Self, AccuracyError> {
        labels.check_classes(num_classes)?;
        Ok(ClassificationScorer {
            labels,
            num_classes,
            scored: 0,
            unscored: 0,
            failed: 0,
            top1: 0,
            top5: 0,
            classes: BTreeMap::new(),
            misclassified: Vec::new(),
            predictions: Vec::new(),
        })
    }
}

/// Indices of the `k` largest scores, highest first; ties go to the lower index
/// and NaN ranks last, so the order is deterministic.
pub fn top_k(scores: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    let key = |i: usize| {
        if scores[i].is_nan() {
            f32::NEG_INFINITY
        } else {
            scores[i]
        }
    };
    idx.sort_by(|&a, &b| key(b).total_cmp(&key(a)).then(a.cmp(&b)));
    idx.truncate(k);
    idx
}

impl Scorer for ClassificationScorer {
    type Summary = ClassificationSummary;

    fn check(&self, sample: &str) -> Result<(), AccuracyError> {
        match self.labels.get(sample) {
            Some(_) => Ok(()),
            None => Err(AccuracyError::MissingLabel {
                labels: self.labels.path.display().to_string(),
                sample: sample.to_owned(),
            }),
        }
    }

    fn add(&mut self, sample: &str, outputs: &[Tensor]) -> Result<(), AccuracyError> {
        let out = |why: String| AccuracyError::Output {
            sample: sample.to_owned(),
            why,
        };
        let logits = outputs.first().ok_or_else(|| out("no outputs".into()))?;
        if logits.len() != self.num_classes {
            return Err(out(format!(
                "first output has shape {:?}, expected {} class scores",
                logits.shape, self.num_classes
            )));
        }
        let scores = logits.to_f32();
        let top5 = top_k(&scores, 5);
        self.predictions.push((sample.to_owned(), top5.clone()));
        let label = self.labels.get(sample).expect("checked before the run");
        if label.kind == LabelKind::Unscored {
            self.unscored += 1;
            return Ok(());
        }
        self.scored += 1;
        let hit1 = label.accept.contains(&top5[0]);
        self.top1 += hit1 as usize;
        self.top5 += top5.iter().any(|c| label.accept.contains(c)) as usize;
        let class = self.classes.entry(label.accept[0]).or_default();
        class.0 += 1;
        if hit1 {
            class.1 += 1;
        } else {
            *class.2.entry(top5[0]).or_default() += 1;
            self.misclassified.push(Miss {
                sample: sample.to_owned(),
                accept: label.accept.clone(),
                score: scores[top5[0]],
                top5,
            });
        }
        Ok(())
    }

    fn add_failed(&mut self, sample: &str) {
        let Some(label) = self.labels.get(sample) else {
            return;
        };
        if label.kind == LabelKind::Unscored {
            self.unscored += 1;
            return;
        }
        self.scored += 1;
        self.failed += 1;
        self.classes.entry(label.accept[0]).or_default().0 += 1;
        self.misclassified.push(Miss {
            sample: sample.to_owned(),
            accept: label.accept.clone(),
            top5: Vec::new(),
            score: f32::NAN,
        });
    }

    fn finish(self) -> ClassificationSummary {
        let mut worst: Vec<ClassStat> = self
            .classes
            .into_iter()
            .filter(|(_, (n, ok, _))| ok < n)
            .map(|(class, (samples, top1_correct, conf))| {
                let mut confused_with: Vec<(usize, usize)> = conf.into_iter().collect();
                confused_with.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                ClassStat {
                    class,
                    samples,
                    top1_correct,
                    confused_with,
                }
            })
            .collect();
        // Worst accuracy first; among equals, the class with more misses.
        worst.sort_by(|a, b| {
            let ra = a.top1_correct as f64 / a.samples as f64;
            let rb = b.top1_correct as f64 / b.samples as f64;
            ra.total_cmp(&rb)
                .then((b.samples - b.top1_correct).cmp(&(a.samples - a.top1_correct)))
                .then(a.class.cmp(&b.class))
        });
        worst.truncate(WORST_CLASSES);
        ClassificationSummary {
            num_classes: self.num_classes,
            scored: self.scored,
            unscored: self.unscored,
            failed: self.failed,
            top1: self.top1,
            top5: self.top5,
            worst_classes: worst,
            misclassified: self.misclassified,
            predictions: self.predictions,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::accuracy::run;
    use crate::dataset::labels::LabelEntry;
    use crate::dataset::{Dataset, DatasetError, Quant, TensorData};

    /// Samples whose "input" is the class the fake model should predict.
    struct Fake(Vec<(String, Option<usize>)>);
    impl Dataset for Fake {
        fn len(&self) -> usize {
            self.0.len()
        }
        fn name(&self, i: usize) -> &str {
            &self.0[i].0
        }
        fn load(&self, i: usize) -> Result<Tensor, DatasetError> {
            match self.0[i].1 {
                Some(c) => Ok(Tensor::f32(vec![1], vec![c as f32])),
                None => Err(DatasetError::Decode {
                    path: self.0[i].0.clone().into(),
                    why: "corrupt".into(),
                }),
            }
        }
    }

    fn labels(v: &[(&str, &[usize], LabelKind)]) -> Labels {
        let e = v
            .iter()
            .map(|(f, a, k)| LabelEntry {
                file: f.to_string(),
                accept: a.to_vec(),
                kind: *k,
            })
            .collect();
        Labels::from_entries(Path::new("labels.json"), e).unwrap()
    }

    /// A 10-class int8 "model": the wanted class gets code 100, class (c+1)%10
    /// gets 90, the rest -128; scale/zero point as a quantised model would report.
    fn int8_model(input: &Tensor) -> Result<Vec<Tensor>, crate::accuracy::ModelError> {
        let TensorData::F32(v) = &input.data else {
            return Err("bad input".into());
        };
        let c = v[0] as usize;
        let mut codes = vec![-128i8; 10];
        codes[c] = 100;
        codes[(c + 1) % 10] = 90;
        Ok(vec![Tensor {
            shape: vec![1, 10],
            data: TensorData::I8(codes),
            quant: Some(Quant {
                scale: 0.1,
                zero_point: -30,
            }),
        }])
    }

    #[test]
    fn top1_top5_accept_lists_failures_and_unscored() {
        use LabelKind::*;
        let l = labels(&[
            ("a", &[3], Strict),
            ("b", &[4, 5], Coarse), // predicted 5: accepted
            ("c", &[7], Strict),    // predicted 6, 7 second: top-5 only
            ("d", &[1], Strict),    // corrupt: counted wrong
            ("e", &[], Unscored),
            ("f", &[8], Strict), // predicted 0 (top-5 0..4): miss
        ]);
        let data = Fake(vec![
            ("a".into(), Some(3)),
            ("b".into(), Some(5)),
            ("c".into(), Some(6)),
            ("d".into(), None),
            ("e".into(), Some(9)),
            ("f".into(), Some(0)),
        ]);
        let scorer = ClassificationScorer::new(l, 10).unwrap();
        let r = run(&mut int8_model, &data, scorer).unwrap();
        let s = &r.summary;
        assert_eq!((r.samples, r.ran(), r.failed.len()), (6, 5, 1));
        assert_eq!(r.failed[0].sample, "d");
        assert!(r.failed[0].reason.contains("corrupt"));
        assert_eq!((s.scored, s.unscored, s.failed), (5, 1, 1));
        assert_eq!((s.top1, s.top5), (2, 3));
        let missed: Vec<&str> = s.misclassified.iter().map(|m| m.sample.as_str()).collect();
        assert_eq!(missed, vec!["c", "d", "f"]);
        // Dequantised: (100 - -30) * 0.1 = 13.
        assert!((s.misclassified[0].score - 13.0).abs() < 1e-5);
        assert_eq!(s.worst_classes.len(), 3);
        assert!(s.worst_classes.iter().all(|c| c.top1_correct == 0));
        let c7 = s.worst_classes.iter().find(|c| c.class == 7).unwrap();
        assert_eq!(c7.confused_with, vec![(6, 1)]);
        assert_eq!(s.predictions.len(), 5);
    }

    #[test]
    fn ground_truth_problems_stop_before_running() {
        let l = labels(&[("a", &[3], LabelKind::Strict)]);
        let err = ClassificationScorer::new(l.clone(), 3).unwrap_err();
        assert!(err.to_string().contains("outside"), "{err}");
        let data = Fake(vec![("a".into(), Some(3)), ("zz".into(), Some(1))]);
        let mut calls = 0;
        let mut model = |t: &Tensor| {
            calls += 1;
            int8_model(t)
        };
        let err = run(&mut model, &data, ClassificationScorer::new(l, 10).unwrap()).unwrap_err();
        assert!(matches!(err, AccuracyError::MissingLabel { ref sample, .. } if sample == "zz"));
        assert_eq!(calls, 0);
    }

    #[test]
    fn wrong_output_size_is_an_error() {
        let l = labels(&[("a", &[3], LabelKind::Strict)]);
        let data = Fake(vec![("a".into(), Some(3))]);
        let err = run(
            &mut int8_model,
            &data,
            ClassificationScorer::new(l, 1000).unwrap(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("1000 class scores"), "{err}");
    }

    #[test]
    fn top_k_is_deterministic() {
        assert_eq!(top_k(&[1.0, 3.0, 3.0, f32::NAN, 2.0], 3), vec![1, 2, 4]);
        assert_eq!(top_k(&[1.0], 5), vec![0]);
    }
}
