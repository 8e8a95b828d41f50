//! External SUTs (`--sut exec:PROGRAM ARGS...`): any program that speaks the
//! SUT protocol (docs/sut-protocol.md) on the descriptors named in
//! `EDGEMARK_SUT_FDS`. edgemark keeps the harness: it loads the samples into
//! the SUT before timing, issues queries and takes every timestamp on its own
//! side (as LoadGen does), so the protocol's cost is inside the measured
//! latency; it is measured on its own before timing (`round_trip_ns`).

pub mod child;
pub mod proto;
pub mod spec;
pub mod spin;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use child::Child;
pub use child::{Fault, FaultKind, Transport};
use proto::{HelloReply, WireTensor, WireType, flags, kind};

use super::{DataModel, ModelFormat, ModelInfo, Sut, SutError, SutInfo, TensorInfo};
use crate::clock::Clock;
use crate::dataset::{self, DType, Quant, Tensor, TensorData};
use crate::plan::ExecSpec;
use crate::rng::SplitMix64;

/// Untimed requests (hello with the model load, sample loading) may take this long.
pub const SETUP_TIMEOUT_MS: u64 = 120_000;
/// Default per-query timeout (`sut_timeout_ms`).
pub const DEFAULT_QUERY_TIMEOUT_MS: u64 = 10_000;
/// Distinct random samples are capped at this many bytes; the rest of the
/// loaded set repeats them (LOAD_ALIAS), so the SUT's memory stays bounded.
pub const RANDOM_BUDGET_BYTES: u64 = 64 << 20;
/// Null round trips measured before timing (median kept).
const CALIBRATION_TRIPS: usize = 200;
/// QSL index of the accuracy path's scratch sample (never a real index).
const SCRATCH: u32 = u32::MAX;
const INPUT_SEED: u64 = 0x5eed_e8ec;

/// What the record says about the engine behind an exec SUT.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EngineInfo {
    pub name: String,
    pub version: String,
    pub command: Vec<String>,
    pub protocol_version: u32,
    /// Median null round trip measured before timing.
    pub round_trip_ns: u64,
    /// The SUT's last stderr lines (on failure).
    pub stderr_tail: Vec<String>,
    /// How the protocol travelled; the record keeps it beside the round trip.
    pub transport: Option<Transport>,
}

impl From<Fault> for SutError {
    fn from(f: Fault) -> SutError {
        SutError::Exec(Box::new(f))
    }
}

/// Where the loaded samples' tensors come from.
enum Source {
    /// Seeded random tensors, `distinct` of them, repeated.
    Random { distinct: usize },
    /// `--inputs` files: sample i is group i % len.
    Files(Vec<Vec<WireTensor>>),
    /// `--dataset` samples, by QSL index.
    Dataset(HashMap<usize, Vec<WireTensor>>),
}

pub struct ExecSut {
    /// SingleStream queries go through the shared mapping.
    spin: bool,
    child: Child,
    hello: HelloReply,
    command: Vec<String>,
    timeout_ms: u64,
    /// Input shapes with dynamic dimensions fixed (batch 1).
    input_shapes: Vec<Vec<u32>>,
    source: Source,
    /// QSL index -> data slot the SUT holds it with (for aliasing).
    loaded: HashMap<usize, usize>,
    /// Data slot -> the first index loaded with it.
    slot_owner: HashMap<usize, usize>,
    /// The SingleStream ISSUE frame, patched in place per query.
    single: [u8; 24],
    /// The Offline ISSUE frame, rebuilt (same buffer) per query.
    offline: Vec<u8>,
    /// Offline: which ids completed.
    done: Vec<bool>,
    info: SutInfo,
    round_trip_ns: u64,
    calibrated: bool,
}

fn backend(msg: String) -> SutError {
    SutError::Backend(msg)
}

