//! The tract SUT: an adapter from the tract engine (`engine::tract`) to the
//! `Sut` trait. ONNX and TFLite models run on this box's CPU.
//!
//! Everything slow happens in [`build_tract`] and `load_samples`, before any
//! scenario: reading, optimising and planning the model (timed as `load_ns`),
//! one first inference (timed as `first_inference_ns`), creating the input
//! tensors. SingleStream runs one instance with an intra-op thread pool (all
//! cores by default); Offline runs `instances` independent plans on worker
//! threads, one pinned core each, single-threaded inside.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use tract_linalg::multithread::Executor;
use tract_onnx::prelude::*;

use crate::clock::Clock;
use crate::dataset;
use crate::engine::budget::{self, InputSetInfo, MemoryFacts};
use crate::engine::tract::inputs::{self, InputSpec};
use crate::engine::tract::load::{self, LoadedModel};
use crate::engine::tract::{Runner, TractError, affinity, convert, executor};
use crate::plan::{ModelSpec, Pinning, SutSpec};
use crate::sut::{DataModel, Sut, SutError, SutInfo};

pub use crate::engine::tract::{BUILTIN_LABEL, BUILTIN_MODEL_NAME};

const MIB: f64 = (1u64 << 20) as f64;

/// Seed of the random input tensors; sample i of input j uses a seed derived
/// from it, so every run and every instance sees the same data.
const INPUT_SEED: u64 = 0x6564_6765_6d61_726b;

impl From<TractError> for SutError {
    fn from(e: TractError) -> SutError {
        SutError::Backend(e.to_string())
    }
}

/// Reads and loads the model a spec names; an empty path means the built-in model.
pub fn load_spec_model(spec: &ModelSpec) -> Result<LoadedModel, TractError> {
    crate::engine::tract::load_model_file(&spec.path, &spec.input_shapes)
}

/// Builds the tract SUT for a model spec or the built-in model (a
/// `SutSpec::Model` with an empty `path` is the built-in model too).
/// `facts` (MemAvailable, LLC size) size the random-input set.
pub fn build_tract(spec: &SutSpec, facts: MemoryFacts) -> Result<Box<dyn Sut>, SutError> {
    Ok(Box::new(TractSut::with_facts(spec, facts)?))
}

/// One runnable copy of the model and the core it is pinned to.
struct Instance {
    runner: Runner,
    /// Core this instance's worker pins itself to (Offline).
    cpu: Option<u32>,
}

impl Instance {
    fn new(
        model: &Arc<TypedModel>,
        executor: Executor,
        cpu: Option<u32>,
    ) -> Result<Instance, TractError> {
        Ok(Instance {
            runner: Runner::new(model, executor)?,
            cpu,
        })
    }
}

enum InputSource {
    Random,
    /// Data set samples by QSL index (`--dataset`), preprocessed before timing.
    Dataset(HashMap<usize, TVec<TValue>>),
    /// Samples read from `.npy` files; QSL index i uses `files[i % len]`.
    Files(Vec<TVec<TValue>>),
}

/// The tract system under test.
pub struct TractSut {
    info: SutInfo,
    model: Arc<TypedModel>,
    specs: Vec<InputSpec>,
    source: InputSource,
    /// Loaded samples by QSL index (None = not loaded).
    samples: Vec<Option<TVec<TValue>>>,
    single: Instance,
    offline: Vec<Instance>,
    offline_warm: bool,
    /// Distinct random samples (sample i uses tensors seeded by i % this).
    random_distinct: usize,
    /// Memory the random inputs may take (see `engine::budget`).
    random_budget: u64,
    /// Bytes of one sample's inputs.
    sample_bytes: u64,
    /// SingleStream's cores when the user gave `cpus`.
    single_cpus: Vec<u32>,
    /// What the SingleStream thread itself is pinned to (a subset of
    /// `single_cpus`, see `fork::pin_pools_to`).
    issuer_cpus: Vec<u32>,
    /// The issuing thread's affinity before we pinned it, restored on drop.
    restore_affinity: Option<(std::thread::ThreadId, nix::sched::CpuSet)>,
}

