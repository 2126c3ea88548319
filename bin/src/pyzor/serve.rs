//! `pyzor serve`: `pyzor check` as a long-running TCP service, for rspamd's
//! pyzor module (its external services, port 5953) and anything else that
//! can speak its way: connect, send a raw message, half-close, read back
//! exactly what `pyzor check` prints for it, until the connection closes.
//! No Python process forked per message.
//!
//! Bounded: a fixed number of connections are served at once (the others
//! wait in the listen backlog), a message may not exceed a size, and a
//! peer that does not finish sending within the read timeout gets an error
//! line. An error is one line starting with `error:` (never a line that
//! could be read as a server's answer). SIGTERM and SIGINT stop accepting
//! and let the connections in hand finish.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pyzor_core::ServerAddr;
use pyzor_core::files::settings::ClientSettings;

use super::{Context, EXIT_USAGE, Fatal, Stdin, commands};
use pyzor_client::Client;

/// Limits of the service.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Connections served at once.
    pub max_connections: usize,
    /// Largest message accepted, in bytes.
    pub max_message_size: usize,
    /// Time a peer has to send its message and half-close.
    pub read_timeout: Duration,
}

/// Parses `--listen`.
pub fn parse_listen(s: &str) -> Result<SocketAddr, Fatal> {
    s.to_socket_addrs()
        .map_err(|e| Fatal(format!("--listen {s}: {e}"), EXIT_USAGE))?
        .next()
        .ok_or_else(|| Fatal(format!("--listen {s}: no address"), EXIT_USAGE))
}

/// What every connection shares.
struct Service {
    settings: ClientSettings,
    servers: Vec<ServerAddr>,
    client: Client,
    opts: ServeOptions,
}

/// Runs the service until SIGTERM or SIGINT; returns the exit status.
pub(super) fn run(ctx: Context<'_>, opts: ServeOptions) -> i32 {
    let listener = match TcpListener::bind(opts.listen) {
        Ok(l) => l,
        Err(e) => {
            crate::critical!("cannot listen on {}: {e}", opts.listen);
            let _ = writeln!(ctx.err, "pyzor: cannot listen on {}: {e}", opts.listen);
            return 1;
        }
    };
    let addr = listener.local_addr().unwrap_or(opts.listen);
    let service = Arc::new(Service {
        settings: ctx.settings,
        servers: ctx.servers,
        client: ctx.client,
        opts,
    });
    let stop = Arc::new(AtomicBool::new(false));
    let listener = Arc::new(listener);
    let workers: Vec<_> = (0..service.opts.max_connections.max(1))
        .filter_map(|i| {
            let (service, stop, listener) = (
                Arc::clone(&service),
                Arc::clone(&stop),
                Arc::clone(&listener),
            );
            std::thread::Builder::new()
                .name(format!("pyzor-serve-{i}"))
                .spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        match listener.accept() {
                            Ok((conn, peer)) => {
                                if stop.load(Ordering::SeqCst) {
                                    break;
                                }
                                if let Err(e) = handle(conn, &service) {
                                    tracing::warn!("{peer}: {e}");
                                }
                            }
                            Err(e) => {
                                tracing::warn!("accept: {e}");
                                std::thread::sleep(Duration::from_millis(100));
                            }
                        }
                    }
                })
                .ok()
        })
        .collect();
    let n = workers.len();
    tracing::info!("Serving pyzor check on {addr} ({n} connections at a time)");
    let _ = writeln!(ctx.err, "pyzor: serving check on {addr}");
    let _ = crate::process::sd_notify::notify("READY=1");
    match signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
    ]) {
        Ok(mut signals) => {
            let _ = signals.forever().next();
        }
        Err(e) => {
            crate::critical!("signals: {e}");
        }
    }
    let _ = crate::process::sd_notify::notify("STOPPING=1");
    tracing::info!("Shutting down.");
    stop.store(true, Ordering::SeqCst);
    // wake the workers blocked in accept
    let wake = if addr.ip().is_unspecified() {
        SocketAddr::new(
            if addr.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            },
            addr.port(),
        )
    } else {
        addr
    };
    for _ in 0..n {
        let _ = TcpStream::connect_timeout(&wake, Duration::from_millis(200));
    }
    for w in workers {
        let _ = w.join();
    }
    0
}

/// Reads the message until the peer half-closes, within the limits.
fn read_message(conn: &mut TcpStream, opts: &ServeOptions) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + opts.read_timeout;
    let mut message = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "no complete message within {} s (send it, then shut down the writing side)",
                opts.read_timeout.as_secs()
            ));
        }
        conn.set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        match conn.read(&mut buf) {
            Ok(0) => return Ok(message),
            Ok(n) => {
                if message.len() + n > opts.max_message_size {
                    return Err(format!(
                        "message larger than {} bytes",
                        opts.max_message_size
                    ));
                }
                message.extend_from_slice(&buf[..n]);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn handle(mut conn: TcpStream, service: &Service) -> io::Result<()> {
    conn.set_write_timeout(Some(Duration::from_secs(10)))?;
    let reply = match read_message(&mut conn, &service.opts) {
        Ok(message) => {
            let mut input: &[u8] = &message;
            let mut out = Vec::new();
            let mut err = Vec::new();
            let mut ctx = Context {
                settings: service.settings.clone(),
                servers: service.servers.clone(),
                client: service.client.clone(),
                stdin: Stdin {
                    reader: Some(&mut input),
                },
                out: &mut out,
                err: &mut err,
            };
            commands::run_all(&["check".to_owned()], &mut ctx);
            if !err.is_empty() {
                tracing::warn!("check: {}", String::from_utf8_lossy(&err).trim_end());
            }
            out
        }
        Err(e) => {
            tracing::warn!(
                "{}: {e}",
                conn.peer_addr().map(|a| a.to_string()).unwrap_or_default()
            );
            format!("error: {e}\n").into_bytes()
        }
    };
    conn.write_all(&reply)?;
    conn.flush()?;
    let _ = conn.shutdown(Shutdown::Write);
    // let the peer read before the socket goes (drain what it may still send)
    conn.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut sink = [0u8; 4096];
    while let Ok(n) = conn.read(&mut sink) {
        if n == 0 {
            break;
        }
    }
    Ok(())
}