impl ExecSut {
    /// Starts the SUT and runs the handshake (untimed).
    pub fn start(spec: &ExecSpec) -> Result<ExecSut, SutError> {
        let transport = spec.transport.unwrap_or_else(Transport::from_env);
        let mut child = Child::spawn(&spec.command, transport, true)?;
        let hello = handshake(&mut child, SETUP_TIMEOUT_MS)?;
        let input_shapes = hello
            .inputs
            .iter()
            .map(|d| fixed_shape(&d.name, &d.shape))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| child.fault(FaultKind::Reported, e.to_string()))?;
        let source = if spec.inputs.is_empty() {
            let bytes: u64 = hello
                .inputs
                .iter()
                .zip(&input_shapes)
                .map(|(d, s)| s.iter().map(|&x| x as u64).product::<u64>() * d.dtype.size() as u64)
                .sum();
            Source::Random {
                distinct: (RANDOM_BUDGET_BYTES / bytes.max(1)).max(1) as usize,
            }
        } else {
            Source::Files(load_npy_inputs(&spec.inputs, &hello, &input_shapes)?)
        };
        let mut single = [0u8; 24];
        single[0..4].copy_from_slice(&kind::ISSUE.to_le_bytes());
        single[4..8].copy_from_slice(&16u32.to_le_bytes());
        // flags 0, count 1, id 0; the index goes into bytes 20..24.
        single[12..16].copy_from_slice(&1u32.to_le_bytes());
        let mut info = sut_info(&hello, &spec.command, transport);
        if transport == Transport::Spin
            && let Some(w) = spin_cpu_warning(child.pid())
        {
            info.warnings.push(w);
        }
        let spin = transport == Transport::Spin;
        Ok(ExecSut {
            spin,
            child,
            hello,
            command: spec.command.clone(),
            timeout_ms: spec.timeout_ms,
            input_shapes,
            source,
            loaded: HashMap::new(),
            slot_owner: HashMap::new(),
            single,
            offline: Vec::new(),
            done: Vec::new(),
            info,
            round_trip_ns: 0,
            calibrated: false,
        })
    }

    pub fn hello(&self) -> &HelloReply {
        &self.hello
    }

    pub fn round_trip_ns(&self) -> u64 {
        self.round_trip_ns
    }

    /// The sample's tensors and the slot that identifies equal data.
    fn sample_data(&self, index: usize) -> Result<(usize, Vec<WireTensor>), SutError> {
        match &self.source {
            Source::Random { distinct } => {
                let slot = index % distinct;
                let t = self
                    .hello
                    .inputs
                    .iter()
                    .zip(&self.input_shapes)
                    .enumerate()
                    .map(|(j, (d, s))| {
                        random_tensor(d.dtype, s, INPUT_SEED ^ ((slot as u64) << 8) ^ j as u64)
                    })
                    .collect();
                Ok((slot, t))
            }
            Source::Files(groups) => {
                let slot = index % groups.len();
                Ok((slot, groups[slot].clone()))
            }
            Source::Dataset(m) => m
                .get(&index)
                .map(|t| (index, t.clone()))
                .ok_or_else(|| backend(format!("data set sample {index} was not preprocessed"))),
        }
    }

    /// FLUSH and wait for FLUSHED (with the setup timeout).
    fn flush(&mut self, token: u32, what: &'static str) -> Result<(), SutError> {
        let mut f = Vec::with_capacity(12);
        proto::put_header(&mut f, kind::FLUSH, 4);
        proto::put_u32(&mut f, token);
        self.child.arm(SETUP_TIMEOUT_MS, what);
        self.child.send(&f)?;
        let (k, r) = self.child.frame()?;
        if k != kind::FLUSHED {
            return Err(self.unexpected(k, r, "FLUSHED").into());
        }
        let p = &self.child.buf()[r];
        let got = (p.len() == 4).then(|| u32::from_le_bytes(p.try_into().unwrap()));
        if got != Some(token) {
            return Err(self
                .child
                .garbage(format!("FLUSHED carries {got:?}, expected token {token}"))
                .into());
        }
        self.child.disarm();
        Ok(())
    }

    /// A frame of the wrong kind: an ERROR frame is the SUT's own words;
    /// anything else is garbage.
    fn unexpected(&mut self, k: u32, r: std::ops::Range<usize>, want: &str) -> Fault {
        if k == kind::ERROR {
            let p = self.child.buf()[r].to_vec();
            let (code, msg) = read_error(&p);
            let program = self.child.program().to_string();
            return self.child.fault(
                FaultKind::Reported,
                format!("SUT {program} reported an error (code {code}): {msg}"),
            );
        }
        let head = proto::show_bytes(&self.child.buf()[r.clone()]);
        self.child.garbage(format!(
            "expected {want}, got frame kind {k} ({}) with {} payload bytes {head}",
            kind::name(k),
            r.len()
        ))
    }

    /// Median round trip of NULL queries on a loaded sample (untimed).
    fn calibrate(&mut self, sample: usize) -> Result<(), SutError> {
        let mut trips = Vec::with_capacity(CALIBRATION_TRIPS);
        self.single[8..12].copy_from_slice(&flags::NULL.to_le_bytes());
        let res = (|| {
            for _ in 0..CALIBRATION_TRIPS {
                let t0 = Instant::now();
                self.issue_single(sample)?;
                trips.push(t0.elapsed().as_nanos() as u64);
            }
            Ok::<(), SutError>(())
        })();
        self.single[8..12].copy_from_slice(&0u32.to_le_bytes());
        res?;
        trips.sort_unstable();
        self.round_trip_ns = trips[trips.len() / 2];
        self.calibrated = true;
        if let Some(e) = self.info.engine.as_mut() {
            e.round_trip_ns = self.round_trip_ns;
        }
        Ok(())
    }

    /// The timed path: patch the index, one write, one read, check the answer.
    /// Spin transport: one request word, spin until the SUT's `done`.
    #[inline]
    fn issue_single(&mut self, sample: usize) -> Result<(), SutError> {
        if self.spin {
            let op = if self.single[8] & flags::NULL as u8 != 0 {
                spin::op::NULL
            } else {
                spin::op::QUERY
            };
            self.child.arm(self.timeout_ms, "a query");
            if let Some((k, r)) = self.child.spin_query(op, sample as u32)? {
                return Err(self
                    .unexpected(k, r, "the query's completion (spin)")
                    .into());
            }
            self.child.disarm();
            return Ok(());
        }
        self.single[20..24].copy_from_slice(&(sample as u32).to_le_bytes());
        self.child.arm(self.timeout_ms, "a query");
        self.child.send(&self.single)?;
        let (k, r) = self.child.frame()?;
        let p = &self.child.buf()[r.clone()];
        if k != kind::COMPLETE || p.len() != 8 {
            return Err(self.bad_completion(k, r, 1).into());
        }
        let count = u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
        let id = u32::from_le_bytes([p[4], p[5], p[6], p[7]]);
        if count != 1 || id != 0 {
            return Err(self.bad_completion(k, r, 1).into());
        }
        self.child.disarm();
        Ok(())
    }

    #[cold]
    fn bad_completion(&mut self, k: u32, r: std::ops::Range<usize>, issued: usize) -> Fault {
        if k != kind::COMPLETE {
            return self.unexpected(k, r, "COMPLETE");
        }
        let p = self.child.buf()[r].to_vec();
        let mut c = proto::Cursor::new(&p, "COMPLETE");
        let count = c.u32("count").unwrap_or(0) as usize;
        if p.len() != 4 + 4 * count {
            return self.child.garbage(format!(
                "COMPLETE frame says {count} ids but has {} payload bytes",
                p.len()
            ));
        }
        let ids: Vec<u32> = (0..count).filter_map(|_| c.u32("id").ok()).collect();
        let program = self.child.program().to_string();
        self.child.fault(
            FaultKind::UnknownId,
            format!(
                "SUT {program} completed unknown sample id(s) {ids:?} ({issued} issued with ids 0..{issued}, or completed twice)"
            ),
        )
    }

    /// Sends an untimed query on the scratch sample and returns its outputs.
    fn infer_wire(&mut self, inputs: Vec<WireTensor>) -> Result<Vec<WireTensor>, SutError> {
        let mut f = Vec::new();
        proto::put_header(&mut f, kind::LOAD, 0);
        proto::put_u32(&mut f, SCRATCH);
        proto::put_u32(&mut f, inputs.len() as u32);
        for t in &inputs {
            proto::put_tensor(&mut f, t);
        }
        proto::finish_frame(&mut f, 0);
        let start = f.len();
        proto::put_header(&mut f, kind::ISSUE, 16);
        proto::put_u32(&mut f, flags::OUTPUTS);
        proto::put_u32(&mut f, 1);
        proto::put_u32(&mut f, 0);
        proto::put_u32(&mut f, SCRATCH);
        debug_assert_eq!(f.len() - start, 24);
        // A query like any other: a hung SUT is noticed after the per-query
        // timeout, not after the setup's two minutes.
        self.child.arm(self.timeout_ms, "an accuracy query");
        self.child.send(&f)?;
        let (k, r) = self.child.frame()?;
        if k != kind::OUTPUTS {
            return Err(self.unexpected(k, r, "OUTPUTS").into());
        }
        let p = self.child.buf()[r].to_vec();
        let parsed = (|| {
            let mut c = proto::Cursor::new(&p, "OUTPUTS");
            let id = c.u32("id")?;
            if id != 0 {
                return Err(proto::BadFrame(format!("OUTPUTS for unknown id {id}")));
            }
            let n = c.u32("tensor count")? as usize;
            let mut out = Vec::with_capacity(n.min(64));
            for _ in 0..n {
                out.push(proto::read_tensor(&mut c)?);
            }
            c.end()?;
            Ok(out)
        })();
        self.child.disarm();
        match parsed {
            Ok(o) if o.is_empty() => Err(self
                .child
                .garbage("OUTPUTS frame without tensors".into())
                .into()),
            Ok(o) => Ok(o),
            Err(proto::BadFrame(why)) if why.starts_with("OUTPUTS for unknown id") => {
                let program = self.child.program().to_string();
                Err(self
                    .child
                    .fault(FaultKind::UnknownId, format!("SUT {program}: {why}"))
                    .into())
            }
            Err(e) => Err(self.child.garbage(e.0).into()),
        }
    }
}

