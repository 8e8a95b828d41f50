//! The fuzzers' corpora replayed on stable: every file under
//! `fuzz/corpus/<target>/` (seeds and the inputs the fuzzer found
//! interesting, minimised) and `fuzz/regressions/<target>/` (the input of
//! every crash the fuzzer found, kept whatever a later minimisation keeps)
//! goes through the same
//! `edgemark::fuzzing` entry point the fuzz target calls. Seconds, no nightly.
//! A panic in edgemark's own code (even one a guard turned into an error) and
//! one escaping from anywhere both fail the test, naming the file.

use std::path::PathBuf;

#[test]
fn every_corpus_file_goes_through_its_parser_without_a_panic() {
    edgemark::fuzzing::install_panic_hook(false);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut total = 0;
    for &(name, entry) in edgemark::fuzzing::TARGETS {
        let dir = root.join("corpus").join(name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        if let Ok(rd) = std::fs::read_dir(root.join("regressions").join(name)) {
            files.extend(rd.map(|e| e.unwrap().path()));
        }
        files.sort();
        assert!(!files.is_empty(), "corpus {} is empty", dir.display());
        let start = std::time::Instant::now();
        for f in &files {
            let data = std::fs::read(f).unwrap();
            let escaped = std::panic::catch_unwind(|| entry(&data)).is_err();
            let own = edgemark::fuzzing::take_own_panics();
            assert!(
                !escaped && own.is_empty(),
                "{name}: {} panicked: {own:?}",
                f.display()
            );
        }
        println!(
            "{name}: {} corpus files in {:.2} s",
            files.len(),
            start.elapsed().as_secs_f64()
        );
        total += files.len();
    }
    println!("{total} corpus files replayed");
}
