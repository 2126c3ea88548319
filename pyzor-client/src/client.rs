//! The UDP client: single requests, and batches of many requests to many
//! servers over one socket, pipelined.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pyzor_core::files::accounts::Accounts;
use pyzor_core::{
    Account, Code, Counts, Digest, InfoTimes, Message, Op, Request, Response, ServerAddr, ThreadId,
};

use crate::error::ClientError;

/// The reference client's default timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Requests in flight at once in a batch (more wait their turn): few
/// enough that their replies fit a default socket receive buffer.
const WINDOW: usize = 64;

/// One request of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The server to ask.
    pub server: ServerAddr,
    /// The operation.
    pub op: Op,
    /// Its digests (none for ping; one for check, info, pong; any number
    /// for report and whitelist).
    pub digests: Vec<Digest>,
}

impl Job {
    /// A job.
    pub fn new(server: ServerAddr, op: Op, digests: Vec<Digest>) -> Job {
        Job {
            server,
            op,
            digests,
        }
    }
}

/// The `info` of a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// Report and whitelist counts.
    pub counts: Counts,
    /// First/last report and whitelist times (Unix seconds, 0 = never).
    pub times: InfoTimes,
}

/// A Pyzor client.
///
/// Cheap to clone, `Send + Sync`, and safe to use after `fork()`: it holds
/// only configuration, and every call opens its own socket. Each call signs
/// its requests with the account configured for the server (anonymous
/// otherwise), checks that replies come from the server asked and carry the
/// request's `Thread`, and ignores any other datagram.
///
/// ```no_run
/// use pyzor_client::Client;
/// use pyzor_core::ServerAddr;
///
/// let client = Client::new();
/// let digest = pyzor_digest::digest(b"Subject: hi\n\nsome spam text here\n");
/// let counts = client.check(digest, &ServerAddr::new("127.0.0.1", 24441))?;
/// println!("reported {} times", counts.count);
/// # Ok::<(), pyzor_client::ClientError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    accounts: Accounts,
    timeout: Duration,
    retries: u32,
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

/// A resolved server and the account to sign for it with.
struct Target {
    addrs: Vec<SocketAddr>,
    account: Account,
    hashed_key: String,
}

/// A request of a batch, once sent.
struct Pending {
    job: usize,
    /// Where it went (as the socket sees addresses).
    to: SocketAddr,
    bytes: Vec<u8>,
    deadline: Instant,
    tries: u32,
}

impl Client {
    /// An anonymous client with the reference's 5 s timeout and no retries.
    pub fn new() -> Client {
        Client {
            accounts: Accounts::empty(),
            timeout: DEFAULT_TIMEOUT,
            retries: 0,
        }
    }

    /// Uses these accounts to sign requests to their servers.
    pub fn with_accounts(mut self, accounts: Accounts) -> Client {
        self.accounts = accounts;
        self
    }

    /// Sets how long to wait for each reply.
    pub fn with_timeout(mut self, timeout: Duration) -> Client {
        self.timeout = timeout;
        self
    }

    /// Resends a request that timed out up to `retries` more times (the
    /// reference never retries; neither do we by default).
    pub fn with_retries(mut self, retries: u32) -> Client {
        self.retries = retries;
        self
    }