impl Drop for ExecSut {
    fn drop(&mut self) {
        self.child.close(Duration::from_secs(2));
    }
}

/// HELLO, then the SUT's HELLO_REPLY (versions must match).
pub fn handshake(child: &mut Child, timeout_ms: u64) -> Result<HelloReply, Fault> {
    child.arm(timeout_ms, "its hello (HELLO_REPLY)");
    let hello_flags = if child.shm().is_some() {
        proto::hello_flags::SPIN
    } else {
        0
    };
    child.send(&proto::hello(proto::VERSION, hello_flags))?;
    let (k, r) = child.frame()?;
    let program = child.program().to_string();
    if k == kind::ERROR {
        let p = child.buf()[r].to_vec();
        let (code, msg) = read_error(&p);
        let kind = if code == proto::error_code::VERSION {
            FaultKind::Version
        } else {
            FaultKind::Reported
        };
        return Err(child.fault(
            kind,
            format!("SUT {program} refused the hello (code {code}): {msg}"),
        ));
    }
    if k != kind::HELLO_REPLY {
        let head = proto::show_bytes(&child.buf()[r.clone()]);
        return Err(child.garbage(format!(
            "expected HELLO_REPLY, got frame kind {k} ({}) {head}",
            kind::name(k)
        )));
    }
    let payload = child.buf()[r].to_vec();
    let h = proto::read_hello_reply(&payload).map_err(|e| child.garbage(e.0))?;
    if h.version != proto::VERSION {
        return Err(child.fault(
            FaultKind::Version,
            format!(
                "SUT {program} speaks SUT protocol version {}, this edgemark speaks version {}",
                h.version,
                proto::VERSION
            ),
        ));
    }
    if h.inputs.is_empty() || h.outputs.is_empty() {
        return Err(child.fault(
            FaultKind::Garbage,
            format!(
                "SUT {program}'s hello describes {} inputs and {} outputs; at least one of each is needed",
                h.inputs.len(),
                h.outputs.len()
            ),
        ));
    }
    if let Some(shm) = child.shm()
        && shm.attached() != 1
    {
        let name = format!("{} {}", h.name, h.sut_version);
        return Err(child.fault(
            FaultKind::Capability,
            format!(
                "SUT {program} ({name}) does not support the spin transport: it did not attach \
                 the shared memory named in {} before its HELLO_REPLY (the SDKs of sdk/c and \
                 sdk/python do since protocol 1's spin transport); run it with \
                 sut_transport = \"pipe\" or rebuild it on this edgemark's SDK",
                spin::SHM_ENV
            ),
        ));
    }
    child.disarm();
    Ok(h)
}

