//! Our `pyzor` against the reference `pyzor`, both talking to the real
//! Python pyzord (gdbm and redis engines): for every command — anonymous
//! and authenticated (success and failure), thresholds, several servers,
//! mbox and digests styles — the same stdout and exit status. Ours must
//! also print nothing on stderr.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use pyzor_testkit::fixtures::{self, account_line};
use pyzor_testkit::{Redis, RefEngine, RefPyzord, free_port, require_python_pyzor};

const MSG1: &[u8] = b"From: a@example.org\nSubject: one\n\nThis is the first test message body.\nIt has several lines of words,\nsome of them long enough to count.\nBuy cheap watches now at great prices!\n";
const MSG2: &[u8] = b"From: b@example.org\nSubject: two\nContent-Type: text/html\n\n<p>Second message: an HTML body</p><p>with paragraphs of text to digest</p>\n";

fn mbox() -> Vec<u8> {
    let mut m = b"From a@example.org Mon Jan  1 00:00:00 2024\n".to_vec();
    m.extend_from_slice(MSG1);
    m.extend_from_slice(b"\nFrom b@example.org Mon Jan  1 00:00:00 2024\n");
    m.extend_from_slice(MSG2);
    m.extend_from_slice(
        b"\nFrom c@example.org Mon Jan  1 00:00:00 2024\nSubject: three\n\nthird body line here\n",
    );
    m
}

struct Out {
    stdout: String,
    stderr: String,
    code: i32,
}

