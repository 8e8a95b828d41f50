//! The job spool under the state directory: `jobs/ -> running/ -> done/|failed/`.
//! Every state change is one `rename` (atomic on one filesystem) followed by a
//! directory fsync, so a crash or power cut leaves each job in exactly one
//! directory: never lost, never silently repeated. Whatever is still in
//! `running/` at start-up was interrupted and is moved to `failed/`.
//!
//! Beside a finished job `ID.toml` lies `ID.outcome` (done/ and failed/: records
//! written, warnings, aborted or not) and, for failures, `ID.error` (one short
//! human-readable reason, also copied into the results directory).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone)]
pub struct Spool {
    pub jobs: PathBuf,
    pub running: PathBuf,
    pub done: PathBuf,
    pub failed: PathBuf,
}

/// A job moved into `running/`, named by its id.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    /// `YYYYmmddTHHMMSSZ-STEM`: unique, sortable, and names every file of the job.
    pub id: String,
    pub path: PathBuf,
}

/// What `ID.outcome` holds: the daemon's account of one finished job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Outcome {
    /// "done", "aborted", "failed" or "interrupted".
    pub state: String,
    pub records: Vec<PathBuf>,
    pub warnings: Vec<String>,
    pub error: Option<String>,
    pub summary: String,
}

/// Files a writer is still producing: `scp x .x.tmp && mv` or editor backups.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') || name.ends_with(".tmp") || name.ends_with('~')
}

impl Spool {
    pub fn new(state_dir: &Path) -> Spool {
        Spool {
            jobs: state_dir.join("jobs"),
            running: state_dir.join("running"),
            done: state_dir.join("done"),
            failed: state_dir.join("failed"),
        }
    }

    pub fn create_dirs(&self) -> std::io::Result<()> {
        for d in [&self.jobs, &self.running, &self.done, &self.failed] {
            std::fs::create_dir_all(d).map_err(|e| with_path(e, d))?;
        }
        Ok(())
    }

