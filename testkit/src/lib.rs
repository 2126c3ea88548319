//! Test support shared by the pyzor-rs crates (a dev-dependency only).
//!
//! Tests that need a real peer — the reference Python pyzor 1.1.2 client
//! and server, `redis-server`, SpamAssassin's Perl client — ask for it
//! here. When it is missing the test is skipped with a message naming the
//! install command; with `PYZOR_REQUIRE_PEERS=1` (as CI sets it) a missing
//! peer fails the test instead.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The command that installs every peer.
pub const INSTALL_HINT: &str = "scripts/install-peers.sh";

/// `true` when missing peers must fail tests (`PYZOR_REQUIRE_PEERS=1`).
pub fn peers_required() -> bool {
    std::env::var("PYZOR_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

/// Reports a missing peer: panics under `PYZOR_REQUIRE_PEERS=1`, otherwise
/// prints the skip message. Returns `None` for use with `?`-like early
/// returns: `let Some(py) = testkit::skip_or_fail("...") else { return };`.
pub fn missing<T>(what: &str) -> Option<T> {
    let msg = format!("{what} not found; install the peers with `{INSTALL_HINT}`");
    if peers_required() {
        panic!("PYZOR_REQUIRE_PEERS=1: {msg}");
    }
    eprintln!("skipping: {msg}");
    None
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn runs(cmd: &Path, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The virtualenv holding the reference pyzor 1.1.2 (`PYZOR_PEERS_VENV`,
/// default `~/.cache/pyzor-rs/peers-venv`, as `scripts/install-peers.sh`
/// makes it).
fn venv_dir() -> Option<PathBuf> {
    if let Some(v) = std::env::var_os("PYZOR_PEERS_VENV") {
        return Some(PathBuf::from(v));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/pyzor-rs/peers-venv"))
}

/// The reference Python pyzor installation.
#[derive(Debug, Clone)]
pub struct PythonPyzor {
    /// The Python interpreter that has `pyzor` importable.
    pub python: PathBuf,
    /// The `pyzor` script.
    pub pyzor: PathBuf,
    /// The `pyzord` script.
    pub pyzord: PathBuf,
}

/// Finds the reference pyzor 1.1.2 (venv first, then PATH).
pub fn python_pyzor() -> Option<PythonPyzor> {
    let check = |dir: &Path| -> Option<PythonPyzor> {
        let p = PythonPyzor {
            python: dir.join("python"),
            pyzor: dir.join("pyzor"),
            pyzord: dir.join("pyzord"),
        };
        let ok = p.pyzor.is_file()
            && Command::new(&p.python)
                .args([
                    "-c",
                    "import pyzor, sys; sys.exit(pyzor.__version__ != '1.1.2')",
                ])
                .status()
                .is_ok_and(|s| s.success());
        ok.then_some(p)
    };
    if let Some(v) = venv_dir()
        && let Some(p) = check(&v.join("bin"))
    {
        return Some(p);
    }
    let pyzor = on_path("pyzor")?;
    check(pyzor.parent()?)
}

/// The reference pyzor, or a skip/failure.
pub fn require_python_pyzor() -> Option<PythonPyzor> {
    python_pyzor().or_else(|| missing("the reference Python pyzor 1.1.2"))
}

/// The reference interpreter for codec checks: Debian 12's CPython 3.11.
pub fn require_reference_python() -> Option<PathBuf> {
    let candidates = [
        venv_dir().map(|v| v.join("bin/python")),
        Some(PathBuf::from("/usr/bin/python3")),
    ];
    for c in candidates.into_iter().flatten() {
        if c.is_file()
            && runs(
                &c,
                &[
                    "-c",
                    "import sys; sys.exit(sys.version_info[:2] != (3, 11))",
                ],
            )
        {
            return Some(c);
        }
    }
    missing("the reference CPython 3.11 (Debian 12's /usr/bin/python3)")
}

/// `redis-server`, or a skip/failure.
pub fn require_redis_server() -> Option<PathBuf> {
    on_path("redis-server").or_else(|| missing("redis-server"))
}

/// `perl` with SpamAssassin's `Mail::SpamAssassin::Pyzor::Client`, or a
/// skip/failure.
pub fn require_perl_client() -> Option<PathBuf> {
    let perl = on_path("perl")?;
    if runs(&perl, &["-MMail::SpamAssassin::Pyzor::Client", "-e", "1"]) {
        Some(perl)
    } else {
        missing("SpamAssassin's Perl Pyzor client (Debian package spamassassin)")
    }
}

/// A free UDP port on 127.0.0.1 (also free for TCP, for servers that
/// listen on both).
pub fn free_port() -> u16 {
    for _ in 0..100 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind an ephemeral UDP port");
        let port = udp.local_addr().map(|a| a.port()).unwrap_or(0);
        if port != 0 && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port on 127.0.0.1");
}

/// A child process killed (and reaped) when dropped.
#[derive(Debug)]
pub struct ChildGuard {
    /// The process.
    pub child: Child,
    /// What it is, for messages.
    pub name: String,
}

impl ChildGuard {
    /// Spawns `cmd`, killed on drop.
    pub fn spawn(name: &str, cmd: &mut Command) -> ChildGuard {
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        ChildGuard {
            child,
            name: name.to_owned(),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `probe` succeeds or `timeout` passes; returns whether it did.
pub fn wait_until(timeout: Duration, mut probe: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if probe() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    probe()
}

/// Sends a Pyzor ping to `addr` and waits for any reply (server readiness).
pub fn udp_ping(addr: SocketAddr, timeout: Duration) -> bool {
    let Ok(sock) = UdpSocket::bind(if addr.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    }) else {
        return false;
    };
    let _ = sock.set_read_timeout(Some(timeout));
    let msg = b"Op: ping\nThread: 4242\nPV: 2.1\nUser: anonymous\nTime: 0\nSig: 0\n\n";
    if sock.send_to(msg, addr).is_err() {
        return false;
    }
    let mut buf = [0u8; 8192];
    sock.recv_from(&mut buf).is_ok()
}

/// A started `redis-server` on a private port, stopped on drop.
#[derive(Debug)]
pub struct Redis {
    /// The server process.
    pub guard: ChildGuard,
    /// Its port on 127.0.0.1.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    /// Starts a throwaway redis-server (no persistence), or skips/fails
    /// when it is not installed.
    pub fn start() -> Option<Redis> {
        let bin = require_redis_server()?;
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let guard = ChildGuard::spawn(
            "redis-server",
            Command::new(bin)
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .arg("--dir")
                .arg(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let up = wait_until(Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "redis-server did not start on port {port}");
        Some(Redis {
            guard,
            port,
            _dir: dir,
        })
    }
}
