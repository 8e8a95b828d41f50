//! A run's data set on its SUT: opened against the model once it is loaded
//! (labels checked against the model's classes before anything is timed),
//! scored in accuracy mode (every sample exactly once), and preprocessed into
//! memory as the QSL samples of performance mode, like LoadGen's
//! LoadSamplesToRam, so no decoding ever happens while timing.

use std::path::Path;

use super::classification::{ClassificationScorer, ClassificationSummary};
use super::{AccuracyError, AccuracyResult, ModelError};
use crate::dataset::image::{PreprocessConfig, Preset};
use crate::dataset::labels::{Labels, load_class_names};
use crate::dataset::{self, Dataset, DatasetError, Tensor};
use crate::plan::DatasetSpec;
use crate::sut::{Sut, SutError};

/// Why the data set could not be used with this SUT.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    #[error("{0}")]
    Sut(#[from] SutError),
    #[error("{0}")]
    Accuracy(#[from] AccuracyError),
    #[error("data set sample {sample} (QSL index {index}): {source}")]
    Sample {
        sample: String,
        index: usize,
        source: DatasetError,
    },
    #[error("this SUT computes no outputs; a data set needs a model (--model)")]
    NoModel,
}

impl DataError {
    /// The SUT's own failure while running a sample (an external SUT that
    /// crashed, hung or sent garbage; an engine error), named with the
    /// sample: the run records it INVALID like a scenario's SUT failure.
    /// Anything else (a data set or labels problem) comes back unchanged.
    pub fn into_sut_failure(self) -> Result<SutError, DataError> {
        let DataError::Accuracy(AccuracyError::Model { sample, source }) = self else {
            return Err(self);
        };
        match source.downcast::<SutError>() {
            Ok(e) => Ok(match *e {
                SutError::Exec(mut f) => {
                    f.message = format!("{} (accuracy pass, sample {sample})", f.message);
                    SutError::Exec(f)
                }
                SutError::Backend(m) => {
                    SutError::Backend(format!("{m} (accuracy pass, sample {sample})"))
                }
                other => other,
            }),
            Err(source) => Err(DataError::Accuracy(AccuracyError::Model { sample, source })),
        }
    }

    /// Ground truth that does not fit the model: the user's to fix (exit 2).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            DataError::Accuracy(
                AccuracyError::MissingLabel { .. }
                    | AccuracyError::Dataset(DatasetError::Labels { .. })
            )
        )
    }
}

/// The accuracy run's result plus what its printout needs.
#[derive(Debug, Clone)]
pub struct AccuracyOutput {
    pub result: AccuracyResult<ClassificationSummary>,
    /// From `--classes`, to name classes in the output.
    pub class_names: Option<Vec<String>>,
    /// The data set folder as given.
    pub dataset: String,
}

/// A data set opened for one SUT's model.
pub struct DataSession {
    spec: DatasetSpec,
    dataset: Box<dyn Dataset>,
    labels: Option<Labels>,
    num_classes: usize,
}

impl DataSession {
    /// Opens `spec` for the SUT's model input; fails before any inference when a
    /// label lies outside the model's classes.
    pub fn open(spec: &DatasetSpec, sut: &mut dyn Sut) -> Result<DataSession, DataError> {
        let model = sut.data_model().ok_or(DataError::NoModel)?;
        let input = model.input_spec()?;
        let num_classes = model.output_len()?;
        let labels = match &spec.labels {
            Some(p) => {
                let l = Labels::load(Path::new(p)).map_err(AccuracyError::from)?;
                l.check_classes(num_classes).map_err(AccuracyError::from)?;
                Some(l)
            }
            None => None,
        };
        // Settings validated the name.
        let preset: Preset = spec.preprocess.parse().map_err(AccuracyError::from)?;
        let a = &spec.adjust;
        let config = PreprocessConfig {
            resize_short: a.resize.map(|r| r as usize),
            crop: a.crop.map(|(w, h)| (w as usize, h as usize)),
            mean: a.mean,
            std: a.std,
            crop_rounding: a.crop_rounding,
            ..PreprocessConfig::preset(preset)
        };
        let dataset = dataset::open(Path::new(&spec.dir), labels.as_ref(), &config, &input)
            .map_err(AccuracyError::from)?;
        if dataset.is_empty() {
            return Err(AccuracyError::Empty.into());
        }
        Ok(DataSession {
            spec: spec.clone(),
            dataset,
            labels,
            num_classes,
        })
    }

    pub fn len(&self) -> usize {
        self.dataset.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dataset.is_empty()
    }

    /// Samples in the data set: LoadGen's total_sample_count when it feeds
    /// performance (see `plan::EffectiveSettings::of`).
    pub fn samples(&self) -> u64 {
        self.dataset.len() as u64
    }

    /// Accuracy mode: every sample issued once through the SUT's model, scored.
    /// An unreadable sample is named and counted as failed; the run goes on.
    pub fn run_accuracy(&self, sut: &mut dyn Sut) -> Result<AccuracyOutput, DataError> {
        let labels = self.labels.clone().ok_or_else(|| {
            AccuracyError::Dataset(DatasetError::Labels {
                path: self.spec.dir.clone().into(),
                why: "accuracy mode needs labels (--labels FILE)".into(),
            })
        })?;
        let class_names = match &self.spec.classes {
            Some(p) => Some(load_class_names(Path::new(p)).map_err(AccuracyError::from)?),
            None => None,
        };
        let model = sut.data_model().ok_or(DataError::NoModel)?;
        let scorer = ClassificationScorer::new(labels, self.num_classes)?;
        let result = super::run(
            &mut |t: &Tensor| model.infer(t).map_err(|e| Box::new(e) as ModelError),
            self.dataset.as_ref(),
            scorer,
        )?;
        Ok(AccuracyOutput {
            result,
            class_names,
            dataset: self.spec.dir.clone(),
        })
    }

    /// Performance mode: preprocess the loaded set into the SUT before timing
    /// (QSL index i is data set sample i). A sample that cannot be read is an
    /// error naming its file: a performance run must not time substitutes.
    pub fn feed(&self, sut: &mut dyn Sut, loaded: &[usize]) -> Result<(), DataError> {
        let mut samples = Vec::with_capacity(loaded.len());
        for &i in loaded {
            let t = self.dataset.load(i).map_err(|source| DataError::Sample {
                sample: self.dataset.name(i).to_owned(),
                index: i,
                source,
            })?;
            samples.push((i, t));
        }
        sut.data_model()
            .ok_or(DataError::NoModel)?
            .use_samples(samples)?;
        Ok(())
    }
}
