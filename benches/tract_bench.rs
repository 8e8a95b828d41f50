//! Benchmark of the tract backend (not a test: it prints figures, asserts nothing).
//!
//! 1. SingleStream-style p50 through edgemark's `Sut::issue` vs a bare loop
//!    calling tract's `run` on the same plan state with the same inputs
//!    (alternating query by query so drift hits both alike; target ratio <= 1.01).
//! 2. Offline samples/s with 1 vs 2 pinned instances (target >= 1.9x on 2 cores).
//! 3. Single-thread p50 of mobilenetv2-fp32.onnx, to set beside
//!    scripts/bench_ort.py (onnxruntime) on the same model.
//! 4. The CPU kernels tract-linalg selects on this machine.
//!
//! Run: scripts/bench_tract.sh (or `cargo bench --profile dev --bench tract_bench`;
//! the dev profile builds tract at opt-level 2 and keeps the build short).
//! Env: EDGEMARK_BENCH_QUERIES (default 200), EDGEMARK_BENCH_OFFLINE (default 200),
//! EDGEMARK_BENCH_PARTS (singlestream,offline,kernels; default all).

use std::path::PathBuf;
use std::time::Instant;

use edgemark::engine::tract::affinity;
use edgemark::loadgen::Clock;
use edgemark::plan::{ModelSpec, SutSpec};
use edgemark::sut::Sut;
use edgemark::sut::tract::TractSut;
use tract_onnx::prelude::*;

