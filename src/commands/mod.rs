//! One file per subcommand of the `edgemark` binary. Each command takes its
//! parsed arguments, does its work through the library's layers and returns
//! `Result<(), CommandError>`; `main` prints the error and maps its kind to
//! the exit code (2 usage, 1 runtime) in one place.

pub mod boards;
pub mod daemon;
pub mod generate;
pub mod infer;
pub mod inspect;
pub mod profile;
pub mod report;
pub mod run;
pub mod stats;
pub mod sut_check;

pub use crate::error::{CommandError, CommandResult, ErrorKind};
