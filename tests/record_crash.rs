//! kill -9 at random moments while records are being written: afterwards every
//! file under a record's name must decode, and leftover temp files must not be
//! taken for records.
//!
//! The child is this test binary itself, re-run on the hidden `child_writer`
//! (ignored) test with `EDGEMARK_CRASH_CHILD` set to the directory it writes into.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use edgemark::record::{self, EXTENSION, Record, writer};

const CHILD_ENV: &str = "EDGEMARK_CRASH_CHILD";

/// Runs only as the child: writes traced records (a few hundred KB each, so
/// kills land mid-write too) until killed.
#[test]
#[ignore = "child process of kill_9_never_leaves_a_partial_record"]
fn child_writer() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let mut rec = record::example_record(0);
    let trace = rec.trace.as_mut().unwrap();
    trace.issued_sample_index = (0..50_000u32).map(|i| i % 1024).collect();
    trace.latency_ns = (0..50_000u64)
        .map(|i| 1_000_000 + (i * 7919) % 50_000)
        .collect();
    for i in 0.. {
        rec.run_id = writer::random_run_id();
        rec.wall_start_ns = i;
        writer::write_record(&dir, &rec).expect("child write");
    }
}

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

#[test]
fn kill_9_never_leaves_a_partial_record() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("edgemark-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut seed = Instant::now().elapsed().as_nanos() as u64
        ^ 0x2545_f491_4f6c_dd1d
        ^ u64::from(std::process::id());
    let kills = 120;
    for _ in 0..kills {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "child_writer",
                "--ignored",
                "--test-threads=1",
                "--nocapture",
            ])
            .env(CHILD_ENV, &dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Random point in the child's life: startup, mid-write, between writes.
        std::thread::sleep(Duration::from_micros(xorshift(&mut seed) % 30_000));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }

    let (mut records, mut temps) = (0, 0);
    for p in entries(&dir) {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(writer::TMP_SUFFIX) {
            assert!(name.starts_with('.'), "temp file not hidden: {name}");
            temps += 1;
            continue;
        }
        assert!(
            name.ends_with(&format!(".{EXTENSION}")),
            "unexpected file {name}"
        );
        Record::read(&p).unwrap_or_else(|e| panic!("partial or corrupt record after kill -9: {e}"));
        records += 1;
    }
    eprintln!("{kills} kills: {records} whole records, {temps} leftover temp files, 0 bad");
    assert!(
        records > 0,
        "the child never finished a record; the test proved nothing"
    );

    // `report` on the directory ignores the temp files and finds no bad record.
    let out = Command::new(env!("CARGO_BIN_EXE_edgemark"))
        .args(["report", "--format", "csv"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "report failed: {stderr}");
    let rows = String::from_utf8_lossy(&out.stdout).lines().count();
    assert_eq!(rows, records + 1, "csv rows (with header) != records");
    std::fs::remove_dir_all(&dir).unwrap();
}
