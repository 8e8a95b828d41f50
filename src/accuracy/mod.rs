//! LoadGen's accuracy mode: every sample of the data set issued exactly once, the
//! outputs handed to a task's [`Scorer`]. The model is only a closure here, so this
//! stage depends on no backend; `engine::tract::TractModel` adapts a tract plan to it.
//!
//! A sample whose file cannot be read or decoded is named and counted as failed and
//! the run goes on (one bad JPEG must not void an hour of results); problems with
//! the ground truth itself (a sample without a label, a label the model cannot
//! produce) are errors before the first inference.

pub mod classification;
pub mod mode;

use std::time::Instant;

use crate::dataset::{Dataset, DatasetError, Tensor};

/// What a model closure may fail with (any backend's error).
pub type ModelError = Box<dyn std::error::Error + Send + Sync>;

/// Why an accuracy run could not produce a result. Small and `#[non_exhaustive]`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccuracyError {
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error("{labels}: no label for sample {sample}")]
    MissingLabel { labels: String, sample: String },
    #[error("the data set is empty")]
    Empty,
    #[error("model failed on sample {sample}: {source}")]
    Model { sample: String, source: ModelError },
    #[error("sample {sample}: unexpected model output: {why}")]
    Output { sample: String, why: String },
}

/// A task's scoring: fed each sample's outputs (or its failure), summarised at the
/// end. Classification now; detection (mAP) fits the same shape.
pub trait Scorer {
    type Summary;
    /// Before anything runs: can this sample be scored (does it have ground truth)?
    fn check(&self, sample: &str) -> Result<(), AccuracyError>;
    /// One sample's model outputs.
    fn add(&mut self, sample: &str, outputs: &[Tensor]) -> Result<(), AccuracyError>;
    /// A sample that could not be loaded; scorers count it as wrong.
    fn add_failed(&mut self, sample: &str);
    fn finish(self) -> Self::Summary;
}

/// A sample that could not be run, and why (the error names the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedSample {
    pub sample: String,
    pub reason: String,
}

/// An accuracy run: the scorer's summary plus what happened on the way.
#[derive(Debug, Clone)]
pub struct AccuracyResult<S> {
    /// Samples in the data set (each issued once).
    pub samples: usize,
    pub failed: Vec<FailedSample>,
    pub summary: S,
    /// Wall time reading + preprocessing all samples (monotonic clock).
    pub load_ns: u64,
    /// Wall time in the model closure over all samples that ran.
    pub inference_ns: u64,
}

impl<S> AccuracyResult<S> {
    /// Samples that reached the model.
    pub fn ran(&self) -> usize {
        self.samples - self.failed.len()
    }

    /// Mean (load, inference) nanoseconds per sample that ran.
    pub fn per_sample_ns(&self) -> (u64, u64) {
        let n = self.ran().max(1) as u64;
        (self.load_ns / n, self.inference_ns / n)
    }
}

/// The model as the accuracy run sees it: one input tensor in, outputs out.
pub type Model<'a> = dyn FnMut(&Tensor) -> Result<Vec<Tensor>, ModelError> + 'a;

/// Issue every sample of `dataset` exactly once, in order, and score the outputs.
pub fn run<S: Scorer>(
    model: &mut Model<'_>,
    dataset: &dyn Dataset,
    mut scorer: S,
) -> Result<AccuracyResult<S::Summary>, AccuracyError> {
    if dataset.is_empty() {
        return Err(AccuracyError::Empty);
    }
    for i in 0..dataset.len() {
        scorer.check(dataset.name(i))?;
    }
    let mut failed = Vec::new();
    let (mut load_ns, mut inference_ns) = (0u64, 0u64);
    for i in 0..dataset.len() {
        let name = dataset.name(i);
        let t0 = Instant::now();
        let input = dataset.load(i);
        load_ns += t0.elapsed().as_nanos() as u64;
        let input = match input {
            Ok(t) => t,
            Err(e) => {
                failed.push(FailedSample {
                    sample: name.to_owned(),
                    reason: e.to_string(),
                });
                scorer.add_failed(name);
                continue;
            }
        };
        let t1 = Instant::now();
        let outputs = model(&input).map_err(|source| AccuracyError::Model {
            sample: name.to_owned(),
            source,
        })?;
        inference_ns += t1.elapsed().as_nanos() as u64;
        scorer.add(name, &outputs)?;
    }
    Ok(AccuracyResult {
        samples: dataset.len(),
        failed,
        summary: scorer.finish(),
        load_ns,
        inference_ns,
    })
}
