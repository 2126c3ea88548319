//! The commands of `pyzor`.

use std::collections::BTreeSet;
use std::path::Path;

use pyzor_core::files::settings::Style;
use pyzor_core::pycompat::py_repr_str;
use pyzor_core::{Code, Digest, Op, Response, ServerAddr};

use super::{Context, input};
use pyzor_client::{ClientError, Job};

use crate::critical;

/// Runs the commands in order; stops with status 1 at the first that fails.
pub(super) fn run_all(commands: &[String], ctx: &mut Context<'_>) -> i32 {
    for command in commands {
        let ok = match command.as_str() {
            "ping" => ping(ctx),
            "pong" => check_like(ctx, Op::Pong),
            "check" => check_like(ctx, Op::Check),
            "info" => info(ctx),
            "report" => update(ctx, Op::Report),
            "whitelist" => update(ctx, Op::Whitelist),
            "digest" => digest(ctx),
            "predigest" => predigest(ctx),
            "genkey" => genkey(ctx),
            "local_whitelist" => local_whitelist(ctx, true),
            "local_unwhitelist" => local_whitelist(ctx, false),
            other => {
                critical!("Unknown command: {other}");
                Ok(true)
            }
        };
        match ok {
            Ok(true) => {}
            Ok(false) => {
                let _ = ctx.out.flush();
                return 1;
            }
            Err(e) => {
                let _ = ctx.out.flush();
                let _ = writeln!(ctx.err, "pyzor: {e}");
                return super::EXIT_USAGE;
            }
        }
    }
    let _ = ctx.out.flush();
    0
}

type CmdResult = Result<bool, String>;

/// `(code, 'diag')` as Python prints the tuple.
fn tuple(code: Code, diag: &str) -> String {
    format!("({}, {})", code.0, py_repr_str(diag))
}

fn read_digests(ctx: &mut Context<'_>) -> Result<Vec<String>, String> {
    let read = if ctx.settings.style == Style::Mbox {
        ctx.stdin.read_mbox_digests()
    } else {
        ctx.stdin
            .read_all()
            .map(|data| input::digests(ctx.settings.style, &data))
    };
    read.map_err(|e| format!("reading stdin: {e}"))
}

/// The line prefix of a server: `host:port\t`.
fn prefix(server: &ServerAddr) -> String {
    format!("{}\t", server)
}

/// One result per (digest, server): the jobs are sent together, pipelined.
fn ask(
    ctx: &Context<'_>,
    op: Op,
    digests: &[String],
) -> Vec<(ServerAddr, Result<Response<'static>, ClientError>)> {
    let mut jobs = Vec::new();
    let mut slots = Vec::new(); // Ok(job index) or Err(the error for an invalid digest)
    for d in digests {
        match Digest::from_hex(d) {
            Ok(digest) => {
                for s in &ctx.servers {
                    slots.push((s.clone(), Ok(jobs.len())));
                    jobs.push(Job::new(s.clone(), op, vec![digest]));
                }
            }
            Err(e) => {
                for s in &ctx.servers {
                    slots.push((s.clone(), Err(format!("invalid digest {d:?}: {e}"))));
                }
            }
        }
    }
    let mut replies: Vec<Option<Result<Response<'static>, ClientError>>> =
        ctx.client.raw_batch(&jobs).into_iter().map(Some).collect();
    slots
        .into_iter()
        .map(|(server, slot)| {
            let r = match slot {
                Ok(i) => replies[i].take().unwrap_or(Err(ClientError::Timeout)),
                Err(msg) => Err(ClientError::Server {
                    code: Code::BAD_REQUEST,
                    diag: msg,
                }),
            };
            (server, r)
        })
        .collect()
}

/// A client-side error line: `host:port\t(code, 'text')`.
fn error_line(server: &ServerAddr, e: &ClientError) -> String {
    format!("{}{}\n", prefix(server), tuple(e.code(), &e.text()))
}

fn ping(ctx: &mut Context<'_>) -> CmdResult {
    let jobs: Vec<Job> = ctx
        .servers
        .iter()
        .map(|s| Job::new(s.clone(), Op::Ping, vec![]))
        .collect();
    let mut all_ok = true;
    let mut text = String::new();
    for (server, r) in ctx.servers.iter().zip(ctx.client.raw_batch(&jobs)) {
        match r {
            Ok(resp) => {
                all_ok &= resp.code.is_ok();
                text.push_str(&format!(
                    "{}{}\n",
                    prefix(server),
                    tuple(resp.code, &resp.diag)
                ));
            }
            Err(e) => {
                all_ok = false;
                text.push_str(&error_line(server, &e));
            }
        }
    }
    write_out(ctx, &text)?;
    Ok(all_ok)
}