fn run(bin: &Path, homedir: &Path, args: &[&str], stdin: &[u8]) -> Out {
    let mut child = Command::new(bin)
        .arg("--homedir")
        .arg(homedir)
        .args(args)
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait");
    let _ = writer.join();
    Out {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

struct Cli {
    ours: PathBuf,
    theirs: PathBuf,
    home: tempfile::TempDir,
}

impl Cli {
    fn new(servers: &[u16], accounts: &str) -> Option<Cli> {
        let py = require_python_pyzor()?;
        let home = tempfile::tempdir().expect("tempdir");
        let list: String = servers.iter().map(|p| format!("127.0.0.1:{p}\n")).collect();
        std::fs::write(home.path().join("servers"), list).expect("servers");
        std::fs::write(home.path().join("accounts"), accounts).expect("accounts");
        Some(Cli {
            ours: PathBuf::from(env!("CARGO_BIN_EXE_pyzor")),
            theirs: py.pyzor,
            home,
        })
    }

    /// Runs ours, then the reference; asserts equal stdout and status, and
    /// nothing on our stderr.
    fn same(&self, args: &[&str], stdin: &[u8]) -> String {
        let (stdout, stderr) = self.same_with_stderr(args, stdin);
        assert_eq!(stderr, "", "our stderr for {args:?}");
        stdout
    }

    /// Like `same`; returns our stdout and stderr.
    fn same_with_stderr(&self, args: &[&str], stdin: &[u8]) -> (String, String) {
        let ours = run(&self.ours, self.home.path(), args, stdin);
        let theirs = run(&self.theirs, self.home.path(), args, stdin);
        assert_eq!(ours.stdout, theirs.stdout, "stdout of {args:?}");
        assert_eq!(ours.code, theirs.code, "exit status of {args:?}");
        (ours.stdout, ours.stderr)
    }

    /// Like `same`, comparing stdout lines in any order (several servers
    /// answer in any order in the reference).
    fn same_unordered(&self, args: &[&str], stdin: &[u8]) {
        let ours = run(&self.ours, self.home.path(), args, stdin);
        let theirs = run(&self.theirs, self.home.path(), args, stdin);
        let sorted = |s: &str| {
            let mut v: Vec<String> = s.lines().map(str::to_owned).collect();
            v.sort();
            v
        };
        assert_eq!(
            sorted(&ours.stdout),
            sorted(&theirs.stdout),
            "stdout of {args:?}"
        );
        assert_eq!(ours.code, theirs.code, "exit status of {args:?}");
        assert_eq!(ours.stderr, "", "our stderr for {args:?}");
    }

    /// Runs only ours.
    fn ours(&self, args: &[&str], stdin: &[u8]) -> Out {
        run(&self.ours, self.home.path(), args, stdin)
    }
}

fn anonymous_session(engine: RefEngine) {
    let Some(server) = RefPyzord::start(engine, false) else {
        return;
    };
    let Some(cli) = Cli::new(&[server.port], "") else {
        return;
    };
    cli.same(&["ping"], b"");
    cli.same(&["check"], MSG1);
    cli.same(&["report"], MSG1);
    cli.same(&["report"], MSG1);
    // each `same` runs both clients: four reports
    assert!(cli.same(&["check"], MSG1).ends_with("\t4\t0\n"));
    cli.same(&["info"], MSG1);
    cli.same(&["pong"], MSG1);
    cli.same(&["whitelist"], MSG1); // 403 for anonymous under the default ACL
    cli.same(&["check", "-r", "4"], MSG1);
    cli.same(&["check", "-r", "3"], MSG1);
    cli.same(&["info"], MSG2);
    // several commands share stdin: the second digests nothing
    cli.same(&["digest", "digest"], MSG1);
    cli.same(&["check", "ping"], MSG2);
    let (_, stderr) = cli.same_with_stderr(&["frobnicate", "ping"], b"");
    assert!(
        stderr.contains(" CRITICAL Unknown command: frobnicate\n"),
        "{stderr}"
    );
}

#[test]
fn anonymous_commands_match_the_reference_gdbm() {
    anonymous_session(RefEngine::Gdbm);
}

#[test]
fn anonymous_commands_match_the_reference_redis() {
    let Some(redis) = Redis::start() else { return };
    anonymous_session(RefEngine::Redis(redis.port, 0));
}

#[test]
fn authenticated_commands_match_the_reference() {
    let Some(server) = RefPyzord::start(RefEngine::Gdbm, true) else {
        return;
    };
    let port = server.port;
    let users = [
        ("bob", fixtures::BOB),
        ("alice", fixtures::ALICE),
        ("dan", fixtures::DAN),
        ("bob", fixtures::CHUCK_KEY),
    ];
    for (user, key) in users {
        let Some(cli) = Cli::new(&[port], &account_line(port, user, key)) else {
            return;
        };
        for op in ["ping", "pong", "check", "report", "whitelist", "info"] {
            cli.same(&[op], MSG1);
        }
        cli.same(&["check"], MSG2);
    }
    // anonymous with an access file: what the file grants
    let Some(cli) = Cli::new(&[port], "") else {
        return;
    };
    for op in ["ping", "pong", "check", "report", "whitelist", "info"] {
        cli.same(&[op], MSG2);
    }
    // whitelisted beyond the threshold: check is not "listed"
    let Some(bob) = Cli::new(&[port], &account_line(port, "bob", fixtures::BOB)) else {
        return;
    };
    bob.same(&["whitelist"], MSG2);
    bob.same(&["check"], MSG2);
    bob.same(&["check", "-w", "3"], MSG2);
}

#[test]
fn styles_and_local_whitelist_match_the_reference() {
    let Some(server) = RefPyzord::start(RefEngine::Gdbm, false) else {
        return;
    };
    let Some(cli) = Cli::new(&[server.port], "") else {
        return;
    };
    let mbox = mbox();
    cli.same(&["-s", "mbox", "digest"], &mbox);
    cli.same(&["-s", "mbox", "report"], &mbox);
    cli.same(&["--style=mbox", "check"], &mbox);
    cli.same(&["-s", "mbox", "info"], &mbox);
    let digests = cli.same(&["-s", "mbox", "digest"], &mbox);
    let with_blanks = format!("\n{digests}\n  \n");
    cli.same(&["-s", "digests", "check"], with_blanks.as_bytes());
    cli.same(&["-s", "digests", "digest"], with_blanks.as_bytes());
    cli.same(&["predigest"], MSG1);
    cli.same(&["predigest"], &mbox);
    cli.same(&["-s", "mbox", "check"], b"");
    // the local whitelist: ours writes it, both read it
    let first = digests.lines().next().expect("a digest").to_owned();
    let out = cli.ours(
        &["-s", "digests", "local_whitelist"],
        format!("{first}\n").as_bytes(),
    );
    assert_eq!(out.code, 0);
    cli.same(&["-s", "mbox", "check"], &mbox);
    let out = cli.ours(
        &["-s", "digests", "local_unwhitelist"],
        format!("{first}\n").as_bytes(),
    );
    assert_eq!(out.code, 0);
    cli.same(&["-s", "mbox", "check"], &mbox);
}

#[test]
fn several_servers_and_timeouts_match_the_reference() {
    let Some(a) = RefPyzord::start(RefEngine::Gdbm, false) else {
        return;
    };
    let Some(b) = RefPyzord::start(RefEngine::Gdbm, false) else {
        return;
    };
    let dead = free_port();
    let Some(cli) = Cli::new(&[a.port, b.port], "") else {
        return;
    };
    cli.same_unordered(&["ping"], b"");
    cli.same_unordered(&["report"], MSG1);
    cli.same_unordered(&["check"], MSG1);
    cli.same_unordered(&["info"], MSG1);
    let Some(with_dead) = Cli::new(&[a.port, dead, b.port], "") else {
        return;
    };
    with_dead.same_unordered(&["-t", "1", "check"], MSG1);
    with_dead.same_unordered(&["-t", "1", "ping"], b"");
    let Some(only_dead) = Cli::new(&[dead], "") else {
        return;
    };
    only_dead.same(&["-t", "1", "report"], MSG1);
}

#[test]
fn our_cli_alone() {
    // behaviour that needs no reference server
    let dir = tempfile::tempdir().expect("tempdir");
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_pyzor"));
    let out = run(&ours, dir.path(), &["-V"], b"");
    assert!(out.stdout.contains(" 1.1.2 (pyzor-rs "), "{}", out.stdout);
    assert_eq!(out.code, 0);
    let out = run(&ours, dir.path(), &[], b"");
    assert!(out.stdout.contains("Usage"), "{}", out.stdout);
    assert_eq!(out.code, 0);
    let out = run(
        &ours,
        dir.path(),
        &["digest"],
        b"Subject: x\n\nTest1 client check Test2\n",
    );
    assert_eq!(out.stdout, "007d225a558ca49fba12bcd5287996b974fc3d30\n");
    let out = run(&ours, dir.path(), &["-s", "bogus", "digest"], b"");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("unknown input style"), "{}", out.stderr);
    let out = run(&ours, dir.path(), &["-t", "x", "ping"], b"");
    assert_eq!(out.code, 2);
    let out = run(&ours, dir.path(), &["frobnicate"], b"");
    assert_eq!(out.code, 0);
    assert!(
        out.stderr.contains("CRITICAL Unknown command: frobnicate"),
        "{}",
        out.stderr
    );
}
