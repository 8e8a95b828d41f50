//! What edgemark says when it panics in a `panic = "abort"` build (the
//! release profile): one line naming what it was doing (loading which model,
//! running, profiling), the panic message and where, then exit 1 like any
//! other runtime failure, instead of Rust's multi-line report and SIGABRT
//! (exit 134, and a core dump where those are on).
//!
//! Unwinding builds (tests) keep Rust's own hook: there the `catch_unwind`
//! guards around tract turn its panics into errors, and a hook that exits
//! would pre-empt them. The daemon runs every job in a worker process
//! (`daemon::worker`), so this exit ends one job, never the daemon.

use std::panic::PanicHookInfo;
use std::sync::Mutex;

/// One "what are we doing" slot: the process has one ([`doing`]); tests make
/// their own so parallel tests cannot see each other's.
pub struct Slot(Mutex<Option<String>>);

impl Slot {
    pub const fn new() -> Slot {
        Slot(Mutex::new(None))
    }

    /// Name the activity until the returned guard drops.
    pub fn doing(&self, what: impl Into<String>) -> Doing<'_> {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Doing {
            slot: self,
            previous: slot.replace(what.into()),
        }
    }

    /// The activity named now, if any.
    pub fn current(&self) -> Option<String> {
        // try_lock: a panic hook must never wait (the panicking thread could
        // be the one inside `doing`, which holds the lock only for a swap).
        match self.0.try_lock() {
            Ok(g) => g.clone(),
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner().clone(),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }
}

impl Default for Slot {
    fn default() -> Slot {
        Slot::new()
    }
}

/// What the process is doing, for the panic line: "loading model X", ...
static DOING: Slot = Slot::new();

/// Restores the previous activity when dropped.
#[must_use = "the activity is cleared when the guard drops"]
pub struct Doing<'a> {
    slot: &'a Slot,
    previous: Option<String>,
}

impl Drop for Doing<'_> {
    fn drop(&mut self) {
        let mut slot = self.slot.0.lock().unwrap_or_else(|e| e.into_inner());
        *slot = self.previous.take();
    }
}

/// Name the process's current activity until the returned guard drops, e.g.
/// `let _doing = panic_report::doing(format!("loading model {}", p.display()));`.
/// Set from the main flow of a command only (one thread), so guards nest.
pub fn doing(what: impl Into<String>) -> Doing<'static> {
    DOING.doing(what)
}

/// The process's current activity, if one is named.
pub fn current() -> Option<String> {
    DOING.current()
}

/// The one line printed for a panic: what edgemark was doing, the message,
/// the location, and who to tell.
pub fn format_line(doing: Option<&str>, message: &str, location: Option<&str>) -> String {
    let doing = doing.map(|d| format!(" while {d}")).unwrap_or_default();
    let at = location.map(|l| format!(" (at {l})")).unwrap_or_default();
    // Panic messages may span lines (assert_eq!): keep the report one line.
    let message = message.split('\n').collect::<Vec<_>>().join(" | ");
    format!(
        "edgemark: internal error{doing}: panicked: {message}{at}; this is a bug in edgemark \
         or its inference engine, please report it with the input that caused it"
    )
}

