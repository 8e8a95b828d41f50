//! `edgemark report` as a user runs it: a directory of good and bad files,
//! each output format, exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use edgemark::record::{Record, example_record, writer};

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("edgemark-report-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn report(args: &[&str], paths: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_edgemark"))
        .arg("report")
        .args(args)
        .args(paths)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Two good records (in a nested folder) plus every kind of bad file.
fn mixed_dir(tag: &str) -> (PathBuf, Vec<PathBuf>) {
    let dir = tmpdir(tag);
    let nested = dir.join("pi/2026");
    let mut a = example_record(1);
    a.host.hostname = "pi4-lab".into();
    let mut b = example_record(2);
    b.host.hostname = "orin".into();
    b.plan.scenario = edgemark::record::Scenario::Offline;
    b.result.as_mut().unwrap().samples_per_second = 512.25;
    let good = vec![
        writer::write_record(&nested, &a).unwrap(),
        writer::write_record(&dir, &b).unwrap(),
    ];

    let bytes = example_record(3).encode();
    std::fs::write(dir.join("truncated.emrec"), &bytes[..bytes.len() / 2]).unwrap();
    let mut flipped = bytes.clone();
    flipped[bytes.len() - 20] ^= 0x04;
    std::fs::write(dir.join("bitflip.emrec"), &flipped).unwrap();
    std::fs::write(dir.join("zero.emrec"), b"").unwrap();
    let mut x: u64 = 0x1234_5678;
    let random: Vec<u8> = (0..777)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(nested.join("random.emrec"), random).unwrap();
    // Neither of these is a record and neither must be reported as bad.
    std::fs::write(dir.join(".half-written.emrec.123.tmp"), &bytes[..10]).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a record").unwrap();
    (dir, good)
}