/// Spinning needs two cores: edgemark's issuing thread on one, the SUT on
/// another. A warning when the CPUs both may use are fewer (or unknown).
fn spin_cpu_warning(pid: u32) -> Option<crate::warnings::RunWarning> {
    use nix::sched::{CpuSet, sched_getaffinity};
    use nix::unistd::Pid;
    let ours = sched_getaffinity(Pid::from_raw(0)).ok()?;
    let theirs = sched_getaffinity(Pid::from_raw(pid as i32)).ok()?;
    let cpus = (0..CpuSet::count())
        .filter(|&c| ours.is_set(c).unwrap_or(false) || theirs.is_set(c).unwrap_or(false))
        .count();
    (cpus < 2).then_some(crate::warnings::RunWarning::SpinOneCpu { cpus })
}

/// An ERROR payload's code and message (best effort: it is already an error).
pub fn read_error(p: &[u8]) -> (u32, String) {
    let mut c = proto::Cursor::new(p, "ERROR");
    let code = c.u32("code").unwrap_or(0);
    let msg = c
        .str("message")
        .unwrap_or_else(|_| String::from_utf8_lossy(p.get(4..).unwrap_or(&[])).into_owned());
    (code, msg)
}

/// A tensor the SUT described with a dynamic dimension other than the batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "input {name:?} has dynamic dimension {axis} (shape {shape:?}); the SUT must report a fixed shape"
)]
struct DynamicShape {
    name: String,
    axis: usize,
    shape: Vec<i32>,
}