impl TractSut {
    /// The SUT for `spec` (a model file or the built-in model with its options).
    /// The random-input budget comes from this box's `/proc` and `/sys`.
    pub fn new(spec: &SutSpec) -> Result<TractSut, TractError> {
        TractSut::with_facts(spec, MemoryFacts::read(std::path::Path::new("/")))
    }

    /// The SUT for `spec`, its random inputs sized by `facts`.
    pub fn with_facts(spec: &SutSpec, facts: MemoryFacts) -> Result<TractSut, TractError> {
        match spec {
            SutSpec::Model(m) => TractSut::with_model_spec(m, facts),
            SutSpec::BuiltIn(b) => TractSut::with_model_spec(&b.to_model_spec(), facts),
            SutSpec::Synthetic(s) => Err(TractError::Input(format!(
                "synthetic:{s} is not a model for the tract backend"
            ))),
            SutSpec::Exec(e) => Err(TractError::Input(format!(
                "exec:{} is an external SUT, not a model for the tract backend",
                e.command.join(" ")
            ))),
        }
    }

    /// The SUT for one model spec (empty path: the built-in model).
    pub fn with_model_spec(mspec: &ModelSpec, facts: MemoryFacts) -> Result<TractSut, TractError> {
        let place = Placement::of(mspec)?;
        let t0 = Instant::now();
        let loaded = load_spec_model(mspec)?;
        let single_exec = executor(
            place.single_threads,
            place.single_pinned.then_some(&place.single_cores[..]),
        )?;
        crate::engine::tract::fork::pin_pools_to(place.pool_cores());
        let single = Instance::new(&loaded.model, single_exec, None)?;
        let offline = (0..place.instances as usize)
            .map(|i| {
                Instance::new(
                    &loaded.model,
                    Executor::SingleThread,
                    Some(place.cores[i % place.cores.len()]),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let load_ns = t0.elapsed().as_nanos() as u64;

        let specs = inputs::input_specs(&loaded.model)?;
        let source = input_source(mspec, &specs)?;
        let sample_bytes: usize = specs
            .iter()
            .map(|s| s.shape.iter().product::<usize>() * s.dt.size_of())
            .sum();
        let traffic = crate::engine::tract::traffic_bytes(&loaded.model, loaded.info.size_bytes);
        let (random_budget, random_distinct) =
            budget::random_input_budget(facts, sample_bytes as u64, traffic);
        let mut sut = TractSut {
            info: SutInfo::default(),
            model: loaded.model.clone(),
            specs,
            source,
            samples: vec![],
            single,
            offline,
            offline_warm: false,
            random_distinct: random_distinct as usize,
            random_budget,
            sample_bytes: sample_bytes as u64,
            issuer_cpus: place.issuer_cores(),
            single_cpus: if place.single_pinned {
                place.single_cores
            } else {
                vec![]
            },
            restore_affinity: None,
        };
        let first = sut.make_sample(0)?;
        let t1 = Instant::now();
        sut.single.runner.run(first)?;
        let first_inference_ns = t1.elapsed().as_nanos() as u64;

        sut.info = SutInfo {
            kind: "tract".into(),
            description: description(&loaded),
            model: Some(loaded.info),
            load_ns,
            first_inference_ns,
            instances: place.instances,
            threads: place.single_threads,
            // Offline parallelism comes from instances, one core each.
            offline_threads: 1,
            cpus: Pinning {
                single_stream: sut.single_cpus.clone(),
                // Offline instances are always pinned, one core each.
                offline: place.cores,
            },
            engine: None,
            input_set: None,
            warnings: Vec::new(),
        };
        Ok(sut)
    }

    fn make_sample(&self, index: usize) -> Result<TVec<TValue>, TractError> {
        match &self.source {
            InputSource::Files(s) => Ok(s[index % s.len()].clone()),
            InputSource::Dataset(s) => s.get(&index).cloned().ok_or_else(|| {
                TractError::Input(format!("data set sample {index} was not preprocessed"))
            }),
            InputSource::Random => self
                .specs
                .iter()
                .enumerate()
                .map(|(j, spec)| {
                    let key = index % self.random_distinct;
                    let seed = INPUT_SEED ^ ((key as u64) << 8) ^ j as u64;
                    Ok(inputs::random_tensor(spec, seed)?.into_tvalue())
                })
                .collect(),
        }
    }

    fn sample(&self, index: usize) -> Result<&TVec<TValue>, SutError> {
        self.samples
            .get(index)
            .and_then(Option::as_ref)
            .ok_or_else(|| SutError::Backend(format!("sample {index} was not loaded")))
    }

    /// Runs one loaded sample on the SingleStream instance, returning the outputs.
    pub fn run_sample(&mut self, index: usize) -> Result<TVec<TValue>, SutError> {
        let inputs = self.sample(index)?.clone();
        Ok(self.single.runner.run(inputs)?)
    }

    /// A loaded sample's input values (benchmarks feed the same data to a bare loop).
    pub fn loaded_sample(&self, index: usize) -> Option<&TVec<TValue>> {
        self.samples.get(index).and_then(Option::as_ref)
    }

    /// The optimised model all instances run.
    pub fn model(&self) -> &Arc<TypedModel> {
        &self.model
    }

    /// The SingleStream plan's state, for benchmarks comparing against a bare loop.
    pub fn single_state(&mut self) -> &mut TypedSimpleState {
        self.single.runner.state_mut()
    }
}

/// Where each scenario runs: its cores, threads and Offline instances.
struct Placement {
    single_pinned: bool,
    single_cores: Vec<u32>,
    /// Offline's cores, one instance each (round robin).
    cores: Vec<u32>,
    single_threads: u32,
    instances: u32,
}

impl Placement {
    /// One core per kernel-pool thread when SingleStream may use at least
    /// as many cores as it has threads (see `fork::pin_pools_to`), pinned or
    /// not: the pool's workers on cores 1.., the issuing thread on the first
    /// while it issues (restored when the SUT goes). Unpinned two-thread
    /// runs floated both threads over both cores: MobileNetV2 fp32 .tflite
    /// --threads 2 took 1.06x --threads 1 on this 2-vCPU box (0.59-0.62 with
    /// a core each). Fewer cores than threads: nothing pinned per thread.
    fn pool_cores(&self) -> &[u32] {
        let n = self.single_threads as usize;
        if n >= 2 && self.single_cores.len() >= n {
            &self.single_cores[..n]
        } else {
            &[]
        }
    }

    /// What the issuing thread is pinned to: the first pool core, else all
    /// of SingleStream's cores when the user pinned them, else nothing.
    fn issuer_cores(&self) -> Vec<u32> {
        match self.pool_cores() {
            [first, ..] => vec![*first],
            [] if self.single_pinned => self.single_cores.clone(),
            [] => vec![],
        }
    }

    fn of(mspec: &ModelSpec) -> Result<Placement, TractError> {
        let allowed = affinity::allowed_cpus();
        let pins = &mspec.cpus;
        if let Some(bad) = pins
            .single_stream
            .iter()
            .chain(&pins.offline)
            .find(|c| !allowed.contains(c))
        {
            return Err(TractError::Threads(format!(
                "cpu {bad} is not available to edgemark; it may run on cpus {allowed:?}"
            )));
        }
        // Each scenario has its own cores (a board profile may keep SingleStream
        // on the big cluster and spread Offline over all); unpinned = all allowed.
        let single_pinned = !pins.single_stream.is_empty();
        let single_cores = if single_pinned {
            pins.single_stream.clone()
        } else {
            allowed.clone()
        };
        let cores = if pins.offline.is_empty() {
            allowed.clone()
        } else {
            pins.offline.clone()
        };
        let single_threads = if mspec.threads > 0 {
            mspec.threads
        } else {
            single_cores.len().max(1) as u32
        };
        let instances = if mspec.instances > 0 {
            mspec.instances
        } else {
            cores.len().max(1) as u32
        };
        Ok(Placement {
            single_pinned,
            single_cores,
            cores,
            single_threads,
            instances,
        })
    }
}

/// Random inputs, or the given .npy files.
fn input_source(mspec: &ModelSpec, specs: &[InputSpec]) -> Result<InputSource, TractError> {
    if mspec.inputs.is_empty() {
        return Ok(InputSource::Random);
    }
    let files = inputs::expand_input_paths(&mspec.inputs)?;
    Ok(InputSource::Files(inputs::samples_from_files(
        &files, specs,
    )?))
}

/// The SUT's one-line description: engine, model and the load's notes.
fn description(loaded: &LoadedModel) -> String {
    let mut description = if loaded.info.built_in {
        format!(
            "tract {}: built-in MobileNet-v1 0.25, seeded weights ({BUILTIN_LABEL})",
            load::TRACT_VERSION
        )
    } else {
        let fmt = match loaded.info.format {
            crate::sut::ModelFormat::Onnx => "ONNX",
            crate::sut::ModelFormat::Tflite => "TFLite",
        };
        format!(
            "tract {}: {} ({fmt})",
            load::TRACT_VERSION,
            loaded.info.file_name
        )
    };
    for n in &loaded.notes {
        description.push_str("; ");
        description.push_str(n);
    }
    description
}

impl Drop for TractSut {
    fn drop(&mut self) {
        if let Some((id, set)) = self.restore_affinity.take()
            && id == std::thread::current().id()
        {
            let _ = affinity::set_current(&set);
        }
    }
}

/// `*mut u64` the Offline workers write completion times through. Each index
/// is claimed exactly once (atomic counter), so writes never overlap.
#[derive(Clone, Copy)]
struct Slots(*mut u64);
unsafe impl Send for Slots {}
unsafe impl Sync for Slots {}

impl Sut for TractSut {
    fn info(&self) -> SutInfo {
        self.info.clone()
    }

    fn load_samples(&mut self, indices: &[usize]) -> Result<(), SutError> {
        // SingleStream issues from this thread: pin it now, outside timing.
        if !self.issuer_cpus.is_empty() && self.restore_affinity.is_none() {
            let before = affinity::current().map_err(|e| SutError::Backend(e.to_string()))?;
            affinity::pin_current(&self.issuer_cpus)
                .map_err(|e| SutError::Backend(e.to_string()))?;
            self.restore_affinity = Some((std::thread::current().id(), before));
        }
        // LoadGen replaces the loaded set between scenarios; drop the old one first
        // so memory holds one set, not two.
        self.samples.iter_mut().for_each(|s| *s = None);
        if let Some(&max) = indices.iter().max()
            && self.samples.len() <= max
        {
            self.samples.resize(max + 1, None);
        }
        let mut shared: HashMap<usize, TVec<TValue>> = HashMap::new();
        for &i in indices {
            let sample = match self.source {
                InputSource::Random => {
                    let key = i % self.random_distinct;
                    match shared.get(&key) {
                        Some(s) => s.clone(),
                        None => {
                            let s = self.make_sample(i)?;
                            shared.insert(key, s.clone());
                            s
                        }
                    }
                }
                InputSource::Files(_) | InputSource::Dataset(_) => self.make_sample(i)?,
            };
            self.samples[i] = Some(sample);
        }
        if matches!(self.source, InputSource::Random) {
            let set = InputSetInfo {
                budget_bytes: self.random_budget,
                distinct_samples: shared.len() as u64,
                sample_bytes: self.sample_bytes,
                loaded_samples: indices.len() as u64,
            };
            self.info.input_set = Some(set);
            let note = format!(
                "; random inputs: {} distinct samples of {:.1} MiB shared by {} loaded \
                 (budget {:.1} MiB for this box's cache and memory)",
                set.distinct_samples,
                set.sample_bytes as f64 / MIB,
                set.loaded_samples,
                set.budget_bytes as f64 / MIB,
            );
            // The same note for every scenario: replace, never append twice.
            if let Some(at) = self.info.description.find("; random inputs:") {
                self.info.description.truncate(at);
            }
            self.info.description.push_str(&note);
        }
        Ok(())
    }

    fn warm_up(&mut self, sample: usize) -> Result<(), SutError> {
        self.run_sample(sample)?;
        if !self.offline_warm {
            // Each Offline instance's first run allocates its buffers; keep that
            // out of the timed query as well.
            let inputs = self.sample(sample)?.clone();
            for inst in &mut self.offline {
                inst.runner.run(inputs.clone())?;
            }
            self.offline_warm = true;
        }
        Ok(())
    }

    fn data_model(&mut self) -> Option<&mut dyn DataModel> {
        Some(self)
    }

    fn issue(&mut self, sample: usize) -> Result<(), SutError> {
        let inputs = match self.samples.get(sample) {
            Some(Some(s)) => s.clone(),
            _ => return Err(SutError::Backend(format!("sample {sample} was not loaded"))),
        };
        match self.single.runner.run(inputs) {
            Ok(_outputs) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn issue_all(
        &mut self,
        samples: &[usize],
        clock: &dyn Clock,
        completed_ns: &mut [u64],
        progress: &AtomicU64,
    ) -> Result<(), SutError> {
        let n = samples.len().min(completed_ns.len());
        // Check every index up front so workers never fail on a missing sample.
        for &s in &samples[..n] {
            self.sample(s)?;
        }
        let store = &self.samples;
        let next = AtomicUsize::new(0);
        let slots = Slots(completed_ns.as_mut_ptr());
        // Every worker failure is the engine's: a backend error naming it.
        let backend = |why: String| SutError::Backend(why);
        std::thread::scope(|scope| {
            let workers: Vec<_> = self
                .offline
                .iter_mut()
                .map(|inst| {
                    let next = &next;
                    scope.spawn(move || -> Result<(), SutError> {
                        if let Some(cpu) = inst.cpu {
                            affinity::pin_current(&[cpu]).map_err(|e| backend(e.to_string()))?;
                        }
                        let slots = slots;
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= n {
                                return Ok(());
                            }
                            let Some(inputs) = store[samples[i]].clone() else {
                                next.store(n, Ordering::Relaxed);
                                return Err(backend(format!(
                                    "sample {} was not loaded",
                                    samples[i]
                                )));
                            };
                            if let Err(e) = inst.runner.run(inputs) {
                                // Stop the others at their next sample.
                                next.store(n, Ordering::Relaxed);
                                return Err(backend(e.to_string()));
                            }
                            // SAFETY: i < n <= completed_ns.len(), and each i is
                            // handed out once by the counter, so no two threads write
                            // the same slot and nobody reads until the scope ends.
                            unsafe { slots.0.add(i).write(clock.now_ns()) };
                            progress.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            let mut first_err = Ok(());
            for w in workers {
                let r = w
                    .join()
                    .unwrap_or_else(|_| Err(backend("an Offline worker panicked".into())));
                if first_err.is_ok() {
                    first_err = r;
                }
            }
            first_err
        })
    }
}

impl DataModel for TractSut {
    fn input_spec(&self) -> Result<dataset::InputSpec, SutError> {
        Ok(convert::input_spec(&self.model)?)
    }

    fn output_len(&self) -> Result<usize, SutError> {
        Ok(convert::output_len(&self.model)?)
    }

    fn infer(&mut self, input: &dataset::Tensor) -> Result<Vec<dataset::Tensor>, SutError> {
        let spec = self.input_spec()?;
        let t = convert::to_tract(input, &spec).map_err(|e| SutError::Backend(e.to_string()))?;
        self.single
            .runner
            .run(tvec!(t.into_tvalue()))?
            .into_iter()
            .map(|v| convert::from_tract(v).map_err(|e| SutError::Backend(e.to_string())))
            .collect()
    }

    fn use_samples(&mut self, samples: Vec<(usize, dataset::Tensor)>) -> Result<(), SutError> {
        let spec = self.input_spec()?;
        let mut map = HashMap::with_capacity(samples.len());
        for (i, t) in samples {
            let t = convert::to_tract(&t, &spec).map_err(|e| SutError::Backend(e.to_string()))?;
            map.insert(i, tvec!(t.into_tvalue()));
        }
        if !self.info.description.contains("data set inputs:") {
            self.info.description.push_str(&format!(
                "; data set inputs: {} preprocessed samples",
                map.len()
            ));
        }
        self.source = InputSource::Dataset(map);
        Ok(())
    }
}
