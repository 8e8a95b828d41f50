//! Accuracy of one or two models on a labelled image folder, with per-image timing
//! and, for two models, the side-by-side comparison (the second against the first).
//! Stand-in for `edgemark run --mode accuracy` until the CLI wiring lands.
//!
//! cargo run --example accuracy_eval -- IMAGES_DIR LABELS MODEL [MODEL2] [CLASS_NAMES]

#[cfg(feature = "tract")]
fn main() -> anyhow::Result<()> {
    use std::path::PathBuf;

    use edgemark::accuracy::{self, classification::ClassificationScorer};
    use edgemark::dataset::image::{ImageFolder, Preprocess, PreprocessConfig, Preset};
    use edgemark::dataset::labels::{Labels, load_class_names};
    use edgemark::engine::tract::TractModel;
    use edgemark::record::{Accuracy, AccuracyDetails};
    use edgemark::report::accuracy::{Variant, write_comparison, write_summary};

    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if args.len() < 3 {
        eprintln!("usage: accuracy_eval IMAGES_DIR LABELS MODEL [MODEL2] [CLASS_NAMES]");
        std::process::exit(2);
    }
    let (images, labels_path) = (&args[0], &args[1]);
    let models: Vec<&PathBuf> = args[2..]
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "onnx" || e == "tflite"))
        .collect();
    let names = args[2..]
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "txt"))
        .map(|p| load_class_names(p))
        .transpose()?;
    let mut results = Vec::new();
    for path in &models {
        let labels = Labels::load(labels_path)?;
        let t0 = std::time::Instant::now();
        let mut m = TractModel::load(path, &[]).map_err(|e| anyhow::anyhow!("{e}"))?;
        let load = t0.elapsed();
        let prep = Preprocess::new(&PreprocessConfig::preset(Preset::ImagenetTorch), &m.input)?;
        let data = ImageFolder::new(images, labels.files(), prep);
        let scorer = ClassificationScorer::new(labels, m.output_len)?;
        // One untimed warm-up inference, as in performance mode.
        let probe = edgemark::dataset::Dataset::load(&data, 0)?;
        m.infer(&probe).map_err(|e| anyhow::anyhow!("{e}"))?;
        let r = accuracy::run(&mut |t| Ok(m.infer(t)?), &data, scorer)?;
        let title = format!(
            "{} (model load {:.0} ms)",
            path.display(),
            load.as_secs_f64() * 1e3
        );
        // The printers take what a record keeps, per-sample details included.
        let a = Accuracy::from_result(
            &images.display().to_string(),
            Some(labels_path.display().to_string()),
            "imagenet-torch".into(),
            &r,
        );
        let details = AccuracyDetails::from_result(&r, names.as_deref(), &a);
        write_summary(&mut std::io::stdout(), &title, &a, Some(&details))?;
        results.push((path.file_name().unwrap().to_string_lossy().into_owned(), a));
    }
    if let [(a, ra), (b, rb)] = &results[..] {
        println!();
        write_comparison(
            &mut std::io::stdout(),
            &Variant::from_accuracy(a, ra),
            &Variant::from_accuracy(b, rb),
        )?;
    }
    Ok(())
}

#[cfg(not(feature = "tract"))]
fn main() {
    eprintln!("accuracy_eval needs the `tract` feature");
    std::process::exit(2);
}