/// Dynamic dimensions: a leading one is the batch (1); others cannot be guessed.
fn fixed_shape(name: &str, shape: &[i32]) -> Result<Vec<u32>, DynamicShape> {
    shape
        .iter()
        .enumerate()
        .map(|(i, &d)| match d {
            -1 if i == 0 => Ok(1),
            -1 => Err(DynamicShape {
                name: name.to_owned(),
                axis: i,
                shape: shape.to_vec(),
            }),
            d => Ok(d as u32),
        })
        .collect()
}

/// Seeded random data like the tract SUT's: floats in [0, 1), 8-bit types
/// over their range, wider integers in [0, 10) (indices must stay in bounds).
fn random_tensor(dtype: WireType, shape: &[u32], seed: u64) -> WireTensor {
    let mut rng = SplitMix64(seed);
    let n: usize = shape.iter().map(|&d| d as usize).product();
    let mut bytes = Vec::with_capacity(n * dtype.size());
    for _ in 0..n {
        let r = rng.next_u64();
        match dtype {
            WireType::F32 => {
                bytes.extend_from_slice(&((r >> 40) as f32 / (1u64 << 24) as f32).to_le_bytes())
            }
            WireType::F64 => {
                bytes.extend_from_slice(&((r >> 11) as f64 / (1u64 << 53) as f64).to_le_bytes())
            }
            // f16 in [0, 1): exponent below 15, any mantissa.
            WireType::F16 => {
                let h = (((r >> 50) % 15) << 10 | (r & 0x3ff)) as u16;
                bytes.extend_from_slice(&h.to_le_bytes())
            }
            WireType::U8 | WireType::I8 => bytes.push((r >> 56) as u8),
            WireType::I32 => bytes.extend_from_slice(&((r % 10) as i32).to_le_bytes()),
            WireType::I64 => bytes.extend_from_slice(&((r % 10) as i64).to_le_bytes()),
        }
    }
    WireTensor {
        dtype,
        shape: shape.to_vec(),
        bytes,
    }
}

/// A tensor's element type and little-endian bytes on the wire.
fn npy_to_wire(a: &Tensor) -> (WireType, Vec<u8>) {
    fn le<T: Copy, const N: usize>(v: &[T], f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
        v.iter().flat_map(|&x| f(x)).collect()
    }
    match &a.data {
        TensorData::F32(v) => (WireType::F32, le(v, f32::to_le_bytes)),
        TensorData::F64(v) => (WireType::F64, le(v, f64::to_le_bytes)),
        TensorData::I8(v) => (WireType::I8, le(v, i8::to_le_bytes)),
        TensorData::U8(v) => (WireType::U8, v.clone()),
        TensorData::I32(v) => (WireType::I32, le(v, i32::to_le_bytes)),
        TensorData::I64(v) => (WireType::I64, le(v, i64::to_le_bytes)),
    }
}

