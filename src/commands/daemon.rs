//! `edgemark daemon`, `submit`, `status` and `reload`: the daemon's commands. The work
//! is in `crate::daemon` (state machine, spool, client side); these only
//! dispatch.

use super::CommandResult;
use crate::cli::{DaemonArgs, JobWorkerArgs, ReloadArgs, StatusArgs, SubmitArgs};

pub fn daemon(args: &DaemonArgs) -> CommandResult {
    crate::daemon::main(args.clone())
}

pub fn submit(args: &SubmitArgs) -> CommandResult {
    crate::daemon::client::submit(args.clone())
}

pub fn status(args: &StatusArgs) -> CommandResult {
    crate::daemon::client::status(args.clone())
}

pub fn reload(args: &ReloadArgs) -> CommandResult {
    crate::daemon::client::reload(args)
}

/// The hidden `job-worker` command: one daemon job in its own process.
pub fn job_worker(_args: &JobWorkerArgs) -> CommandResult {
    crate::daemon::worker::serve(crate::daemon::plan_runner::default_runner().as_ref())
}