fn write_out(ctx: &mut Context<'_>, text: &str) -> Result<(), String> {
    ctx.out
        .write_all(text.as_bytes())
        .map_err(|e| format!("writing stdout: {e}"))
}

/// `check` and `pong`: counts against the thresholds.
fn check_like(ctx: &mut Context<'_>, op: Op) -> CmdResult {
    let digests = read_digests(ctx)?;
    let (rt, wt) = (
        ctx.settings.report_threshold,
        ctx.settings.whitelist_threshold,
    );
    // locally whitelisted digests are not sent (check only)
    let local = if op == Op::Check {
        load_local_whitelist(ctx.settings.local_whitelist.as_deref())
    } else {
        BTreeSet::new()
    };
    let mut mock = String::new();
    let mut real = Vec::new();
    for d in digests.into_iter().filter(|d| !d.is_empty()) {
        if local.contains(&d) {
            for s in &ctx.servers {
                mock.push_str(&format!("{}{}\t0\t0\n", prefix(s), tuple(Code::OK, "OK")));
            }
        } else {
            real.push(d);
        }
    }
    let (mut all_ok, mut found_hit, mut whitelisted) = (true, false, false);
    let mut text = mock;
    for (server, r) in ask(ctx, op, &real) {
        match r {
            Ok(resp) if resp.code.is_ok() => {
                let Some(c) = resp.counts else {
                    all_ok = false;
                    text.push_str(&error_line(
                        &server,
                        &ClientError::MissingHeader {
                            op: op.as_str(),
                            header: "Count",
                        },
                    ));
                    continue;
                };
                if c.wl_count > wt {
                    whitelisted = true;
                } else if c.count > rt {
                    found_hit = true;
                }
                text.push_str(&format!(
                    "{}{}\t{}\t{}\n",
                    prefix(&server),
                    tuple(resp.code, &resp.diag),
                    c.count,
                    c.wl_count
                ));
            }
            Ok(resp) => {
                all_ok = false;
                text.push_str(&format!(
                    "{}{}\t\n",
                    prefix(&server),
                    tuple(resp.code, &resp.diag)
                ));
            }
            Err(e) => {
                // a server error (also an invalid digest of the digests
                // style) or a failed request: the same line
                all_ok = false;
                text.push_str(&error_line(&server, &e));
            }
        }
    }
    write_out(ctx, &text)?;
    Ok(all_ok && found_hit && !whitelisted)
}

/// `time.ctime(t)` in local time (`-1` is `Never`).
fn ctime(t: i64) -> String {
    if t == -1 {
        return "Never".into();
    }
    use chrono::TimeZone as _;
    match chrono::Local.timestamp_opt(t, 0).single() {
        Some(dt) => dt.format("%a %b %e %H:%M:%S %Y").to_string(),
        None => t.to_string(),
    }
}

fn info(ctx: &mut Context<'_>) -> CmdResult {
    let digests = read_digests(ctx)?;
    let real: Vec<String> = digests.into_iter().filter(|d| !d.is_empty()).collect();
    let mut all_ok = true;
    let mut text = String::new();
    for (server, r) in ask(ctx, Op::Info, &real) {
        match r {
            Ok(resp) => {
                text.push_str(&format!(
                    "{}{}\n",
                    prefix(&server),
                    tuple(resp.code, &resp.diag)
                ));
                if resp.code.is_ok() {
                    let times = resp.info;
                    if let Some(c) = resp.counts {
                        text.push_str(&format!("\tCount: {}\n", c.count));
                    }
                    if let Some(t) = times {
                        text.push_str(&format!(
                            "\tEntered: {}\n\tUpdated: {}\n",
                            ctime(t.entered),
                            ctime(t.updated)
                        ));
                    }
                    if let Some(c) = resp.counts {
                        text.push_str(&format!("\tWL-Count: {}\n", c.wl_count));
                    }
                    if let Some(t) = times {
                        text.push_str(&format!(
                            "\tWL-Entered: {}\n\tWL-Updated: {}\n",
                            ctime(t.wl_entered),
                            ctime(t.wl_updated)
                        ));
                    }
                } else {
                    all_ok = false;
                }
                text.push('\n');
            }
            Err(e) => {
                all_ok = false;
                text.push_str(&error_line(&server, &e));
            }
        }
    }
    write_out(ctx, &text)?;
    Ok(all_ok)
}

