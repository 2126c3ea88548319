//! The async client on tokio (feature `tokio`): one UDP socket shared by
//! every clone and every task, requests multiplexed by `Thread`, all
//! driven by one background task over [`crate::proto::Core`].

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pyzor_core::files::accounts::Accounts;
use pyzor_core::{Counts, Digest, Op, Response, ServerAddr};
use tokio::net::UdpSocket;
use tokio::sync::{Notify, OnceCell, oneshot};

use crate::error::ClientError;
use crate::net::{self, RecvError};
use crate::ops::{self, DEFAULT_TIMEOUT, Info, Job};
use crate::proto::{Core, Outcome, RequestId, Target};

/// Requests in flight at once per server in the async client: it serves
/// many tasks, so its window is wider than a batch's, and its socket's
/// receive buffer is enlarged to match.
pub const ASYNC_WINDOW: usize = 256;

/// The receive buffer asked for (the kernel may cap it at `rmem_max`).
const RECV_BUFFER: usize = 4 << 20;

/// An async Pyzor client on tokio.
///
/// `Clone + Send + Sync`: clones share one socket and one background task
/// that reads replies and expires requests, so many tasks can have many
/// requests in flight at once, told apart by their `Thread`. The socket and
/// the task are made on the first request, inside the tokio runtime that
/// makes it; they end when the last clone is dropped. The methods take the
/// same arguments, in the same order, and give the same errors as the
/// blocking [`Client`](crate::Client). They are cancellation-safe: a
/// dropped future forgets its request (a late reply is ignored).
///
/// ```no_run
/// # async fn f() -> Result<(), pyzor_client::ClientError> {
/// use pyzor_client::{AsyncClient, ServerAddr};
///
/// let client = AsyncClient::new();
/// let digest = pyzor_digest::digest(b"Subject: hi\n\nsome spam text here\n");
/// let counts = client.check(&ServerAddr::new("127.0.0.1", 24441), digest).await?;
/// println!("reported {} times", counts.count);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AsyncClient {
    options: Arc<Options>,
    driver: Arc<OnceCell<Driver>>,
}

#[derive(Debug, Clone)]
struct Options {
    accounts: Accounts,
    timeout: Duration,
    retries: u32,
    window: usize,
}

/// The socket and its task, made on first use.
#[derive(Debug)]
struct Driver {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Debug)]
struct Shared {
    socket: UdpSocket,
    v6: bool,
    state: Mutex<State>,
    /// Wakes the task: a new deadline, or datagrams the socket could not
    /// take yet.
    wake: Notify,
}

#[derive(Debug)]
struct State {
    core: Core,
    waiters: HashMap<RequestId, oneshot::Sender<Outcome>>,
    /// Signing targets by server (accounts are fixed per client).
    keys: HashMap<ServerAddr, Arc<Target>>,
    /// The deadline the task sleeps until (`None`: no deadline).
    armed: Option<Instant>,
}

impl Default for AsyncClient {
    fn default() -> Self {
        AsyncClient::new()
    }
}

impl AsyncClient {
    /// An anonymous client with the reference's 5 s timeout and no
    /// retries. No socket is opened until the first request.
    pub fn new() -> AsyncClient {
        AsyncClient::from_options(Options {
            accounts: Accounts::empty(),
            timeout: DEFAULT_TIMEOUT,
            retries: 0,
            window: ASYNC_WINDOW,
        })
    }

    fn from_options(options: Options) -> AsyncClient {
        AsyncClient {
            options: Arc::new(options),
            driver: Arc::new(OnceCell::new()),
        }
    }

    fn with(&self, change: impl FnOnce(&mut Options)) -> AsyncClient {
        let mut options = (*self.options).clone();
        change(&mut options);
        AsyncClient::from_options(options)
    }

    /// Uses these accounts to sign requests to their servers (a new client:
    /// its own socket).
    pub fn with_accounts(self, accounts: Accounts) -> AsyncClient {
        self.with(|o| o.accounts = accounts)
    }

