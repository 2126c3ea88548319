//! The `pyzor` command line: a drop-in for pyzor 1.1.2's.
//!
//! Same commands, options, homedir files and defaults; the same stdout,
//! byte for byte (tab-separated lines with Python's `(code, 'diag')`
//! tuples) and the same exit codes (check: 0 when the message is listed,
//! 1 when not). Where the reference prints a Python traceback, this prints
//! one line on stderr and exits with status 2 (bad usage, configuration or
//! input) — see the README's compatibility table.
//!
//! [`run`] runs it in-process with explicit stdin/stdout, which the binary
//! and the tests use.

mod args;
mod commands;
pub mod input;
pub mod serve;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

pub use args::Args;
use pyzor_client::{Client, ClientSettings, Config, ServerAddr, Severity};

/// Exit status for errors the reference reports with a traceback.
pub const EXIT_USAGE: i32 = 2;

/// The version line (`pyzor -V`): the reference's format, with ours added.
pub fn version_line(argv0: &str) -> String {
    format!("{argv0} 1.1.2 (pyzor-rs {})", env!("CARGO_PKG_VERSION"))
}

/// stdin shared by the commands of one invocation: the first command that
/// reads it gets everything, later ones get nothing (as in the reference).
pub struct Stdin<'a> {
    reader: Option<&'a mut dyn Read>,
}

impl Stdin<'_> {
    /// Reads all that is left.
    pub fn read_all(&mut self) -> std::io::Result<Vec<u8>> {
        // stdin redirected from a file: its size, so that the buffer is
        // allocated once (growing it by doubling cost page faults and
        // copies on a large mbox)
        let mut buf = Vec::with_capacity(stdin_file_size().unwrap_or(0));
        if let Some(r) = self.reader.take() {
            r.read_to_end(&mut buf)?;
        }
        Ok(buf)
    }

    /// The digests of the mbox that is left, read a chunk at a time
    /// ([`input::mbox_digests`]).
    pub fn read_mbox_digests(&mut self) -> std::io::Result<Vec<String>> {
        match self.reader.take() {
            Some(r) => input::mbox_digests(r),
            None => Ok(Vec::new()),
        }
    }
}

/// Everything a command needs.
pub struct Context<'a> {
    /// The resolved settings.
    pub settings: ClientSettings,
    /// The servers to ask.
    pub servers: Vec<ServerAddr>,
    /// The client.
    pub client: Client,
    /// Shared stdin.
    pub stdin: Stdin<'a>,
    /// stdout.
    pub out: &'a mut dyn Write,
    /// stderr (for prompts and the odd message).
    pub err: &'a mut dyn Write,
}

/// A fatal problem: message for stderr, exit status.
pub struct Fatal(pub String, pub i32);

/// The size of the file stdin is redirected from, if it is one (at most
/// 1 GiB: a capacity hint).
fn stdin_file_size() -> Option<usize> {
    use std::os::fd::AsFd as _;
    let fd = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
    let meta = std::fs::File::from(fd).metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    usize::try_from(meta.len()).ok().map(|n| n.min(1 << 30))
}

fn default_homedir() -> PathBuf {
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(h) => PathBuf::from(h).join(".pyzor"),
        None => PathBuf::from("/etc/pyzor"),
    }
}

/// Runs `pyzor` with these arguments (the first is the program name) and
/// streams; returns the exit status.
pub fn run(
    argv: Vec<std::ffi::OsString>,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let argv0 = argv
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pyzor".into());
    let args = match Args::parse_from_os(argv) {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let text = e.render().to_string();
            let _ = if e.use_stderr() {
                err.write_all(text.as_bytes())
            } else {
                out.write_all(text.as_bytes())
            };
            return code;
        }
    };
    if args.version {
        let _ = writeln!(out, "{}", version_line(&argv0));
        return 0;
    }
    if args.commands.is_empty() {
        use clap::CommandFactory;
        let _ = write!(out, "{}", Args::command().render_help());
        return 0;
    }
    let serving = args.commands.iter().any(|c| c == "serve");
    if serving && args.commands.len() > 1 {
        let _ = writeln!(err, "pyzor: serve cannot be combined with other commands");
        return EXIT_USAGE;
    }
    let listen = if serving {
        match serve::parse_listen(&args.listen) {
            Ok(a) => Some(a),
            Err(Fatal(msg, code)) => {
                let _ = writeln!(err, "pyzor: {msg}");
                return code;
            }
        }
    } else {
        None
    };
    match prepare(&args, stdin, out, err) {
        Ok(ctx) if serving => serve::run(
            ctx,
            serve::ServeOptions {
                listen: listen.unwrap_or_else(|| ([127, 0, 0, 1], 5953).into()),
                max_connections: args.max_connections.clamp(1, 1024),
                max_message_size: args.max_message_size,
                read_timeout: Duration::from_secs(args.read_timeout.max(1)),
            },
        ),
        Ok(mut ctx) => commands::run_all(&args.commands, &mut ctx),
        Err(Fatal(msg, code)) => {
            let _ = writeln!(err, "pyzor: {msg}");
            code
        }
    }
}

fn prepare<'a>(
    args: &Args,
    stdin: &'a mut dyn Read,
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
) -> Result<Context<'a>, Fatal> {
    crate::process::set_umask_077();
    if args.nice != 0 {
        crate::process::nice(args.nice);
    }
    let homedir = args.homedir.clone().unwrap_or_else(default_homedir);
    if !homedir.exists() {
        std::fs::create_dir(&homedir).map_err(|e| {
            Fatal(
                format!("cannot create homedir {}: {e}", homedir.display()),
                EXIT_USAGE,
            )
        })?;
    }
    let overrides = args.overrides();
    let overrides: Vec<(&str, String)> = overrides.iter().map(|(k, v)| (*k, v.clone())).collect();
    let config =
        Config::load(&homedir, &overrides).map_err(|e| Fatal(e.to_string(), EXIT_USAGE))?;

    let mut outputs = vec![crate::logging::Output::stderr(args.debug)];
    if let Some(f) = &config.settings.log_file {
        outputs.push(
            crate::logging::Output::file(f, args.debug)
                .map_err(|e| Fatal(format!("{}: {e}", f.display()), EXIT_USAGE))?,
        );
    }
    let _ = crate::logging::init(outputs);
    for notice in &config.notices {
        match notice.severity {
            Severity::Info => tracing::info!("{}", notice.message),
            Severity::Warning => tracing::warn!("{}", notice.message),
        }
    }
    let client = config.client().with_retries(args.retries);
    Ok(Context {
        settings: config.settings,
        servers: config.servers,
        client,
        stdin: Stdin {
            reader: Some(stdin),
        },
        out,
        err,
    })
}

/// The `pyzor` binary's main.
pub fn main() -> std::process::ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let stdin = std::io::stdin();
    let mut stdin = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let stderr = std::io::stderr();
    let mut err = stderr.lock();
    let code = run(argv, &mut stdin, &mut out, &mut err);
    let _ = out.flush();
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
