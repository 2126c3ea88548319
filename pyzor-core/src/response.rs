//! Typed responses: encoding them as pyzord does and reading them as the
//! reference client does.

use std::borrow::Cow;

use crate::code::{Code, DIAG_OK, ServerError};
use crate::message::{Message, write_header};
use crate::pv::PROTOCOL_VERSION;
use crate::pycompat::py_int;
use crate::request::{fmt_u64, itoa_buf};

/// Report and whitelist counts (`Count`, `WL-Count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Times reported as spam.
    pub count: i64,
    /// Times whitelisted.
    pub wl_count: i64,
}

/// The four timestamps of an `info` reply, Unix seconds, 0 for never.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InfoTimes {
    /// First report.
    pub entered: i64,
    /// Last report.
    pub updated: i64,
    /// First whitelist.
    pub wl_entered: i64,
    /// Last whitelist.
    pub wl_updated: i64,
}

/// A Pyzor response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response<'a> {
    /// The result code.
    pub code: Code,
    /// The human-readable diagnostic (`OK` on success).
    pub diag: Cow<'a, str>,
    /// The request's `Thread` value, echoed verbatim (empty if it had none).
    pub thread: Cow<'a, str>,
    /// `Count`/`WL-Count` (check, pong, info).
    pub counts: Option<Counts>,
    /// The `info` timestamps.
    pub info: Option<InfoTimes>,
}

/// Why a reply is not usable (protocol §1.7). The texts are the
/// reference's, because the CLI prints them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// No `Code` or no `Diag`.
    #[error("doesn't have fields for a Response")]
    NotAResponse,
    /// No `PV` or no `Thread`.
    #[error("Doesn't have fields for a ThreadedMessage.")]
    NotThreaded,
    /// A header that must be an integer is not.
    #[error("invalid {header} value {value:?} in reply")]
    NotAnInteger {
        /// The header.
        header: &'static str,
        /// Its value.
        value: String,
    },
}

impl<'a> Response<'a> {
    /// A 200 reply with no counts (ping, report, whitelist).
    pub fn ok(thread: impl Into<Cow<'a, str>>) -> Self {
        Response {
            code: Code::OK,
            diag: Cow::Borrowed(DIAG_OK),
            thread: thread.into(),
            counts: None,
            info: None,
        }
    }

    /// The error reply for `err`.
    pub fn error(thread: impl Into<Cow<'a, str>>, err: &ServerError) -> Self {
        Response {
            code: err.code(),
            diag: Cow::Owned(err.diag()),
            thread: thread.into(),
            counts: None,
            info: None,
        }
    }

    /// Adds counts (check, pong).
    pub fn with_counts(mut self, counts: Counts) -> Self {
        self.counts = Some(counts);
        self
    }

    /// Adds counts and timestamps (info).
    pub fn with_info(mut self, counts: Counts, info: InfoTimes) -> Self {
        self.counts = Some(counts);
        self.info = Some(info);
        self
    }

    /// Serializes in pyzord's header order: `Code`, `Diag`, `PV`, `Thread`,
    /// then for info `Entered`, `Updated`, `WL-Entered`, `WL-Updated`, then
    /// `Count`, `WL-Count`, then the empty line.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let mut b = itoa_buf();
        write_header(out, "Code", fmt_u64(&mut b, u64::from(self.code.0)));
        write_header(out, "Diag", &self.diag);
        write_header(out, "PV", PROTOCOL_VERSION);
        write_header(out, "Thread", &self.thread);
        if let Some(i) = &self.info {
            write_int(out, "Entered", i.entered);
            write_int(out, "Updated", i.updated);
            write_int(out, "WL-Entered", i.wl_entered);
            write_int(out, "WL-Updated", i.wl_updated);
        }
        if let Some(c) = &self.counts {
            write_int(out, "Count", c.count);
            write_int(out, "WL-Count", c.wl_count);
        }
        out.push(b'\n');
    }

    /// [`Response::write_to`] into a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.diag.len() + self.thread.len() + 96);
        self.write_to(&mut out);
        out
    }

    /// Reads a reply the way the reference client does: `Code` and `Diag`
    /// must exist, then `PV` and `Thread`; counts and timestamps are read
    /// where present.
    pub fn from_message(msg: &Message<'a>) -> Result<Response<'a>, ResponseError> {
        let (Some(_code), Some(diag)) = (msg.get("Code"), msg.get("Diag")) else {
            return Err(ResponseError::NotAResponse);
        };
        let (Some(_pv), Some(thread)) = (msg.get("PV"), msg.get("Thread")) else {
            return Err(ResponseError::NotThreaded);
        };
        let int = |header: &'static str| -> Result<Option<i64>, ResponseError> {
            msg.get(header)
                .map(|v| {
                    py_int(v).map_err(|_| ResponseError::NotAnInteger {
                        header,
                        value: v.to_owned(),
                    })
                })
                .transpose()
        };
        let code = int("Code")?.unwrap_or_default();
        let code = u16::try_from(code).map_err(|_| ResponseError::NotAnInteger {
            header: "Code",
            value: code.to_string(),
        })?;
        let counts = match (int("Count")?, int("WL-Count")?) {
            (None, None) => None,
            (c, w) => Some(Counts {
                count: c.unwrap_or_default(),
                wl_count: w.unwrap_or_default(),
            }),
        };
        let times = [
            int("Entered")?,
            int("Updated")?,
            int("WL-Entered")?,
            int("WL-Updated")?,
        ];
        let info = times.iter().any(Option::is_some).then(|| InfoTimes {
            entered: times[0].unwrap_or_default(),
            updated: times[1].unwrap_or_default(),
            wl_entered: times[2].unwrap_or_default(),
            wl_updated: times[3].unwrap_or_default(),
        });
        Ok(Response {
            code: Code(code),
            diag: Cow::Borrowed(diag),
            thread: Cow::Borrowed(thread),
            counts,
            info,
        })
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> Response<'static> {
        Response {
            code: self.code,
            diag: Cow::Owned(self.diag.into_owned()),
            thread: Cow::Owned(self.thread.into_owned()),
            counts: self.counts,
            info: self.info,
        }
    }
}

