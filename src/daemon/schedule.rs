//! Scheduled jobs: "run job X every N hours" and "run job X once per boot".
//! When an entry is due its job file is copied into the spool under a name
//! derived from the slot (`sched-NAME-SLOT.toml`), then the slot is persisted
//! in `STATE/schedule.toml`. Reboots neither repeat nor lose a run: the last
//! slot and the boot id survive them, and a crash between the two steps
//! re-derives the same file name, which the spool refuses to queue twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::config::ScheduleEntry;
use super::spool::{self, Spool};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntryState {
    /// Start of the last periodic slot run (Unix seconds).
    pub last_slot_unix: Option<u64>,
    /// Boot id of the last at-boot run.
    pub last_boot_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScheduleState {
    pub entries: BTreeMap<String, EntryState>,
}

/// Why the schedule could not be read, a run not queued, or its slot not
/// saved; each names the file (and the entry) it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    #[error("{}: {source}", path.display())]
    ReadState {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    ParseState {
        path: PathBuf,
        source: toml::de::Error,
    },
    /// The entry's job file could not be read (its slot is consumed).
    #[error("schedule {name:?}: cannot read job file {}: {source}", job.display())]
    ReadJob {
        name: String,
        job: PathBuf,
        source: std::io::Error,
    },
    /// The spool did not take the run (disk full?): its slot is kept for a retry.
    #[error("schedule {name:?}: cannot queue {file_name}: {source}")]
    Queue {
        name: String,
        file_name: String,
        source: std::io::Error,
    },
    #[error("cannot save schedule state: {0}")]
    SaveState(std::io::Error),
    #[error("{}: {source}", path.display())]
    ReadBootId {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: empty", path.display())]
    EmptyBootId { path: PathBuf },
}

/// One due run: what to spool under which name, and the state to persist after.
#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    pub name: String,
    pub job: PathBuf,
    pub file_name: String,
    pub new_state: EntryState,
}

pub fn state_path(state_dir: &Path) -> PathBuf {
    state_dir.join("schedule.toml")
}

impl ScheduleState {
    /// A missing file is a fresh install (empty state); a broken one is an
    /// error naming the file; the daemon refuses to guess, since an empty
    /// state would re-run every scheduled job at once.
    pub fn load(path: &Path) -> Result<Self, ScheduleError> {
        let path_buf = || path.to_path_buf();
        match std::fs::read_to_string(path) {
            Ok(t) => toml::from_str(&t).map_err(|source| ScheduleError::ParseState {
                path: path_buf(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(ScheduleError::ReadState {
                path: path_buf(),
                source,
            }),
        }
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = toml::to_string(self).map_err(std::io::Error::other)?;
        spool::write_atomic(path, text.as_bytes())
    }
}

/// Which entries are due at `now` (pure: no clock, no files).
pub fn due(
    entries: &[ScheduleEntry],
    state: &ScheduleState,
    now: SystemTime,
    boot_id: Option<&str>,
) -> Vec<Due> {
    let now_s = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut out = Vec::new();
    for e in entries {
        let old = state.entries.get(&e.name).cloned().unwrap_or_default();
        let mut new = old.clone();
        let mut slot_label = None;
        if let Some(every) = e.every {
            let every_s = every.as_secs().max(1);
            match old.last_slot_unix {
                None => {
                    new.last_slot_unix = Some(now_s);
                    slot_label = Some("first".to_string());
                }
                Some(last) if now_s >= last.saturating_add(every_s) => {
                    // After downtime, one run for the latest missed slot, not a burst of catch-ups.
                    let slot = last + (now_s - last) / every_s * every_s;
                    new.last_slot_unix = Some(slot);
                    slot_label = Some(spool::utc_stamp(
                        SystemTime::UNIX_EPOCH + Duration::from_secs(slot),
                    ));
                }
                Some(_) => {}
            }
        }
        if e.at_boot
            && let Some(boot) = boot_id
            && old.last_boot_id.as_deref() != Some(boot)
        {
            new.last_boot_id = Some(boot.to_owned());
            if slot_label.is_none() {
                slot_label = Some(format!("boot-{}", &boot[..boot.len().min(8)]));
            }
        }
        if let Some(label) = slot_label {
            out.push(Due {
                name: e.name.clone(),
                job: e.job.clone(),
                file_name: format!("sched-{}-{label}.toml", e.name),
                new_state: new,
            });
        }
    }
    out
}

/// Queue one due run and persist its slot. A job file that cannot be read is
/// reported (and its slot consumed, so it is not retried every second).
pub fn enqueue(
    spool: &Spool,
    state: &mut ScheduleState,
    path: &Path,
    d: &Due,
) -> Result<(), ScheduleError> {
    let result = match std::fs::read(&d.job) {
        Ok(content) => Spool::enqueue_named(&spool.jobs, &d.file_name, &content)
            .map(|_| ())
            .map_err(|source| ScheduleError::Queue {
                name: d.name.clone(),
                file_name: d.file_name.clone(),
                source,
            }),
        Err(source) => Err(ScheduleError::ReadJob {
            name: d.name.clone(),
            job: d.job.clone(),
            source,
        }),
    };
    if let Err(ScheduleError::Queue { .. }) = result {
        // Queueing failed (disk full?): keep the slot so the next tick retries.
        return result;
    }
    state.entries.insert(d.name.clone(), d.new_state.clone());
    state.save(path).map_err(ScheduleError::SaveState)?;
    result
}

pub fn read_boot_id(root: &Path) -> Result<String, ScheduleError> {
    let path = root.join("proc/sys/kernel/random/boot_id");
    let id = match std::fs::read_to_string(&path) {
        Ok(id) => id,
        Err(source) => return Err(ScheduleError::ReadBootId { path, source }),
    };
    let id = id.trim();
    if id.is_empty() {
        return Err(ScheduleError::EmptyBootId { path });
    }
    Ok(id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(every_h: Option<u64>, at_boot: bool) -> ScheduleEntry {
        ScheduleEntry {
            name: "n".into(),
            job: "/j.toml".into(),
            every: every_h.map(|h| Duration::from_secs(h * 3600)),
            at_boot,
        }
    }

    fn at(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(s)
    }

    fn apply(state: &mut ScheduleState, d: &[Due]) {
        for d in d {
            state.entries.insert(d.name.clone(), d.new_state.clone());
        }
    }

    #[test]
    fn periodic_runs_first_then_every_period_and_once_after_downtime() {
        let e = [entry(Some(6), false)];
        let mut st = ScheduleState::default();
        let d = due(&e, &st, at(1000), None);
        assert_eq!(d[0].file_name, "sched-n-first.toml");
        apply(&mut st, &d);
        assert!(due(&e, &st, at(1000 + 6 * 3600 - 1), None).is_empty());
        let d = due(&e, &st, at(1000 + 6 * 3600), None);
        assert_eq!(d[0].new_state.last_slot_unix, Some(1000 + 6 * 3600));
        apply(&mut st, &d);
        // Off for three days: one run, aligned to the latest missed slot.
        let d = due(&e, &st, at(1000 + 6 * 3600 + 72 * 3600 + 5), None);
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0].new_state.last_slot_unix,
            Some(1000 + 6 * 3600 + 72 * 3600)
        );
        // Same state, same time: same name (so a crash before saving cannot queue twice).
        let again = due(&e, &st, at(1000 + 6 * 3600 + 72 * 3600 + 5), None);
        assert_eq!(again, d);
    }

    #[test]
    fn at_boot_runs_once_per_boot_id() {
        let e = [entry(None, true)];
        let mut st = ScheduleState::default();
        let d = due(&e, &st, at(5), Some("abcdef0123"));
        assert_eq!(d[0].file_name, "sched-n-boot-abcdef01.toml");
        apply(&mut st, &d);
        assert!(due(&e, &st, at(99999), Some("abcdef0123")).is_empty());
        assert_eq!(due(&e, &st, at(99999), Some("other")).len(), 1);
        assert!(
            due(&e, &st, at(5), None).is_empty(),
            "unknown boot id: do not guess"
        );
    }

    #[test]
    fn state_round_trips_through_its_file() {
        let dir = std::env::temp_dir().join(format!("edgemark-sched-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = state_path(&dir);
        assert_eq!(ScheduleState::load(&p).unwrap(), ScheduleState::default());
        let mut st = ScheduleState::default();
        st.entries.insert(
            "n".into(),
            EntryState {
                last_slot_unix: Some(7),
                last_boot_id: Some("b".into()),
            },
        );
        st.save(&p).unwrap();
        assert_eq!(ScheduleState::load(&p).unwrap(), st);
        std::fs::write(&p, "entries = 3").unwrap();
        let e = ScheduleState::load(&p).unwrap_err();
        assert!(matches!(e, ScheduleError::ParseState { .. }), "{e:?}");
        assert!(e.to_string().contains("schedule.toml"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_run_the_spool_refuses_keeps_its_slot_and_an_unreadable_job_consumes_it() {
        let dir = std::env::temp_dir().join(format!("edgemark-sched-q-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let job = dir.join("job.toml");
        std::fs::write(&job, "sut = \"synthetic:null\"\n").unwrap();
        // jobs/ is a regular file: the spool cannot take the run.
        let spool = Spool::new(&dir);
        std::fs::write(&spool.jobs, "").unwrap();
        let due_run = |job: &Path| Due {
            name: "n".into(),
            job: job.to_path_buf(),
            file_name: "sched-n-first.toml".into(),
            new_state: EntryState {
                last_slot_unix: Some(7),
                last_boot_id: None,
            },
        };
        let path = state_path(&dir);
        let mut st = ScheduleState::default();
        let e = enqueue(&spool, &mut st, &path, &due_run(&job)).unwrap_err();
        assert!(matches!(e, ScheduleError::Queue { .. }), "{e:?}");
        assert!(e.to_string().contains("sched-n-first.toml"), "{e}");
        assert!(st.entries.is_empty(), "the slot is kept for a retry");
        let e = enqueue(&spool, &mut st, &path, &due_run(&dir.join("gone.toml"))).unwrap_err();
        assert!(matches!(e, ScheduleError::ReadJob { .. }), "{e:?}");
        assert!(e.to_string().contains("gone.toml"), "{e}");
        assert_eq!(st.entries["n"].last_slot_unix, Some(7), "slot consumed");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
