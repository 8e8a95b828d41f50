//! Time decoding + preprocessing (imagenet-torch, 1x3x224x224 f32) per image of a
//! folder: the cost LoadGen's QSL pays before timing, and accuracy mode per sample.
//!
//! cargo run --example preprocess_bench -- IMAGES_DIR [ROUNDS]

use std::time::Instant;

use edgemark::dataset::image::{Preprocess, PreprocessConfig, Preset, decode};
use edgemark::dataset::{DType, InputSpec};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| "../shared/images".into()));
    let rounds: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(3);
    let spec = InputSpec {
        shape: vec![1, 3, 224, 224],
        dtype: DType::F32,
        quant: None,
    };
    let prep = Preprocess::new(&PreprocessConfig::preset(Preset::ImagenetTorch), &spec)?;
    let mut files: Vec<_> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "jpg" || e == "png"))
        .collect();
    files.sort();
    let (mut dec_ns, mut prep_ns, mut n) = (0u128, 0u128, 0u32);
    for _ in 0..rounds {
        for f in &files {
            let t0 = Instant::now();
            let img = decode(f)?;
            let t1 = Instant::now();
            let t = prep.apply(&img);
            let t2 = Instant::now();
            std::hint::black_box(t);
            dec_ns += (t1 - t0).as_nanos();
            prep_ns += (t2 - t1).as_nanos();
            n += 1;
        }
    }
    let per = |ns: u128| ns as f64 / n.max(1) as f64 / 1e6;
    println!(
        "{} images x {rounds} rounds: decode {:.2} ms/image, resize+crop+normalise {:.2} ms/image",
        files.len(),
        per(dec_ns),
        per(prep_ns)
    );
    Ok(())
}