    /// Sets how long to wait for each reply (a new client: its own socket).
    pub fn with_timeout(self, timeout: Duration) -> AsyncClient {
        self.with(|o| o.timeout = timeout)
    }

    /// Resends a request that timed out up to `retries` more times (a new
    /// client: its own socket).
    pub fn with_retries(self, retries: u32) -> AsyncClient {
        self.with(|o| o.retries = retries)
    }

    /// Sets how many requests may be in flight to one server at once
    /// (default [`ASYNC_WINDOW`]); the others wait their turn, and their
    /// timeout counts from their send (a new client: its own socket).
    pub fn with_window(self, window: usize) -> AsyncClient {
        self.with(|o| o.window = window.max(1))
    }

    /// The accounts in use.
    pub fn accounts(&self) -> &Accounts {
        &self.options.accounts
    }

    /// The per-reply timeout.
    pub fn timeout(&self) -> Duration {
        self.options.timeout
    }

    /// One request; the reply is returned whatever its code.
    pub async fn request(
        &self,
        server: &ServerAddr,
        op: Op,
        digests: &[Digest],
    ) -> Result<Response<'static>, ClientError> {
        let shared = self.shared().await?;
        let target = shared.target(server, &self.options.accounts).await?;
        let (id, rx) = shared.submit(target, op, digests.to_vec());
        Pending {
            shared,
            id: Some(id),
        }
        .wait(rx)
        .await
    }

    /// `ping`: is the server there?
    pub async fn ping(&self, server: &ServerAddr) -> Result<(), ClientError> {
        ops::ok(self.request(server, Op::Ping, &[]).await).map(drop)
    }

    /// `pong`: a test operation (answers the largest count).
    pub async fn pong(&self, server: &ServerAddr, digest: Digest) -> Result<Counts, ClientError> {
        ops::counts(
            Op::Pong,
            ops::ok(self.request(server, Op::Pong, &[digest]).await),
        )
    }

    /// `check`: how often was this digest reported and whitelisted?
    pub async fn check(&self, server: &ServerAddr, digest: Digest) -> Result<Counts, ClientError> {
        ops::counts(
            Op::Check,
            ops::ok(self.request(server, Op::Check, &[digest]).await),
        )
    }

    /// `info`: counts and first/last times.
    pub async fn info(&self, server: &ServerAddr, digest: Digest) -> Result<Info, ClientError> {
        ops::info(ops::ok(self.request(server, Op::Info, &[digest]).await))
    }

    /// `report`: these digests are spam.
    pub async fn report(&self, server: &ServerAddr, digests: &[Digest]) -> Result<(), ClientError> {
        ops::ok(self.request(server, Op::Report, digests).await).map(drop)
    }

    /// `whitelist`: these digests are ham.
    pub async fn whitelist(
        &self,
        server: &ServerAddr,
        digests: &[Digest],
    ) -> Result<(), ClientError> {
        ops::ok(self.request(server, Op::Whitelist, digests).await).map(drop)
    }

    /// `check` of one digest at several servers at once; results in the
    /// order of the servers.
    pub async fn check_all(
        &self,
        servers: &[ServerAddr],
        digest: Digest,
    ) -> Vec<Result<Counts, ClientError>> {
        self.batch(&ops::check_jobs(servers, digest))
            .await
            .into_iter()
            .map(|r| ops::counts(Op::Check, r))
            .collect()
    }

    /// Many requests to many servers at once: results in job order; a
    /// non-200 reply is a [`ClientError::Server`].
    pub async fn batch(&self, jobs: &[Job]) -> Vec<Result<Response<'static>, ClientError>> {
        self.raw_batch(jobs)
            .await
            .into_iter()
            .map(ops::ok)
            .collect()
    }

    /// Like [`AsyncClient::batch`], but replies are returned whatever their
    /// code.
    pub async fn raw_batch(&self, jobs: &[Job]) -> Vec<Outcome> {
        let shared = match self.shared().await {
            Ok(s) => s,
            Err(e) => return jobs.iter().map(|_| Err(copy_error(&e))).collect(),
        };
        // submit everything first, then wait for each in turn
        let mut pending = Vec::with_capacity(jobs.len());
        for job in jobs {
            match shared.target(&job.server, &self.options.accounts).await {
                Ok(target) => {
                    let (id, rx) = shared.submit(target, job.op, job.digests.clone());
                    pending.push(Ok((
                        Pending {
                            shared: Arc::clone(&shared),
                            id: Some(id),
                        },
                        rx,
                    )));
                }
                Err(e) => pending.push(Err(e)),
            }
        }
        let mut results = Vec::with_capacity(jobs.len());
        for p in pending {
            results.push(match p {
                Ok((p, rx)) => p.wait(rx).await,
                Err(e) => Err(e),
            });
        }
        results
    }

    async fn shared(&self) -> Result<Arc<Shared>, ClientError> {
        let options = &self.options;
        self.driver
            .get_or_try_init(|| Driver::start(options))
            .await
            .map(|d| Arc::clone(&d.shared))
            .map_err(ClientError::Socket)
    }
}

