//! The edgemark binary: parse arguments, dispatch to a command, map errors to
//! exit codes (2 for usage errors, 1 for runtime failures).

use std::fmt::Display;
use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use edgemark::cli::{Cli, Command, RunArgs, StatsArgs};
use edgemark::export::{json, summary};
use edgemark::loadgen::Control;
use edgemark::run::{self, RunContext};
use edgemark::{latency_file, settings, stats};

/// A failed command: what to print and the exit code.
struct Failure {
    code: u8,
    message: String,
}

fn usage(e: impl Display) -> Failure {
    Failure {
        code: 2,
        message: e.to_string(),
    }
}

fn runtime(e: impl Display) -> Failure {
    Failure {
        code: 1,
        message: e.to_string(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Command::Run(args) => run_command(args),
        Command::Stats(args) => stats_command(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("edgemark: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

/// flags (+ config) -> plan -> run -> print.
fn run_command(args: &RunArgs) -> Result<(), Failure> {
    let plan = settings::plan_from(args).map_err(usage)?;
    let control = Control::default();
    let ctx = RunContext {
        root: args.root.clone(),
        results_dir: args.results.clone(),
        control: &control,
    };
    let out = summary::with_progress(&control, || run::execute(&plan, &ctx)).map_err(runtime)?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        writeln!(stdout, "{}", json::run_json(&plan, &out)).map_err(runtime)
    } else {
        summary::write_run(&mut stdout, &plan, &out).map_err(runtime)
    }
}

/// latency file -> LoadGen statistics -> print.
fn stats_command(args: &StatsArgs) -> Result<(), Failure> {
    let latencies = latency_file::read(&args.file).map_err(usage)?;
    let st = stats::latency_stats(&latencies, args.percentile).map_err(usage)?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        writeln!(stdout, "{}", json::stats_json(&st)).map_err(runtime)
    } else {
        summary::write_stats(&mut stdout, &st).map_err(runtime)
    }
}
