//! tract as edgemark's in-process engine: loading and optimising ONNX and
//! TFLite models (`load`, with the TFLite rewrite pass in `tflite`), the
//! built-in model (`builtin`), input tensors (`inputs`), conversion to the
//! data side's tensors (`convert`), CPU pinning (`affinity`) and running a
//! plan ([`Runner`]). The `Sut` adapter (`sut::tract`), `infer`, `inspect`,
//! `profile` and accuracy all go through this API.

pub mod affinity;
pub mod builtin;
pub mod convert;
pub mod fork;
pub mod fp32;
pub mod inputs;
pub mod load;
pub mod profile;
pub mod quant;
pub mod tflite;

use tract_linalg::multithread::Executor;
use tract_onnx::prelude::*;

use self::load::LoadedModel;

pub use self::convert::TractModel;

/// The built-in default model's name in records and messages; its graph and
/// weights come from `builtin` (see scripts/make_builtin_model.py).
pub const BUILTIN_MODEL_NAME: &str = "builtin-mobilenet-v1.onnx";
pub const BUILTIN_LABEL: &str = "built-in, performance only";

/// What went wrong in the tract engine. Shown to users, never matched on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TractError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {why}")]
    Model { path: String, why: String },
    #[error("{0}")]
    Input(String),
    #[error("inference failed: {0}")]
    Run(String),
    #[error("{0}")]
    Threads(String),
    #[error("{0}")]
    Affinity(#[from] affinity::AffinityError),
    /// A model output that cannot be converted (to `.npy`).
    #[error("{0}")]
    Output(String),
}

/// Reads and loads the model at `path`; an empty path means the built-in model.
/// `input_shapes` fixes dynamic input dimensions by input name.
pub fn load_model_file(
    path: &str,
    input_shapes: &[(String, Vec<u64>)],
) -> Result<LoadedModel, TractError> {
    if path.is_empty() {
        let bytes = builtin::materialize(builtin::GRAPH).map_err(|why| TractError::Model {
            path: BUILTIN_MODEL_NAME.into(),
            why: why.to_string(),
        })?;
        return load::load_model(BUILTIN_MODEL_NAME, &bytes, input_shapes, true);
    }
    let bytes = std::fs::read(path).map_err(|source| TractError::Io {
        path: path.to_string(),
        source,
    })?;
    load::load_model(path, &bytes, input_shapes, false)
}

/// One inference. A panic inside tract (an engine bug on an unusual model)
/// becomes an error instead of ending the process; `catch_unwind` costs nothing
/// when nothing panics, so it stays on the timed path too.
pub fn run_guarded(
    state: &mut TypedSimpleState,
    inputs: TVec<TValue>,
) -> Result<TVec<TValue>, TractError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| state.run(inputs))) {
        Ok(Ok(out)) => Ok(out),
        Ok(Err(e)) => Err(TractError::Run(load::summarize(&e))),
        Err(_) => Err(TractError::Run("tract panicked during inference".into())),
    }
}

/// One runnable copy of a model: its own plan and state, run on `executor`'s
/// threads. Several runners may share one optimised model.
pub struct Runner {
    state: TypedSimpleState,
}

impl Runner {
    pub fn new(model: &Arc<TypedModel>, executor: Executor) -> Result<Runner, TractError> {
        let options = RunOptions {
            executor: Some(executor),
            ..RunOptions::default()
        };
        let plan =
            tract_onnx::tract_core::plan::SimplePlan::new_with_options(model.clone(), &options)
                .map_err(|e| TractError::Run(load::summarize(&e)))?;
        let state = plan
            .spawn()
            .map_err(|e| TractError::Run(load::summarize(&e)))?;
        Ok(Runner { state })
    }

    /// A single-threaded runner (infer, accuracy, profile).
    pub fn single_thread(model: &Arc<TypedModel>) -> Result<Runner, TractError> {
        Runner::new(model, Executor::SingleThread)
    }

    /// One inference ([`run_guarded`]).
    pub fn run(&mut self, inputs: TVec<TValue>) -> Result<TVec<TValue>, TractError> {
        run_guarded(&mut self.state, inputs)
    }

    /// The plan's state, for benchmarks comparing against a bare loop.
    pub fn state_mut(&mut self) -> &mut TypedSimpleState {
        &mut self.state
    }
}

/// Bytes one inference moves through the caches: the weights read once
/// (`weight_bytes`: the model file's size, as optimised plans keep weights in
/// packed forms of their own), every intermediate tensor written and read
/// once. Sizes the random-input set (`engine::budget`).
pub fn traffic_bytes(model: &TypedModel, weight_bytes: u64) -> u64 {
    let mut bytes = weight_bytes;
    for node in model.nodes() {
        if node.op_is::<tract_onnx::tract_core::ops::konst::Const>() {
            continue;
        }
        for o in &node.outputs {
            if let Some(shape) = o.fact.shape.as_concrete() {
                let n = shape.iter().product::<usize>() * o.fact.datum_type.size_of();
                bytes += 2 * n as u64;
            }
        }
    }
    bytes
}

/// The intra-op executor for `threads` threads. With `cores`, the pool's
/// threads are created while the calling thread is restricted to them, so they
/// inherit that affinity (rayon offers no other hook without a direct dependency).
pub fn executor(threads: u32, cores: Option<&[u32]>) -> Result<Executor, TractError> {
    if threads <= 1 {
        return Ok(Executor::SingleThread);
    }
    let before = match cores {
        Some(c) => {
            let before = affinity::current()?;
            affinity::pin_current(c)?;
            Some(before)
        }
        None => None,
    };
    let exec = std::panic::catch_unwind(|| {
        Executor::multithread_with_name(threads as usize, "edgemark-mm")
    });
    if let Some(b) = before {
        affinity::set_current(&b)?;
    }
    exec.map_err(|_| TractError::Threads(format!("could not start {threads} intra-op threads")))
}
