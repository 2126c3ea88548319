//! Typed requests: building and signing them as the reference client does,
//! and reading them back.

use crate::auth::{Account, sign, strip_payload};
use crate::digest::{Digest, DigestError};
use crate::message::{Message, write_header};
use crate::op::Op;
use crate::pv::PROTOCOL_VERSION;
use crate::thread::ThreadId;

/// The digest spec the reference sends with report and whitelist
/// (`[(20, 3), (60, 3)]` flattened).
pub const OP_SPEC: &str = "20,3,60,3";

/// A Pyzor request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The operation.
    pub op: Op,
    /// The digests: none for ping, one for check/info/pong (only the first
    /// is used by servers), one or more for report/whitelist.
    pub digests: Vec<Digest>,
    /// The request id the reply must echo.
    pub thread: ThreadId,
    /// The protocol version (`2.1` for requests this crate builds).
    pub pv: String,
    /// The user the request is signed for (`anonymous` by default).
    pub user: String,
    /// Unix time of signing.
    pub time: i64,
    /// The signature, 40 lowercase hex digits.
    pub sig: String,
}

/// Why a message is not a well-formed typed request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// A required header is absent.
    #[error("missing {0} header")]
    Missing(&'static str),
    /// The operation is not one of the six.
    #[error("unknown operation {0:?}")]
    UnknownOp(String),
    /// An `Op-Digest` is not 40 hex digits.
    #[error("invalid Op-Digest {value:?}: {source}")]
    Digest {
        /// The value received.
        value: String,
        /// What is wrong with it.
        source: DigestError,
    },
    /// `Thread` is not an integer in 0..=65535.
    #[error("invalid Thread {0:?}")]
    Thread(String),
    /// `Time` is not an integer.
    #[error("invalid Time {0:?}")]
    Time(String),
}

impl Request {
    /// A request for `op` over `digests` with the given id, not yet signed
    /// (anonymous, time 0, empty signature until [`Request::sign`]).
    pub fn new(op: Op, digests: Vec<Digest>, thread: ThreadId) -> Request {
        Request {
            op,
            digests,
            thread,
            pv: PROTOCOL_VERSION.to_owned(),
            user: crate::auth::ANONYMOUS.to_owned(),
            time: 0,
            sig: String::new(),
        }
    }

    /// Signs the request for `account` at `time` (Unix seconds), setting
    /// `user`, `time` and `sig`.
    pub fn sign(&mut self, account: &Account, time: i64) {
        self.sign_hashed(&account.user, &account.hashed_key(), time);
    }

    /// [`Request::sign`] with the account's hashed key already computed
    /// (see [`Account::hashed_key`]), for clients that sign many requests.
    pub fn sign_hashed(&mut self, user: &str, hashed_key: &str, time: i64) {
        user.clone_into(&mut self.user);
        self.time = time;
        let mut buf = Vec::with_capacity(256);
        self.write_unsigned(&mut buf);
        self.sig = sign(hashed_key, time, &strip_payload(buf));
    }

