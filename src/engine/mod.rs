//! The inference engines edgemark runs models with, below the SUT adapters.
//!
//! An engine loads and optimises a model, converts tensors at its boundary and
//! runs inferences; it knows nothing of LoadGen, scenarios or records. `sut/`
//! adapts an engine to the `Sut` trait, and `infer`, `inspect`, `profile` and
//! accuracy use the engine directly. tract (feature `tract`) is the in-process
//! engine; the model facts below are engine-agnostic so records and reports
//! describe a model without depending on tract.

pub mod budget;
/// edgemark's own f32 kernels: the `edgemark-kernels` workspace crate (built
/// optimised even in test builds), under the path they had as a module.
#[cfg(feature = "tract")]
pub use edgemark_kernels as kernels_f32;
/// The int8 kernels, in the same crate for the same reasons.
#[cfg(feature = "tract")]
pub use edgemark_kernels::int8 as kernels_i8;
#[cfg(feature = "tract")]
pub mod tract;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ModelFormat {
    #[default]
    Onnx,
    Tflite,
}

/// What is known about a loaded model file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelInfo {
    pub file_name: String,
    pub size_bytes: u64,
    pub sha256: [u8; 32],
    pub format: ModelFormat,
    pub built_in: bool,
    pub inputs: Vec<TensorInfo>,
    pub outputs: Vec<TensorInfo>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    pub shape: Vec<u64>,
    /// "f32", "i8", "u8", "i32", "i64", ...
    pub dtype: String,
}
