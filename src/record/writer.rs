//! Crash-safe record files: written under a temporary name, fsynced, renamed
//! into place, then the directory fsynced. A crash at any moment leaves either
//! no record or a whole one (plus perhaps a `.tmp` file that `report` ignores and
//! the next write into that directory removes). A write that fails (disk full,
//! I/O error) removes its temporary file: no partial file is ever left.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{EXTENSION, Record};

/// Default results directory, relative to the working directory.
pub const DEFAULT_DIR: &str = "edgemark-results";
/// Suffix of in-progress files.
pub const TMP_SUFFIX: &str = ".tmp";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    #[error("cannot create results directory {}: {source}", path.display())]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot write record {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    /// The probe before a run: creating and removing a file failed.
    #[error("results directory {} is not writable: {source}", path.display())]
    NotWritable { path: PathBuf, source: io::Error },
}

/// `host_20260128T101500Z_single-stream_1234abcd5678ef90.emrec`: host and run
/// id keep names from many hosts (and many runs a second) apart; the UTC time
/// sorts them.
pub fn file_name(rec: &Record) -> String {
    let host: String = rec
        .host
        .hostname
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    let host = if host.is_empty() || host.starts_with('.') {
        format!("host{host}")
    } else {
        host
    };
    let scenario = match (rec.is_accuracy_only(), rec.plan.scenario) {
        (true, _) => "accuracy",
        (false, super::Scenario::SingleStream) => "single-stream",
        (false, super::Scenario::Offline) => "offline",
    };
    format!(
        "{host}_{}_{scenario}_{:016x}.{EXTENSION}",
        utc_stamp(rec.wall_start_ns),
        rec.run_id
    )
}

/// `YYYYMMDDTHHMMSSZ` from Unix ns (civil-from-days, no time crate needed).
pub fn utc_stamp(unix_ns: u64) -> String {
    let secs = unix_ns / 1_000_000_000;
    let days = (secs / 86_400) as i64;
    let sod = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `.NAME.PID.tmp`: hidden and suffixed, so no reader takes it for a record;
/// pid-unique so two processes never share one, and so a leftover can be told
/// from a file another live process is still writing.
fn temp_name(name: &str) -> String {
    format!(".{name}.{}{TMP_SUFFIX}", std::process::id())
}

/// The writer's pid in a temp file name made by [`temp_name`], else None (a
/// file that is not ours: never touched).
fn temp_owner(file_name: &str) -> Option<i32> {
    let stem = file_name.strip_prefix('.')?.strip_suffix(TMP_SUFFIX)?;
    let (name, pid) = stem.rsplit_once('.')?;
    if name.is_empty() || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok().filter(|&p| p > 0)
}

/// Whether process `pid` exists (EPERM: it does, owned by someone else).
fn alive(pid: i32) -> bool {
    use nix::errno::Errno;
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(e) => e != Errno::ESRCH,
    }
}

/// Removes the temp files in `dir` left by writers that died mid-write
/// (`kill -9`, power loss): those whose pid no longer runs. Files of live
/// processes (including this one: another thread may be writing) and every
/// file not named like ours are left alone. Best effort; returns how many
/// were removed.
pub fn remove_stale_temps(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let me = std::process::id() as i32;
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(temp_owner) else {
            continue;
        };
        if pid != me && !alive(pid) && fs::remove_file(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Checks, before anything is measured, that records can be written into
/// `dir`: creates it if missing, then creates, writes, syncs and removes a
/// temp file there (permission bits say nothing to root; a read-only mount, a
/// path under a regular file or a full disk only show on a real write). Also
/// removes stale temp files left by crashed writers.
pub fn probe_dir(dir: &Path) -> Result<(), WriteError> {
    let not_writable = |source| WriteError::NotWritable {
        path: dir.to_path_buf(),
        source,
    };
    fs::create_dir_all(dir).map_err(not_writable)?;
    remove_stale_temps(dir);
    let tmp = dir.join(temp_name("edgemark-probe"));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(b"edgemark")?;
        f.sync_all()
    })();
    // Removed whatever happened; a probe file that cannot be removed is a
    // directory we cannot manage either.
    let removed = fs::remove_file(&tmp);
    result.and(removed).map_err(not_writable)
}

/// Writes `rec` into `dir` (created if missing) and returns the record's path.
/// Stale temp files of crashed writers in `dir` are removed first.
pub fn write_record(dir: &Path, rec: &Record) -> Result<PathBuf, WriteError> {
    fs::create_dir_all(dir).map_err(|source| WriteError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    remove_stale_temps(dir);
    let name = file_name(rec);
    let path = dir.join(&name);
    let tmp = dir.join(temp_name(&name));
    let bytes = rec.encode();
    let werr = |p: &Path| {
        let p = p.to_path_buf();
        move |source| WriteError::Write { path: p, source }
    };
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        drop(f);
        // Never replace an existing record (a run id collision is astronomically
        // unlikely, but losing a result silently is worse than failing).
        if path.exists() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "a record with this name already exists",
            ));
        }
        fs::rename(&tmp, &path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(werr(&path))?;
    Ok(path)
}