fn message_of(info: &PanicHookInfo<'_>) -> String {
    let p = info.payload();
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// Print the line for this panic to stderr and exit 1.
fn report_and_exit(info: &PanicHookInfo<'_>) -> ! {
    use std::io::Write;
    let location = info
        .location()
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
    let line = format_line(current().as_deref(), &message_of(info), location.as_deref());
    let _ = writeln!(std::io::stderr().lock(), "{line}");
    // The same code as every runtime failure. Other threads are not unwound
    // (they could not be under abort either); records are written by rename,
    // so none is left half-written.
    std::process::exit(1)
}

/// Install the hook: any panic, on any thread, prints one line and exits 1.
/// `main` does this in `panic = "abort"` builds only (see the module comment).
pub fn install() {
    std::panic::set_hook(Box::new(|info| report_and_exit(info)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_the_activity_the_message_and_the_place() {
        let l = format_line(
            Some("loading model /m/x.onnx"),
            "index out of bounds: the len is 3 but the index is 7",
            Some("tract-core-0.23.9/src/model/graph.rs:12:5"),
        );
        assert_eq!(
            l,
            "edgemark: internal error while loading model /m/x.onnx: panicked: index out of \
             bounds: the len is 3 but the index is 7 (at tract-core-0.23.9/src/model/graph.rs:12:5); \
             this is a bug in edgemark or its inference engine, please report it with the input \
             that caused it"
        );
        let l = format_line(
            None,
            "assertion `left == right` failed\n  left: 1\n right: 2",
            None,
        );
        assert!(!l.contains('\n'), "{l}");
        assert!(
            l.starts_with("edgemark: internal error: panicked: assertion `left == right` failed |   left: 1 |  right: 2;"),
            "{l}"
        );
    }

    const CHILD_ENV: &str = "EDGEMARK_PANIC_HOOK_CHILD";

    /// Not a test of its own: the body of the child process the next test
    /// starts (this test binary again, running only this test). Without the
    /// variable it returns at once.
    #[test]
    fn child_process_of_the_panic_hook_test() {
        if std::env::var_os(CHILD_ENV).is_none() {
            return;
        }
        install();
        let _doing = doing("loading model /m/broken.onnx");
        let v: Vec<u32> = vec![1, 2, 3];
        let i = std::hint::black_box(7);
        let _ = v[i];
        unreachable!("the hook exits");
    }

    /// The hook as `main` installs it in `panic = "abort"` builds (tests
    /// unwind, so it is installed by hand here; the hook exits before any
    /// unwinding, so it behaves the same): one line on stderr naming the
    /// activity, the message and the place, and exit code 1, not 101 or 134.
    #[test]
    fn a_panic_prints_one_line_naming_the_activity_and_exits_1() {
        let exe = std::env::current_exe().unwrap();
        let child = |program: &std::path::Path, pre: &[&std::ffi::OsStr]| {
            std::process::Command::new(program)
                .args(pre)
                .args([
                    "--exact",
                    "panic_report::tests::child_process_of_the_panic_hook_test",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD_ENV, "1")
                .env("RUST_BACKTRACE", "1")
                .output()
        };
        // A cross build's tests run under user-mode qemu (cargo's runner,
        // ci-cross.sh), and the kernel cannot start this binary by itself:
        // exec fails with ENOEXEC (aarch64), or, through armv7's emulated
        // posix_spawn, the child exits 127 without a word. Then the child goes
        // through the same emulator as the runners of .cargo/config.toml
        // (armv7's need the cross glibc's loader from -L).
        let native = child(&exe, &[]);
        let cannot_start = match &native {
            Err(e) => e.raw_os_error() == Some(8),
            Ok(o) => o.status.code() == Some(127) && o.stderr.is_empty(),
        };
        let out = if cannot_start {
            let (qemu, pre): (&str, &[&str]) = match std::env::consts::ARCH {
                "aarch64" => ("qemu-aarch64", &[]),
                "arm" => ("qemu-arm", &["-L", "/usr/arm-linux-gnueabihf"]),
                other => panic!("cannot start this {other} test binary: {native:?}"),
            };
            let mut args: Vec<&std::ffi::OsStr> = pre.iter().map(|a| a.as_ref()).collect();
            args.push(exe.as_os_str());
            child(std::path::Path::new(qemu), &args).unwrap()
        } else {
            native.unwrap()
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprintln!("child stderr:\n{stderr}");
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("edgemark:"))
            .collect();
        assert_eq!(lines.len(), 1, "{stderr}");
        let l = lines[0];
        assert!(
            l.starts_with(
                "edgemark: internal error while loading model /m/broken.onnx: panicked: \
                 index out of bounds: the len is 3 but the index is 7 (at src/panic_report.rs:"
            ) && l.ends_with("please report it with the input that caused it"),
            "{l}"
        );
        assert!(!stderr.contains("stack backtrace"), "{stderr}");
    }

    #[test]
    fn doing_nests_and_restores() {
        let slot = Slot::new();
        assert_eq!(slot.current(), None);
        {
            let _a = slot.doing("running");
            assert_eq!(slot.current().as_deref(), Some("running"));
            {
                let _b = slot.doing("loading model m.onnx");
                assert_eq!(slot.current().as_deref(), Some("loading model m.onnx"));
            }
            assert_eq!(slot.current().as_deref(), Some("running"));
        }
        assert_eq!(slot.current(), None);
    }
}
