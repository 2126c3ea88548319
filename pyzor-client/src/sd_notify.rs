//! systemd's readiness protocol (`sd_notify`): with `Type=notify`, a
//! service tells systemd it is ready by sending `READY=1` to the datagram
//! socket named in `$NOTIFY_SOCKET`. Without that variable, nothing
//! happens.

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
