//! The sans-io client core: everything a Pyzor client does between
//! "send these requests" and "here are the answers", without a socket or a
//! clock.
//!
//! [`Core`] is handed the current time and the datagrams that arrive; it
//! says which datagrams to send ([`Core::poll_transmit`]), when it next
//! needs to be woken ([`Core::poll_timeout`]) and which requests are done
//! ([`Core::poll_event`]). It picks each request's `Thread`, signs the
//! request, keeps the table of requests in flight keyed by server address
//! and `Thread`, ignores stray and foreign replies, expires and retries
//! requests, and keeps at most a window of requests in flight per server
//! (the rest wait their turn, so that the replies fit a socket's receive
//! buffer). The blocking [`Client`](crate::Client) and the async
//! `AsyncClient` are loops over it, and its tests need no network.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use pyzor_client::proto::{Core, Target};
//! use pyzor_core::{Account, Digest, Op, ServerAddr};
//!
//! let server = ServerAddr::new("127.0.0.1", 24441);
//! let target = Target::new(server, vec!["127.0.0.1:24441".parse()?], &Account::anonymous());
//! let mut core = Core::new(Duration::from_secs(5), 0, 64);
//! let t0 = Instant::now();
//! let id = core.submit(t0, 1_700_000_000, target.into(), Op::Check, vec![Digest([1; 20])]);
//! let datagram = core.poll_transmit().expect("a datagram to send");
//! assert_eq!(datagram.id, id);
//! // nothing arrives: at the deadline the request times out
//! let deadline = core.poll_timeout().expect("a deadline");
//! assert_eq!(deadline, t0 + Duration::from_secs(5));
//! core.handle_timeout(deadline);
//! let (done, result) = core.poll_event().expect("an event");
//! assert_eq!(done, id);
//! assert!(matches!(result, Err(pyzor_client::ClientError::Timeout)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pyzor_core::{Account, Digest, Message, Op, Request, Response, ServerAddr, ThreadId};
use rand::SeedableRng as _;
use rand::rngs::SmallRng;

use crate::error::ClientError;

/// One request inside a [`Core`], from [`Core::submit`] to its event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(u64);

/// A server as the core sends to it: its name (for errors), its addresses
/// as the socket sees them, in order of preference, and the account that
/// signs requests to it.
#[derive(Debug, Clone)]
pub struct Target {
    /// The server as configured.
    pub server: ServerAddr,
    /// Where to send, first choice first (a datagram the socket refuses to
    /// send to one goes to the next).
    pub addrs: Vec<SocketAddr>,
    user: String,
    hashed_key: String,
}

impl Target {
    /// A target signing with `account` (its key hashed once, here).
    pub fn new(server: ServerAddr, addrs: Vec<SocketAddr>, account: &Account) -> Target {
        Target {
            server,
            addrs,
            user: account.user.clone(),
            hashed_key: account.hashed_key(),
        }
    }
}

/// A datagram the core wants sent.
#[derive(Debug, Clone)]
pub struct Transmit {
    /// The request it belongs to (report a failed send with
    /// [`Core::send_failed`]).
    pub id: RequestId,
    /// The destination.
    pub to: SocketAddr,
    /// The datagram.
    pub bytes: Arc<[u8]>,
}

/// The outcome of a request: its reply whatever the code, or why there is
/// none.
pub type Outcome = Result<Response<'static>, ClientError>;

/// A request that has been sent and awaits its reply.
#[derive(Debug)]
struct Flight {
    /// Index in the target's addresses of where it went.
    addr: usize,
    thread: u16,
    bytes: Arc<[u8]>,
    deadline: Instant,
    tries: u32,
}

#[derive(Debug)]
struct Entry {
    target: Arc<Target>,
    op: Op,
    digests: Vec<Digest>,
    /// The signing time (Unix seconds), fixed at submission.
    time: i64,
    /// `None` while it waits for a place in its server's window.
    flight: Option<Flight>,
}

impl Entry {
    /// The server's window this request counts against.
    fn lane(&self) -> Option<SocketAddr> {
        self.target.addrs.first().copied()
    }
}

