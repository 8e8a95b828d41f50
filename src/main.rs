//! The edgemark binary: parse arguments, dispatch to a command
//! (`edgemark::commands`), print its error and map the error's kind to the exit
//! code (2 usage, 1 runtime) here, in one place.

use std::process::ExitCode;

use clap::Parser;
use edgemark::cli::{Cli, Command};
use edgemark::commands::{self, CommandResult};

// musl's malloc makes tract about 2x slower; the static builds use mimalloc.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn dispatch(command: &Command) -> CommandResult {
    match command {
        Command::Run(a) => commands::run::command(a),
        Command::Stats(a) => commands::stats::command(a),
        Command::Inspect(a) => commands::inspect::command(a),
        Command::Infer(a) => commands::infer::command(a),
        Command::Profile(a) => commands::profile::command(a),
        Command::Report(a) => commands::report::command(a),
        Command::Daemon(a) => commands::daemon::daemon(a),
        Command::Submit(a) => commands::daemon::submit(a),
        Command::Status(a) => commands::daemon::status(a),
        Command::Reload(a) => commands::daemon::reload(a),
        Command::Boards(a) => commands::boards::command(a),
        Command::SutCheck(a) => commands::sut_check::command(a),
        Command::Generate(a) => commands::generate::command(a),
        Command::JobWorker(a) => commands::daemon::job_worker(a),
    }
}

fn main() -> ExitCode {
    // Release builds abort on panic (smaller binary, issue 15): one line
    // naming what edgemark was doing and exit 1, not Rust's report and
    // SIGABRT. Unwinding builds keep Rust's hook so that the `catch_unwind`
    // guards around tract can turn its panics into errors.
    #[cfg(panic = "abort")]
    edgemark::panic_report::install();
    match dispatch(&Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(line) = e.line() {
                eprintln!("{line}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}
