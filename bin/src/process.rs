//! Process-level operations both binaries use: the file-creation mask,
//! the scheduling priority, becoming a daemon, and systemd's readiness
//! protocol.

#![allow(unsafe_code)]

use std::io::{self, Write as _};
use std::os::fd::AsRawFd;
use std::path::Path;

/// `os.umask(0o077)`, as both reference programs do at start.
pub fn set_umask_077() {
    // SAFETY: umask only changes this process's file-creation mask.
    unsafe {
        libc::umask(0o077);
    }
}

/// `os.nice(n)`.
pub fn nice(n: i32) {
    // SAFETY: nice only changes this process's scheduling priority.
    unsafe {
        libc::nice(n);
    }
}

/// Forks; the parent exits at once, the child returns. `which` names the
/// fork in the error ("Fork #1 failed: …", as the reference says).
fn fork_child(which: u8) -> Result<(), String> {
    // SAFETY: called before any other thread exists; the parent exits at
    // once without running anything else.
    match unsafe { libc::fork() } {
        -1 => Err(format!(
            "Fork #{which} failed: {}",
            io::Error::last_os_error()
        )),
        0 => Ok(()),
        _ => std::process::exit(0),
    }
}

/// Becomes a daemon: double fork, new session, stdin from /dev/null,
/// stdout and stderr appended to `out`, pid written to `pid_file`.
/// Unlike the reference, the umask stays 077 and the working directory
/// is kept (paths are absolute by now).
pub fn detach(out: &Path, pid_file: Option<&Path>) -> Result<(), String> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
        .map_err(|e| format!("{}: {e}", out.display()))?;
    let null = std::fs::File::open("/dev/null").map_err(|e| format!("/dev/null: {e}"))?;
    fork_child(1)?;
    // SAFETY: a plain system call in the child.
    unsafe {
        libc::setsid();
    }
    fork_child(2)?;
    // SAFETY: duplicating open descriptors onto 0, 1, 2.
    unsafe {
        libc::dup2(null.as_raw_fd(), 0);
        libc::dup2(log.as_raw_fd(), 1);
        libc::dup2(log.as_raw_fd(), 2);
    }
    if let Some(p) = pid_file {
        let mut f = std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let _ = writeln!(f, "{}", std::process::id());
    }
    Ok(())
}

/// systemd's readiness protocol (`sd_notify`): with `Type=notify`, a
/// service tells systemd it is ready by sending `READY=1` to the datagram
/// socket named in `$NOTIFY_SOCKET`. Without that variable, nothing
/// happens.
pub mod sd_notify {
    use std::io;

    /// Sends `state` (e.g. `READY=1`, `STOPPING=1`) to systemd, if it asked.
    /// Returns `Ok(false)` when not run by systemd with a notify socket.
    pub fn notify(state: &str) -> io::Result<bool> {
        let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
            return Ok(false);
        };
        send(&path, state)?;
        Ok(true)
    }

    #[cfg(target_os = "linux")]
    fn send(path: &std::ffi::OsStr, state: &str) -> io::Result<()> {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::net::{SocketAddr, UnixDatagram};
        let bytes = path.as_bytes();
        let addr = match bytes.first() {
            // an abstract socket
            Some(b'@') => SocketAddr::from_abstract_name(&bytes[1..])?,
            Some(b'/') => SocketAddr::from_pathname(std::path::Path::new(path))?,
            _ => {
                return Err(io::Error::other(
                    "NOTIFY_SOCKET is neither a path nor abstract",
                ));
            }
        };
        let sock = UnixDatagram::unbound()?;
        sock.send_to_addr(state.as_bytes(), &addr)?;
        Ok(())
    }

    #[cfg(all(unix, not(target_os = "linux")))]
    fn send(path: &std::ffi::OsStr, state: &str) -> io::Result<()> {
        let sock = std::os::unix::net::UnixDatagram::unbound()?;
        sock.send_to(state.as_bytes(), path)?;
        Ok(())
    }

    #[cfg(not(unix))]
    fn send(_path: &std::ffi::OsStr, _state: &str) -> io::Result<()> {
        Ok(())
    }

    #[cfg(all(test, target_os = "linux"))]
    mod tests {
        use super::*;

        #[test]
        fn sends_to_a_path_socket() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("notify");
            let listener = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
            send(path.as_os_str(), "READY=1").unwrap();
            let mut buf = [0u8; 64];
            let n = listener.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"READY=1");
            assert!(send(std::ffi::OsStr::new("relative"), "READY=1").is_err());
        }
    }
}
