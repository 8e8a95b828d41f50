//! SingleStream-style latency of the field TFLite models (through `engine::tract::tflite`)
//! next to MobileNetV2 ONNX and TFLite, one inference at a time on one thread.
//! Not LoadGen (no early stopping, fixed run length): a quick comparison of the
//! models on this box. Model load and warm-up are never timed.
//!
//! `cargo bench --bench tflite_field --profile dev` (dependencies are optimised in
//! dev; `--release` means a fat-LTO build). Models come from `$EDGEMARK_SHARED` or
//! `../shared`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use edgemark::engine::tract::tflite::load_tflite;
use tract_onnx::prelude::*;

const WARMUP: usize = 5;
const MIN_RUNS: usize = 20;
const MAX_RUNS: usize = 300;
const BUDGET: Duration = Duration::from_secs(3);

struct Measurement {
    model: String,
    rewrites: String,
    /// `tflite::prepare` alone (part of `load`).
    prepare: Option<Duration>,
    load: Duration,
    latencies: Vec<Duration>,
}

fn shared() -> PathBuf {
    std::env::var_os("EDGEMARK_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"))
}

/// Deterministic input of the fact's shape: floats in [0,1), integers spread over their range.
fn input_for(fact: &TypedFact, seed: &mut u64) -> TractResult<TValue> {
    let shape: Vec<usize> = fact
        .shape
        .as_concrete()
        .context("symbolic input shape")?
        .to_vec();
    let n: usize = shape.iter().product();
    let mut next = || {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*seed >> 40) as u32
    };
    let mut t = match fact.datum_type.unquantized() {
        DatumType::F32 => Tensor::from_shape(
            &shape,
            &(0..n)
                .map(|_| next() as f32 / (1u32 << 24) as f32)
                .collect::<Vec<_>>(),
        )?,
        DatumType::I8 => Tensor::from_shape(
            &shape,
            &(0..n).map(|_| next() as u8 as i8).collect::<Vec<_>>(),
        )?,
        DatumType::U8 => {
            Tensor::from_shape(&shape, &(0..n).map(|_| next() as u8).collect::<Vec<_>>())?
        }
        other => anyhow::bail!("no input generator for {other:?}"),
    };
    unsafe { t.set_datum_type(fact.datum_type) };
    Ok(t.into())
}

fn time(
    model: String,
    rewrites: String,
    prepare: Option<Duration>,
    load: Duration,
    plan: Arc<TypedRunnableModel>,
) -> TractResult<Measurement> {
    let mut seed = 42;
    let inputs: TVec<TValue> = (0..plan.model().inputs.len())
        .map(|i| input_for(plan.model().input_fact(i)?, &mut seed))
        .collect::<TractResult<_>>()?;
    for _ in 0..WARMUP {
        plan.run(inputs.clone())?;
    }
    let mut latencies = Vec::with_capacity(MAX_RUNS);
    let start = Instant::now();
    while latencies.len() < MAX_RUNS && (latencies.len() < MIN_RUNS || start.elapsed() < BUDGET) {
        let inputs = inputs.clone();
        let t0 = Instant::now();
        let out = plan.run(inputs)?;
        latencies.push(t0.elapsed());
        drop(out);
    }
    Ok(Measurement {
        model,
        rewrites,
        prepare,
        load,
        latencies,
    })
}

fn measure_tflite(path: &Path) -> TractResult<Measurement> {
    let bytes = std::fs::read(path)?;
    // prepare alone, untimed otherwise: its share of the load time.
    let p0 = Instant::now();
    let _ = edgemark::engine::tract::tflite::prepare(&bytes);
    let prepare = p0.elapsed();
    let t0 = Instant::now();
    let (model, report) =
        load_tflite(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let plan = model.into_optimized()?.into_runnable()?;
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let rewrites = if report.is_empty() {
        "-".into()
    } else {
        report.summary()
    };
    time(name, rewrites, Some(prepare), t0.elapsed(), plan)
}

fn measure_onnx(path: &Path) -> TractResult<Measurement> {
    let t0 = Instant::now();
    let plan = tract_onnx::onnx()
        .model_for_path(path)?
        .with_input_fact(0, f32::fact([1, 3, 224, 224]).into())?
        .into_optimized()?
        .into_runnable()?;
    let name = format!(
        "{} (tract-onnx)",
        path.file_name().unwrap().to_string_lossy()
    );
    time(name, "-".into(), None, t0.elapsed(), plan)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn print(results: &[Measurement]) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{:<36} {:>8} {:>10} {:>5} {:>8} {:>8}  rewrites",
        "model", "load ms", "prepare ms", "runs", "p50 ms", "p90 ms"
    );
    for m in results {
        let mut l = m.latencies.clone();
        l.sort();
        println!(
            "{:<36} {:>8.1} {:>10} {:>5} {:>8.2} {:>8.2}  {}",
            m.model,
            ms(m.load),
            m.prepare
                .map(|p| format!("{:.2}", ms(p)))
                .unwrap_or_else(|| "-".into()),
            l.len(),
            ms(percentile(&l, 0.5)),
            ms(percentile(&l, 0.9)),
            m.rewrites
        );
    }
}

fn main() {
    let models = shared().join("models");
    let mut runs = vec![
        measure_onnx(&models.join("mobilenetv2-fp32.onnx")),
        measure_tflite(&models.join("mobilenetv2-fp32.tflite")),
        measure_tflite(&models.join("mobilenetv2-int8.tflite")),
    ];
    let mut field: Vec<PathBuf> = std::fs::read_dir(models.join("field"))
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "tflite"))
                .collect()
        })
        .unwrap_or_default();
    field.sort();
    let mut failed = field.is_empty();
    if failed {
        eprintln!(
            "error: no field models in {}",
            models.join("field").display()
        );
    }
    runs.extend(field.iter().map(|p| measure_tflite(p)));
    let mut results = vec![];
    for r in runs {
        match r {
            Ok(m) => results.push(m),
            Err(e) => {
                eprintln!("error: {e:?}");
                failed = true;
            }
        }
    }
    print(&results);
    if failed {
        std::process::exit(1);
    }
}