fn write_int(out: &mut Vec<u8>, name: &str, v: i64) {
    let mut b = itoa_buf();
    let digits = fmt_u64(&mut b, v.unsigned_abs());
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(digits.as_bytes());
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::PONG_COUNT;

    #[test]
    fn encodes_like_pyzord() {
        assert_eq!(
            Response::ok("1234").to_bytes(),
            b"Code: 200\nDiag: OK\nPV: 2.1\nThread: 1234\n\n"
        );
        assert_eq!(
            Response::ok("1237")
                .with_counts(Counts { count: PONG_COUNT, wl_count: 0 })
                .to_bytes(),
            b"Code: 200\nDiag: OK\nPV: 2.1\nThread: 1237\nCount: 9223372036854775807\nWL-Count: 0\n\n"
        );
        assert_eq!(
            Response::ok("3004")
                .with_info(
                    Counts { count: 2, wl_count: 0 },
                    InfoTimes { entered: 1795315751, updated: 1795315751, wl_entered: 0, wl_updated: 0 }
                )
                .to_bytes(),
            &b"Code: 200\nDiag: OK\nPV: 2.1\nThread: 3004\nEntered: 1795315751\nUpdated: 1795315751\nWL-Entered: 0\nWL-Updated: 0\nCount: 2\nWL-Count: 0\n\n"[..]
        );
        assert_eq!(
            Response::error("", &ServerError::MissingProtocolVersion).to_bytes(),
            b"Code: 400\nDiag: Bad request: Protocol Version not specified in request\nPV: 2.1\nThread: \n\n"
        );
    }

    #[test]
    fn decodes_like_the_client() {
        let m =
            Message::parse("Code: 200\nDiag: OK\nPV: 2.1\nThread: 5\nCount: 3\nWL-Count: 1\n\n");
        let r = Response::from_message(&m).unwrap();
        assert_eq!(
            r.counts,
            Some(Counts {
                count: 3,
                wl_count: 1
            })
        );
        assert_eq!(r.thread, "5");
        let m = Message::parse("Code: 200\nPV: 2.1\nThread: 5\n\n");
        assert_eq!(Response::from_message(&m), Err(ResponseError::NotAResponse));
        let m = Message::parse("Code: 200\nDiag: OK\nThread: 5\n\n");
        assert_eq!(Response::from_message(&m), Err(ResponseError::NotThreaded));
        assert_eq!(
            ResponseError::NotThreaded.to_string(),
            "Doesn't have fields for a ThreadedMessage."
        );
        let m = Message::parse("Code: x\nDiag: OK\nPV: 2.1\nThread: 5\n\n");
        assert!(matches!(
            Response::from_message(&m),
            Err(ResponseError::NotAnInteger { .. })
        ));
        let m = Message::parse("Code: 200\nDiag: OK\nPV: 2.1\nThread: 5\nCount: -4\n\n");
        assert_eq!(
            Response::from_message(&m).unwrap().to_bytes(),
            b"Code: 200\nDiag: OK\nPV: 2.1\nThread: 5\nCount: -4\nWL-Count: 0\n\n"
        );
    }
}
