//! The data side of LoadGen's query sample library (QSL): where samples come from
//! (an image folder preprocessed like the model's training pipeline, or a folder of
//! ready `.npy` tensors) and their labels; a sample is a [`crate::tensor::Tensor`],
//! which carries it to a backend without depending on any engine.

pub mod image;
pub mod jpeg;
pub mod labels;
pub mod npy;
pub mod npy_folder;

use std::path::PathBuf;

// The data side's samples are the crate's one tensor type.
pub use crate::tensor::{DType, Quant, Tensor, TensorData};

/// What a model wants as its (single) input: shape, element type, quantisation.
#[derive(Debug, Clone, PartialEq)]
pub struct InputSpec {
    pub shape: Vec<usize>,
    pub dtype: DType,
    /// Required for i8/u8 inputs fed from real-valued preprocessing.
    pub quant: Option<Quant>,
}

/// Why a sample or a data set could not be read. Small and `#[non_exhaustive]`:
/// callers show it; the accuracy run counts per-sample ones as failed samples.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatasetError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot decode image: {why}")]
    Decode { path: PathBuf, why: String },
    #[error("{path}: {why}")]
    Format { path: PathBuf, why: String },
    #[error(
        "{path}: tensor shape {got:?} / {got_dtype:?} does not match the model input {want:?} / {want_dtype:?}"
    )]
    Shape {
        path: PathBuf,
        got: Vec<usize>,
        got_dtype: DType,
        want: Vec<usize>,
        want_dtype: DType,
    },
    #[error("invalid preprocessing: {0}")]
    Preprocess(String),
    #[error("{path}: {why}")]
    Labels { path: PathBuf, why: String },
}

/// The names of the files in `dir` ending in one of `endings` (any case),
/// sorted: the samples of a folder data set, in a stable order.
pub fn list_files(dir: &std::path::Path, endings: &[&str]) -> Result<Vec<String>, DatasetError> {
    let io = |source| DatasetError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let name = entry
            .map_err(io)?
            .file_name()
            .to_string_lossy()
            .into_owned();
        let lower = name.to_ascii_lowercase();
        if endings.iter().any(|e| lower.ends_with(e)) {
            files.push(name);
        }
    }
    files.sort();
    Ok(files)
}

/// A finite, ordered set of samples (LoadGen's QSL). `load` is called once per
/// sample in accuracy mode and for the loaded set before timing in performance mode.
pub trait Dataset {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The sample's name (its file name), used to find its label and in reports.
    fn name(&self, index: usize) -> &str;
    /// Read and preprocess one sample into the model's input. A per-sample error
    /// (corrupt file) is the caller's to count; it does not stop a run.
    fn load(&self, index: usize) -> Result<Tensor, DatasetError>;
}

/// The data set behind `--dataset DIR [--labels FILE]`: a folder of `.npy` tensors
/// when it holds any, else its images, preprocessed by `config` for `spec`. With
/// labels, the images are the labelled files in the labels' order (a missing one
/// then fails as a sample); without, every JPEG/PNG in the folder, sorted.
pub fn open(
    dir: &std::path::Path,
    labels: Option<&labels::Labels>,
    config: &image::PreprocessConfig,
    spec: &InputSpec,
) -> Result<Box<dyn Dataset>, DatasetError> {
    let io = |source| DatasetError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut has_npy = false;
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let name = entry.map_err(io)?.file_name();
        has_npy |= name
            .to_string_lossy()
            .to_ascii_lowercase()
            .ends_with(".npy");
    }
    if has_npy {
        return Ok(Box::new(npy_folder::NpyFolder::open(dir, spec.clone())?));
    }
    let prep = image::Preprocess::new(config, spec)?;
    Ok(match labels {
        Some(l) => Box::new(image::ImageFolder::new(dir, l.files(), prep)),
        None => Box::new(image::ImageFolder::scan(dir, prep)?),
    })
}