fn copy_error(e: &ClientError) -> ClientError {
    match e {
        ClientError::Socket(e) => ClientError::Socket(net::copy_io(e)),
        other => ClientError::Socket(io::Error::other(other.to_string())),
    }
}

impl Driver {
    async fn start(options: &Options) -> io::Result<Driver> {
        let sock = net::ClientSocket::open(false)?;
        let s2 = socket2::SockRef::from(&sock.socket);
        let _ = s2.set_recv_buffer_size(RECV_BUFFER);
        sock.socket.set_nonblocking(true)?;
        let socket = UdpSocket::from_std(sock.socket)?;
        let shared = Arc::new(Shared {
            socket,
            v6: sock.v6,
            state: Mutex::new(State {
                core: Core::new(options.timeout, options.retries, options.window),
                waiters: HashMap::new(),
                keys: HashMap::new(),
                armed: None,
            }),
            wake: Notify::new(),
        });
        let task = tokio::spawn(drive(Arc::clone(&shared)));
        Ok(Driver { shared, task })
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // a panic while holding the lock leaves the core consistent enough
        // to go on: every method of it completes before returning
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The resolved, signing target of a server.
    async fn target(
        &self,
        server: &ServerAddr,
        accounts: &Accounts,
    ) -> Result<Arc<Target>, ClientError> {
        let literal = net::literal(server).ok();
        if literal.is_some()
            && let Some(t) = self.lock().keys.get(server)
        {
            return Ok(Arc::clone(t));
        }
        let addrs: Vec<SocketAddr> = match literal {
            Some(a) => vec![a],
            None => {
                let host = server.host.trim_start_matches('[').trim_end_matches(']');
                let found = tokio::net::lookup_host((host, server.port))
                    .await
                    .map(|a| a.collect::<Vec<_>>())
                    .and_then(|a| {
                        if a.is_empty() {
                            Err(io::Error::new(io::ErrorKind::NotFound, "no address"))
                        } else {
                            Ok(a)
                        }
                    });
                found.map_err(|source| ClientError::Resolve {
                    server: server.clone(),
                    source,
                })?
            }
        };
        let target = Arc::new(Target::new(
            server.clone(),
            net::view(self.v6, addrs),
            &accounts.for_server(server),
        ));
        if literal.is_some() {
            // names are resolved anew each time (their addresses may move)
            self.lock().keys.insert(server.clone(), Arc::clone(&target));
        }
        Ok(target)
    }

    fn submit(
        &self,
        target: Arc<Target>,
        op: Op,
        digests: Vec<Digest>,
    ) -> (RequestId, oneshot::Receiver<Outcome>) {
        let (tx, rx) = oneshot::channel();
        let mut st = self.lock();
        let id = st
            .core
            .submit(Instant::now(), net::unix_now(), target, op, digests);
        st.waiters.insert(id, tx);
        self.flush(&mut st);
        // wake the task only when its sleep must end sooner
        let earlier = match (st.core.poll_timeout(), st.armed) {
            (Some(d), Some(armed)) => d < armed,
            (Some(_), None) => true,
            (None, _) => false,
        };
        drop(st);
        if earlier {
            self.wake.notify_one();
        }
        (id, rx)
    }

    /// Sends what the core wants sent, without waiting: a full send buffer
    /// leaves the rest to the task; then hands out finished requests.
    fn flush(&self, st: &mut State) {
        while let Some(t) = st.core.poll_transmit() {
            match self.socket.try_send_to(&t.bytes, t.to) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    st.core.unpoll_transmit(t);
                    self.wake.notify_one();
                    break;
                }
                Err(e) => st.core.send_failed(Instant::now(), t.id, e),
            }
        }
        while let Some((id, outcome)) = st.core.poll_event() {
            if let Some(tx) = st.waiters.remove(&id) {
                let _ = tx.send(outcome);
            }
        }
    }
}