/// Makes the rename durable. Filesystems that cannot fsync a directory (some
/// FUSE and network mounts say EINVAL) still have the whole file in place.
fn sync_dir(dir: &Path) -> io::Result<()> {
    match File::open(dir).and_then(|d| d.sync_all()) {
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => Ok(()),
        other => other,
    }
}

/// Wall-clock now, Unix epoch ns, for a record's start/end (0 if the clock
/// is before 1970, which only a board without RTC and NTP shows).
pub fn unix_now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// A random run id from the OS (no rand crate): /dev/urandom, else time and pid.
pub fn random_run_id() -> u64 {
    let mut buf = [0u8; 8];
    if let Ok(mut f) = File::open("/dev/urandom")
        && io::Read::read_exact(&mut f, &mut buf).is_ok()
    {
        return u64::from_le_bytes(buf);
    }
    unix_now_ns() ^ (u64::from(std::process::id()) << 32) ^ 0x9e37_79b9_7f4a_7c15
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::example_record;

    #[test]
    fn utc_stamps() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        // 2026-11-28 12:13:00 UTC
        assert_eq!(utc_stamp(1_795_867_980 * 1_000_000_000), "20261128T121300Z");
        // Leap day.
        assert_eq!(utc_stamp(951_782_400 * 1_000_000_000), "20000229T000000Z");
    }

    #[test]
    fn names_carry_host_time_scenario_and_run_id() {
        let mut r = example_record(0);
        r.host.hostname = "pi 4/lab".into();
        r.wall_start_ns = 1_795_867_980 * 1_000_000_000;
        r.run_id = 0xabc;
        assert_eq!(
            file_name(&r),
            "pi-4-lab_20261128T121300Z_single-stream_0000000000000abc.emrec"
        );
        r.host.hostname = String::new();
        assert!(file_name(&r).starts_with("host_"));
    }

    #[test]
    fn writes_a_whole_record_and_no_temp_file() {
        let dir = std::env::temp_dir().join(format!("edgemark-writer-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let rec = example_record(5);
        let p = write_record(&dir.join("nested"), &rec).unwrap();
        assert_eq!(Record::read(&p).unwrap(), rec);
        let names: Vec<_> = fs::read_dir(dir.join("nested"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        // Same name again: refused, the first record kept intact.
        let e = write_record(&dir.join("nested"), &rec).unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
        assert_eq!(Record::read(&p).unwrap(), rec);
        assert_eq!(fs::read_dir(dir.join("nested")).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    fn scratch(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("edgemark-writer-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The pid of a process that has exited (reaped), so no longer runs.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    #[test]
    fn temp_names_carry_the_writers_pid() {
        let me = std::process::id() as i32;
        assert_eq!(temp_owner(&temp_name("a_b.emrec")), Some(me));
        for not_ours in [
            ".notes.tmp",
            "x.emrec.12.tmp",
            ".x.emrec.12a.tmp",
            ".x.emrec.0.tmp",
            "..12.tmp",
            ".x.emrec.12.tmp~",
        ] {
            assert_eq!(temp_owner(not_ours), None, "{not_ours}");
        }
    }

    #[test]
    fn stale_temp_files_go_on_the_next_write_and_others_stay() {
        let dir = scratch("stale");
        let dead = format!(".h_1_single-stream_00.emrec.{}.tmp", dead_pid());
        let live = format!(".h_2_single-stream_00.emrec.{}.tmp", std::process::id());
        // pid 1 always runs (init, or the container's first process).
        let init = ".h_3_single-stream_00.emrec.1.tmp";
        for n in [
            dead.as_str(),
            live.as_str(),
            init,
            ".notes.tmp",
            "keep.emrec",
        ] {
            fs::write(dir.join(n), b"partial").unwrap();
        }
        let p = write_record(&dir, &example_record(1)).unwrap();
        let mut names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut want = vec![
            live,
            init.to_string(),
            ".notes.tmp".to_string(),
            "keep.emrec".to_string(),
            p.file_name().unwrap().to_string_lossy().into_owned(),
        ];
        want.sort();
        assert_eq!(names, want, "only the dead writer's temp file goes");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn probe_creates_the_dir_and_leaves_nothing() {
        let dir = scratch("probe");
        let stale = dir.join(format!(".r.emrec.{}.tmp", dead_pid()));
        fs::write(&stale, b"x").unwrap();
        probe_dir(&dir.join("new")).unwrap();
        assert_eq!(fs::read_dir(dir.join("new")).unwrap().count(), 0);
        probe_dir(&dir).unwrap();
        assert!(!stale.exists(), "stale temp file removed by the probe");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "only new/");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn probe_under_a_regular_file_names_the_path() {
        let dir = scratch("probe-file");
        fs::write(dir.join("file"), b"x").unwrap();
        let bad = dir.join("file/results");
        let e = probe_dir(&bad).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains(&bad.display().to_string()) && msg.contains("not writable"),
            "{msg}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn run_ids_differ() {
        assert_ne!(random_run_id(), random_run_id());
    }
}