/// Requests in flight at once per server when nothing else is said: few
/// enough that their replies fit a default socket receive buffer.
pub const DEFAULT_WINDOW: usize = 64;

/// The client state machine (see the [module documentation](self)).
#[derive(Debug)]
pub struct Core {
    timeout: Duration,
    retries: u32,
    window: usize,
    next_id: u64,
    entries: HashMap<RequestId, Entry>,
    /// In-flight requests by (address sent to, thread).
    keys: HashMap<(SocketAddr, u16), RequestId>,
    deadlines: BTreeSet<(Instant, RequestId)>,
    /// Per server (its first address): requests in flight, and those
    /// waiting for a place.
    lanes: HashMap<SocketAddr, Lane>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<(RequestId, Outcome)>,
    rng: SmallRng,
}

#[derive(Debug, Default)]
struct Lane {
    in_flight: usize,
    waiting: VecDeque<RequestId>,
}

impl Core {
    /// A core waiting `timeout` for each reply, resending a request that
    /// timed out up to `retries` more times, with at most `window`
    /// requests in flight per server (at least 1).
    pub fn new(timeout: Duration, retries: u32, window: usize) -> Core {
        Core::with_rng(timeout, retries, window, rand::make_rng())
    }

    /// [`Core::new`] picking thread ids from a seeded generator (for
    /// reproducible tests).
    pub fn with_seed(timeout: Duration, retries: u32, window: usize, seed: u64) -> Core {
        Core::with_rng(timeout, retries, window, SmallRng::seed_from_u64(seed))
    }

    fn with_rng(timeout: Duration, retries: u32, window: usize, rng: SmallRng) -> Core {
        Core {
            timeout,
            retries,
            window: window.max(1),
            next_id: 0,
            entries: HashMap::new(),
            keys: HashMap::new(),
            deadlines: BTreeSet::new(),
            lanes: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            rng,
        }
    }

    /// Adds a request: `op` with `digests` to `target`, signed at Unix
    /// time `unix_time`. It is sent at once if its server's window has
    /// room, else when a place frees; its timeout counts from the send.
    pub fn submit(
        &mut self,
        now: Instant,
        unix_time: i64,
        target: Arc<Target>,
        op: Op,
        digests: Vec<Digest>,
    ) -> RequestId {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        let entry = Entry {
            target,
            op,
            digests,
            time: unix_time,
            flight: None,
        };
        let Some(lane) = entry.lane() else {
            let server = entry.target.server.clone();
            self.events.push_back((
                id,
                Err(ClientError::Send {
                    server,
                    source: io::Error::new(io::ErrorKind::AddrNotAvailable, "no usable address"),
                }),
            ));
            return id;
        };
        self.entries.insert(id, entry);
        self.lanes.entry(lane).or_default().waiting.push_back(id);
        self.fill(now, lane);
        id
    }

    /// Starts waiting requests of `lane` while its window has room.
    fn fill(&mut self, now: Instant, lane: SocketAddr) {
        loop {
            let Some(l) = self.lanes.get_mut(&lane) else {
                return;
            };
            if l.in_flight >= self.window {
                return;
            }
            let Some(id) = l.waiting.pop_front() else {
                if l.in_flight == 0 {
                    self.lanes.remove(&lane);
                }
                return;
            };
            l.in_flight += 1;
            self.start(now, id);
        }
    }

