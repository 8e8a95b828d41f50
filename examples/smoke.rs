//! Cross-build smoke and allocator bench: load an ONNX or TFLite model with tract,
//! feed it a deterministic input, and print every output value at full precision
//! (so an ARM run under qemu can be compared with the x86 run), or time repeated
//! inferences and print p50/p90 latency (to compare allocators and libcs).
//!
//! Usage: smoke MODEL [--bench N]
//!
//! Without --bench it also prints the sha256 of the built-in model as drawn on
//! this target, so CI shows the weights are the same bits on ARM as on x86.
//!
//! Kept outside the edgemark binary on purpose: it is a probe for the cross
//! toolchain, and it also serves as the "bare tract-onnx + tract-tflite program"
//! whose size the release profile is judged against.

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "tract")]
fn main() -> anyhow::Result<()> {
    use anyhow::Context;
    use std::time::Instant;
    use tract_onnx::prelude::*;
    use tract_onnx::tract_hir::infer::Factoid;

    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .context("usage: smoke MODEL [--bench N]")?
        .clone();
    let bench: Option<usize> = match args.get(1).map(String::as_str) {
        Some("--bench") => Some(args.get(2).context("--bench needs N")?.parse()?),
        Some(other) => anyhow::bail!("unknown argument {other}"),
        None => None,
    };

    let typed: TypedModel = if path.ends_with(".tflite") {
        tract_tflite::tflite()
            .model_for_path(&path)
            .with_context(|| format!("loading {path}"))?
    } else {
        let mut m = tract_onnx::onnx()
            .model_for_path(&path)
            .with_context(|| format!("loading {path}"))?;
        // MobileNet exports leave the batch dimension symbolic: fix it to 1.
        let fact = m.input_fact(0)?.clone();
        if let Some(shape) = fact.shape.as_concrete_finite()? {
            let dims: Vec<usize> = shape.iter().map(|d| (*d).max(1)).collect();
            m.set_input_fact(0, f32::fact(dims).into())?;
        } else {
            let dims: Vec<usize> = fact
                .shape
                .dims()
                .map(|d| {
                    d.concretize()
                        .and_then(|d| d.to_i64().ok().map(|v| v as usize))
                        .unwrap_or(1)
                })
                .collect();
            m.set_input_fact(0, f32::fact(dims).into())?;
        }
        m.into_typed()?
    };
    let model = typed.into_optimized()?.into_runnable()?;
    let fact = model.model().input_fact(0)?.clone();
    let shape: Vec<usize> = fact
        .shape
        .as_concrete()
        .context("input shape is not concrete")?
        .to_vec();
    let n: usize = shape.iter().product();
    // A fixed, platform-independent pattern: exact in f32, no RNG involved.
    let data: Vec<f32> = (0..n).map(|i| ((i % 17) as f32 - 8.0) / 8.0).collect();
    let input: TValue = tract_ndarray::ArrayD::from_shape_vec(shape, data)?
        .into_tensor()
        .into();

    match bench {
        None => {
            // The built-in model's weights are drawn at load: the bytes must be
            // the same on every target (CI compares this line with x86's).
            use sha2::Digest;
            let builtin = edgemark::engine::tract::builtin::materialize(
                edgemark::engine::tract::builtin::GRAPH,
            )?;
            let sha: String = sha2::Sha256::digest(&builtin)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            println!("output builtin-model sha256 {sha}");
            let out = model.run(tvec!(input))?;
            for (k, t) in out.iter().enumerate() {
                let t = t.cast_to::<f32>()?;
                println!("output {k} shape {:?}", t.shape());
                for x in t.to_plain_array_view::<f32>()?.iter() {
                    // {:e} of f32 prints the shortest string that round-trips.
                    println!("{x:e}");
                }
            }
        }
        Some(iters) => {
            let mut state = model.spawn()?;
            for _ in 0..3 {
                state.run(tvec!(input.clone()))?;
            }
            let mut lat = Vec::with_capacity(iters);
            for _ in 0..iters {
                let i = input.clone();
                let t0 = Instant::now();
                let out = state.run(tvec!(i))?;
                lat.push(t0.elapsed().as_nanos() as u64);
                drop(out);
            }
            lat.sort_unstable();
            let p = |q: f64| lat[((lat.len() as f64 * q).ceil() as usize).clamp(1, lat.len()) - 1];
            println!(
                "{path}: {iters} runs, p50 {:.3} ms, p90 {:.3} ms, min {:.3} ms",
                p(0.5) as f64 / 1e6,
                p(0.9) as f64 / 1e6,
                lat[0] as f64 / 1e6
            );
        }
    }
    Ok(())
}

#[cfg(not(feature = "tract"))]
fn main() {
    eprintln!("smoke: built without the `tract` feature");
    std::process::exit(2);
}