/// `--inputs`: k files per sample for k inputs, each checked against the hello.
fn load_npy_inputs(
    paths: &[String],
    hello: &HelloReply,
    shapes: &[Vec<u32>],
) -> Result<Vec<Vec<WireTensor>>, SutError> {
    let files = crate::tensor::npy::expand_paths(paths).map_err(|e| backend(e.to_string()))?;
    let k = hello.inputs.len();
    if files.is_empty() || !files.len().is_multiple_of(k) {
        return Err(backend(format!(
            "{} .npy files given for a SUT with {k} inputs: each sample needs {k} files",
            files.len()
        )));
    }
    files
        .chunks(k)
        .map(|group| {
            group
                .iter()
                .zip(hello.inputs.iter().zip(shapes))
                .map(|(path, (d, shape))| {
                    let a = crate::tensor::npy::read(path).map_err(|e| backend(e.to_string()))?;
                    let (dtype, bytes) = npy_to_wire(&a);
                    let got: Vec<u32> = a.shape.iter().map(|&x| x as u32).collect();
                    if dtype != d.dtype || &got != shape {
                        return Err(backend(format!(
                            "{}: {} {:?} does not match the SUT's input {:?} ({} {:?})",
                            path.display(),
                            dtype.name(),
                            got,
                            d.name,
                            d.dtype.name(),
                            shape
                        )));
                    }
                    Ok(WireTensor {
                        dtype,
                        shape: got,
                        bytes,
                    })
                })
                .collect()
        })
        .collect()
}

fn tensor_to_wire(t: &Tensor) -> WireTensor {
    let shape = t.shape.iter().map(|&d| d as u32).collect();
    let (dtype, bytes) = npy_to_wire(t);
    WireTensor {
        dtype,
        shape,
        bytes,
    }
}

/// An output as the scorers see it: f32/i8/u8 as they are (with the hello's
/// quantisation), other types as f32 values.
fn wire_to_tensor(w: &WireTensor, quant: Option<(f32, i32)>) -> Tensor {
    let shape: Vec<usize> = w.shape.iter().map(|&d| d as usize).collect();
    let b = &w.bytes;
    let data = match w.dtype {
        WireType::F32 => TensorData::F32(
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect(),
        ),
        WireType::U8 => TensorData::U8(b.clone()),
        WireType::I8 => TensorData::I8(b.iter().map(|&x| x as i8).collect()),
        WireType::I32 => TensorData::F32(
            b.chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as f32)
                .collect(),
        ),
        WireType::I64 => TensorData::F32(
            b.chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f32)
                .collect(),
        ),
        WireType::F64 => TensorData::F32(
            b.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32)
                .collect(),
        ),
        WireType::F16 => TensorData::F32(
            b.chunks_exact(2)
                .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
        ),
    };
    let quant = match (&data, quant) {
        (TensorData::I8(_) | TensorData::U8(_), Some((scale, zero_point))) => {
            Some(Quant { scale, zero_point })
        }
        _ => None,
    };
    Tensor { shape, data, quant }
}

fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let e = ((h >> 10) & 0x1f) as i32;
    let m = (h & 0x3ff) as f32;
    sign * match e {
        0 => m * 2f32.powi(-24),
        31 => {
            if m == 0.0 {
                f32::INFINITY
            } else {
                f32::NAN
            }
        }
        _ => (1.0 + m / 1024.0) * 2f32.powi(e - 15),
    }
}

fn tensor_info(d: &proto::TensorDesc) -> TensorInfo {
    TensorInfo {
        name: d.name.clone(),
        shape: d
            .shape
            .iter()
            .map(|&x| if x < 0 { 0 } else { x as u64 })
            .collect(),
        dtype: d.dtype.name().to_string(),
    }
}