    /// Sends a request for the first time: a thread id free at every
    /// address of its server, the signed datagram, the deadline.
    fn start(&mut self, now: Instant, id: RequestId) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        let thread = loop {
            let t = ThreadId::generate(&mut self.rng);
            if entry
                .target
                .addrs
                .iter()
                .all(|a| !self.keys.contains_key(&(*a, t.0)))
            {
                break t;
            }
        };
        let mut req = Request::new(entry.op, std::mem::take(&mut entry.digests), thread);
        req.sign_hashed(&entry.target.user, &entry.target.hashed_key, entry.time);
        let bytes: Arc<[u8]> = req.to_bytes().into();
        let to = entry.target.addrs[0];
        let deadline = now + self.timeout;
        entry.flight = Some(Flight {
            addr: 0,
            thread: thread.0,
            bytes: Arc::clone(&bytes),
            deadline,
            tries: 0,
        });
        self.keys.insert((to, thread.0), id);
        self.deadlines.insert((deadline, id));
        self.transmits.push_back(Transmit { id, to, bytes });
    }

    /// The next datagram to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Puts back a datagram that could not be sent yet (the socket's send
    /// buffer was full): it is the next one [`Core::poll_transmit`] gives.
    pub fn unpoll_transmit(&mut self, transmit: Transmit) {
        self.transmits.push_front(transmit);
    }

    /// Whether datagrams are waiting to be sent.
    pub fn has_transmits(&self) -> bool {
        !self.transmits.is_empty()
    }

    /// The socket refused to send `id`'s datagram: it goes to the server's
    /// next address, or the request fails with [`ClientError::Send`].
    pub fn send_failed(&mut self, now: Instant, id: RequestId, error: io::Error) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        let Some(flight) = entry.flight.as_mut() else {
            return;
        };
        let next = flight.addr + 1;
        if let Some(&to) = entry.target.addrs.get(next) {
            let from = entry.target.addrs[flight.addr];
            if !self.keys.contains_key(&(to, flight.thread)) {
                self.keys.remove(&(from, flight.thread));
                self.keys.insert((to, flight.thread), id);
                flight.addr = next;
                self.transmits.push_back(Transmit {
                    id,
                    to,
                    bytes: Arc::clone(&flight.bytes),
                });
                return;
            }
        }
        let server = entry.target.server.clone();
        self.finish(
            now,
            id,
            Err(ClientError::Send {
                server,
                source: error,
            }),
        );
    }

    /// A datagram arrived from `from` (as the socket sees addresses). A
    /// reply to a request in flight completes it; anything else is
    /// ignored. Returns whether it was a reply to one of ours.
    ///
    /// A reply matches a request sent to the same address with the same
    /// `Thread`, or, when exactly one request to that address is in
    /// flight, a reply with a reserved thread id (0..1023), which old
    /// servers send and the reference accepts.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) -> bool {
        let text = String::from_utf8_lossy(data);
        let msg = Message::parse(&text);
        let Some(thread) = msg.get("Thread").and_then(|t| ThreadId::parse(t).ok()) else {
            return false;
        };
        let id = match self.keys.get(&(from, thread.0)) {
            Some(&id) => id,
            None if !thread.in_ok_range() => {
                let mut to_server = self.keys.iter().filter(|((a, _), _)| *a == from);
                let Some((_, &only)) = to_server.next() else {
                    return false;
                };
                if to_server.next().is_some() {
                    return false;
                }
                only
            }
            None => return false,
        };
        let outcome = Response::from_message(&msg)
            .map(Response::into_owned)
            .map_err(ClientError::from);
        self.finish(now, id, outcome);
        true
    }

    /// Expires or resends the requests whose deadline is `now` or earlier.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(deadline, id)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            let retries = self.retries;
            let timeout = self.timeout;
            let Some(entry) = self.entries.get_mut(&id) else {
                continue;
            };
            let Some(flight) = entry.flight.as_mut() else {
                continue;
            };
            if flight.tries < retries {
                flight.tries += 1;
                flight.deadline = now + timeout;
                self.deadlines.insert((flight.deadline, id));
                self.transmits.push_back(Transmit {
                    id,
                    to: entry.target.addrs[flight.addr],
                    bytes: Arc::clone(&flight.bytes),
                });
            } else {
                self.finish(now, id, Err(ClientError::Timeout));
            }
        }
    }

    /// When [`Core::handle_timeout`] should next be called, if anything is
    /// in flight.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|(d, _)| *d)
    }

    /// The next finished request and its outcome.
    pub fn poll_event(&mut self) -> Option<(RequestId, Outcome)> {
        self.events.pop_front()
    }

    /// Forgets a request without an event (its caller gave up); its place
    /// in the window goes to the next waiting request.
    pub fn cancel(&mut self, now: Instant, id: RequestId) {
        if let Some(lane) = self.remove(id) {
            self.fill(now, lane);
        }
        // an event already queued for it is dropped too
        self.events.retain(|(e, _)| *e != id);
    }

    /// Fails every request, in flight or waiting, with
    /// [`ClientError::Socket`] (the socket itself broke).
    pub fn fail_all(&mut self, error: &io::Error) {
        let mut ids: Vec<RequestId> = self.entries.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            self.remove(id);
            self.events
                .push_back((id, Err(ClientError::Socket(crate::net::copy_io(error)))));
        }
        self.lanes.clear();
        self.transmits.clear();
    }

    /// Requests not finished yet (in flight or waiting).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no request is unfinished.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Completes a request with an event and frees its place.
    fn finish(&mut self, now: Instant, id: RequestId, outcome: Outcome) {
        if let Some(lane) = self.remove(id) {
            self.events.push_back((id, outcome));
            self.fill(now, lane);
        }
    }

    /// Removes every trace of a request; returns its lane.
    fn remove(&mut self, id: RequestId) -> Option<SocketAddr> {
        let entry = self.entries.remove(&id)?;
        let lane = entry.lane()?;
        let l = self.lanes.get_mut(&lane)?;
        match entry.flight {
            Some(f) => {
                self.keys.remove(&(entry.target.addrs[f.addr], f.thread));
                self.deadlines.remove(&(f.deadline, id));
                l.in_flight -= 1;
                self.transmits.retain(|t| t.id != id);
            }
            None => l.waiting.retain(|w| *w != id),
        }
        Some(lane)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyzor_core::Code;

    const T0_UNIX: i64 = 1_790_000_000;

    fn target(addrs: &[&str]) -> Arc<Target> {
        Arc::new(Target::new(
            ServerAddr::new("server", 24441),
            addrs.iter().map(|a| a.parse().unwrap()).collect(),
            &Account::anonymous(),
        ))
    }

    fn thread_of(t: &Transmit) -> u16 {
        let text = std::str::from_utf8(&t.bytes).unwrap();
        let msg = Message::parse(text);
        msg.get("Thread").unwrap().parse().unwrap()
    }

    fn reply(thread: u16, count: i64) -> Vec<u8> {
        format!("Code: 200\nDiag: OK\nPV: 2.1\nThread: {thread}\nCount: {count}\nWL-Count: 0\n\n")
            .into_bytes()
    }

    fn drain(core: &mut Core) -> Vec<Transmit> {
        std::iter::from_fn(|| core.poll_transmit()).collect()
    }

    #[test]
    fn a_reply_completes_its_request_and_strays_are_ignored() {
        let mut core = Core::with_seed(Duration::from_secs(5), 0, 8, 1);
        let now = Instant::now();
        let t = target(&["127.0.0.1:24441"]);
        let id = core.submit(now, T0_UNIX, t, Op::Check, vec![Digest([7; 20])]);
        let sent = drain(&mut core);
        assert_eq!(sent.len(), 1);
        let text = String::from_utf8(sent[0].bytes.to_vec()).unwrap();
        assert!(text.contains("Op: check\n"), "{text}");
        assert!(text.contains(&format!("Time: {T0_UNIX}\n")), "{text}");
        let thread = thread_of(&sent[0]);
        let server: SocketAddr = "127.0.0.1:24441".parse().unwrap();
        let other: SocketAddr = "127.0.0.1:9".parse().unwrap();
        // wrong thread, wrong address, garbage: ignored
        assert!(!core.handle_datagram(now, server, &reply(thread.wrapping_add(1).max(1024), 1)));
        assert!(!core.handle_datagram(now, other, &reply(thread, 2)));
        assert!(!core.handle_datagram(now, server, b"\xff\xfe garbage"));
        assert!(core.poll_event().is_none());
        assert!(core.handle_datagram(now, server, &reply(thread, 3)));
        let (done, outcome) = core.poll_event().unwrap();
        assert_eq!(done, id);
        let resp = outcome.unwrap();
        assert_eq!(resp.code, Code::OK);
        assert_eq!(resp.counts.unwrap().count, 3);
        assert!(core.is_empty());
        assert_eq!(core.poll_timeout(), None);
        // a duplicate of the reply is a stray now
        assert!(!core.handle_datagram(now, server, &reply(thread, 3)));
    }

    #[test]
    fn reserved_thread_replies_match_only_a_lone_request() {
        let mut core = Core::with_seed(Duration::from_secs(5), 0, 8, 2);
        let now = Instant::now();
        let server: SocketAddr = "127.0.0.1:24441".parse().unwrap();
        let a = core.submit(now, T0_UNIX, target(&["127.0.0.1:24441"]), Op::Ping, vec![]);
        drain(&mut core);
        assert!(core.handle_datagram(now, server, &reply(0, 0)));
        assert_eq!(core.poll_event().unwrap().0, a);
        core.submit(now, T0_UNIX, target(&["127.0.0.1:24441"]), Op::Ping, vec![]);
        core.submit(now, T0_UNIX, target(&["127.0.0.1:24441"]), Op::Ping, vec![]);
        drain(&mut core);
        assert!(!core.handle_datagram(now, server, &reply(0, 0)));
        assert_eq!(core.len(), 2);
    }

    #[test]
    fn timeouts_and_retries_resend_the_same_datagram() {
        let timeout = Duration::from_millis(100);
        let mut core = Core::with_seed(timeout, 2, 8, 3);
        let t0 = Instant::now();
        let id = core.submit(
            t0,
            T0_UNIX,
            target(&["[::1]:24441"]),
            Op::Check,
            vec![Digest([1; 20])],
        );
        let first = drain(&mut core);
        assert_eq!(core.poll_timeout(), Some(t0 + timeout));
        // not yet
        core.handle_timeout(t0 + timeout / 2);
        assert!(drain(&mut core).is_empty());
        let t1 = t0 + timeout;
        core.handle_timeout(t1);
        let second = drain(&mut core);
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].bytes, first[0].bytes);
        assert_eq!(core.poll_timeout(), Some(t1 + timeout));
        core.handle_timeout(t1 + timeout);
        assert_eq!(drain(&mut core).len(), 1);
        assert!(core.poll_event().is_none());
        core.handle_timeout(t1 + timeout * 2);
        let (done, outcome) = core.poll_event().unwrap();
        assert_eq!(done, id);
        assert!(matches!(outcome, Err(ClientError::Timeout)));
        assert!(core.is_empty());
    }

    #[test]
    fn the_window_holds_requests_back_per_server() {
        let mut core = Core::with_seed(Duration::from_secs(1), 0, 2, 4);
        let now = Instant::now();
        let a = target(&["127.0.0.1:1"]);
        let b = target(&["127.0.0.1:2"]);
        let ids: Vec<RequestId> = (0..5)
            .map(|_| {
                core.submit(
                    now,
                    T0_UNIX,
                    Arc::clone(&a),
                    Op::Check,
                    vec![Digest([2; 20])],
                )
            })
            .collect();
        core.submit(
            now,
            T0_UNIX,
            Arc::clone(&b),
            Op::Check,
            vec![Digest([2; 20])],
        );
        let sent = drain(&mut core);
        // two to a (its window), one to b: a busy server does not hold up another
        assert_eq!(sent.len(), 3);
        assert_eq!(sent.iter().filter(|t| t.to.port() == 1).count(), 2);
        assert_eq!(sent[0].id, ids[0]);
        // a reply frees a place: the next waiting request goes out
        let from: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert!(core.handle_datagram(now, from, &reply(thread_of(&sent[0]), 1)));
        let next = drain(&mut core);
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].id, ids[2]);
        // the waiting ones time out only a timeout after their own send
        let later = now + Duration::from_secs(1);
        core.handle_timeout(later);
        let expired: Vec<RequestId> = std::iter::from_fn(|| core.poll_event())
            .map(|e| e.0)
            .collect();
        assert_eq!(expired.len(), 4); // ids[0]'s reply, ids[1], ids[2], b's
        assert_eq!(drain(&mut core).len(), 2); // ids[3], ids[4] start
        assert_eq!(core.len(), 2);
    }

    #[test]
    fn cancel_forgets_and_frees_the_place() {
        let mut core = Core::with_seed(Duration::from_secs(1), 0, 1, 5);
        let now = Instant::now();
        let a = target(&["127.0.0.1:1"]);
        let first = core.submit(now, T0_UNIX, Arc::clone(&a), Op::Ping, vec![]);
        let second = core.submit(now, T0_UNIX, Arc::clone(&a), Op::Ping, vec![]);
        let sent = drain(&mut core);
        assert_eq!(sent.len(), 1);
        core.cancel(now, first);
        let next = drain(&mut core);
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].id, second);
        // the cancelled request's reply is now a stray
        let from: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert!(!core.handle_datagram(now, from, &reply(thread_of(&sent[0]), 1)));
        assert!(core.poll_event().is_none());
        // cancelling a waiting request leaves no trace either
        let third = core.submit(now, T0_UNIX, Arc::clone(&a), Op::Ping, vec![]);
        core.cancel(now, third);
        assert_eq!(core.len(), 1);
        assert!(drain(&mut core).is_empty());
    }

    #[test]
    fn a_refused_send_moves_to_the_next_address_then_fails() {
        let mut core = Core::with_seed(Duration::from_secs(1), 0, 4, 6);
        let now = Instant::now();
        let t = target(&["[::1]:24441", "127.0.0.1:24441"]);
        let id = core.submit(now, T0_UNIX, t, Op::Ping, vec![]);
        let first = drain(&mut core);
        assert_eq!(first[0].to.port(), 24441);
        assert!(first[0].to.is_ipv6());
        core.send_failed(now, id, io::Error::other("unreachable"));
        let second = drain(&mut core);
        assert_eq!(second.len(), 1);
        assert!(second[0].to.is_ipv4());
        // the reply comes from the address that was used
        let v4: SocketAddr = "127.0.0.1:24441".parse().unwrap();
        let v6: SocketAddr = "[::1]:24441".parse().unwrap();
        assert!(!core.handle_datagram(now, v6, &reply(thread_of(&second[0]), 1)));
        core.send_failed(now, id, io::Error::other("unreachable too"));
        let (done, outcome) = core.poll_event().unwrap();
        assert_eq!(done, id);
        assert!(
            matches!(outcome, Err(ClientError::Send { .. })),
            "{outcome:?}"
        );
        assert!(!core.handle_datagram(now, v4, &reply(thread_of(&second[0]), 1)));
        assert!(core.is_empty());
    }

    #[test]
    fn thread_ids_are_unique_per_address_and_outside_the_reserved_range() {
        let mut core = Core::with_seed(Duration::from_secs(1), 0, 5000, 7);
        let now = Instant::now();
        let t = target(&["127.0.0.1:1"]);
        for _ in 0..5000 {
            core.submit(now, T0_UNIX, Arc::clone(&t), Op::Ping, vec![]);
        }
        let threads: Vec<u16> = drain(&mut core).iter().map(thread_of).collect();
        assert_eq!(threads.len(), 5000);
        assert!(threads.iter().all(|t| *t >= ThreadId::MIN_OK));
        let unique: std::collections::HashSet<_> = threads.iter().collect();
        assert_eq!(unique.len(), 5000);
    }

    #[test]
    fn fail_all_ends_everything() {
        let mut core = Core::with_seed(Duration::from_secs(1), 0, 1, 8);
        let now = Instant::now();
        let t = target(&["127.0.0.1:1"]);
        core.submit(now, T0_UNIX, Arc::clone(&t), Op::Ping, vec![]);
        core.submit(now, T0_UNIX, Arc::clone(&t), Op::Ping, vec![]);
        core.fail_all(&io::Error::other("socket closed"));
        let events: Vec<_> = std::iter::from_fn(|| core.poll_event()).collect();
        assert_eq!(events.len(), 2);
        assert!(
            events
                .iter()
                .all(|(_, o)| matches!(o, Err(ClientError::Socket(_))))
        );
        assert!(core.is_empty());
        assert_eq!(core.poll_timeout(), None);
        assert!(!core.has_transmits());
    }

    #[test]
    fn a_target_without_addresses_fails_at_once() {
        let mut core = Core::new(Duration::from_secs(1), 0, 1);
        let id = core.submit(Instant::now(), T0_UNIX, target(&[]), Op::Ping, vec![]);
        let (done, outcome) = core.poll_event().unwrap();
        assert_eq!(done, id);
        assert!(matches!(outcome, Err(ClientError::Send { .. })));
        assert!(core.is_empty());
    }
}
