//! The edgemark binary: parse arguments, dispatch to a command, map errors to
//! exit codes (2 for usage errors, 1 for runtime failures).

use std::fmt::Display;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use clap::Parser;
use edgemark::boards::{self, BoardError};
use edgemark::cli::{
    BoardsArgs, Cli, Command, GenerateArgs, InspectArgs, RunArgs, StatsArgs, SutCheckArgs,
};
use edgemark::export::{json, summary};
use edgemark::loadgen::Control;
use edgemark::record::writer;
use edgemark::run::{self, RunContext};
use edgemark::{latency_file, settings, stats};

// musl's malloc makes tract about 2x slower; the static builds use mimalloc.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        Command::Inspect(args) => inspect_command(args),
        Command::Boards(args) => boards_command(args),
        Command::SutCheck(args) => return sut_check_command(args),
        Command::Generate(args) => generate_command(args),
        Command::Infer(args) => return edgemark::infer::main(args),
        // report names each bad file itself and picks its own exit code.
        Command::Report(args) => return edgemark::report::main(args),
        Command::Daemon(a) => return edgemark::daemon::main(a.clone()),
        Command::Submit(a) => return edgemark::daemon::client::submit(a.clone()),
        Command::Status(a) => return edgemark::daemon::client::status(a.clone()),
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
    let out = summary::with_progress(&CONTROL, || run::execute(&plan, &ctx))
        .map_err(|e| if e.is_usage() { usage(e) } else { runtime(e) })?;
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

/// model file -> what it holds and what edgemark can run of it -> print.
fn inspect_command(args: &InspectArgs) -> Result<(), Failure> {
    let model = edgemark::commands::inspect::inspect(&args.model).map_err(runtime)?;
    #[cfg(feature = "tract")]
    {
        print!(
            "{}",
            edgemark::commands::inspect::render(&args.model, &model)
        );
        Ok(())
    }
    #[cfg(not(feature = "tract"))]
    match model {}
}

/// board profiles (+ this box's detection) -> print.
fn boards_command(args: &BoardsArgs) -> Result<(), Failure> {
    // Naming a board that does not exist is a usage error; broken files are not.
    let classify = |e: BoardError| match e {
        BoardError::Unknown { .. } => usage(e),
        e => runtime(e),
    };
    if let Some(name) = &args.name {
        let board = boards::find(name).map_err(classify)?;
        print!(
            "{}",
            boards::builtin_source(&board.name).unwrap_or_default()
        );
        return Ok(());
    }
    let detected = boards::detect(&args.root).map_err(classify)?;
    let all = boards::builtin().map_err(classify)?;
    print!(
        "{}",
        boards::format_list(all, detected.map(|b| b.name.as_str()))
    );
    Ok(())
}

/// SUT program -> protocol checks -> print; exit 1 when any failed.
fn sut_check_command(args: &SutCheckArgs) -> ExitCode {
    use edgemark::sut::exec::Transport;
    let Some(transport) = Transport::parse(&args.transport) else {
        eprintln!(
            "edgemark: --transport: expected pipe or socketpair, got {:?}",
            args.transport
        );
        return ExitCode::from(2);
    };
    let report =
        edgemark::commands::sut_check::check(&args.command, transport, args.timeout * 1000);
    print!("{}", report.render());
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// CLI definition -> shell completions or man pages (for scripts/dist.sh).
fn generate_command(args: &GenerateArgs) -> Result<(), Failure> {
    match args.what.as_str() {
        "man" => edgemark::gendoc::write_man(&args.out).map(drop),
        _ => edgemark::gendoc::write_completions(&args.out).map(drop),
    }
    .map_err(|e| runtime(format!("{e:#}")))
}