/// The model as the SUT names it: a file (hashed, so records of the same
/// model group with tract's) or just a name.
fn model_info(h: &HelloReply) -> ModelInfo {
    let path = Path::new(&h.model);
    let file_name = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| h.model.clone());
    let (size_bytes, sha256) = match std::fs::read(path) {
        Ok(bytes) if path.is_file() => {
            use sha2::Digest;
            (bytes.len() as u64, sha2::Sha256::digest(&bytes).into())
        }
        _ => (0, [0; 32]),
    };
    let format = if file_name.to_ascii_lowercase().ends_with(".tflite") {
        ModelFormat::Tflite
    } else {
        ModelFormat::Onnx
    };
    ModelInfo {
        file_name,
        size_bytes,
        sha256,
        format,
        built_in: false,
        inputs: h.inputs.iter().map(tensor_info).collect(),
        outputs: h.outputs.iter().map(tensor_info).collect(),
    }
}

fn sut_info(h: &HelloReply, command: &[String], transport: Transport) -> SutInfo {
    SutInfo {
        kind: "exec".into(),
        description: format!("{} {} (exec: {})", h.name, h.sut_version, command.join(" ")),
        model: Some(model_info(h)),
        instances: 1,
        threads: 0,
        offline_threads: 0,
        engine: Some(EngineInfo {
            name: h.name.clone(),
            version: h.sut_version.clone(),
            command: command.to_vec(),
            protocol_version: h.version,
            round_trip_ns: 0,
            stderr_tail: Vec::new(),
            transport: Some(transport),
        }),
        ..SutInfo::default()
    }
}

impl Sut for ExecSut {
    fn info(&self) -> SutInfo {
        self.info.clone()
    }

    fn load_samples(&mut self, indices: &[usize]) -> Result<(), SutError> {
        let mut frame = Vec::new();
        // A different loaded set: drop the old one first (LoadGen's
        // UnloadSamplesFromRam), so aliases never point at a dropped sample.
        if self.loaded.keys().any(|i| !indices.contains(i)) {
            let mut old: Vec<u32> = self.loaded.keys().map(|&i| i as u32).collect();
            old.sort_unstable();
            proto::put_header(&mut frame, kind::UNLOAD, 4 + 4 * old.len());
            proto::put_u32(&mut frame, old.len() as u32);
            for i in old {
                proto::put_u32(&mut frame, i);
            }
            self.child.arm(SETUP_TIMEOUT_MS, "unloading samples");
            self.child.send(&frame)?;
            self.child.disarm();
            self.loaded.clear();
            self.slot_owner.clear();
        }
        let mut sent = 0u32;
        for &index in indices {
            if self.loaded.contains_key(&index) {
                continue;
            }
            let (slot, data) = self.sample_data(index)?;
            frame.clear();
            match self.slot_owner.get(&slot) {
                Some(&of) => {
                    proto::put_header(&mut frame, kind::LOAD_ALIAS, 8);
                    proto::put_u32(&mut frame, index as u32);
                    proto::put_u32(&mut frame, of as u32);
                }
                None => {
                    proto::put_header(&mut frame, kind::LOAD, 0);
                    proto::put_u32(&mut frame, index as u32);
                    proto::put_u32(&mut frame, data.len() as u32);
                    for t in &data {
                        proto::put_tensor(&mut frame, t);
                    }
                    proto::finish_frame(&mut frame, 0);
                    self.slot_owner.insert(slot, index);
                }
            }
            self.child.arm(SETUP_TIMEOUT_MS, "loading samples");
            self.child.send(&frame)?;
            self.child.disarm();
            self.loaded.insert(index, slot);
            sent += 1;
        }
        self.flush(sent, "loading samples (FLUSH)")?;
        if !self.calibrated
            && let Some(&first) = indices.first()
        {
            self.calibrate(first)?;
        }
        Ok(())
    }

    fn warm_up(&mut self, sample: usize) -> Result<(), SutError> {
        self.issue_single(sample)
    }

    fn issue(&mut self, sample: usize) -> Result<(), SutError> {
        self.issue_single(sample)
    }

