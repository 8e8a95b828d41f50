//! The user side of the daemon: `edgemark submit` (validate a job, copy it into
//! the spool atomically) and `edgemark status` (what is queued, running and
//! finished, and the latest result files). Collecting is separate from
//! printing so the listing is testable.

use std::path::{Path, PathBuf};

use super::config::{self, DaemonConfig};
use super::plan_runner;
use super::spool::{self, Outcome, Spool};
use crate::cli::{StatusArgs, SubmitArgs};
use crate::error::{CommandError, CommandResult};

fn config_for(explicit: Option<&Path>) -> Result<DaemonConfig, config::ConfigError> {
    match explicit {
        Some(p) => DaemonConfig::load(p, true),
        None => DaemonConfig::load(Path::new(config::DEFAULT_CONFIG), false),
    }
}

pub fn submit(args: SubmitArgs) -> CommandResult {
    let usage = |e: String| CommandError::usage(e).in_command("submit");
    let jobs_dir = match &args.spool {
        Some(d) => d.clone(),
        None => match config_for(args.config.as_deref()) {
            Ok(c) => Spool::new(&c.state_dir).jobs,
            Err(e) => return Err(usage(e.to_string())),
        },
    };
    let text = match std::fs::read_to_string(&args.job) {
        Ok(t) => t,
        Err(e) => return Err(usage(format!("cannot read {}: {e}", args.job.display()))),
    };
    if let Err(e) = plan_runner::default_runner().check(&text, std::path::Path::new("/")) {
        return Err(usage(format!("invalid job {}: {e}", args.job.display())));
    }
    let name = args
        .job
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "job.toml".into());
    match Spool::enqueue(&jobs_dir, &name, text.as_bytes()) {
        Ok(p) => {
            println!("queued {}", p.display());
            Ok(())
        }
        Err(e) => Err(CommandError::runtime(format!(
            "cannot queue into {}: {e}",
            jobs_dir.display()
        ))
        .in_command("submit")),
    }
}

/// One finished job as `status` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub id: String,
    pub state: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatusReport {
    pub queued: Vec<String>,
    pub running: Vec<String>,
    /// Newest first.
    pub finished: Vec<Finished>,
    /// Newest first (by modification time).
    pub results: Vec<PathBuf>,
}

fn names_with_suffix(dir: &Path, suffix: &str) -> std::io::Result<Vec<String>> {
    let mut v = Vec::new();
    if !dir.exists() {
        // Before the daemon's first start the spool has no subdirectories yet.
        return Ok(v);
    }
    for e in std::fs::read_dir(dir)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?
    {
        let name = e?.file_name().to_string_lossy().into_owned();
        if !spool::is_temp_name(&name)
            && let Some(stem) = name.strip_suffix(suffix)
        {
            v.push(stem.to_owned());
        }
    }
    v.sort();
    Ok(v)
}

pub fn collect(
    state_dir: &Path,
    results_dir: &Path,
    limit: usize,
) -> std::io::Result<StatusReport> {
    let s = Spool::new(state_dir);
    let pending = match s.pending() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        r => r?,
    };
    let queued = pending
        .iter()
        .map(|p| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let running = names_with_suffix(&s.running, ".toml")?;
    let mut finished = Vec::new();
    for dir in [&s.done, &s.failed] {
        for id in names_with_suffix(dir, ".toml")? {
            let outcome = std::fs::read_to_string(dir.join(format!("{id}.outcome")))
                .ok()
                .and_then(|t| toml::from_str::<Outcome>(&t).ok());
            let (state, detail) = match outcome {
                Some(o) => {
                    let detail = match (&o.error, o.records.first()) {
                        (Some(e), _) => e.clone(),
                        (None, Some(r)) => format!("{} ({})", o.summary, r.display()),
                        (None, None) => o.summary.clone(),
                    };
                    (o.state, detail)
                }
                None => ("?".into(), "no outcome file".into()),
            };
            finished.push(Finished { id, state, detail });
        }
    }
    // Ids start with a UTC stamp: sorting by id is sorting by start time.
    finished.sort_by(|a, b| b.id.cmp(&a.id));
    finished.truncate(limit);
    let mut results = Vec::new();
    if let Ok(entries) = std::fs::read_dir(results_dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if spool::is_temp_name(&name) {
                continue;
            }
            if let Ok(m) = e.metadata()
                && m.is_file()
            {
                results.push((m.modified().ok(), e.path()));
            }
        }
    }
    results.sort_by(|a, b| b.cmp(a));
    let results = results.into_iter().take(limit).map(|(_, p)| p).collect();
    Ok(StatusReport {
        queued,
        running,
        finished,
        results,
    })
}

pub fn print(r: &StatusReport, state_dir: &Path) {
    println!("spool {}", state_dir.display());
    println!("queued ({}):", r.queued.len());
    for q in &r.queued {
        println!("  {q}");
    }
    println!("running ({}):", r.running.len());
    for q in &r.running {
        println!("  {q}");
    }
    println!("recent jobs:");
    for f in &r.finished {
        println!("  {:<11} {}  {}", f.state, f.id, f.detail);
    }
    println!("latest result files:");
    for p in &r.results {
        println!("  {}", p.display());
    }
}

pub fn status(args: StatusArgs) -> CommandResult {
    let cfg = match config_for(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => return Err(CommandError::usage(e).in_command("status")),
    };
    let state_dir = args.state_dir.unwrap_or(cfg.state_dir);
    let results_dir = args.results.unwrap_or(cfg.results_dir);
    match collect(&state_dir, &results_dir, args.last) {
        Ok(r) => {
            print(&r, &state_dir);
            Ok(())
        }
        Err(e) => Err(CommandError::runtime(e).in_command("status")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_queue_running_finished_and_results() {
        let d = std::env::temp_dir().join(format!("edgemark-status-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let s = Spool::new(&d);
        s.create_dirs().unwrap();
        let results = d.join("results");
        std::fs::create_dir(&results).unwrap();
        Spool::enqueue(&s.jobs, "q.toml", b"").unwrap();
        std::fs::write(s.running.join("20260102T000000Z-r.toml"), "").unwrap();
        for (id, dir, o) in [
            (
                "20260101T000000Z-a",
                &s.done,
                Outcome {
                    state: "done".into(),
                    summary: "5 q".into(),
                    records: vec![results.join("a.rec")],
                    ..Outcome::default()
                },
            ),
            (
                "20260103T000000Z-b",
                &s.failed,
                Outcome {
                    state: "failed".into(),
                    error: Some("bad key".into()),
                    ..Outcome::default()
                },
            ),
        ] {
            std::fs::write(dir.join(format!("{id}.toml")), "").unwrap();
            std::fs::write(
                dir.join(format!("{id}.outcome")),
                toml::to_string(&o).unwrap(),
            )
            .unwrap();
        }
        std::fs::write(results.join("a.rec"), "").unwrap();
        let r = collect(&d, &results, 10).unwrap();
        assert_eq!(r.queued, ["q.toml"]);
        assert_eq!(r.running, ["20260102T000000Z-r"]);
        assert_eq!(
            r.finished[0],
            Finished {
                id: "20260103T000000Z-b".into(),
                state: "failed".into(),
                detail: "bad key".into()
            }
        );
        assert_eq!(r.finished[1].state, "done");
        assert!(
            r.finished[1].detail.starts_with("5 q ("),
            "{}",
            r.finished[1].detail
        );
        assert_eq!(r.results, [results.join("a.rec")]);
        assert_eq!(collect(&d, &results, 1).unwrap().finished.len(), 1);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
