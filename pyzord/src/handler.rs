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

use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use pyzor_core::files::access::Acl;
use pyzor_core::files::passwd::Passwd;
use pyzor_core::pycompat::py_repr_str;
use pyzor_core::{
    Code, Counts, Digest, MAX_DATAGRAM, Message, Op, PONG_COUNT, Response, ServerError, auth,
    check_protocol_version, server_text,
};

use crate::store::{Store, StoreOp, Update};

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
    /// Read the record of the store op with this index.
    Check(usize),
    Info(usize),
    Update(Update, Vec<Digest>),
}

/// Per-request data needed after the store call.
struct Pending<'a> {
    thread: &'a str,
    user: &'a str,
    op: Option<&'a str>,
    digests: Option<Vec<&'a str>>,
    plan: Plan,
}

fn unix_secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The checks before the operation; `Err` is the reply.
fn plan(
    auth: &Auth,
    msg: &Message<'_>,
    user: &str,
    now: SystemTime,
    ops: &mut Vec<StoreOp>,
) -> Result<Plan, ServerError> {
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
    if op == Op::Ping || raw.is_empty() {
        return Ok(Plan::Ok);
    }
    let digests = raw
        .iter()
        .map(|v| Digest::from_hex(v).map_err(|_| ServerError::InvalidDigest(py_repr_str(v))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(match op {
        Op::Ping => Plan::Ok,
        Op::Pong => Plan::Pong,
        Op::Check | Op::Info => {
            ops.push(StoreOp::Get(digests[0]));
            let i = ops.len() - 1;
            if op == Op::Check {
                Plan::Check(i)
            } else {
                Plan::Info(i)
            }
        }
        Op::Report | Op::Whitelist => {
            let kind = if op == Op::Report {
                Update::Report
            } else {
                Update::Whitelist
            };
            ops.push(StoreOp::Update(kind, digests.clone()));
            Plan::Update(kind, digests)
        }
    })
}

/// Handles a batch: one reply per datagram, in order, appended to
/// `replies` (each reply is written into the reused vector at its index).
pub fn handle_batch(
    auth: &Auth,
    store: &dyn Store,
    hooks: &dyn Hooks,
    now: SystemTime,
    batch: &[Datagram<'_>],
    replies: &mut Vec<Vec<u8>>,
) -> Vec<Outcome> {
    let texts: Vec<Cow<'_, str>> = batch.iter().map(|d| server_text(d.data)).collect();
    let msgs: Vec<Message<'_>> = texts.iter().map(|t| Message::parse(t)).collect();
    let mut ops = Vec::new();
    let mut pending = Vec::with_capacity(batch.len());
    for (d, msg) in batch.iter().zip(&msgs) {
        let thread = msg.get("Thread").unwrap_or("");
        let user = msg
            .get("User")
            .filter(|u| !u.is_empty())
            .unwrap_or(auth::ANONYMOUS);
        let op = msg.get("Op");
        let digests = {
            let v: Vec<&str> = msg.get_all("Op-Digest").collect();
            (!v.is_empty()).then_some(v)
        };
        let plan = if d.len > MAX_DATAGRAM {
            Plan::Error(ServerError::TooLong)
        } else {
            plan(auth, msg, user, now, &mut ops).unwrap_or_else(Plan::Error)
        };
        pending.push(Pending {
            thread,
            user,
            op,
            digests,
            plan,
        });
    }
    let store_result = if ops.is_empty() {
        Ok(Vec::new())
    } else {
        store.apply(&ops, unix_secs(now))
    };
    let store_error = store_result
        .as_ref()
        .err()
        .map(|e| ServerError::Internal(e.to_string()));
    if let Some(e) = &store_error {
        tracing::error!("store: {e}");
    }
    let records = store_result.unwrap_or_default();
    // Get ops map to records in order of their op index
    let mut read_index = vec![usize::MAX; ops.len()];
    let mut k = 0;
    for (i, op) in ops.iter().enumerate() {
        if matches!(op, StoreOp::Get(_)) {
            read_index[i] = k;
            k += 1;
        }
    }
    replies.resize_with(batch.len(), Vec::new);
    let mut outcomes = Vec::with_capacity(batch.len());
    for ((p, d), out) in pending.into_iter().zip(batch).zip(replies.iter_mut()) {
        out.clear();
        let mut counted = None;
        let resp = match (&p.plan, &store_error) {
            (Plan::Error(e), _) => Response::error(p.thread, e),
            (Plan::Check(_) | Plan::Info(_) | Plan::Update(..), Some(e)) => {
                Response::error(p.thread, e)
            }
            (Plan::Ok, _) => Response::ok(p.thread),
            (Plan::Pong, _) => Response::ok(p.thread).with_counts(Counts {
                count: PONG_COUNT,
                wl_count: 0,
            }),
            (Plan::Check(i), None) => {
                let r = records.get(read_index[*i]).copied().unwrap_or_default();
                Response::ok(p.thread).with_counts(r.counts())
            }
            (Plan::Info(i), None) => {
                let r = records.get(read_index[*i]).copied().unwrap_or_default();
                Response::ok(p.thread).with_info(r.counts(), r.times())
            }
            (Plan::Update(kind, digests), None) => {
                hooks.counted(*kind, digests);
                counted = Some((*kind, digests.clone()));
                Response::ok(p.thread)
            }
        };
        resp.write_to(out);
        usage_log(&p, d, &resp);
        outcomes.push(Outcome {
            op: p.op.and_then(Op::from_wire),
            code: resp.code,
            counted,
        });
    }
    outcomes
}

/// The usage log line of a request (target `pyzord::usage`): on success
/// `user,address,op,digests,code` with Python's reprs, on failure
/// `code: Diag`.
fn usage_log(p: &Pending<'_>, d: &Datagram<'_>, resp: &Response<'_>) {
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
        let op = p.op.unwrap_or("None");
        tracing::info!(target: "pyzord::usage", "{},{},{},{},{}", p.user, d.peer.ip(), op, digests, resp.code);
    } else {
        tracing::error!(target: "pyzord::usage", "{}: {}", resp.code, resp.diag);
    }
}

#[cfg(test)]
mod tests;
