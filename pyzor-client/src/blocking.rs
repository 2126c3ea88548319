//! The blocking client: single requests, and batches of many requests to
//! many servers over one socket, pipelined; a loop over [`crate::proto::Core`].

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pyzor_core::files::accounts::Accounts;
use pyzor_core::{Counts, Digest, Op, Response, ServerAddr};

use crate::error::ClientError;
use crate::net::{self, ClientSocket, RecvError};
use crate::ops::{self, DEFAULT_TIMEOUT, Info, Job};
use crate::proto::{Core, DEFAULT_WINDOW, Outcome, RequestId, Target};

/// A blocking Pyzor client.
///
/// Cheap to clone, `Send + Sync`, and safe to use after `fork()`: it holds
/// only configuration, and every call opens its own socket. Each call signs
/// its requests with the account configured for the server (anonymous
/// otherwise), checks that replies come from the server asked and carry the
/// request's `Thread`, and ignores any other datagram.
///
/// Every method takes the server (or servers) first, then what to send.
///
/// ```no_run
/// use pyzor_client::{Client, ServerAddr};
///
/// let client = Client::new();
/// let digest = pyzor_digest::digest(b"Subject: hi\n\nsome spam text here\n");
/// let counts = client.check(&ServerAddr::new("127.0.0.1", 24441), digest)?;
/// println!("reported {} times", counts.count);
/// # Ok::<(), pyzor_client::ClientError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    accounts: Accounts,
    timeout: Duration,
    retries: u32,
    window: usize,
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl Client {
    /// An anonymous client with the reference's 5 s timeout and no retries.
    pub fn new() -> Client {
        Client {
            accounts: Accounts::empty(),
            timeout: DEFAULT_TIMEOUT,
            retries: 0,
            window: DEFAULT_WINDOW,
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

    /// Sets how many requests of a batch may be in flight to one server at
    /// once (default [`DEFAULT_WINDOW`]); the others wait their turn.
    pub fn with_window(mut self, window: usize) -> Client {
        self.window = window.max(1);
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

    /// The number of resends of a request that timed out.
    pub fn retries(&self) -> u32 {
        self.retries
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
        ops::ok(self.request(server, Op::Ping, &[])).map(drop)
    }

    /// `pong`: a test operation (answers the largest count).
    pub fn pong(&self, server: &ServerAddr, digest: Digest) -> Result<Counts, ClientError> {
        ops::counts(Op::Pong, ops::ok(self.request(server, Op::Pong, &[digest])))
    }

    /// `check`: how often was this digest reported and whitelisted?
    pub fn check(&self, server: &ServerAddr, digest: Digest) -> Result<Counts, ClientError> {
        ops::counts(
            Op::Check,
            ops::ok(self.request(server, Op::Check, &[digest])),
        )
    }

    /// `info`: counts and first/last times.
    pub fn info(&self, server: &ServerAddr, digest: Digest) -> Result<Info, ClientError> {
        ops::info(ops::ok(self.request(server, Op::Info, &[digest])))
    }

    /// `report`: these digests are spam.
    pub fn report(&self, server: &ServerAddr, digests: &[Digest]) -> Result<(), ClientError> {
        ops::ok(self.request(server, Op::Report, digests)).map(drop)
    }

    /// `whitelist`: these digests are ham.
    pub fn whitelist(&self, server: &ServerAddr, digests: &[Digest]) -> Result<(), ClientError> {
        ops::ok(self.request(server, Op::Whitelist, digests)).map(drop)
    }

    /// `check` of one digest at several servers at once; results in the
    /// order of the servers.
    pub fn check_all(
        &self,
        servers: &[ServerAddr],
        digest: Digest,
    ) -> Vec<Result<Counts, ClientError>> {
        self.batch(&ops::check_jobs(servers, digest))
            .into_iter()
            .map(|r| ops::counts(Op::Check, r))
            .collect()
    }

    /// Many requests to many servers over one socket, pipelined: results in
    /// job order; a non-200 reply is a [`ClientError::Server`].
    pub fn batch(&self, jobs: &[Job]) -> Vec<Result<Response<'static>, ClientError>> {
        self.raw_batch(jobs).into_iter().map(ops::ok).collect()
    }

    /// Like [`Client::batch`], but replies are returned whatever their code.
    pub fn raw_batch(&self, jobs: &[Job]) -> Vec<Outcome> {
        if jobs.is_empty() {
            return Vec::new();
        }
        let mut results: Vec<Option<Outcome>> = (0..jobs.len()).map(|_| None).collect();
        // resolve each server once
        let mut resolved: HashMap<&ServerAddr, io::Result<Vec<SocketAddr>>> = HashMap::new();
        for job in jobs {
            resolved
                .entry(&job.server)
                .or_insert_with(|| net::resolve(&job.server));
        }
        let needs_v6 = resolved
            .values()
            .flatten()
            .flatten()
            .any(SocketAddr::is_ipv6);
        let sock = match ClientSocket::open(needs_v6) {
            Ok(s) => s,
            Err(e) => {
                return jobs
                    .iter()
                    .map(|_| Err(ClientError::Socket(net::copy_io(&e))))
                    .collect();
            }
        };
        let mut targets: HashMap<&ServerAddr, Arc<Target>> = HashMap::new();
        let mut core = Core::new(self.timeout, self.retries, self.window);
        let mut job_of: HashMap<RequestId, usize> = HashMap::with_capacity(jobs.len());
        let unix_time = net::unix_now();
        let now = Instant::now();
        for (i, job) in jobs.iter().enumerate() {
            let addrs = match &resolved[&job.server] {
                Ok(a) => a,
                Err(e) => {
                    results[i] = Some(Err(ClientError::Resolve {
                        server: job.server.clone(),
                        source: net::copy_io(e),
                    }));
                    continue;
                }
            };
            let target = targets.entry(&job.server).or_insert_with(|| {
                Arc::new(Target::new(
                    job.server.clone(),
                    sock.view(addrs.iter().copied()),
                    &self.accounts.for_server(&job.server),
                ))
            });
            let id = core.submit(
                now,
                unix_time,
                Arc::clone(target),
                job.op,
                job.digests.clone(),
            );
            job_of.insert(id, i);
        }
        let mut buf = vec![0u8; net::RECV_BUF];
        loop {
            while let Some(t) = core.poll_transmit() {
                if let Err(e) = sock.socket.send_to(&t.bytes, t.to) {
                    core.send_failed(Instant::now(), t.id, e);
                }
            }
            while let Some((id, outcome)) = core.poll_event() {
                if let Some(&i) = job_of.get(&id) {
                    results[i] = Some(outcome);
                }
            }
            let Some(deadline) = core.poll_timeout() else {
                if core.is_empty() {
                    break;
                }
                continue;
            };
            let now = Instant::now();
            let wait = deadline.saturating_duration_since(now);
            if wait.is_zero() {
                core.handle_timeout(now);
                continue;
            }
            let _ = sock.socket.set_read_timeout(Some(wait));
            match sock.socket.recv_from(&mut buf) {
                Ok((n, from)) => {
                    core.handle_datagram(Instant::now(), from, &buf[..n]);
                }
                Err(e) => match net::classify(e) {
                    RecvError::KeepWaiting => core.handle_timeout(Instant::now()),
                    RecvError::Fatal(e) => core.fail_all(&e),
                },
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or(Err(ClientError::Timeout)))
            .collect()
    }
}
