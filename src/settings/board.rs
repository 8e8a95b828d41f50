//! The box a plan is made for, resolved BEFORE validation (this is the only
//! part of settings that reads the machine): which board profile applies
//! (`board = auto|none|NAME`) and which CPUs this process may run on.
//! `validate` then decides purely from this [`Host`].

use std::path::Path;

use super::{SettingsError, field};
use crate::boards::{self, Board, CpuSet};
use crate::plan::Pinning;

/// What validation needs to know about the box.
#[derive(Debug, Clone, Default)]
pub struct Host {
    /// The profile that applies and whether it was detected (`auto`) rather
    /// than named; None = `none`, or nothing detected.
    pub board: Option<(&'static Board, bool)>,
    /// CPUs this process may run on (empty = unknown: everything allowed).
    pub allowed_cpus: Vec<u32>,
    /// What resolving found that the user should know (detection failed).
    pub warnings: Vec<String>,
}

impl Host {
    /// Resolves `board` (auto, none or a name) under `root` and reads this
    /// process's CPU mask.
    pub fn resolve(board: Option<&str>, root: &Path) -> Result<Host, SettingsError> {
        let mut warnings = Vec::new();
        let board = choose_board(board, root, &mut warnings)?;
        Ok(Host {
            board,
            allowed_cpus: boards::allowed_cpus(),
            warnings,
        })
    }

    /// A host with no board profile and no CPU restriction (tests, tools).
    pub fn bare() -> Host {
        Host::default()
    }
}

/// `board`: `auto` (the default) detects the profile under `root`; `none` uses
/// none; anything else must name a built-in profile. A box whose identity files
/// cannot be read runs without a profile, with a warning: detection is a
/// convenience and must not stop a benchmark.
fn choose_board(
    choice: Option<&str>,
    root: &Path,
    warnings: &mut Vec<String>,
) -> Result<Option<(&'static Board, bool)>, SettingsError> {
    let choice = choice.unwrap_or("auto");
    if choice == "none" {
        return Ok(None);
    }
    let detected = choice == "auto";
    match boards::resolve(choice, root) {
        Ok(b) => Ok(b.map(|b| (b, detected))),
        Err(e) if detected => {
            warnings.push(format!("board detection failed, no profile applied: {e}"));
            Ok(None)
        }
        Err(e) => Err(field("board", format!("{e}; or auto, none"))),
    }
}

/// A board's per-scenario cores, checked against the CPUs this process may use.
/// A detected board whose cores are not all allowed (a container pinned to a
/// subset, say) runs unpinned with a warning; a board the user named is a usage
/// error, since the run would not be what they asked for.
pub fn board_pinning(
    board: &Board,
    detected: bool,
    allowed: &[u32],
    warnings: &mut Vec<String>,
) -> Result<Option<Pinning>, SettingsError> {
    let list = |set: &CpuSet| match set {
        CpuSet::All => Vec::new(),
        CpuSet::List(c) => c.clone(),
    };
    let pins = Pinning {
        single_stream: list(&board.pin.single_stream),
        offline: list(&board.pin.offline),
    };
    let all_allowed = pins
        .single_stream
        .iter()
        .chain(&pins.offline)
        .all(|c| allowed.contains(c));
    if all_allowed || allowed.is_empty() {
        return Ok(Some(pins));
    }
    let why = format!(
        "board {} pins SingleStream to cpus {} and Offline to {}, but this process may run on cpus {} only",
        board.name,
        board.pin.single_stream,
        board.pin.offline,
        CpuSet::List(allowed.to_vec()),
    );
    if detected {
        warnings.push(format!("{why}: not pinned (pass --cpus to pin)"));
        Ok(None)
    } else {
        Err(field(
            "board",
            format!("{why}; pass --cpus, or --board none or auto"),
        ))
    }
}
