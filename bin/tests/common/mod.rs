//! Starting our pyzord for the integration tests.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use pyzor_testkit::{ChildGuard, free_port, udp_ping, wait_until};

/// Our pyzord, running; killed on drop.
pub struct Ours {
    pub guard: ChildGuard,
    pub port: u16,
    pub home: PathBuf,
    /// Where its stderr goes, if kept (`start_logged`).
    pub stderr_file: Option<PathBuf>,
}

impl Ours {
    pub fn addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    /// What it wrote on stderr so far (`start_logged`).
    pub fn stderr(&self) -> String {
        self.stderr_file
            .as_ref()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .unwrap_or_default()
    }

    /// Sends a signal.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.guard.pid().to_string()])
            .status()
            .map(|s| s.success());
        assert!(matches!(ok, Ok(true)), "kill -{sig}");
    }

    /// Waits for the process to exit; returns its status code.
    pub fn wait(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(st)) = self.guard.child.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pyzord"))
}

/// Starts our pyzord with `--homedir home -a 127.0.0.1 -p <free>` and
/// `extra` options; waits until it answers.
pub fn start(home: &Path, extra: &[&str]) -> Ours {
    start_on(home, "127.0.0.1", free_port(), extra)
}

pub fn start_on(home: &Path, addr: &str, port: u16, extra: &[&str]) -> Ours {
    spawn(home, addr, port, extra, None)
}

/// [`start`] with `--log-file home/pyzord.log`; also returns that path.
pub fn start_with_log_file(home: &Path, extra: &[&str]) -> (Ours, PathBuf) {
    let log = home.join("pyzord.log");
    let mut args = extra.to_vec();
    let path = log.to_str().expect("a UTF-8 temporary path");
    args.extend(["--log-file", path]);
    (start(home, &args), log)
}

/// [`start`] with its stderr kept in `home/stderr.log` ([`Ours::stderr`]).
pub fn start_logged(home: &Path, extra: &[&str]) -> Ours {
    spawn(
        home,
        "127.0.0.1",
        free_port(),
        extra,
        Some(home.join("stderr.log")),
    )
}

fn spawn(home: &Path, addr: &str, port: u16, extra: &[&str], log: Option<PathBuf>) -> Ours {
    let mut cmd = Command::new(bin());
    cmd.arg("--homedir")
        .arg(home)
        .args(["-a", addr, "-p", &port.to_string()])
        .args(extra);
    let stderr = match &log {
        Some(p) => Stdio::from(std::fs::File::create(p).unwrap()),
        None => Stdio::null(),
    };
    cmd.stdout(Stdio::null()).stderr(stderr);
    let guard = ChildGuard::spawn("pyzord", &mut cmd);
    let ping_addr: SocketAddr = if addr.contains(':') {
        (std::net::Ipv6Addr::LOCALHOST, port).into()
    } else {
        ([127, 0, 0, 1], port).into()
    };
    assert!(
        wait_until(Duration::from_secs(15), || udp_ping(
            ping_addr,
            Duration::from_millis(200)
        )),
        "pyzord did not start"
    );
    Ours {
        guard,
        port,
        home: home.to_owned(),
        stderr_file: log,
    }
}

/// Writes the fixture passwd and access files into a homedir.
pub fn with_fixture_auth(home: &Path) {
    std::fs::write(
        home.join("pyzord.passwd"),
        pyzor_testkit::fixtures::passwd(),
    )
    .unwrap();
    std::fs::write(home.join("pyzord.access"), pyzor_testkit::fixtures::ACCESS).unwrap();
}

/// A client signing as the fixture user bob (allowed everything by the
/// fixture ACL) at 127.0.0.1:`port`.
pub fn bob_client(port: u16) -> pyzor_client::Client {
    let mut accounts = pyzor_core::files::accounts::Accounts::empty();
    accounts.insert(
        pyzor_core::ServerAddr::new("127.0.0.1", port),
        pyzor_core::Account {
            user: "bob".into(),
            salt: pyzor_testkit::fixtures::BOB.0.into(),
            key: pyzor_testkit::fixtures::BOB.1.into(),
        },
    );
    pyzor_client::Client::new()
        .with_accounts(accounts)
        .with_timeout(Duration::from_secs(3))
}

/// The value of one series of the Prometheus text our pyzord serves at
/// `--metrics` 127.0.0.1:`port` (e.g. `pyzord_replays_total`).
pub fn metric(port: u16, name: &str) -> f64 {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    c.read_to_string(&mut text).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} not in\n{text}"))
        .parse()
        .unwrap()
}

/// Runs `pyzord --homedir home ARGS` (an operator command) to its end.
pub fn run(home: &Path, args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .arg("--homedir")
        .arg(home)
        .args(args)
        .output()
        .unwrap()
}

/// Output bytes as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// What a reporting load saw ([`report_load`]).
#[derive(Default)]
pub struct Seen {
    /// Reports acknowledged (200), with when.
    pub acked: std::sync::Mutex<Vec<(std::time::Instant, pyzor_core::Digest)>>,
    /// Requests with no reply within the client's timeout.
    pub silent: std::sync::atomic::AtomicU64,
    /// Error replies.
    pub errors: std::sync::atomic::AtomicU64,
}

impl Seen {
    /// The acknowledged digests.
    pub fn acked(&self) -> Vec<pyzor_core::Digest> {
        self.acked.lock().unwrap().iter().map(|(_, d)| *d).collect()
    }
}

/// Threads reporting fresh digests ([`report_load`]) until
/// [`Load::finish`].
pub struct Load {
    /// What they saw so far.
    pub seen: std::sync::Arc<Seen>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    /// One thread per tag: the thread of `tag` reports `digest(i, tag)`.
    pub fn start(
        server: &pyzor_core::ServerAddr,
        tags: &[u8],
        digest: fn(u64, u8) -> pyzor_core::Digest,
    ) -> Load {
        let seen = std::sync::Arc::new(Seen::default());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = tags
            .iter()
            .map(|&tag| {
                let (seen, stop, server) = (seen.clone(), stop.clone(), server.clone());
                std::thread::spawn(move || report_load(server, |i| digest(i, tag), seen, stop))
            })
            .collect();
        Load {
            seen,
            stop,
            threads,
        }
    }

    /// Stops the threads and waits for them; what they saw.
    pub fn finish(self) -> std::sync::Arc<Seen> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
        self.seen
    }
}

/// Reports fresh digests (`digest(i)`, i = 0, 1, …) one at a time with a
/// 5 s timeout until `stop` (at most 100 000), noting each outcome; the
/// first error reply is printed.
pub fn report_load(
    server: pyzor_core::ServerAddr,
    digest: impl Fn(u64) -> pyzor_core::Digest,
    seen: std::sync::Arc<Seen>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    use std::sync::atomic::Ordering;
    let client = pyzor_client::Client::new().with_timeout(Duration::from_secs(5));
    for i in 0u64..100_000 {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let d = digest(i);
        match client.report(&server, &[d]) {
            Ok(()) => seen
                .acked
                .lock()
                .unwrap()
                .push((std::time::Instant::now(), d)),
            Err(pyzor_client::ClientError::Timeout) => {
                seen.silent.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                if seen.errors.fetch_add(1, Ordering::Relaxed) == 0 {
                    eprintln!("the first error reply under load: {e}");
                }
            }
        }
    }
}