    /// Queued jobs, oldest first (mtime, then name for equal times).
    pub fn pending(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut jobs = Vec::new();
        for e in std::fs::read_dir(&self.jobs).map_err(|e| with_path(e, &self.jobs))? {
            let e = e?;
            let name = e.file_name();
            if is_temp_name(&name.to_string_lossy()) {
                continue;
            }
            let Ok(meta) = e.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            jobs.push((meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), e.path()));
        }
        jobs.sort();
        Ok(jobs.into_iter().map(|(_, p)| p).collect())
    }

    /// Move a queued job into `running/` under a fresh id. `Ok(None)` if it
    /// vanished meanwhile (its owner took it back).
    pub fn claim(&self, job: &Path, now: SystemTime) -> std::io::Result<Option<Claimed>> {
        let stem = sanitize(
            &job.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        let base = format!("{}-{stem}", utc_stamp(now));
        let mut id = base.clone();
        let mut n = 1;
        while self.running.join(format!("{id}.toml")).exists()
            || self.done.join(format!("{id}.toml")).exists()
            || self.failed.join(format!("{id}.toml")).exists()
        {
            n += 1;
            id = format!("{base}-{n}");
        }
        let path = self.running.join(format!("{id}.toml"));
        match std::fs::rename(job, &path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(with_path(e, job)),
        }
        sync_dir(&self.running);
        sync_dir(&self.jobs);
        Ok(Some(Claimed { id, path }))
    }

    /// Finish a running job: write its outcome (and error) files, then move it.
    /// The sidecars go first so a crash in between leaves the job in `running/`
    /// (reported as interrupted), never a finished job without its account.
    pub fn finish(
        &self,
        job: &Claimed,
        outcome: &Outcome,
        results_dir: Option<&Path>,
    ) -> std::io::Result<PathBuf> {
        let failed = outcome.error.is_some();
        let dir = if failed { &self.failed } else { &self.done };
        let text = toml::to_string(outcome).map_err(std::io::Error::other)?;
        write_atomic(&dir.join(format!("{}.outcome", job.id)), text.as_bytes())?;
        if let Some(err) = &outcome.error {
            let line = format!("{}: {err}\n", outcome.state);
            write_atomic(&dir.join(format!("{}.error", job.id)), line.as_bytes())?;
            // A copy beside the records, best effort: the error may well be
            // that the results disk is full or gone, and the job must still
            // reach failed/ with its account.
            if let Some(results) = results_dir
                && let Err(e) =
                    write_atomic(&results.join(format!("{}.error", job.id)), line.as_bytes())
            {
                crate::daemon::log::warn(&format!(
                    "cannot copy the job's error beside its records: {e}"
                ));
            }
        }
        let dest = dir.join(format!("{}.toml", job.id));
        std::fs::rename(&job.path, &dest).map_err(|e| with_path(e, &job.path))?;
        sync_dir(dir);
        sync_dir(&self.running);
        Ok(dest)
    }

    /// Start-up recovery: every job left in `running/` was cut short by a crash,
    /// `kill -9` or power loss. It goes to `failed/` as "interrupted".
    pub fn recover_interrupted(&self, results_dir: Option<&Path>) -> std::io::Result<Vec<String>> {
        let mut ids = Vec::new();
        for e in std::fs::read_dir(&self.running).map_err(|e| with_path(e, &self.running))? {
            let path = e?.path();
            let Some(id) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".toml"))
                .filter(|n| !is_temp_name(n))
            else {
                continue;
            };
            let job = Claimed {
                id: id.to_owned(),
                path: path.clone(),
            };
            let outcome = Outcome {
                state: "interrupted".into(),
                error: Some(
                    "the daemon stopped while this job ran (crash, kill -9 or power loss); \
                     any record it wrote is incomplete"
                        .into(),
                ),
                ..Outcome::default()
            };
            self.finish(&job, &outcome, results_dir)?;
            ids.push(job.id);
        }
        Ok(ids)
    }

    /// Put a job into `jobs/` atomically under `stem.toml`, or `stem-N.toml` if
    /// that is taken. Returns the final path.
    pub fn enqueue(jobs_dir: &Path, name: &str, content: &[u8]) -> std::io::Result<PathBuf> {
        let stem = sanitize(name.strip_suffix(".toml").unwrap_or(name));
        for n in 1..1000 {
            let name = if n == 1 {
                format!("{stem}.toml")
            } else {
                format!("{stem}-{n}.toml")
            };
            if let Some(p) = Self::enqueue_named(jobs_dir, &name, content)? {
                return Ok(p);
            }
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!(
                "{}: 1000 jobs named {stem} already queued",
                jobs_dir.display()
            ),
        ))
    }

    /// Write a dotfile the daemon ignores, then hard-link it to `file_name`
    /// (unlike rename, a link never overwrites a queued job) and drop the temp
    /// name. `Ok(None)` if `file_name` is already queued.
    pub fn enqueue_named(
        jobs_dir: &Path,
        file_name: &str,
        content: &[u8],
    ) -> std::io::Result<Option<PathBuf>> {
        let tmp = jobs_dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
        write_file_synced(&tmp, content)?;
        // A submitting user's umask (077, say) must not hide the job from the
        // daemon, which reads it through the spool's group (setgid jobs/).
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o640))
            .map_err(|e| with_path(e, &tmp))?;
        let dest = jobs_dir.join(file_name);
        let result = match std::fs::hard_link(&tmp, &dest) {
            Ok(()) => Ok(Some(dest)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(with_path(e, &dest)),
        };
        let _ = std::fs::remove_file(&tmp);
        sync_dir(jobs_dir);
        result
    }
}

/// Keep ids portable and shell-friendly: anything odd becomes `_`.
fn sanitize(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim_start_matches('.').to_owned();
    if s.is_empty() { "job".into() } else { s }
}

fn with_path(e: std::io::Error, path: &Path) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

fn write_file_synced(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path).map_err(|e| with_path(e, path))?;
    f.write_all(content).map_err(|e| with_path(e, path))?;
    f.sync_all().map_err(|e| with_path(e, path))
}

