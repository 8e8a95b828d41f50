//! The one distinction every failure carries to the user: their input to fix
//! (usage, exit 2) or a failure at run time (exit 1), and the error every
//! command returns. `main` maps it to the exit code in one place.

use std::fmt::Display;

/// Whose problem a failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad flags, settings, job or input files: exit 2.
    Usage,
    /// The run, a model, a file system or the box failed: exit 1.
    Runtime,
}

impl ErrorKind {
    /// The process exit code for this kind.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Usage => 2,
            ErrorKind::Runtime => 1,
        }
    }
}

/// A failed command: its kind and what to tell the user.
#[derive(Debug)]
pub struct CommandError {
    pub kind: ErrorKind,
    /// Printed as `edgemark[ COMMAND]: MESSAGE`; None = the command already
    /// said what went wrong (e.g. per bad file, or in the daemon's journal).
    pub message: Option<String>,
    /// The command's name in the message, for commands that name themselves.
    pub command: Option<&'static str>,
}

impl CommandError {
    pub fn usage(e: impl Display) -> CommandError {
        CommandError::new(ErrorKind::Usage, e)
    }

    pub fn runtime(e: impl Display) -> CommandError {
        CommandError::new(ErrorKind::Runtime, e)
    }

    pub fn new(kind: ErrorKind, e: impl Display) -> CommandError {
        CommandError {
            kind,
            message: Some(e.to_string()),
            command: None,
        }
    }

    /// A failure the command has already reported itself.
    pub fn reported(kind: ErrorKind) -> CommandError {
        CommandError {
            kind,
            message: None,
            command: None,
        }
    }

    /// Names the command in the message (`edgemark submit: ...`).
    pub fn in_command(mut self, name: &'static str) -> CommandError {
        self.command = Some(name);
        self
    }

    pub fn exit_code(&self) -> u8 {
        self.kind.exit_code()
    }

    /// The line `main` prints, if any.
    pub fn line(&self) -> Option<String> {
        let m = self.message.as_ref()?;
        Some(match self.command {
            Some(c) => format!("edgemark {c}: {m}"),
            None => format!("edgemark: {m}"),
        })
    }
}

/// A command's outcome.
pub type CommandResult = Result<(), CommandError>;