    fn issue_all(
        &mut self,
        samples: &[usize],
        clock: &dyn Clock,
        completed_ns: &mut [u64],
        progress: &AtomicU64,
    ) -> Result<(), SutError> {
        let n = samples.len();
        // Buffers grow only when a query is bigger than any before (the
        // untimed calibration query comes first).
        self.offline.clear();
        proto::put_header(&mut self.offline, kind::ISSUE, 8 + 8 * n);
        proto::put_u32(&mut self.offline, 0);
        proto::put_u32(&mut self.offline, n as u32);
        for (id, &s) in samples.iter().enumerate() {
            proto::put_u32(&mut self.offline, id as u32);
            proto::put_u32(&mut self.offline, s as u32);
        }
        self.done.clear();
        self.done.resize(n, false);
        self.child.reserve_frame(4 + 4 * n);
        self.child.arm(self.timeout_ms, "an Offline query");
        let frame = std::mem::take(&mut self.offline);
        let sent = self.child.send(&frame);
        self.offline = frame;
        sent?;
        let mut left = n;
        while left > 0 {
            let (k, r) = self.child.frame()?;
            let now = clock.now_ns();
            // Progress: the watchdog's clock restarts at every answer.
            self.child.disarm();
            self.child.arm(self.timeout_ms, "an Offline query");
            let p = &self.child.buf()[r.clone()];
            if k != kind::COMPLETE || p.len() < 4 {
                return Err(self.bad_completion(k, r, n).into());
            }
            let count = u32::from_le_bytes([p[0], p[1], p[2], p[3]]) as usize;
            if p.len() != 4 + 4 * count {
                return Err(self.bad_completion(k, r, n).into());
            }
            for c in p[4..].chunks_exact(4) {
                let id = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize;
                if id >= n || self.done[id] {
                    return Err(self.bad_completion(k, r, n).into());
                }
                self.done[id] = true;
                completed_ns[id] = now;
            }
            left -= count;
            progress.fetch_add(count as u64, Ordering::Relaxed);
        }
        self.child.disarm();
        Ok(())
    }

    fn data_model(&mut self) -> Option<&mut dyn DataModel> {
        Some(self)
    }
}

impl DataModel for ExecSut {
    fn input_spec(&self) -> Result<dataset::InputSpec, SutError> {
        let d = &self.hello.inputs[0];
        let dtype = match d.dtype {
            WireType::F32 => DType::F32,
            WireType::I8 => DType::I8,
            WireType::U8 => DType::U8,
            other => {
                return Err(backend(format!(
                    "the SUT's input {:?} is {}; a data set feeds f32, i8 or u8",
                    d.name,
                    other.name()
                )));
            }
        };
        Ok(dataset::InputSpec {
            shape: self.input_shapes[0].iter().map(|&x| x as usize).collect(),
            dtype,
            quant: d
                .quant
                .map(|(scale, zero_point)| Quant { scale, zero_point }),
        })
    }

    fn output_len(&self) -> Result<usize, SutError> {
        let d = &self.hello.outputs[0];
        let s = fixed_shape(&d.name, &d.shape).map_err(|e| backend(e.to_string()))?;
        Ok(s.iter().map(|&x| x as usize).product())
    }

    fn infer(&mut self, input: &Tensor) -> Result<Vec<Tensor>, SutError> {
        let out = self.infer_wire(vec![tensor_to_wire(input)])?;
        Ok(out
            .iter()
            .enumerate()
            .map(|(i, w)| wire_to_tensor(w, self.hello.outputs.get(i).and_then(|d| d.quant)))
            .collect())
    }

    fn use_samples(&mut self, samples: Vec<(usize, Tensor)>) -> Result<(), SutError> {
        if self.hello.inputs.len() != 1 {
            return Err(backend(format!(
                "a data set feeds one input; the SUT has {}",
                self.hello.inputs.len()
            )));
        }
        self.source = Source::Dataset(
            samples
                .into_iter()
                .map(|(i, t)| (i, vec![tensor_to_wire(&t)]))
                .collect(),
        );
        // Loaded samples were other data: send them again.
        self.loaded.clear();
        self.slot_owner.clear();
        Ok(())
    }
}

impl ExecSut {
    /// The command line the SUT was started with.
    pub fn command(&self) -> &[String] {
        &self.command
    }
}
