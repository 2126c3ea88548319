//! The sans-io request handler: datagrams, peer addresses and the current
//! time in, replies out, with a [`Store`] to apply the batch to. No socket
//! and no clock inside; the worker threads do the I/O.
//!
//! Each request goes through pyzord 1.1.2's checks in its order (protocol
//! §1.6), so the same error wins: user and signature, protocol version,
//! ACL, dispatch, then the operation. Two deliberate differences: a
//! datagram over 8192 bytes and an `Op-Digest` that is not 40 hex digits
//! get 400 (the reference truncates the one and stores the other). The
//! requests of a batch that need the store are applied to it in one call.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use pyzor_core::unix_secs;

use pyzor_core::files::access::Acl;
use pyzor_core::files::passwd::Passwd;
use pyzor_core::pycompat::py_repr_str;
use pyzor_core::{
    Code, Counts, Digest, MAX_DATAGRAM, Message, Op, PONG_COUNT, Response, ServerError, auth,
    check_protocol_version, server_text,
};

use crate::guard::{Guard, ReplayKey, Signed, Verdict};
use crate::store::{Record, Store, StoreError, StoreOp, Update};

/// Accounts and access rules (replaced as a whole on reload).
#[derive(Debug, Clone)]
pub struct Auth {
    /// `pyzord.passwd`.
    pub passwd: Passwd,
    /// `pyzord.access` (or the default rules).
    pub acl: Acl,
}

impl Default for Auth {
    /// No accounts and the default ACL (what missing files mean).
    fn default() -> Self {
        Auth {
            passwd: Passwd::empty(),
            acl: Acl::default_rules(),
        }
    }
}

/// A received datagram.
#[derive(Debug, Clone, Copy)]
pub struct Datagram<'a> {
    /// The bytes received (at most [`MAX_DATAGRAM`] of them).
    pub data: &'a [u8],
    /// The datagram's real length (more than `data.len()` when truncated).
    pub len: usize,
    /// The sender.
    pub peer: SocketAddr,
}

/// What one request amounted to (for the usage log and statistics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The operation, if it was one of the six and got that far.
    pub op: Option<Op>,
    /// The reply code.
    pub code: Code,
    /// The digests counted (report/whitelist with code 200), for forwarding.
    pub counted: Option<(Update, Vec<Digest>)>,
}

/// Hooks the server plugs into the handler.
pub trait Hooks {
    /// Successful reports and whitelists, after the store has them.
    fn counted(&self, _kind: Update, _digests: &[Digest]) {}
}

/// No hooks.
pub struct NoHooks;

impl Hooks for NoHooks {}

/// What a request needs after the checks.
enum Plan {
    Error(ServerError),
    /// 200 without counts (ping, or no digest).
    Ok,
    Pong,
    /// Read this digest's record (the batch's Gets are in request order:
    /// the k-th read answers the k-th check or info).
    Check(Digest),
    Info(Digest),
    Update(Update, Vec<Digest>),
}

/// Per-request data needed after the store call (owned, so that the
/// second half of a batch can run on another thread).
struct Pending {
    thread: String,
    user: String,
    op: Option<String>,
    /// The raw `Op-Digest` values, kept only when the usage log is on.
    digests: Option<Vec<String>>,
    peer: SocketAddr,
    plan: Plan,
    /// A signed update the guard remembered (forgotten if the store fails,
    /// so that a retry applies).
    replay: Option<ReplayKey>,
}

/// The guard's word on an update that passed the checks (see
/// [`crate::guard`]); other plans pass unchanged.
fn guarded(
    guard: &Guard,
    plan: Plan,
    msg: &Message<'_>,
    user: &str,
    peer: SocketAddr,
    now: f64,
) -> (Plan, Option<ReplayKey>) {
    let Plan::Update(kind, digests) = plan else {
        return (plan, None);
    };
    if !guard.active() {
        return (Plan::Update(kind, digests), None);
    }
    // a signed request got here with an integer Time (it was verified)
    let signed = (user != auth::ANONYMOUS)
        .then(|| {
            let time = msg
                .get("Time")
                .and_then(|t| pyzor_core::pycompat::py_int(t).ok())?;
            Some(Signed {
                user,
                time,
                sig: msg.get("Sig").unwrap_or_default(),
            })
        })
        .flatten();
    let key = signed.filter(|_| guard.config().replay).map(ReplayKey::of);
    match guard.check(kind, &digests, peer, user, signed, now) {
        Verdict::Apply(kept) => (Plan::Update(kind, kept), key),
        Verdict::AnswerOnly => (Plan::Ok, None),
        Verdict::Limited(network) => (
            Plan::Error(ServerError::RateLimited(network.to_string())),
            None,
        ),
    }
}

