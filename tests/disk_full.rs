//! Full and broken results disks (issue 15): a results directory on a tiny
//! tmpfs that fills up mid-write, mounted read-only, or a path under a regular
//! file. The run must end with an error naming the path (exit 1), leave no
//! partial or temp file, and keep the records written before intact; a
//! directory that cannot take a file fails before anything is measured.
//!
//! The tmpfs cases need root (CI runs as root; elsewhere they skip loudly).
//! Each case prints what the user sees, for the note.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Tmpfs, can_mount};
use edgemark::record::Record;

const BIN: &str = env!("CARGO_BIN_EXE_edgemark");

/// `edgemark run` of the synthetic SUT, one SingleStream scenario, records in
/// `results`. `--trace` keeps every latency, so the record is ~20 KB: larger
/// than the page left free, so the disk fills in the middle of writing it.
fn run(results: &Path, extra: &[&str]) -> Output {
    Command::new(BIN)
        .args([
            "run",
            "--scenario",
            "single-stream",
            "--min-duration-ms",
            "1",
            "--min-query-count",
            "4000",
            "--trace",
        ])
        .args(extra)
        .arg("--results")
        .arg(results)
        .arg("--root")
        .arg(common::bare_root())
        .output()
        .unwrap()
}

fn show(case: &str, out: &Output) {
    eprintln!(
        "---- {case}: exit {:?}\n---- stderr:\n{}---- stdout (last 3 lines):\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .rev()
            .take(3)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn records_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "emrec"))
        .collect();
    v.sort();
    v
}

#[test]
fn disk_full_mid_write_fails_naming_the_record_and_keeps_earlier_records() {
    if !can_mount("disk_full_mid_write") {
        return;
    }
    let fs = Tmpfs::mount("full", 64 * 1024, "");
    let results = fs.dir.join("results");
    let first = run(&results, &["--sut", "synthetic:null"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let earlier = records_in(&results);
    assert_eq!(earlier.len(), 1);
    let earlier_bytes = std::fs::read(&earlier[0]).unwrap();
    assert!(
        earlier_bytes.len() > 8192,
        "record too small ({} B) to fill the disk mid-write",
        earlier_bytes.len()
    );

    // One page left: the probe's few bytes fit, the next record does not.
    fs.fill_leaving(4096);
    let out = run(&results, &["--sut", "synthetic:null"]);
    show("disk full mid-write", &out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot write record {}/", results.display()))
            && stderr.contains("No space left on device"),
        "{stderr}"
    );
    // What was measured is still shown.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("SingleStream"), "{stdout}");
    // No partial record, no temp file: only the earlier record, intact.
    let names: Vec<String> = std::fs::read_dir(&results)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert_eq!(std::fs::read(&earlier[0]).unwrap(), earlier_bytes);
    Record::read(&earlier[0]).unwrap();
    assert_eq!(fs.names(), ["filler", "results"]);
}

#[test]
fn disk_full_before_the_run_fails_before_the_model_loads() {
    if !can_mount("disk_full_before_the_run") {
        return;
    }
    let fs = Tmpfs::mount("full0", 64 * 1024, "");
    let results = fs.dir.join("results");
    std::fs::create_dir(&results).unwrap();
    fs.fill_leaving(0);
    // A model file that fails to load: had the run started, the error would be
    // about the model. The results directory is checked first.
    let model = std::env::temp_dir().join(format!("edgemark-full-{}.onnx", std::process::id()));
    std::fs::write(&model, b"\x08not a model").unwrap();
    let out = run(&results, &["--model", model.to_str().unwrap()]);
    std::fs::remove_file(&model).unwrap();
    show("disk already full", &out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "results directory {} is not writable",
            results.display()
        )) && stderr.contains("No space left on device"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing ran");
    assert_eq!(std::fs::read_dir(&results).unwrap().count(), 0);
}

#[test]
fn read_only_results_dir_fails_before_the_model_loads() {
    if !can_mount("read_only_results_dir") {
        return;
    }
    let fs = Tmpfs::mount("ro", 64 * 1024, "ro");
    let model = std::env::temp_dir().join(format!("edgemark-ro-{}.onnx", std::process::id()));
    std::fs::write(&model, b"\x08not a model").unwrap();
    let out = run(&fs.dir, &["--model", model.to_str().unwrap()]);
    std::fs::remove_file(&model).unwrap();
    show("read-only results dir", &out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "results directory {} is not writable",
            fs.dir.display()
        )) && stderr.contains("Read-only file system"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing ran");
}

/// Needs no root: a path under a regular file can never be a directory.
#[test]
fn results_dir_under_a_regular_file_fails_before_the_model_loads() {
    let dir = std::env::temp_dir().join(format!("edgemark-underfile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("file"), b"x").unwrap();
    let model = dir.join("broken.onnx");
    std::fs::write(&model, b"\x08not a model").unwrap();
    let results = dir.join("file/results");
    let out = run(&results, &["--model", model.to_str().unwrap()]);
    show("results dir under a regular file", &out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "results directory {} is not writable",
            results.display()
        )) && !stderr.contains("broken.onnx"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing ran");
    std::fs::remove_dir_all(&dir).unwrap();
}
