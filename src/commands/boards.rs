//! `edgemark boards`: board profiles (+ this box's detection) -> print.

use super::{CommandError, CommandResult};
use crate::boards::{self, BoardError};
use crate::cli::BoardsArgs;

pub fn command(args: &BoardsArgs) -> CommandResult {
    // Naming a board that does not exist is a usage error; broken files are not.
    let classify = |e: BoardError| match e {
        BoardError::Unknown { .. } => CommandError::usage(e),
        e => CommandError::runtime(e),
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