    /// The accounts in use.
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// The per-reply timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// One request; the reply is returned whatever its code.
    pub fn request(
        &self,
        server: &ServerAddr,
        op: Op,
        digests: &[Digest],
    ) -> Result<Response<'static>, ClientError> {
        let job = Job::new(server.clone(), op, digests.to_vec());
        self.raw_batch(std::slice::from_ref(&job))
            .pop()
            .unwrap_or(Err(ClientError::Timeout))
    }

    /// `ping`: is the server there?
    pub fn ping(&self, server: &ServerAddr) -> Result<(), ClientError> {
        ok(self.request(server, Op::Ping, &[])).map(drop)
    }

    /// `pong`: a test operation (answers the largest count).
    pub fn pong(&self, digest: Digest, server: &ServerAddr) -> Result<Counts, ClientError> {
        counts(Op::Pong, ok(self.request(server, Op::Pong, &[digest])))
    }

    /// `check`: how often was this digest reported and whitelisted?
    pub fn check(&self, digest: Digest, server: &ServerAddr) -> Result<Counts, ClientError> {
        counts(Op::Check, ok(self.request(server, Op::Check, &[digest])))
    }

    /// `info`: counts and first/last times.
    pub fn info(&self, digest: Digest, server: &ServerAddr) -> Result<Info, ClientError> {
        info(ok(self.request(server, Op::Info, &[digest])))
    }

    /// `report`: these digests are spam.
    pub fn report(&self, digests: &[Digest], server: &ServerAddr) -> Result<(), ClientError> {
        ok(self.request(server, Op::Report, digests)).map(drop)
    }

    /// `whitelist`: these digests are ham.
    pub fn whitelist(&self, digests: &[Digest], server: &ServerAddr) -> Result<(), ClientError> {
        ok(self.request(server, Op::Whitelist, digests)).map(drop)
    }

    /// `check` of one digest at several servers at once.
    pub fn check_all(
        &self,
        digest: Digest,
        servers: &[ServerAddr],
    ) -> Vec<Result<Counts, ClientError>> {
        let jobs: Vec<Job> = servers
            .iter()
            .map(|s| Job::new(s.clone(), Op::Check, vec![digest]))
            .collect();
        self.batch(&jobs)
            .into_iter()
            .map(|r| counts(Op::Check, r))
            .collect()
    }

    /// Many requests to many servers over one socket, pipelined: results in
    /// job order; a non-200 reply is a [`ClientError::Server`].
    pub fn batch(&self, jobs: &[Job]) -> Vec<Result<Response<'static>, ClientError>> {
        self.raw_batch(jobs).into_iter().map(ok).collect()
    }

    /// Like [`Client::batch`], but replies are returned whatever their code.
    pub fn raw_batch(&self, jobs: &[Job]) -> Vec<Result<Response<'static>, ClientError>> {
        let mut results: Vec<Option<Result<Response<'static>, ClientError>>> =
            (0..jobs.len()).map(|_| None).collect();
        if jobs.is_empty() {
            return Vec::new();
        }
        // resolve each server once
        let mut targets: HashMap<&ServerAddr, Result<Target, io::Error>> = HashMap::new();
        for job in jobs {
            targets
                .entry(&job.server)
                .or_insert_with(|| self.resolve(&job.server));
        }
        let sock = match open_socket(targets.values().flatten().flat_map(|t| t.addrs.iter())) {
            Ok(s) => s,
            Err(e) => {
                return jobs
                    .iter()
                    .map(|_| Err(ClientError::Socket(io::Error::new(e.kind(), e.to_string()))))
                    .collect();
            }
        };
        let now_secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let mut rng = rand::rng();
        let mut in_flight: HashMap<(SocketAddr, u16), Pending> = HashMap::new();
        let mut next = 0;
        let mut buf = vec![0u8; 65536];
        loop {
            // fill the window
            while in_flight.len() < WINDOW && next < jobs.len() {
                let i = next;
                next += 1;
                let job = &jobs[i];
                let target = match targets.get(&job.server) {
                    Some(Ok(t)) => t,
                    Some(Err(e)) => {
                        results[i] = Some(Err(ClientError::Resolve {
                            server: job.server.clone(),
                            source: io::Error::new(e.kind(), e.to_string()),
                        }));
                        continue;
                    }
                    None => continue,
                };
                // a thread id not in use for this server
                let thread = loop {
                    let t = ThreadId::generate(&mut rng);
                    if target
                        .addrs
                        .iter()
                        .all(|a| !in_flight.contains_key(&(sock.view(*a), t.0)))
                    {
                        break t;
                    }
                };
                let mut req = Request::new(job.op, job.digests.clone(), thread);
                req.sign_hashed(&target.account.user, &target.hashed_key, now_secs);
                let bytes = req.to_bytes();
                match send(&sock, &target.addrs, &bytes) {
                    Ok(to) => {
                        in_flight.insert(
                            (to, thread.0),
                            Pending {
                                job: i,
                                to,
                                bytes,
                                deadline: Instant::now() + self.timeout,
                                tries: 0,
                            },
                        );
                    }
                    Err(e) => {
                        results[i] = Some(Err(ClientError::Send {
                            server: job.server.clone(),
                            source: e,
                        }))
                    }
                }
            }
            if in_flight.is_empty() {
                break;
            }
            // expire or retry what is overdue
            let now = Instant::now();
            let overdue: Vec<(SocketAddr, u16)> = in_flight
                .iter()
                .filter(|(_, p)| p.deadline <= now)
                .map(|(k, _)| *k)
                .collect();
            for key in overdue {
                let Some(p) = in_flight.get_mut(&key) else {
                    continue;
                };
                if p.tries < self.retries && sock.sock.send_to(&p.bytes, p.to).is_ok() {
                    p.tries += 1;
                    p.deadline = now + self.timeout;
                } else if let Some(p) = in_flight.remove(&key) {
                    results[p.job] = Some(Err(ClientError::Timeout));
                }
            }
            let Some(wait) = in_flight
                .values()
                .map(|p| p.deadline.saturating_duration_since(now))
                .min()
            else {
                continue;
            };
            if wait.is_zero() {
                continue;
            }
            let _ = sock.sock.set_read_timeout(Some(wait));
            match sock.sock.recv_from(&mut buf) {
                Ok((n, from)) => {
                    if let Some((key, resp)) = match_reply(&buf[..n], from, &in_flight)
                        && let Some(p) = in_flight.remove(&key)
                    {
                        results[p.job] = Some(resp);
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                // An ICMP error queued on the socket (port unreachable, ...)
                // is not tied to one request: like the reference, keep waiting.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                Err(e) => {
                    for (_, p) in in_flight.drain() {
                        results[p.job] = Some(Err(ClientError::Socket(io::Error::new(
                            e.kind(),
                            e.to_string(),
                        ))));
                    }
                }
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or(Err(ClientError::Timeout)))
            .collect()
    }

    fn resolve(&self, server: &ServerAddr) -> Result<Target, io::Error> {
        let host = server.host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = (host, server.port).to_socket_addrs()?.collect();
        if addrs.is_empty() {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no address"));
        }
        let account = self.accounts.for_server(server);
        let hashed_key = account.hashed_key();
        Ok(Target {
            addrs,
            account,
            hashed_key,
        })
    }
}