struct Monotonic(Instant);
impl Clock for Monotonic {
    fn now_ns(&self) -> u64 {
        self.0.elapsed().as_nanos() as u64
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn spec(path: &str, instances: u32, threads: u32, cpus: Vec<u32>) -> SutSpec {
    SutSpec::Model(ModelSpec {
        path: path.into(),
        input_shapes: vec![],
        inputs: vec![],
        instances,
        threads,
        cpus: edgemark::plan::Pinning::both(cpus),
    })
}

fn percentile(v: &mut [u64], p: f64) -> u64 {
    v.sort_unstable();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// Results of the SingleStream comparison, in ns.
struct SingleStreamCmp {
    edgemark_p50: u64,
    bare_p50: u64,
    queries: usize,
}

/// Interleaves rounds of edgemark's `issue` and a bare `state.run` loop on the
/// same plan state and samples.
fn single_stream_vs_bare(path: &str, threads: u32, queries: usize) -> SingleStreamCmp {
    let mut sut = TractSut::new(&spec(path, 1, threads, vec![])).expect("model loads");
    let loaded: Vec<usize> = (0..8).collect();
    sut.load_samples(&loaded).unwrap();
    for i in 0..3 {
        sut.warm_up(i).unwrap();
    }
    let inputs: Vec<TVec<TValue>> = loaded
        .iter()
        .map(|&i| sut.loaded_sample(i).unwrap().clone())
        .collect();
    let clock = Monotonic(Instant::now());
    let mut ours = Vec::with_capacity(queries);
    let mut bare = Vec::with_capacity(queries);
    // Alternating query by query, and which loop goes first, so neither gains
    // from drift (load, clocks) or from the other having just warmed the caches
    // with the same input.
    for q in 0..queries {
        for turn in [q % 2, 1 - q % 2] {
            let x = q % loaded.len();
            if turn == 0 {
                let sut: &mut dyn Sut = &mut sut;
                let t0 = clock.now_ns();
                sut.issue(x).unwrap();
                ours.push(clock.now_ns() - t0);
            } else {
                // What a bare loop does: clone the input handle, run, drop the outputs.
                let state = sut.single_state();
                let t0 = clock.now_ns();
                drop(state.run(inputs[x].clone()).unwrap());
                bare.push(clock.now_ns() - t0);
            }
        }
    }
    SingleStreamCmp {
        edgemark_p50: percentile(&mut ours, 0.5),
        bare_p50: percentile(&mut bare, 0.5),
        queries: ours.len(),
    }
}

/// CPU time of the whole process, ns.
fn process_cpu_ns() -> u64 {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID).unwrap();
    t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
}

/// Offline samples/s (first issue to last completion, as LoadGen measures it)
/// and the CPUs kept busy meanwhile (process CPU time / wall time): with N
/// instances it should approach N unless other processes hold the cores.
fn offline_rate(path: &str, instances: u32, cpus: Vec<u32>, samples: usize) -> (f64, f64) {
    let mut sut = TractSut::new(&spec(path, instances, 1, cpus)).expect("model loads");
    let loaded: Vec<usize> = (0..16).collect();
    sut.load_samples(&loaded).unwrap();
    sut.warm_up(0).unwrap();
    let order: Vec<usize> = (0..samples).map(|i| i % loaded.len()).collect();
    let mut done = vec![0u64; samples];
    let clock = Monotonic(Instant::now());
    let cpu0 = process_cpu_ns();
    let start = clock.now_ns();
    sut.issue_all(
        &order,
        &clock,
        &mut done,
        &std::sync::atomic::AtomicU64::new(0),
    )
    .unwrap();
    let last = *done.iter().max().unwrap();
    let busy = (process_cpu_ns() - cpu0) as f64 / (clock.now_ns() - start) as f64;
    (samples as f64 / ((last - start) as f64 / 1e9), busy)
}

/// What tract-linalg can use on this CPU and which f32 routines it picks.
fn print_machine_kernels() {
    let isa = tract_linalg::isa::native();
    println!(
        "kernels: CPU instruction set tract-linalg detected: {} ({isa:?})",
        isa.nickname()
    );
    let runnable: Vec<String> = tract_linalg::mmm_routines::runnable_for(&isa)
        .iter()
        .map(|k| k.name().to_string())
        .collect();
    println!(
        "kernels: mmm kernels runnable here ({}): {}",
        runnable.len(),
        runnable.join(", ")
    );
    let chosen: Vec<String> = tract_linalg::routines::Func::ALL
        .iter()
        .filter_map(|&f| {
            let r = tract_linalg::routines::best_for(f, DatumType::F32, &isa)?;
            Some(format!("{}={}", f.name(), r.name()))
        })
        .collect();
    println!("kernels: f32 routines selected here: {}", chosen.join(", "));
}

/// The optimised ops of a model and the matmul kernels its plan chose.
fn print_model_kernels(label: &str, sut: &TractSut) {
    let mut used = std::collections::BTreeMap::<String, usize>::new();
    let mut ops = std::collections::BTreeMap::<String, usize>::new();
    for node in sut.model().nodes() {
        *ops.entry(node.op().name().to_string()).or_default() += 1;
        for line in node.op().info().unwrap_or_default() {
            if let Some(w) = line.find(" with ") {
                *used.entry(line[w + 6..].to_string()).or_default() += 1;
            }
        }
    }
    println!("kernels: {label}: optimised ops: {ops:?}");
    for (k, n) in used {
        println!("kernels: {label}: matmul kernel used by {n} node(s): {k}");
    }
}

fn main() {
    // `cargo bench` passes --bench; nothing else is accepted.
    let queries = env_usize("EDGEMARK_BENCH_QUERIES", 200);
    // EDGEMARK_BENCH_PARTS=offline,kernels runs only those parts.
    let parts = std::env::var("EDGEMARK_BENCH_PARTS").unwrap_or_default();
    let part = |name: &str| parts.is_empty() || parts.split(',').any(|p| p == name);
    let offline = env_usize("EDGEMARK_BENCH_OFFLINE", 200);
    let shared = std::env::var_os("EDGEMARK_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let mnv2 = shared.join("models/mobilenetv2-fp32.onnx");
    let cpus = affinity::allowed_cpus();
    println!(
        "bench: {} cpus allowed: {cpus:?}; profile {}",
        cpus.len(),
        if cfg!(debug_assertions) {
            "dev (deps opt-level 2)"
        } else {
            "release"
        }
    );

    // "" = the built-in model.
    let mut models = vec![("built-in MobileNet-v1 0.25".to_string(), String::new())];
    if mnv2.is_file() {
        models.push((
            "mobilenetv2-fp32.onnx".into(),
            mnv2.to_string_lossy().into_owned(),
        ));
    } else {
        println!(
            "bench: SKIPPED mobilenetv2-fp32.onnx (missing at {})",
            mnv2.display()
        );
    }

    for (label, path) in models.iter().filter(|_| part("singlestream")) {
        for threads in [1u32, cpus.len() as u32] {
            let r = single_stream_vs_bare(path, threads, queries);
            println!(
                "singlestream {label} threads={threads}: edgemark p50 {:.3} ms, bare tract run p50 {:.3} ms, ratio {:.4} ({} queries each)",
                r.edgemark_p50 as f64 / 1e6,
                r.bare_p50 as f64 / 1e6,
                r.edgemark_p50 as f64 / r.bare_p50 as f64,
                r.queries
            );
            if threads as usize == cpus.len() {
                break;
            }
        }
    }
    for (label, path) in models.iter().filter(|_| part("offline")) {
        let (one, busy1) = offline_rate(path, 1, vec![cpus[0]], offline);
        let two_cpus = cpus.iter().copied().cycle().take(2).collect();
        let (two, busy2) = offline_rate(path, 2, two_cpus, offline);
        println!(
            "offline {label}: 1 instance {one:.1} samples/s ({busy1:.2} CPUs busy), 2 instances {two:.1} samples/s ({busy2:.2} CPUs busy), scaling {:.3}x ({offline} samples)",
            two / one
        );
        // Throughput per CPU-second: equal for 1 and 2 instances means the
        // instances do not slow each other (no shared lock, no bandwidth limit);
        // the wall-clock scaling then only depends on how many CPUs we get.
        println!(
            "offline {label}: samples per CPU-second: 1 instance {:.1}, 2 instances {:.1} (efficiency {:.3})",
            one / busy1,
            two / busy2,
            (two / busy2) / (one / busy1)
        );
    }
    if part("kernels") {
        print_machine_kernels();
        let qdq = shared.join("models/mobilenetv2-int8-qdq.onnx");
        let mut all = models.clone();
        if qdq.is_file() {
            all.push((
                "mobilenetv2-int8-qdq.onnx".into(),
                qdq.to_string_lossy().into_owned(),
            ));
        }
        for (label, path) in &all {
            let sut = TractSut::new(&spec(path, 1, 1, vec![])).unwrap();
            print_model_kernels(label, &sut);
        }
    }
}