/// A submitted request; dropping it before its answer forgets it.
struct Pending {
    shared: Arc<Shared>,
    id: Option<RequestId>,
}

impl Pending {
    async fn wait(mut self, rx: oneshot::Receiver<Outcome>) -> Outcome {
        let r = rx.await;
        self.id = None;
        r.unwrap_or_else(|_| {
            Err(ClientError::Socket(io::Error::other(
                "the client's task stopped (its runtime shut down)",
            )))
        })
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let mut st = self.shared.lock();
            st.waiters.remove(&id);
            st.core.cancel(Instant::now(), id);
            // its place may have gone to a waiting request
            self.shared.flush(&mut st);
        }
    }
}

/// The background task: reads replies, expires and resends requests,
/// sends what the socket could not take at once.
async fn drive(shared: Arc<Shared>) {
    let mut buf = vec![0u8; net::RECV_BUF];
    loop {
        let (deadline, blocked) = {
            let mut st = shared.lock();
            st.armed = st.core.poll_timeout();
            (st.armed, st.core.has_transmits())
        };
        let sleep = sleep_until(deadline);
        tokio::select! {
            r = shared.socket.recv_from(&mut buf) => {
                let broken = {
                let mut st = shared.lock();
                let now = Instant::now();
                let mut fatal = false;
                match r {
                    Ok((n, from)) => {
                        st.core.handle_datagram(now, from, &buf[..n]);
                        // take whatever else is queued while holding the lock
                        for _ in 0..256 {
                            match shared.socket.try_recv_from(&mut buf) {
                                Ok((n, from)) => {
                                    st.core.handle_datagram(now, from, &buf[..n]);
                                }
                                Err(e) => {
                                    if let RecvError::Fatal(e) = net::classify(e) {
                                        st.core.fail_all(&e);
                                    }
                                    break;
                                }
                            }
                        }
                    }
                    Err(e) => {
                        if let RecvError::Fatal(e) = net::classify(e) {
                            st.core.fail_all(&e);
                            fatal = true;
                        }
                    }
                }
                shared.flush(&mut st);
                fatal
                };
                if broken {
                    // a broken socket is not polled in a tight loop
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            () = sleep => {
                let mut st = shared.lock();
                st.core.handle_timeout(Instant::now());
                shared.flush(&mut st);
            }
            r = shared.socket.writable(), if blocked => {
                if r.is_ok() {
                    let mut st = shared.lock();
                    shared.flush(&mut st);
                }
            }
            () = shared.wake.notified() => {}
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_clone_send_sync_and_its_futures_send() {
        fn clone_send_sync<T: Clone + Send + Sync>() {}
        fn send<T: Send>(_: &T) {}
        clone_send_sync::<AsyncClient>();
        let client = AsyncClient::new();
        let server = ServerAddr::new("127.0.0.1", 9);
        send(&client.check(&server, Digest([0; 20])));
        send(&client.batch(&[]));
    }
}