/// Write via a temp name + rename: readers never see half a file, and a
/// failed write (disk full) leaves no temp file behind.
pub fn write_atomic(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let result = write_file_synced(&tmp, content)
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| with_path(e, path)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Make renames in `dir` durable. Best effort: some filesystems refuse.
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// `YYYYmmddTHHMMSSZ` in UTC: the records' stamp, so job and record names sort alike.
pub fn utc_stamp(t: SystemTime) -> String {
    let ns = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    crate::record::writer::utc_stamp(ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("edgemark-spool-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn utc_stamps() {
        assert_eq!(utc_stamp(SystemTime::UNIX_EPOCH), "19700101T000000Z");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_709_210_096); // 2024-02-29 12:34:56
        assert_eq!(utc_stamp(t), "20240229T123456Z");
    }

    #[test]
    fn temp_names_are_ignored_and_jobs_come_oldest_first() {
        let d = tmpdir("pending");
        let s = Spool::new(&d);
        s.create_dirs().unwrap();
        for n in [".x.toml", "y.toml.tmp", "b.toml", "a.toml"] {
            std::fs::write(s.jobs.join(n), "").unwrap();
        }
        std::fs::create_dir(s.jobs.join("subdir")).unwrap();
        let old = std::fs::File::options()
            .write(true)
            .open(s.jobs.join("b.toml"))
            .unwrap();
        old.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1000))
            .unwrap();
        let p = s.pending().unwrap();
        let names: Vec<_> = p
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["b.toml", "a.toml"]);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn job_moves_by_rename_and_gets_unique_ids() {
        let d = tmpdir("moves");
        let s = Spool::new(&d);
        s.create_dirs().unwrap();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(60);
        let q1 = Spool::enqueue(&s.jobs, "my job.toml", b"a=1").unwrap();
        let q2 = Spool::enqueue(&s.jobs, "my job.toml", b"a=2").unwrap();
        assert_eq!(q1.file_name().unwrap(), "my_job.toml");
        assert_eq!(q2.file_name().unwrap(), "my_job-2.toml");
        let mode = std::fs::metadata(&q1).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640, "group-readable whatever the umask");
        let c1 = s.claim(&q1, now).unwrap().unwrap();
        assert_eq!(c1.id, "19700101T000100Z-my_job");
        assert!(!q1.exists() && c1.path.exists());
        let done = s
            .finish(
                &c1,
                &Outcome {
                    state: "done".into(),
                    ..Outcome::default()
                },
                None,
            )
            .unwrap();
        assert_eq!(std::fs::read_to_string(&done).unwrap(), "a=1");
        // Same stamp, same stem: a new id rather than overwriting the done job.
        let q3 = Spool::enqueue(&s.jobs, "my job.toml", b"a=3").unwrap();
        let c3 = s.claim(&q3, now).unwrap().unwrap();
        assert_eq!(c3.id, "19700101T000100Z-my_job-2");
        assert_eq!(s.claim(&q1, now).unwrap(), None, "vanished job is skipped");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn leftovers_in_running_become_interrupted_failures() {
        let d = tmpdir("recover");
        let s = Spool::new(&d);
        s.create_dirs().unwrap();
        let results = d.join("results");
        std::fs::create_dir(&results).unwrap();
        std::fs::write(s.running.join("20260101T000000Z-x.toml"), "k=1").unwrap();
        std::fs::write(s.running.join(".partial.tmp"), "").unwrap();
        let ids = s.recover_interrupted(Some(&results)).unwrap();
        assert_eq!(ids, ["20260101T000000Z-x"]);
        assert!(s.failed.join("20260101T000000Z-x.toml").exists());
        let err = std::fs::read_to_string(s.failed.join("20260101T000000Z-x.error")).unwrap();
        assert!(err.starts_with("interrupted: "), "{err}");
        assert!(results.join("20260101T000000Z-x.error").exists());
        let o: Outcome = toml::from_str(
            &std::fs::read_to_string(s.failed.join("20260101T000000Z-x.outcome")).unwrap(),
        )
        .unwrap();
        assert_eq!(o.state, "interrupted");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