#[test]
fn bad_files_are_named_good_ones_still_reported_exit_1() {
    let (dir, _) = mixed_dir("mixed");
    let out = report(&[], &[&dir]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    for (file, why) in [
        ("truncated.emrec", "truncated"),
        ("bitflip.emrec", "checksum mismatch"),
        ("zero.emrec", "empty file"),
        ("random.emrec", "bad magic"),
    ] {
        let line = stderr
            .lines()
            .find(|l| l.contains(file))
            .unwrap_or_else(|| panic!("{file} not named:\n{stderr}"));
        assert!(line.contains(why), "{file}: expected {why:?} in {line:?}");
    }
    assert!(
        !stderr.contains(".tmp") && !stderr.contains("notes.txt"),
        "{stderr}"
    );
    assert!(
        stderr.contains("4 bad file(s), 2 record(s) reported"),
        "{stderr}"
    );
    assert!(
        stdout.contains("pi4-lab") && stdout.contains("orin"),
        "{stdout}"
    );
    assert!(stdout.contains("512.25 /s"), "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn good_records_exit_0_in_every_format() {
    let (dir, good) = mixed_dir("formats");
    let files: Vec<&Path> = good.iter().map(|p| p.as_path()).collect();

    let out = report(&["--format", "csv", "--sort", "host"], &files);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[1].contains(",orin,") && lines[2].contains(",pi4-lab,"),
        "sorted by host:\n{csv}"
    );

    let out = report(&["--format", "csv", "--sort", "host", "--reverse"], &files);
    let csv = text(&out.stdout);
    assert!(csv.lines().nth(1).unwrap().contains(",pi4-lab,"), "{csv}");

    let out = report(&["--format", "json"], &files);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["records"].as_array().unwrap().len(), 2);

    let out = report(&["--format", "hyperfine"], &files);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["results"].as_array().unwrap().len(), 2);

    let out = report(&["--format", "prom"], &files);
    let prom = text(&out.stdout);
    assert!(
        prom.contains("edgemark_samples_per_second{host=\"orin\""),
        "{prom}"
    );

    let mlperf_out = dir.join("logs");
    let out = report(
        &["--format", "mlperf", "--out", mlperf_out.to_str().unwrap()],
        &files,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for p in &good {
        let d = mlperf_out.join(p.file_stem().unwrap());
        let summary = std::fs::read_to_string(d.join("mlperf_log_summary.txt")).unwrap();
        assert!(summary.contains("MLPerf Results Summary"));
        let detail = std::fs::read_to_string(d.join("mlperf_log_detail.txt")).unwrap();
        assert!(detail.lines().all(|l| l.starts_with(":::MLLOG {")));
        assert!(
            detail.contains("{\"key\": \"result_validity\", \"value\": \"INVALID\""),
            "{detail}"
        );
    }

    let out = report(&["--group-by", "host"], &files);
    let table = text(&out.stdout);
    assert!(
        table.contains("== host: orin ==") && table.contains("== host: pi4-lab =="),
        "{table}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn usage_errors_exit_2_and_missing_paths_exit_1() {
    let out = report(&["--format", "xml"], &[Path::new(".")]);
    assert_eq!(out.status.code(), Some(2));
    let out = report(&[], &[]);
    assert_eq!(out.status.code(), Some(2));
    let missing = Path::new("/nonexistent/edgemark/records");
    let out = report(&[], &[missing]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("/nonexistent/edgemark/records"));
}

#[test]
fn many_random_and_mutated_files_never_panic() {
    let dir = tmpdir("fuzzish");
    let good = example_record(9).encode();
    let mut x: u64 = 0xdead_beef;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..200 {
        let mut b = good.clone();
        match i % 4 {
            0 => b.truncate((rnd() as usize) % good.len()),
            1 => {
                let at = (rnd() as usize) % b.len();
                b[at] ^= 1 << (rnd() % 8);
            }
            2 => b = (0..(rnd() % 300)).map(|_| rnd() as u8).collect(),
            _ => {
                // Keep a valid header but random payload of the declared length.
                for byte in b
                    .iter_mut()
                    .skip(Record::decode(&good).map(|_| 18).unwrap())
                {
                    *byte = rnd() as u8;
                }
            }
        }
        std::fs::write(dir.join(format!("m{i:03}.emrec")), &b).unwrap();
    }
    let out = report(&["--format", "json"], &[&dir]);
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let named = v["bad"].as_array().unwrap().len() + v["records"].as_array().unwrap().len();
    assert_eq!(named, 200, "every file is either reported or named bad");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Records of one model from tract and from an exec: SUT (as written by
/// `run`): the table and the HTML page put the engines side by side, tract
/// first, with ratios against it.
#[test]
fn engines_of_one_model_are_shown_side_by_side() {
    let dir = tmpdir("engines");
    let engine = |seed: u64, name: &str, version: &str, p50: u64, sps: f64| {
        let mut r = example_record(seed);
        r.engine = Some(edgemark::record::Engine {
            name: name.into(),
            version: version.into(),
            command: vec!["python3".into(), "ort_sut.py".into()],
            protocol_version: u32::from(name != "tract"),
            round_trip_ns: if name == "tract" { 0 } else { 9_840 },
            stderr_tail: Vec::new(),
        });
        let res = r.result.as_mut().unwrap();
        res.p50_ns = p50;
        res.samples_per_second = sps;
        writer::write_record(&dir, &r).unwrap();
    };
    engine(1, "onnxruntime", "1.32.0", 6_000_000, 150.0);
    engine(2, "tract", "0.23.9", 10_000_000, 100.0);
    let out = report(&[], &[&dir]);
    let t = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let at = t
        .find("engines side by side (ratios against the first engine):")
        .unwrap_or_else(|| panic!("{t}"));
    let lines: Vec<&str> = t[at..].lines().collect();
    assert!(
        lines[2].starts_with("== mobilenet_v2.onnx SingleStream on "),
        "{t}"
    );
    assert!(
        lines[4].starts_with("tract 0.23.9") && lines[4].contains("1.00x"),
        "{t}"
    );
    assert!(
        lines[5].starts_with("onnxruntime 1.32.0")
            && lines[5].contains("0.60x")
            && lines[5].contains("1.50x")
            && lines[5].ends_with("9.840 µs"),
        "{t}"
    );
    let page = dir.join("page.html");
    let out = report(
        &["--format", "html", "--out", page.to_str().unwrap()],
        &[&dir],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(html.matches("<tr class=\"engine-run").count(), 2, "{html}");
    let _ = std::fs::remove_dir_all(&dir);
}
