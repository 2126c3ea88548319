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
///
/// The message is written to the process's stderr directly, not through
/// `eprintln!`, which the test harness captures (and shows only for a
/// failing test): a plain `cargo test` shows which tests skipped, and why.
pub fn missing<T>(what: &str) -> Option<T> {
    let msg = format!(
        "{what} not found; install the peers with `{INSTALL_HINT}` \
         (the reference pyzor is looked for in $PYZOR_PEERS_VENV, default \
         ~/.cache/pyzor-rs/peers-venv)"
    );
    if peers_required() {
        panic!("PYZOR_REQUIRE_PEERS=1: {msg}");
    }
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "skipping {test}: {msg}");
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

/// Prometheus' `promtool` (Debian package prometheus), which checks and
/// unit-tests the alert rules, or a skip/failure.
pub fn require_promtool() -> Option<PathBuf> {
    on_path("promtool").or_else(|| missing("promtool (Debian package prometheus)"))
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

    /// Sends SIGTERM and waits (up to 10 s) for the process to exit;
    /// returns its exit code. Panics if it does not exit.
    pub fn terminate(&mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.code();
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit on SIGTERM",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
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
    /// Its data directory, when it is its own.
    _dir: Option<tempfile::TempDir>,
}

impl Redis {
    /// Starts a throwaway redis-server (no persistence), or skips/fails
    /// when it is not installed.
    pub fn start() -> Option<Redis> {
        Redis::start_on(free_port())
    }

    /// [`Redis::start`] on a given port (to bring a server back where a
    /// stopped one was).
    pub fn start_on(port: u16) -> Option<Redis> {
        let dir = tempfile::tempdir().expect("tempdir");
        let (guard, port) = Redis::spawn(port, dir.path(), &["--appendonly", "no"])?;
        Some(Redis {
            guard,
            port,
            _dir: Some(dir),
        })
    }

    /// A redis-server whose data survives a kill -9 (every write is in its
    /// append-only file, synced before Redis answers), kept in `dir`, so
    /// that one started again on the same `dir` has every acknowledged
    /// write; its DEBUG command is on (DEBUG SLEEP pauses it).
    pub fn start_durable(port: u16, dir: &Path) -> Option<Redis> {
        let (guard, port) = Redis::spawn(
            port,
            dir,
            &[
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--enable-debug-command",
                "yes",
            ],
        )?;
        Some(Redis {
            guard,
            port,
            _dir: None,
        })
    }

    fn spawn(port: u16, dir: &Path, extra: &[&str]) -> Option<(ChildGuard, u16)> {
        let bin = require_redis_server()?;
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
                ])
                .args(extra)
                .arg("--dir")
                .arg(dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let up = wait_until(Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "redis-server did not start on port {port}");
        Some((guard, port))
    }

    /// Runs `redis-cli` with these arguments against it; its stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

/// A Redis Cluster on loopback: six redis-servers (three masters, a
/// replica each; node timeout 1 s, so a failover takes a few seconds), each
/// on its own port and data directory, stopped by PID on drop.
#[derive(Debug)]
pub struct RedisCluster {
    /// The nodes by port; `None` once killed.
    pub nodes: Vec<(u16, Option<ChildGuard>)>,
    _dir: tempfile::TempDir,
}

impl RedisCluster {
    /// Starts the nodes and joins them with `redis-cli --cluster create`;
    /// waits until every node reports `cluster_state:ok`. Skips/fails when
    /// redis-server is not installed.
    pub fn start() -> Option<RedisCluster> {
        let bin = require_redis_server()?;
        on_path("redis-cli").or_else(|| missing("redis-cli (Debian package redis-tools)"))?;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut nodes = Vec::new();
        while nodes.len() < 6 {
            // the cluster bus listens on port + 10000
            let port = free_port();
            if port > 55535
                || TcpListener::bind(("127.0.0.1", port + 10000)).is_err()
                || nodes.iter().any(|(p, _)| *p == port)
            {
                continue;
            }
            let node_dir = dir.path().join(port.to_string());
            std::fs::create_dir(&node_dir).expect("node dir");
            let guard = ChildGuard::spawn(
                "redis-server (cluster node)",
                Command::new(&bin)
                    .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                    .args(["--save", "", "--appendonly", "no"])
                    .args(["--cluster-enabled", "yes"])
                    .args(["--cluster-config-file", "nodes.conf"])
                    .args(["--cluster-node-timeout", "1000"])
                    // the masters that are up keep serving their slots
                    // while one is failing over
                    .args(["--cluster-require-full-coverage", "no"])
                    // replicas in sync at once (a replica that never
                    // synced cannot take over)
                    .args(["--repl-diskless-sync-delay", "0"])
                    .arg("--dir")
                    .arg(&node_dir)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null()),
            );
            nodes.push((port, Some(guard)));
        }
        for (port, _) in &nodes {
            let up = wait_until(Duration::from_secs(10), || {
                std::net::TcpStream::connect(("127.0.0.1", *port)).is_ok()
            });
            assert!(up, "redis-server did not start on port {port}");
        }
        let addrs: Vec<String> = nodes
            .iter()
            .map(|(p, _)| format!("127.0.0.1:{p}"))
            .collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .expect("redis-cli runs");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let cluster = RedisCluster { nodes, _dir: dir };
        assert!(
            cluster.wait_ok(Duration::from_secs(20)),
            "the Redis Cluster did not reach cluster_state:ok"
        );
        assert!(
            cluster.wait_replicas_in_sync(Duration::from_secs(20)),
            "the Redis Cluster's replicas did not sync"
        );
        Some(cluster)
    }

    /// The DSN of `-e redis-cluster` naming every node as a seed.
    pub fn dsn(&self) -> String {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|(p, _)| format!("127.0.0.1:{p}"))
            .collect();
        nodes.join(",")
    }

    /// Runs `redis-cli -p port` with these arguments; its stdout.
    pub fn cli(port: u16, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The ports of the nodes that are up.
    pub fn live(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .filter(|(_, g)| g.is_some())
            .map(|(p, _)| *p)
            .collect()
    }

    /// The masters that are up and serve slots, as a live node sees them
    /// (`CLUSTER NODES`): each one's port and slot ranges.
    fn serving_masters(&self) -> Vec<(u16, Vec<std::ops::RangeInclusive<u16>>)> {
        let live = self.live();
        let Some(&any) = live.first() else {
            return Vec::new();
        };
        RedisCluster::cli(any, &["cluster", "nodes"])
            .lines()
            .filter_map(|l| {
                // id host:port@bus flags master-id ping pong epoch link slots…
                let f: Vec<&str> = l.split_whitespace().collect();
                let flags = f.get(2)?;
                if !flags.split(',').any(|x| x == "master") || flags.contains("fail") {
                    return None;
                }
                let port: u16 = f[1].split('@').next()?.rsplit(':').next()?.parse().ok()?;
                let slots: Vec<_> = f
                    .get(8..)?
                    .iter()
                    .filter_map(|r| match r.split_once('-') {
                        Some((a, b)) => Some(a.parse().ok()?..=b.parse().ok()?),
                        None => r.parse().ok().map(|a| a..=a),
                    })
                    .collect();
                (live.contains(&port) && !slots.is_empty()).then_some((port, slots))
            })
            .collect()
    }

    /// The ports of the masters that are up and serve slots, as a live
    /// node sees them (`CLUSTER NODES`).
    pub fn masters(&self) -> Vec<u16> {
        let mut masters: Vec<u16> = self.serving_masters().into_iter().map(|(p, _)| p).collect();
        masters.sort_unstable();
        masters
    }

    /// The port of the master that holds `key`'s slot.
    pub fn master_of(&self, key: &str) -> Option<u16> {
        let live = self.live();
        let slot: u16 = RedisCluster::cli(*live.first()?, &["cluster", "keyslot", key])
            .parse()
            .ok()?;
        self.serving_masters()
            .into_iter()
            .find(|(_, slots)| slots.iter().any(|r| r.contains(&slot)))
            .map(|(port, _)| port)
    }

    /// Kills the node on `port` (SIGKILL) and reaps it.
    pub fn kill(&mut self, port: u16) {
        if let Some((_, g)) = self.nodes.iter_mut().find(|(p, _)| *p == port) {
            *g = None;
        }
    }

    /// Waits until every live replica's link to its master is up.
    pub fn wait_replicas_in_sync(&self, timeout: Duration) -> bool {
        wait_until(timeout, || {
            self.live().iter().all(|p| {
                let info = RedisCluster::cli(*p, &["info", "replication"]);
                info.contains("role:master") || info.contains("master_link_status:up")
            })
        })
    }

    /// Waits until every live node reports `cluster_state:ok`.
    pub fn wait_ok(&self, timeout: Duration) -> bool {
        wait_until(timeout, || {
            self.live()
                .iter()
                .all(|p| RedisCluster::cli(*p, &["cluster", "info"]).contains("cluster_state:ok"))
        })
    }
}

