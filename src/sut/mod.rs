//! Systems under test: the backend trait the scenario engine drives, and its
//! implementations (synthetic for calibration and tests; tract for real models).

pub mod exec;
pub mod synthetic;
#[cfg(feature = "tract")]
pub mod tract;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::clock::Clock;
use crate::dataset::{InputSpec, Tensor};
use crate::plan::SutSpec;

/// Model facts come from the engine layer; re-exported because `SutInfo` carries them.
pub use crate::engine::{ModelFormat, ModelInfo, TensorInfo};

/// Builds the SUT a plan names. Model loading (untimed) happens here.
/// `root` is where the box's `/proc` and `/sys` are read (memory and cache
/// sizes for the random-input budget).
pub fn build(
    spec: &SutSpec,
    clock: Arc<dyn Clock + Send>,
    root: &std::path::Path,
) -> Result<Box<dyn Sut>, SutError> {
    #[cfg(not(feature = "tract"))]
    let _ = root;
    match spec {
        SutSpec::Synthetic(s) => Ok(Box::new(synthetic::SyntheticSut::new(s, clock)?)),
        SutSpec::Exec(e) => Ok(Box::new(exec::ExecSut::start(e)?)),
        #[cfg(feature = "tract")]
        SutSpec::Model(_) | SutSpec::BuiltIn(_) => {
            tract::build_tract(spec, crate::engine::budget::MemoryFacts::read(root))
        }
        #[cfg(not(feature = "tract"))]
        SutSpec::Model(m) => Err(SutError::Backend(format!(
            "cannot run model {}: this build has no tract backend",
            m.path
        ))),
        #[cfg(not(feature = "tract"))]
        SutSpec::BuiltIn(_) => Err(SutError::Backend(
            "cannot run the built-in model: this build has no tract backend".into(),
        )),
    }
}

/// Why a SUT failed. Small and `#[non_exhaustive]`: callers show it, they don't match on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SutError {
    #[error("invalid SUT spec {spec:?}: {why}")]
    Spec { spec: String, why: String },
    #[error("{0}")]
    Backend(String),
    /// An external SUT failed (crash, exit, hang, garbage, unknown id...).
    #[error("{0}")]
    Exec(Box<exec::Fault>),
}

impl SutError {
    /// The external SUT's failure, when that is what this is.
    pub fn fault(&self) -> Option<&exec::Fault> {
        match self {
            SutError::Exec(f) => Some(f),
            _ => None,
        }
    }
}

/// A system under test as LoadGen sees it: samples are loaded before timing, then
/// queries are issued and complete. Implementations must not allocate or log in
/// `issue` beyond what the engine itself needs (tract's own run allocates; that is
/// part of what is measured).
pub trait Sut {
    /// What the record stage needs to know about this SUT.
    fn info(&self) -> SutInfo;
    /// Bring these QSL sample indices into memory (untimed, LoadGen's LoadSamplesToRam).
    fn load_samples(&mut self, indices: &[usize]) -> Result<(), SutError>;
    /// One untimed warm-up inference on a loaded sample.
    fn warm_up(&mut self, sample: usize) -> Result<(), SutError>;
    /// SingleStream: run one sample to completion (the timed call).
    fn issue(&mut self, sample: usize) -> Result<(), SutError>;
    /// Offline: run all `samples` (one query) and write each sample's completion
    /// time (`clock.now_ns()`) into `completed_ns[i]`. `completed_ns` is pre-sized.
    /// After each completion, bump `progress` with one relaxed `fetch_add` (all the
    /// TTY progress line and the daemon's STATUS= need; nothing else on the timed path).
    /// The default runs them one after another; multi-instance SUTs override it.
    fn issue_all(
        &mut self,
        samples: &[usize],
        clock: &dyn Clock,
        completed_ns: &mut [u64],
        progress: &AtomicU64,
    ) -> Result<(), SutError> {
        for (slot, &s) in completed_ns.iter_mut().zip(samples) {
            self.issue(s)?;
            *slot = clock.now_ns();
            progress.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
    /// The SUT as a plain tensor model, when it computes real outputs (accuracy
    /// mode, `--dataset` samples). None: it computes nothing (synthetic).
    fn data_model(&mut self) -> Option<&mut dyn DataModel> {
        None
    }
}

/// A SUT seen as a tensor model: what accuracy mode scores and what data set
/// samples are fed through. Never on the timed path.
pub trait DataModel {
    /// The (single) model input, for preprocessing.
    fn input_spec(&self) -> Result<InputSpec, SutError>;
    /// Elements of the first output (the class count of a classifier).
    fn output_len(&self) -> Result<usize, SutError>;
    /// One untimed inference on the SingleStream instance.
    fn infer(&mut self, input: &Tensor) -> Result<Vec<Tensor>, SutError>;
    /// Make these (QSL index, tensor) pairs the samples `load_samples` loads,
    /// instead of generated inputs.
    fn use_samples(&mut self, samples: Vec<(usize, Tensor)>) -> Result<(), SutError>;
}

/// What a SUT tells the record stage about itself (read after the run).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SutInfo {
    /// "synthetic", "tract".
    pub kind: String,
    pub description: String,
    pub model: Option<ModelInfo>,
    /// Model load + optimisation time (never part of a scenario).
    pub load_ns: u64,
    /// First inference after load (never part of a scenario).
    pub first_inference_ns: u64,
    pub instances: u32,
    /// Intra-op threads of the SingleStream instance.
    pub threads: u32,
    /// Intra-op threads of each Offline instance.
    pub offline_threads: u32,
    /// Cores each scenario's workers ran on (SingleStream: empty = not pinned).
    pub cpus: crate::plan::Pinning,
    /// The engine behind an external (`exec:`) SUT; None in process.
    pub engine: Option<exec::EngineInfo>,
    /// The random-input set loaded last (None: data set or `.npy` inputs,
    /// or a SUT that generates none).
    pub input_set: Option<crate::engine::budget::InputSetInfo>,
    /// What building the SUT found worth a warning in every record (the
    /// spin transport on one CPU).
    pub warnings: Vec<crate::warnings::RunWarning>,
}
