//! What the blocking and the async client share above the core: a batch's
//! jobs, and how a reply becomes the answer of an operation.

use std::time::Duration;

use pyzor_core::{Code, Counts, Digest, InfoTimes, Op, Response, ServerAddr};

use crate::error::ClientError;

/// The reference client's default timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

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

/// One `check` job per server.
pub(crate) fn check_jobs(servers: &[ServerAddr], digest: Digest) -> Vec<Job> {
    servers
        .iter()
        .map(|s| Job::new(s.clone(), Op::Check, vec![digest]))
        .collect()
}

/// Keeps 200 replies, turns others into [`ClientError::Server`].
pub(crate) fn ok(
    r: Result<Response<'static>, ClientError>,
) -> Result<Response<'static>, ClientError> {
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

/// The counts of a `check` or `pong` reply.
pub(crate) fn counts(
    op: Op,
    r: Result<Response<'static>, ClientError>,
) -> Result<Counts, ClientError> {
    r?.counts.ok_or(ClientError::MissingHeader {
        op: op.as_str(),
        header: "Count",
    })
}

/// The counts and times of an `info` reply.
pub(crate) fn info(r: Result<Response<'static>, ClientError>) -> Result<Info, ClientError> {
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