/// `report` and `whitelist`.
fn update(ctx: &mut Context<'_>, op: Op) -> CmdResult {
    let digests = read_digests(ctx)?;
    let real: Vec<String> = digests.into_iter().filter(|d| !d.is_empty()).collect();
    let mut all_ok = true;
    let mut text = String::new();
    for (server, r) in ask(ctx, op, &real) {
        match r {
            Ok(resp) => {
                all_ok &= resp.code.is_ok();
                text.push_str(&format!(
                    "{}{}\n",
                    prefix(&server),
                    tuple(resp.code, &resp.diag)
                ));
            }
            Err(e) => {
                all_ok = false;
                text.push_str(&format!(
                    "{}{}\n",
                    prefix(&server),
                    tuple(e.code(), &e.text())
                ));
            }
        }
    }
    write_out(ctx, &text)?;
    Ok(all_ok)
}

fn digest(ctx: &mut Context<'_>) -> CmdResult {
    let digests = read_digests(ctx)?;
    let mut text = String::new();
    for d in digests.iter().filter(|d| !d.is_empty()) {
        text.push_str(d);
        text.push('\n');
    }
    write_out(ctx, &text)?;
    Ok(true)
}

fn predigest(ctx: &mut Context<'_>) -> CmdResult {
    let data = ctx
        .stdin
        .read_all()
        .map_err(|e| format!("reading stdin: {e}"))?;
    let mut text = String::new();
    for line in pyzor_digest::predigest(&data) {
        text.push_str(&line);
        text.push('\n');
    }
    write_out(ctx, &text)?;
    Ok(true)
}

/// Reads a passphrase: from the terminal without echo, or (no terminal)
/// a line of stdin, prompting on stderr.
fn passphrase(ctx: &mut Context<'_>, prompt: &str) -> Result<String, String> {
    match rpassword::prompt_password(prompt) {
        Ok(p) => Ok(p),
        Err(_) => {
            let _ = write!(ctx.err, "{prompt}");
            let _ = ctx.err.flush();
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| format!("reading the passphrase: {e}"))?;
            Ok(line.trim_end_matches(['\n', '\r']).to_owned())
        }
    }
}

fn genkey(ctx: &mut Context<'_>) -> CmdResult {
    let first = passphrase(ctx, "Enter passphrase: ")?;
    let second = passphrase(ctx, "Enter passphrase again: ")?;
    if first != second {
        tracing::error!("Passwords do not match.");
        return Ok(false);
    }
    let mut raw = [0u8; 20];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut raw);
    let k = pyzor_core::genkey(&first, &raw);
    write_out(ctx, &format!("salt,key:\n{},{}\n", k.salt, k.key))?;
    Ok(true)
}

/// The local whitelist file: one digest per line; `#` starts a comment
/// only after a character other than a backslash (so a line starting
/// with `#` is not a comment, as in the reference); entries are trimmed.
pub(super) fn load_local_whitelist(path: Option<&Path>) -> BTreeSet<String> {
    let Some(text) = path.and_then(|p| std::fs::read(p).ok()) else {
        return BTreeSet::new();
    };
    let text = String::from_utf8_lossy(&text);
    let mut set = BTreeSet::new();
    for line in text.split_inclusive('\n') {
        let chars: Vec<(usize, char)> = line.char_indices().collect();
        let cut = chars
            .windows(2)
            .find(|w| w[1].1 == '#' && w[0].1 != '\\')
            .map_or(line.len(), |w| w[1].0);
        let entry = pyzor_core::pycompat::py_strip(&line[..cut]);
        if !entry.is_empty() {
            set.insert(entry.to_owned());
        }
    }
    set
}

fn local_whitelist(ctx: &mut Context<'_>, add: bool) -> CmdResult {
    let path = ctx
        .settings
        .local_whitelist
        .clone()
        .ok_or("no local whitelist file is configured")?;
    let mut set = load_local_whitelist(Some(&path));
    for d in read_digests(ctx)? {
        if add {
            if set.contains(&d) {
                critical!("Digest {d} already whitelisted locally");
            }
            set.insert(d);
        } else if !set.remove(&d) {
            critical!("Digest {d} is not whitelisted.");
        }
    }
    let joined = set.into_iter().collect::<Vec<_>>().join("\n");
    std::fs::write(&path, joined).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(true)
}
