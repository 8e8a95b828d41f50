//! Daemon logging to stderr. Under systemd (stderr connected to the journal, as
//! `JOURNAL_STREAM` says) each line carries a `<N>` syslog priority prefix that
//! journald turns into the entry's priority; on a terminal lines stay plain.

use std::io::Write;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error = 3,
    Warning = 4,
    Info = 6,
}

static JOURNAL: OnceLock<bool> = OnceLock::new();

/// systemd documents that `JOURNAL_STREAM` (`DEV:INODE`) must be compared with
/// stderr: the variable is inherited by children whose stderr was redirected.
fn stderr_is_journal() -> bool {
    *JOURNAL.get_or_init(|| {
        let Some(v) = std::env::var_os("JOURNAL_STREAM") else {
            return false;
        };
        let Some((dev, ino)) = v.to_str().and_then(|s| s.split_once(':')) else {
            return false;
        };
        let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
            return false;
        };
        // dev_t/ino_t widths differ between targets (armv7 vs 64-bit).
        #[allow(clippy::unnecessary_cast)]
        match nix::sys::stat::fstat(std::io::stderr()) {
            Ok(st) => st.st_dev as u64 == dev && st.st_ino as u64 == ino,
            Err(_) => false,
        }
    })
}

/// Format one message: `<6>msg` for the journal, `edgemark daemon: msg` (with a
/// level word for problems) elsewhere.
pub fn format_line(journal: bool, level: Level, msg: &str) -> String {
    if journal {
        // journald reads one entry per line: each line needs its own priority
        // (TOML errors, for one, span several lines).
        let p = level as u8;
        msg.lines().map(|l| format!("<{p}>{l}\n")).collect()
    } else {
        let tag = match level {
            Level::Error => "error: ",
            Level::Warning => "warning: ",
            Level::Info => "",
        };
        format!("edgemark daemon: {tag}{msg}\n")
    }
}

pub fn log(level: Level, msg: &str) {
    // One write per line so concurrent threads do not interleave within a line.
    let line = format_line(stderr_is_journal(), level, msg);
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

pub fn info(msg: &str) {
    log(Level::Info, msg)
}

pub fn warn(msg: &str) {
    log(Level::Warning, msg)
}

pub fn error(msg: &str) {
    log(Level::Error, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_lines_carry_syslog_priorities() {
        assert_eq!(format_line(true, Level::Error, "x"), "<3>x\n");
        assert_eq!(format_line(true, Level::Warning, "x"), "<4>x\n");
        assert_eq!(format_line(true, Level::Info, "x"), "<6>x\n");
        assert_eq!(format_line(true, Level::Error, "a\n  b"), "<3>a\n<3>  b\n");
        assert_eq!(
            format_line(false, Level::Warning, "x"),
            "edgemark daemon: warning: x\n"
        );
        assert_eq!(format_line(false, Level::Info, "x"), "edgemark daemon: x\n");
    }
}