/// Keeps 200 replies, turns others into [`ClientError::Server`].
fn ok(r: Result<Response<'static>, ClientError>) -> Result<Response<'static>, ClientError> {
    let resp = r?;
    if resp.code == Code::OK {
        Ok(resp)
    } else {
        Err(ClientError::Server {
            code: resp.code,
            diag: resp.diag.into_owned(),
        })
    }
}

fn counts(op: Op, r: Result<Response<'static>, ClientError>) -> Result<Counts, ClientError> {
    r?.counts.ok_or(ClientError::MissingHeader {
        op: op.as_str(),
        header: "Count",
    })
}

fn info(r: Result<Response<'static>, ClientError>) -> Result<Info, ClientError> {
    let resp = r?;
    let counts = resp.counts.ok_or(ClientError::MissingHeader {
        op: "info",
        header: "Count",
    })?;
    Ok(Info {
        counts,
        times: resp.info.unwrap_or_default(),
    })
}

/// The socket of a batch: IPv6 dual-stack when the host has IPv6 (so one
/// socket reaches IPv4 and IPv6 servers), IPv4 otherwise.
struct Sock {
    sock: UdpSocket,
    v6: bool,
}

impl Sock {
    /// `addr` as this socket sends to it and sees replies from it.
    fn view(&self, addr: SocketAddr) -> SocketAddr {
        match (self.v6, addr) {
            (true, SocketAddr::V4(a)) => {
                SocketAddr::V6(SocketAddrV6::new(a.ip().to_ipv6_mapped(), a.port(), 0, 0))
            }
            _ => addr,
        }
    }
}

fn open_socket<'a>(mut addrs: impl Iterator<Item = &'a SocketAddr>) -> io::Result<Sock> {
    let need_v6 = addrs.any(SocketAddr::is_ipv6);
    let v6 = socket2::Socket::new(
        socket2::Domain::IPV6,
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )
    .and_then(|s| {
        s.set_only_v6(false)?;
        s.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)).into())?;
        Ok(s)
    });
    match v6 {
        Ok(s) => Ok(Sock {
            sock: s.into(),
            v6: true,
        }),
        Err(e) if need_v6 => Err(e),
        Err(_) => Ok(Sock {
            sock: UdpSocket::bind(("0.0.0.0", 0))?,
            v6: false,
        }),
    }
}

/// Sends to the first address that accepts the datagram; returns it as
/// the socket sees it.
fn send(sock: &Sock, addrs: &[SocketAddr], bytes: &[u8]) -> io::Result<SocketAddr> {
    let mut last = io::Error::new(io::ErrorKind::AddrNotAvailable, "no usable address");
    for &a in addrs {
        if !sock.v6 && a.is_ipv6() {
            continue;
        }
        let to = sock.view(a);
        match sock.sock.send_to(bytes, to) {
            Ok(_) => return Ok(to),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A reply matched to its request: the request's key and the parsed reply.
type Matched = ((SocketAddr, u16), Result<Response<'static>, ClientError>);

/// Matches a datagram to the request it answers: same server (replies
/// from an IPv4 server reach a dual-stack socket as IPv4-mapped addresses,
/// the form the request was sent to), and the request's `Thread` — or, with
/// one request to that server in flight, a reply with a reserved thread id
/// (0..1023), which old servers send and the reference accepts. Anything
/// else is a stray and is ignored.
fn match_reply(
    data: &[u8],
    from: SocketAddr,
    in_flight: &HashMap<(SocketAddr, u16), Pending>,
) -> Option<Matched> {
    let text = String::from_utf8_lossy(data);
    let msg = Message::parse(&text);
    let thread = msg.get("Thread").and_then(|t| ThreadId::parse(t).ok());
    let key = match thread {
        Some(t) if in_flight.contains_key(&(from, t.0)) => (from, t.0),
        Some(t) if !t.in_ok_range() => {
            let mut to_server = in_flight.keys().filter(|(a, _)| *a == from);
            let only = to_server.next().copied()?;
            if to_server.next().is_some() {
                return None;
            }
            only
        }
        _ => return None,
    };
    let resp = Response::from_message(&msg)
        .map(Response::into_owned)
        .map_err(ClientError::from);
    Some((key, resp))
}