    /// Serializes the request as the reference client does (header order
    /// `Op`, `Op-Digest`, (`Op-Spec`), `Thread`, `PV`, `User`, `Time`, `Sig`;
    /// with several digests the batch order `Op`, `Op-Spec`, `Op-Digest`×N).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96 + 52 * self.digests.len());
        self.write_unsigned(&mut out);
        out.push(b'\n');
        write_header(&mut out, "Sig", &self.sig);
        out.push(b'\n');
        out
    }

    /// Everything up to and including the `Time` value, without its line end
    /// (the signed payload before stripping).
    fn write_unsigned(&self, out: &mut Vec<u8>) {
        write_header(out, "Op", self.op.as_str());
        let spec = self.op.is_update();
        if spec && self.digests.len() > 1 {
            write_header(out, "Op-Spec", OP_SPEC);
        }
        for d in &self.digests {
            let hex = d.to_hex_bytes();
            out.extend_from_slice(b"Op-Digest: ");
            out.extend_from_slice(&hex);
            out.push(b'\n');
        }
        if spec && self.digests.len() <= 1 {
            write_header(out, "Op-Spec", OP_SPEC);
        }
        let mut n = itoa_buf();
        write_header(out, "Thread", fmt_u64(&mut n, u64::from(self.thread.0)));
        write_header(out, "PV", &self.pv);
        write_header(out, "User", &self.user);
        out.extend_from_slice(b"Time: ");
        out.extend_from_slice(self.time.to_string().as_bytes());
    }

    /// Reads a typed request from a parsed message (strictly: every digest
    /// must be well formed, `Op`, `Thread` and `PV` must be present). Servers
    /// that need the reference's exact error precedence work on the
    /// [`Message`] instead; this is for tools, tests and fuzzing.
    pub fn from_message(msg: &Message<'_>) -> Result<Request, RequestError> {
        let op_s = msg.get("Op").ok_or(RequestError::Missing("Op"))?;
        let op = Op::from_wire(op_s).ok_or_else(|| RequestError::UnknownOp(op_s.to_owned()))?;
        let digests = msg
            .get_all("Op-Digest")
            .map(|v| {
                Digest::from_hex(v).map_err(|source| RequestError::Digest {
                    value: v.to_owned(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let thread_s = msg.get("Thread").ok_or(RequestError::Missing("Thread"))?;
        let thread =
            ThreadId::parse(thread_s).map_err(|_| RequestError::Thread(thread_s.to_owned()))?;
        let pv = msg.get("PV").ok_or(RequestError::Missing("PV"))?.to_owned();
        let user = msg
            .get("User")
            .filter(|u| !u.is_empty())
            .unwrap_or(crate::auth::ANONYMOUS)
            .to_owned();
        let time = match msg.get("Time") {
            None => 0,
            Some(t) => crate::pycompat::py_int(t).map_err(|_| RequestError::Time(t.to_owned()))?,
        };
        let sig = msg.get("Sig").unwrap_or_default().to_owned();
        Ok(Request {
            op,
            digests,
            thread,
            pv,
            user,
            time,
            sig,
        })
    }
}

/// A stack buffer for formatting integers.
pub(crate) fn itoa_buf() -> [u8; 20] {
    [0u8; 20]
}

/// Formats `v` in decimal into `buf`, returning the text.
pub(crate) fn fmt_u64(buf: &mut [u8; 20], mut v: u64) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(s: &str) -> Digest {
        s.parse().unwrap()
    }

    #[test]
    fn matches_a_captured_check() {
        let mut r = Request::new(
            Op::Check,
            vec![digest("8cc3769958948319b31ad22608fe39e576608808")],
            ThreadId(26195),
        );
        r.sign(&Account::anonymous(), 1795315720);
        assert_eq!(
            String::from_utf8(r.to_bytes()).unwrap(),
            "Op: check\nOp-Digest: 8cc3769958948319b31ad22608fe39e576608808\nThread: 26195\nPV: 2.1\nUser: anonymous\nTime: 1795315720\nSig: 1be8e17699cbb0632c8324b618b5b506280f407c\n\n"
        );
    }

    #[test]
    fn report_orders() {
        let d1 = digest("0000000000000000000000000000000000000001");
        let d2 = digest("0000000000000000000000000000000000000002");
        let mut one = Request::new(Op::Report, vec![d1], ThreadId(2000));
        one.sign(&Account::anonymous(), 1);
        let text = String::from_utf8(one.to_bytes()).unwrap();
        assert!(text.starts_with("Op: report\nOp-Digest: 0000000000000000000000000000000000000001\nOp-Spec: 20,3,60,3\nThread: 2000\n"));
        let mut two = Request::new(Op::Whitelist, vec![d1, d2], ThreadId(2000));
        two.sign(&Account::anonymous(), 1);
        let text = String::from_utf8(two.to_bytes()).unwrap();
        assert!(text.starts_with("Op: whitelist\nOp-Spec: 20,3,60,3\nOp-Digest: 0000000000000000000000000000000000000001\nOp-Digest: 0000000000000000000000000000000000000002\nThread"));
    }

    #[test]
    fn round_trip() {
        let mut r = Request::new(Op::Info, vec![Digest::EMPTY], ThreadId(1024));
        r.sign(
            &Account {
                user: "bob".into(),
                salt: String::new(),
                key: "abc".into(),
            },
            1_700_000_000,
        );
        let bytes = r.to_bytes();
        let text = std::str::from_utf8(&bytes).unwrap();
        let back = Request::from_message(&Message::parse(text)).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn formats_integers() {
        let mut b = itoa_buf();
        assert_eq!(fmt_u64(&mut b, 0), "0");
        let mut b = itoa_buf();
        assert_eq!(fmt_u64(&mut b, u64::MAX), "18446744073709551615");
    }
}