/// The checks before the operation; `Err` is the reply.
fn plan(auth: &Auth, msg: &Message<'_>, user: &str, now: SystemTime) -> Result<Plan, ServerError> {
    if user != auth::ANONYMOUS {
        let key = auth.passwd.key(user).ok_or(ServerError::UnknownUser)?;
        auth::verify(msg, key, now)?;
    }
    check_protocol_version(msg.get("PV"))?;
    let op_name = msg.get("Op");
    if !auth.acl.allows(user, op_name) {
        return Err(ServerError::Forbidden);
    }
    let op = op_name
        .and_then(Op::from_wire)
        .ok_or(ServerError::NotImplemented)?;
    let raw: Vec<&str> = msg.get_all("Op-Digest").collect();
    let digests = || {
        raw.iter()
            .map(|v| Digest::from_hex(v).map_err(|_| ServerError::InvalidDigest(py_repr_str(v))))
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(match op {
        // ping ignores its digests, and an operation without any is
        // answered 200, as the reference does
        Op::Ping => Plan::Ok,
        _ if raw.is_empty() => Plan::Ok,
        Op::Pong => {
            digests()?;
            Plan::Pong
        }
        Op::Check => Plan::Check(digests()?[0]),
        Op::Info => Plan::Info(digests()?[0]),
        Op::Report => Plan::Update(Update::Report, digests()?),
        Op::Whitelist => Plan::Update(Update::Whitelist, digests()?),
    })
}

/// A batch after the checks: the store operations it needs, and what to
/// answer once the store has applied them ([`Prepared::finish`]). Owns
/// everything it needs, so the store may finish it on another thread.
pub struct Prepared {
    pending: Vec<Pending>,
    now: i64,
    guard: Arc<Guard>,
}

/// Runs the checks of every datagram of a batch, then the `guard`'s rules
/// on its updates (first half of [`handle_batch`]).
pub fn prepare(
    auth: &Auth,
    guard: &Arc<Guard>,
    now: SystemTime,
    batch: &[Datagram<'_>],
) -> Prepared {
    let now_f = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let keep_digests = tracing::enabled!(target: "pyzord::usage", tracing::Level::INFO);
    let mut pending = Vec::with_capacity(batch.len());
    for d in batch {
        let text = server_text(d.data);
        let msg = Message::parse(&text);
        let thread = msg.get("Thread").unwrap_or("");
        let user = msg
            .get("User")
            .filter(|u| !u.is_empty())
            .unwrap_or(auth::ANONYMOUS);
        let op = msg.get("Op");
        let digests = if keep_digests {
            let v: Vec<String> = msg.get_all("Op-Digest").map(str::to_owned).collect();
            (!v.is_empty()).then_some(v)
        } else {
            None
        };
        let plan = if d.len > MAX_DATAGRAM {
            Plan::Error(ServerError::TooLong)
        } else {
            plan(auth, &msg, user, now).unwrap_or_else(Plan::Error)
        };
        let (plan, replay) = guarded(guard, plan, &msg, user, d.peer, now_f);
        pending.push(Pending {
            thread: thread.to_owned(),
            user: user.to_owned(),
            op: op.map(str::to_owned),
            digests,
            peer: d.peer,
            plan,
            replay,
        });
    }
    Prepared {
        pending,
        now: unix_secs(now),
        guard: Arc::clone(guard),
    }
}

impl Prepared {
    /// The store operations of the batch, in request order (empty when
    /// no request needs the store).
    pub fn ops(&self) -> Vec<StoreOp> {
        self.pending
            .iter()
            .filter_map(|p| match &p.plan {
                Plan::Check(d) | Plan::Info(d) => Some(StoreOp::Get(*d)),
                Plan::Update(kind, ds) => Some(StoreOp::Update(*kind, ds.clone())),
                _ => None,
            })
            .collect()
    }

    /// `true` if some request needs the store.
    pub fn needs_store(&self) -> bool {
        self.pending
            .iter()
            .any(|p| matches!(p.plan, Plan::Check(_) | Plan::Info(_) | Plan::Update(..)))
    }

    /// Splits off the requests that must wait for a write: the reports and
    /// whitelists, and the checks and infos of a digest that one of them
    /// updates earlier in the batch (so a read still sees the updates
    /// before it). What stays can be answered from the last committed
    /// state at once. `None` when nothing writes.
    pub fn split_off_updates(&mut self) -> Option<Prepared> {
        if !self
            .pending
            .iter()
            .any(|p| matches!(p.plan, Plan::Update(..)))
        {
            return None;
        }
        let mut written: Vec<Digest> = Vec::new();
        let mut stay = Vec::with_capacity(self.pending.len());
        let mut defer = Vec::new();
        for p in std::mem::take(&mut self.pending) {
            match &p.plan {
                Plan::Update(_, ds) => {
                    written.extend_from_slice(ds);
                    defer.push(p);
                }
                Plan::Check(d) | Plan::Info(d) if written.contains(d) => defer.push(p),
                _ => stay.push(p),
            }
        }
        self.pending = stay;
        Some(Prepared {
            pending: defer,
            now: self.now,
            guard: Arc::clone(&self.guard),
        })
    }

    /// The time the batch is applied at (Unix seconds).
    pub fn now(&self) -> i64 {
        self.now
    }

    /// The number of requests.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// `true` for an empty batch.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The peer of request `i`.
    pub fn peer(&self, i: usize) -> SocketAddr {
        self.pending[i].peer
    }

    /// Second half of [`handle_batch`]: the replies, given the records the
    /// store read for the batch's [`StoreOp::Get`]s (or its error). Writes
    /// one reply per request into `replies` (reusing its vectors).
    pub fn finish(
        mut self,
        store_result: Result<Vec<Record>, StoreError>,
        hooks: &dyn Hooks,
        replies: &mut Vec<Vec<u8>>,
    ) -> Vec<Outcome> {
        let pending = std::mem::take(&mut self.pending);
        let store_error = store_result
            .as_ref()
            .err()
            .map(|e| ServerError::Internal(e.to_string()));
        let records = store_result.unwrap_or_default();
        // The records come in the order of the Gets, which is the order of
        // the checks and infos: the k-th of them gets the k-th record.
        replies.resize_with(pending.len(), Vec::new);
        let mut outcomes = Vec::with_capacity(pending.len());
        let mut k = 0;
        for (p, out) in pending.into_iter().zip(replies.iter_mut()) {
            out.clear();
            let mut counted = None;
            let thread = p.thread.as_str();
            let resp = match (&p.plan, &store_error) {
                (Plan::Error(e), _) => Response::error(thread, e),
                (Plan::Check(_) | Plan::Info(_) | Plan::Update(..), Some(e)) => {
                    if let Some(key) = p.replay {
                        self.guard.forget(key);
                    }
                    Response::error(thread, e)
                }
                (Plan::Ok, _) => Response::ok(thread),
                (Plan::Pong, _) => Response::ok(thread).with_counts(Counts {
                    count: PONG_COUNT,
                    wl_count: 0,
                }),
                (Plan::Check(_), None) => {
                    let r = records.get(k).copied().unwrap_or_default();
                    k += 1;
                    Response::ok(thread).with_counts(r.counts())
                }
                (Plan::Info(_), None) => {
                    let r = records.get(k).copied().unwrap_or_default();
                    k += 1;
                    Response::ok(thread).with_info(r.counts(), r.times())
                }
                (Plan::Update(kind, digests), None) => {
                    hooks.counted(*kind, digests);
                    counted = Some((*kind, digests.clone()));
                    Response::ok(thread)
                }
            };
            resp.write_to(out);
            usage_log(&p, &resp);
            outcomes.push(Outcome {
                op: p.op.as_deref().and_then(Op::from_wire),
                code: resp.code,
                counted,
            });
        }
        outcomes
    }
}

/// Handles a batch: one reply per datagram, in order, written into
/// `replies` (each reply into the reused vector at its index). The
/// requests that need the store are applied to it in one call.
pub fn handle_batch(
    auth: &Auth,
    guard: &Arc<Guard>,
    store: &dyn Store,
    hooks: &dyn Hooks,
    now: SystemTime,
    batch: &[Datagram<'_>],
    replies: &mut Vec<Vec<u8>>,
) -> Vec<Outcome> {
    let prepared = prepare(auth, guard, now, batch);
    let result = if prepared.needs_store() {
        store.apply(&prepared.ops(), prepared.now)
    } else {
        Ok(Vec::new())
    };
    prepared.finish(result, hooks, replies)
}

/// The usage log line of a request (target `pyzord::usage`): on success
/// `user,address,op,digests,code` with Python's reprs, on failure
/// `code: Diag`.
fn usage_log(p: &Pending, resp: &Response<'_>) {
    if !tracing::enabled!(target: "pyzord::usage", tracing::Level::INFO) {
        return;
    }
    if resp.code.is_ok() {
        let digests = match &p.digests {
            None => "None".to_owned(),
            Some(v) => format!(
                "[{}]",
                v.iter()
                    .map(|s| py_repr_str(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let op = p.op.as_deref().unwrap_or("None");
        tracing::info!(target: "pyzord::usage", "{},{},{},{},{}", p.user, p.peer.ip(), op, digests, resp.code);
    } else {
        tracing::error!(target: "pyzord::usage", "{}: {}", resp.code, resp.diag);
    }
}

#[cfg(test)]
mod tests;
