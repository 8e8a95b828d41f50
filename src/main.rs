//! The edgemark binary: parse arguments, dispatch to a command, map errors to
//! exit codes (2 for usage errors, 1 for runtime failures).

use clap::Parser;
use edgemark::cli::{Cli, Command};

// musl's malloc makes tract about 2x slower; the static builds use mimalloc.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(_) | Command::Stats(_) => {
            eprintln!("edgemark: not built yet");
            std::process::ExitCode::from(1)
        }
        Command::Boards(args) => exit(boards(&args)),
        Command::Generate(args) => exit(match args.what.as_str() {
            "man" => edgemark::gendoc::write_man(&args.out).map(drop),
            _ => edgemark::gendoc::write_completions(&args.out).map(drop),
        }),
    }
}

fn exit(r: anyhow::Result<()>) -> std::process::ExitCode {
    match r {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edgemark: {e:#}");
            // Naming a board that does not exist is a usage error.
            let usage = matches!(
                e.downcast_ref::<edgemark::boards::BoardError>(),
                Some(edgemark::boards::BoardError::Unknown { .. })
            );
            std::process::ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

fn boards(args: &edgemark::cli::BoardsArgs) -> anyhow::Result<()> {
    use edgemark::boards;
    if let Some(name) = &args.name {
        // An unknown name is a usage error: say which names exist.
        let board = boards::find(name)?;
        print!(
            "{}",
            boards::builtin_source(&board.name).unwrap_or_default()
        );
        return Ok(());
    }
    let detected = boards::detect(&args.root)?;
    print!(
        "{}",
        boards::format_list(boards::builtin()?, detected.map(|b| b.name.as_str()))
    );
    Ok(())
}
