//! Subcommands other than `run`: each takes validated arguments and returns a
//! result; printing is a separate function.

pub mod inspect;
pub mod sut_check;
