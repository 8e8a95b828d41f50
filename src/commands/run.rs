//! `edgemark run`: flags (+ config) -> plan -> run -> print.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::{CommandError, CommandResult};
use crate::cli::RunArgs;
use crate::loadgen::Control;
use crate::progress;
use crate::record::writer;
use crate::report::{run_json as json, terminal};
use crate::run::{self, RunContext};
use crate::settings;

/// The run's control block is static so the signal handler can reach it.
static CONTROL: Control = Control {
    completed: AtomicU64::new(0),
    abort: AtomicBool::new(false),
};

extern "C" fn request_abort(_: nix::libc::c_int) {
    // An atomic store is async-signal-safe; the engine stops at the next query
    // boundary and the partial run is summarised (INVALID, Aborted).
    CONTROL.abort.store(true, Ordering::Relaxed);
}

/// First SIGINT/SIGTERM aborts the run cleanly; SA_RESETHAND makes a second one
/// kill the process as usual.
fn abort_on_signals() {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let action = SigAction::new(
        SigHandler::Handler(request_abort),
        SaFlags::SA_RESETHAND,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only performs an atomic store.
        if let Err(e) = unsafe { sigaction(sig, &action) } {
            eprintln!("edgemark: warning: cannot handle {sig}: {e}");
        }
    }
}

pub fn command(args: &RunArgs) -> CommandResult {
    let plan = settings::plan_from(args.config.as_deref(), &args.settings, &args.root)
        .map_err(CommandError::usage)?;
    abort_on_signals();
    let ctx = RunContext {
        root: args.root.clone(),
        // Every run leaves its records (default ./edgemark-results/).
        results_dir: Some(
            args.results
                .clone()
                .unwrap_or_else(|| writer::DEFAULT_DIR.into()),
        ),
        control: &CONTROL,
        warnings: Vec::new(),
    };
    let (out, failed) = match progress::with_progress(&CONTROL, || run::execute(&plan, &ctx)) {
        Ok(out) => (out, None),
        // A record could not be written: what was measured is still shown,
        // then the run fails naming the file.
        Err(run::RunError::Record { source, output }) => {
            (*output, Some(CommandError::runtime(source)))
        }
        Err(e) => return Err(CommandError::new(e.kind(), e)),
    };
    let mut stdout = std::io::stdout().lock();
    if args.json {
        writeln!(stdout, "{}", json::run_json(&plan, &out)).map_err(CommandError::runtime)?;
    } else {
        terminal::write_run(&mut stdout, &out, plan.board.as_ref(), args.mlperf_summary)
            .map_err(CommandError::runtime)?;
    }
    failed.map_or(Ok(()), Err)
}
