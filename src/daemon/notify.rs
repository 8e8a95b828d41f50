//! sd_notify without libsystemd: datagrams to `$NOTIFY_SOCKET` (a path, or an
//! abstract socket written `@name`), plus the watchdog period from
//! `$WATCHDOG_USEC`. Without `NOTIFY_SOCKET` every call is a no-op, so the
//! daemon runs the same outside systemd.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

use super::log;

#[derive(Debug)]
pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
    /// Only the first send failure is logged: a vanished socket must not flood the log.
    failed: bool,
}

impl Notifier {
    pub fn from_env() -> Notifier {
        let target = std::env::var_os("NOTIFY_SOCKET").and_then(|path| {
            match Self::connect(path.as_encoded_bytes()) {
                Ok(t) => Some(t),
                Err(e) => {
                    log::warn(&format!(
                        "NOTIFY_SOCKET={}: {e}; not notifying systemd",
                        path.to_string_lossy()
                    ));
                    None
                }
            }
        });
        Notifier {
            target,
            failed: false,
        }
    }

    fn connect(path: &[u8]) -> std::io::Result<(UnixDatagram, SocketAddr)> {
        let addr = if let Some(name) = path.strip_prefix(b"@") {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            {
                use std::os::linux::net::SocketAddrExt;
                SocketAddr::from_abstract_name(name)?
            }
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            {
                let _ = name;
                return Err(std::io::Error::other("abstract sockets need Linux"));
            }
        } else {
            use std::os::unix::ffi::OsStrExt;
            SocketAddr::from_pathname(std::ffi::OsStr::from_bytes(path))?
        };
        Ok((UnixDatagram::unbound()?, addr))
    }

    pub fn enabled(&self) -> bool {
        self.target.is_some()
    }

    /// Send one notification (newline-separated `KEY=VALUE` lines).
    pub fn send(&mut self, msg: &str) {
        let Some((sock, addr)) = &self.target else {
            return;
        };
        if let Err(e) = sock.send_to_addr(msg.as_bytes(), addr) {
            if !self.failed {
                log::warn(&format!("sd_notify {msg:?} failed: {e}"));
            }
            self.failed = true;
        }
    }

    pub fn status(&mut self, status: &str) {
        // STATUS is one line: a newline would start a new (bogus) assignment.
        let line = status.replace('\n', " ");
        self.send(&format!("STATUS={line}"));
    }
}

/// How often to send `WATCHDOG=1`: half the period systemd asked for, and only
/// if the request is meant for this process (`WATCHDOG_PID`, when set).
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if usec == 0 {
        return None;
    }
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    Some(Duration::from_micros(usec / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_to_a_path_socket() {
        let dir = std::env::temp_dir().join(format!("edgemark-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let rx = UnixDatagram::bind(&path).unwrap();
        let mut n = Notifier {
            target: Some(Notifier::connect(path.as_os_str().as_encoded_bytes()).unwrap()),
            failed: false,
        };
        n.status("running job a\nb: 42%");
        let mut buf = [0u8; 256];
        let len = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"STATUS=running job a b: 42%");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn sends_to_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("edgemark-test-{}", std::process::id());
        let rx = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(&name).unwrap()).unwrap();
        let mut n = Notifier {
            target: Some(Notifier::connect(format!("@{name}").as_bytes()).unwrap()),
            failed: false,
        };
        n.send("READY=1");
        let mut buf = [0u8; 64];
        let len = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1");
    }
}
