//! The edgemark binary: parse arguments, dispatch to a command, map errors to
//! exit codes (2 for usage errors, 1 for runtime failures).

use clap::Parser;
use edgemark::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(_) | Command::Stats(_) => {
            eprintln!("edgemark: not built yet");
            std::process::ExitCode::from(1)
        }
        Command::Report(args) => edgemark::report::main(&args),
    }
}
