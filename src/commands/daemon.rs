//! `edgemark daemon`, `submit` and `status`: the daemon's commands. The work
//! is in `crate::daemon` (state machine, spool, client side); these only
//! dispatch.

use super::CommandResult;
use crate::cli::{DaemonArgs, StatusArgs, SubmitArgs};

pub fn daemon(args: &DaemonArgs) -> CommandResult {
    crate::daemon::main(args.clone())
}

pub fn submit(args: &SubmitArgs) -> CommandResult {
    crate::daemon::client::submit(args.clone())
}

pub fn status(args: &StatusArgs) -> CommandResult {
    crate::daemon::client::status(args.clone())
}
