//! The data side of LoadGen's query sample library (QSL): where samples come from
//! (an image folder preprocessed like the model's training pipeline, or a folder of
//! ready `.npy` tensors), their labels, and the plain tensor type that carries a
//! sample to a backend without depending on any engine.

pub mod image;
pub mod jpeg;
pub mod labels;
pub mod npy;
pub mod npy_folder;

use std::path::PathBuf;

/// Element type of a model input or output, as far as the data side cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    I8,
    U8,
}

/// Affine quantisation of an integer tensor: `real = (q - zero_point) * scale`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quant {
    pub scale: f32,
    pub zero_point: i32,
}

/// Element storage of a [`Tensor`].
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    F32(Vec<f32>),
    I8(Vec<i8>),
    U8(Vec<u8>),
}

/// A dense row-major tensor, engine-agnostic so the data side and the scorers never
/// depend on a backend; backends convert at their boundary.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: TensorData,
    /// Quantisation of integer data (None for f32, or when the model does not say).
    pub quant: Option<Quant>,
}

impl Tensor {
    pub fn f32(shape: Vec<usize>, data: Vec<f32>) -> Self {
        Tensor {
            shape,
            data: TensorData::F32(data),
            quant: None,
        }
    }

    pub fn len(&self) -> usize {
        match &self.data {
            TensorData::F32(v) => v.len(),
            TensorData::I8(v) => v.len(),
            TensorData::U8(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn dtype(&self) -> DType {
        match &self.data {
            TensorData::F32(_) => DType::F32,
            TensorData::I8(_) => DType::I8,
            TensorData::U8(_) => DType::U8,
        }
    }

    /// Real values: integer data is dequantised with `quant` (scale 1, zero point 0
    /// when absent), so scores rank what the model meant, not raw codes.
    pub fn to_f32(&self) -> Vec<f32> {
        let q = self.quant.unwrap_or(Quant {
            scale: 1.0,
            zero_point: 0,
        });
        match &self.data {
            TensorData::F32(v) => v.clone(),
            TensorData::I8(v) => v
                .iter()
                .map(|&x| (x as i32 - q.zero_point) as f32 * q.scale)
                .collect(),
            TensorData::U8(v) => v
                .iter()
                .map(|&x| (x as i32 - q.zero_point) as f32 * q.scale)
                .collect(),
        }
    }
}

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