/// A MariaDB server of its own (Debian's mariadb-server): a fresh data
/// directory, 127.0.0.1 on a free port, root without a password, and the
/// reference's table `pyzor.public`; stopped by PID on drop.
#[derive(Debug)]
pub struct MariaDb {
    /// The server process (`None` while stopped).
    pub guard: Option<ChildGuard>,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
    bin: PathBuf,
}

/// The reference's table (pyzor/engines/mysql.py).
pub const MYSQL_TABLE: &str = "CREATE TABLE `public` (`digest` char(40) default NULL, \
     `r_count` int(11) default NULL, `wl_count` int(11) default NULL, \
     `r_entered` datetime default NULL, `wl_entered` datetime default NULL, \
     `r_updated` datetime default NULL, `wl_updated` datetime default NULL, \
     PRIMARY KEY (`digest`))";

impl MariaDb {
    /// Installs a data directory, starts the server and makes the table;
    /// skips/fails when mariadb-server is not installed.
    pub fn start() -> Option<MariaDb> {
        let find = |name: &str| {
            on_path(name).or_else(|| {
                let p = Path::new("/usr/sbin").join(name);
                p.is_file().then_some(p)
            })
        };
        let (Some(bin), Some(install), Some(_)) = (
            find("mariadbd"),
            find("mariadb-install-db"),
            find("mariadb"),
        ) else {
            return missing("mariadb-server (Debian package mariadb-server)");
        };
        let dir = tempfile::tempdir().expect("tempdir");
        // A private tmpdir: a starting server deletes every `#sql*` file in
        // its tmpdir, which in a shared /tmp are another instance's
        // temporary tables (tests start several servers at once).
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).expect("tmpdir");
        let out = Command::new(install)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", dir.path().join("data").display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .args(MariaDb::as_user())
            .output()
            .expect("mariadb-install-db runs");
        assert!(
            out.status.success(),
            "mariadb-install-db: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut db = MariaDb {
            guard: None,
            port: free_port(),
            dir,
            bin,
        };
        db.resume();
        db.sql("CREATE DATABASE pyzor");
        db.sql(&format!("USE pyzor; {MYSQL_TABLE}"));
        Some(db)
    }

    fn as_user() -> Vec<String> {
        // mariadbd refuses to run as root unless told to
        if std::env::var("USER").as_deref() == Ok("root")
            || std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
                s.lines()
                    .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
            })
        {
            vec!["--user=root".to_owned()]
        } else {
            Vec::new()
        }
    }

    /// Starts the server (again) on its data directory and port; waits
    /// until it answers.
    pub fn resume(&mut self) {
        let d = self.dir.path();
        let guard = ChildGuard::spawn(
            "mariadbd",
            Command::new(&self.bin)
                .arg("--no-defaults")
                .arg(format!("--datadir={}", d.join("data").display()))
                .arg(format!("--socket={}", d.join("sock").display()))
                .arg(format!("--tmpdir={}", d.join("tmp").display()))
                .arg(format!("--port={}", self.port))
                .arg("--bind-address=127.0.0.1")
                .arg(format!("--log-error={}", d.join("error.log").display()))
                .arg(format!("--pid-file={}", d.join("pid").display()))
                .arg("--innodb-buffer-pool-size=64M")
                .args(MariaDb::as_user())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        self.guard = Some(guard);
        let port = self.port;
        let up = wait_until(Duration::from_secs(30), || {
            Command::new("mariadb")
                .args(["--no-defaults", "-h", "127.0.0.1", "-P", &port.to_string()])
                .args(["-u", "root", "-e", "SELECT 1"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        assert!(
            up,
            "mariadbd did not start: {}",
            std::fs::read_to_string(d.join("error.log")).unwrap_or_default()
        );
    }

    /// Kills the server (SIGKILL: InnoDB recovers on the next start).
    pub fn kill(&mut self) {
        self.guard = None;
    }

    /// Runs SQL as root with the `mariadb` client; its tab-separated
    /// output (no column names). Panics on an SQL error.
    pub fn sql(&self, sql: &str) -> String {
        let out = Command::new("mariadb")
            .args([
                "--no-defaults",
                "-h",
                "127.0.0.1",
                "-P",
                &self.port.to_string(),
            ])
            .args(["-u", "root", "-N", "-B", "-e", sql])
            .output()
            .expect("mariadb runs");
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The DSN of `-e mysql` for the `pyzor.public` table.
    pub fn dsn(&self) -> String {
        format!("127.0.0.1:{},root,,pyzor,public", self.port)
    }
}

/// Test accounts, in the style of the reference's functional tests: `bob`
/// may do everything, `alice` nothing, `dan` check/report/ping; `chuck`
/// is a client-side account using bob's name with a wrong key. Keys are
/// what `pyzor genkey` makes (salt, key). TEST ONLY.
pub mod fixtures {
    /// bob's salt and key.
    pub const BOB: (&str, &str) = (
        "2dbf3d4a7c3f3a3c6a4b6e3f2d1c0b0a09080706",
        "9ece6d41cca07a2a0ca9ce51139dea05f088061f",
    );
    /// alice's salt and key.
    pub const ALICE: (&str, &str) = (
        "0102030405060708090a0b0c0d0e0f1011121314",
        "3c1e4f1b2a5d6e7f8091a2b3c4d5e6f708192a3b",
    );
    /// dan's salt and key.
    pub const DAN: (&str, &str) = (
        "1112131415161718191a1b1c1d1e1f2021222324",
        "7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b",
    );
    /// chuck: bob's user name, a wrong key.
    pub const CHUCK_KEY: (&str, &str) = ("aaaa", "00112233445566778899aabbccddeeff00112233");

    /// The server's passwd file.
    pub fn passwd() -> String {
        format!("alice : {}\nbob : {}\ndan : {}\n", ALICE.1, BOB.1, DAN.1)
    }

    /// The server's access file (the reference's functional-test ACL plus
    /// anonymous' default rights).
    pub const ACCESS: &str = "check report ping pong info whitelist : alice : deny\n\
                              check report ping pong info whitelist : bob : allow\n\
                              ALL : dan : allow\n\
                              pong info whitelist : dan : deny\n\
                              check report ping pong info : anonymous : allow\n";

    /// A client accounts file line for `user` at 127.0.0.1:`port`.
    pub fn account_line(port: u16, user: &str, (salt, key): (&str, &str)) -> String {
        format!("127.0.0.1 : {port} : {user} : {salt},{key}\n")
    }
}

/// Which database the reference pyzord uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefEngine {
    /// gdbm file in the homedir.
    Gdbm,
    /// A Redis on 127.0.0.1 at this port (database number).
    Redis(u16, u8),
    /// A MariaDB on 127.0.0.1 at this port: the `pyzor.public` table as
    /// root (through Debian's python3-mysqldb).
    Mysql(u16),
}

/// A running reference pyzord 1.1.2, stopped on drop.
#[derive(Debug)]
pub struct RefPyzord {
    /// The process.
    pub guard: ChildGuard,
    /// Its UDP port on 127.0.0.1.
    pub port: u16,
    /// Its homedir.
    pub homedir: tempfile::TempDir,
}

impl RefPyzord {
    /// Stops it gracefully (SIGTERM: it writes its gdbm database out on
    /// exit, where a kill -9 would lose up to a minute of writes) and
    /// hands back its homedir.
    pub fn stop(mut self) -> tempfile::TempDir {
        self.guard.terminate();
        self.homedir
    }

    /// Starts the reference pyzord on a free port with the fixture accounts
    /// (`with_auth`) or the built-in default ACL; skips/fails when the
    /// reference is not installed.
    pub fn start(engine: RefEngine, with_auth: bool) -> Option<RefPyzord> {
        let py = require_python_pyzor()?;
        let homedir = tempfile::tempdir().expect("tempdir");
        if with_auth {
            std::fs::write(homedir.path().join("pyzord.passwd"), fixtures::passwd())
                .expect("passwd");
            std::fs::write(homedir.path().join("pyzord.access"), fixtures::ACCESS).expect("access");
        }
        let port = free_port();
        let mut cmd = Command::new(&py.pyzord);
        cmd.arg("--homedir")
            .arg(homedir.path())
            .args(["-a", "127.0.0.1", "-p", &port.to_string()]);
        match engine {
            RefEngine::Gdbm => {
                cmd.args(["-e", "gdbm"]);
            }
            RefEngine::Redis(rport, db) => {
                cmd.args(["-e", "redis", "--dsn", &format!("127.0.0.1,{rport},,{db}")]);
            }
            RefEngine::Mysql(mport) => {
                // MySQLdb's DSN has no port: libmariadb takes it from the
                // environment
                if !runs(Path::new("/usr/bin/python3"), &["-c", "import MySQLdb"]) {
                    return missing("python3-mysqldb (Debian package python3-mysqldb)");
                }
                cmd.args(["-e", "mysql", "--dsn", "127.0.0.1,root,,pyzor,public"])
                    .env("MYSQL_TCP_PORT", mport.to_string())
                    .env("PYTHONPATH", "/usr/lib/python3/dist-packages");
            }
        }
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let guard = ChildGuard::spawn("reference pyzord", &mut cmd);
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        assert!(
            wait_until(Duration::from_secs(15), || udp_ping(
                addr,
                Duration::from_millis(200)
            )),
            "the reference pyzord did not answer on port {port}"
        );
        Some(RefPyzord {
            guard,
            port,
            homedir,
        })
    }
}

/// The inputs a fuzz target's corpus holds (`fuzz/corpus/<target>`), in
/// file-name order, for replaying them as ordinary tests; panics with a
/// message naming the folder when it cannot be read or holds fewer than
/// `at_least` inputs.
pub fn fuzz_corpus(target: &str, at_least: usize) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    fn fail<T>(dir: &Path, e: std::io::Error) -> T {
        panic!("{}: {e}", dir.display())
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| fail(&dir, e))
        .map(|e| e.unwrap_or_else(|e| fail(&dir, e)).path())
        .collect();
    files.sort();
    let inputs: Vec<Vec<u8>> = files
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect();
    assert!(
        inputs.len() >= at_least,
        "{} has only {} inputs",
        dir.display(),
        inputs.len()
    );
    inputs
}
