//! The mail filter's question in one call: digest a message, ask every
//! server at once, and decide with SpamAssassin's Pyzor rules
//! (`pyzor_count_min`, `pyzor_welcomelist_min`,
//! `pyzor_welcomelist_factor`), keeping what the decision was made of.
//!
//! ```no_run
//! use pyzor_client::{Filter, ServerAddr, Verdict};
//!
//! let filter = Filter::new(vec![ServerAddr::new("127.0.0.1", 24441)]);
//! let message = std::fs::read("message.eml")?;
//! let outcome = filter.check(&message);
//! match outcome.verdict {
//!     Verdict::Spam { count } => println!("{}: listed {count} times", outcome.digest),
//!     Verdict::Welcome { .. } | Verdict::Clean => println!("not listed"),
//!     Verdict::Unknown => println!("no server answered: no opinion"),
//! }
//! # Ok::<(), std::io::Error>(())
//! ```

use std::time::Duration;

use pyzor_core::files::accounts::Accounts;
use pyzor_core::{Counts, Digest, Op, ServerAddr};

use crate::{Client, ClientError, Config, Job};

/// A mail filter cannot wait the reference's 5 s for a dead server.
pub const FILTER_TIMEOUT: Duration = Duration::from_millis(1500);

/// SpamAssassin's thresholds for Pyzor (its `Pyzor` plugin's defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Reports needed to call a message spam (`pyzor_count_min`, 5).
    pub count_min: i64,
    /// Whitelist reports needed to call it welcome (`pyzor_welcomelist_min`, 10).
    pub welcomelist_min: i64,
    /// …and at least this fraction of the reports (`pyzor_welcomelist_factor`, 0.2).
    pub welcomelist_factor: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            count_min: 5,
            welcomelist_min: 10,
            welcomelist_factor: 0.2,
        }
    }
}

/// What the network says about a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Reported as spam often enough (the highest count of any server).
    Spam {
        /// Reports.
        count: i64,
    },
    /// Whitelisted often enough to overrule the reports.
    Welcome {
        /// Whitelist reports.
        wl_count: i64,
    },
    /// Known, but not enough to act on.
    Clean,
    /// No server answered.
    Unknown,
}

/// The result of a check: the digest, what each server said (the
/// decision's inputs), the verdict.
#[derive(Debug)]
pub struct Outcome {
    /// The message's Pyzor digest.
    pub digest: Digest,
    /// Each server's answer, in the order of the servers.
    pub answers: Vec<(ServerAddr, Result<Counts, ClientError>)>,
    /// The verdict over all answers.
    pub verdict: Verdict,
}

impl Outcome {
    fn new(
        digest: Digest,
        answers: Vec<(ServerAddr, Result<Counts, ClientError>)>,
        t: &Thresholds,
    ) -> Outcome {
        let verdict = verdict(
            answers.iter().filter_map(|(_, a)| a.as_ref().ok().copied()),
            t,
        );
        Outcome {
            digest,
            answers,
            verdict,
        }
    }
}

/// SpamAssassin's decision over the servers' counts: the highest report
/// count and the highest whitelist count decide.
pub fn verdict(answers: impl IntoIterator<Item = Counts>, t: &Thresholds) -> Verdict {
    let mut any = false;
    let (mut count, mut wl_count) = (0i64, 0i64);
    for c in answers {
        any = true;
        count = count.max(c.count);
        wl_count = wl_count.max(c.wl_count);
    }
    if !any {
        return Verdict::Unknown;
    }
    if wl_count >= t.welcomelist_min && (wl_count as f64) >= (count as f64) * t.welcomelist_factor {
        return Verdict::Welcome { wl_count };
    }
    if count >= t.count_min {
        Verdict::Spam { count }
    } else {
        Verdict::Clean
    }
}

/// The digests of messages, for reporting (one digester kept across them).
fn digests(messages: &[&[u8]]) -> Vec<Digest> {
    let mut digester = pyzor_digest::Digester::new();
    messages.iter().map(|m| digester.digest(m)).collect()
}

fn update_op(spam: bool) -> Op {
    if spam { Op::Report } else { Op::Whitelist }
}

fn update_jobs(servers: &[ServerAddr], spam: bool, digests: &[Digest]) -> Vec<Job> {
    servers
        .iter()
        .map(|s| Job::new(s.clone(), update_op(spam), digests.to_vec()))
        .collect()
}

fn failures(
    servers: &[ServerAddr],
    results: Vec<Result<pyzor_core::Response<'static>, ClientError>>,
) -> Vec<(ServerAddr, ClientError)> {
    results
        .into_iter()
        .zip(servers)
        .filter_map(|(r, s)| r.err().map(|e| (s.clone(), e)))
        .collect()
}

/// A Pyzor check and report facility for a mail filter (blocking). Cheap
/// to clone and safe to share between threads.
#[derive(Debug, Clone)]
pub struct Filter {
    client: Client,
    servers: Vec<ServerAddr>,
    thresholds: Thresholds,
}

impl Filter {
    /// A filter asking these servers, anonymously, with a
    /// [`FILTER_TIMEOUT`] timeout.
    pub fn new(servers: Vec<ServerAddr>) -> Filter {
        Filter::with_client(servers, Client::new().with_timeout(FILTER_TIMEOUT))
    }

    /// A filter asking these servers through this client.
    pub fn with_client(servers: Vec<ServerAddr>, client: Client) -> Filter {
        Filter {
            client,
            servers,
            thresholds: Thresholds::default(),
        }
    }

    /// A filter on a homedir's servers, accounts and timeout.
    pub fn from_config(config: &Config) -> Filter {
        Filter::with_client(config.servers.clone(), config.client())
    }

    /// Signs with these accounts (a `pyzor` homedir's `accounts` file).
    pub fn with_accounts(mut self, accounts: Accounts) -> Filter {
        self.client = self.client.with_accounts(accounts);
        self
    }

    /// Replaces the timeout per request.
    pub fn with_timeout(mut self, timeout: Duration) -> Filter {
        self.client = self.client.with_timeout(timeout);
        self
    }

    /// Replaces the thresholds.
    pub fn with_thresholds(mut self, thresholds: Thresholds) -> Filter {
        self.thresholds = thresholds;
        self
    }

    /// The servers asked.
    pub fn servers(&self) -> &[ServerAddr] {
        &self.servers
    }

    /// Digests a raw message (any bytes) and asks every server at once.
    pub fn check(&self, message: &[u8]) -> Outcome {
        self.check_digest(pyzor_digest::digest(message))
    }

    /// Asks every server about a digest at once.
    pub fn check_digest(&self, digest: Digest) -> Outcome {
        let answers = self
            .servers
            .iter()
            .cloned()
            .zip(self.client.check_all(&self.servers, digest))
            .collect();
        Outcome::new(digest, answers, &self.thresholds)
    }

    /// Reports messages as spam (or, with `spam = false`, as ham) to every
    /// server, in one pipelined batch. Returns the failures, if any, with
    /// their server.
    pub fn report(&self, messages: &[&[u8]], spam: bool) -> Vec<(ServerAddr, ClientError)> {
        let jobs = update_jobs(&self.servers, spam, &digests(messages));
        failures(&self.servers, self.client.batch(&jobs))
    }
}

/// [`Filter`] on the async client (feature `tokio`).
#[cfg(feature = "tokio")]
#[derive(Debug, Clone)]
pub struct AsyncFilter {
    client: crate::AsyncClient,
    servers: Vec<ServerAddr>,
    thresholds: Thresholds,
}

#[cfg(feature = "tokio")]
impl AsyncFilter {
    /// A filter asking these servers, anonymously, with a
    /// [`FILTER_TIMEOUT`] timeout.
    pub fn new(servers: Vec<ServerAddr>) -> AsyncFilter {
        AsyncFilter::with_client(
            servers,
            crate::AsyncClient::new().with_timeout(FILTER_TIMEOUT),
        )
    }

    /// A filter asking these servers through this client (its socket is
    /// shared with every other user of the client).
    pub fn with_client(servers: Vec<ServerAddr>, client: crate::AsyncClient) -> AsyncFilter {
        AsyncFilter {
            client,
            servers,
            thresholds: Thresholds::default(),
        }
    }

    /// A filter on a homedir's servers, accounts and timeout.
    pub fn from_config(config: &Config) -> AsyncFilter {
        AsyncFilter::with_client(config.servers.clone(), config.async_client())
    }

    /// Replaces the thresholds.
    pub fn with_thresholds(mut self, thresholds: Thresholds) -> AsyncFilter {
        self.thresholds = thresholds;
        self
    }

    /// The servers asked.
    pub fn servers(&self) -> &[ServerAddr] {
        &self.servers
    }

    /// Digests a raw message (any bytes) and asks every server at once.
    pub async fn check(&self, message: &[u8]) -> Outcome {
        self.check_digest(pyzor_digest::digest(message)).await
    }

    /// Asks every server about a digest at once.
    pub async fn check_digest(&self, digest: Digest) -> Outcome {
        let answers = self
            .servers
            .iter()
            .cloned()
            .zip(self.client.check_all(&self.servers, digest).await)
            .collect();
        Outcome::new(digest, answers, &self.thresholds)
    }

    /// Reports messages as spam (or ham) to every server, in one batch;
    /// returns the failures with their server.
    pub async fn report(&self, messages: &[&[u8]], spam: bool) -> Vec<(ServerAddr, ClientError)> {
        let jobs = update_jobs(&self.servers, spam, &digests(messages));
        failures(&self.servers, self.client.batch(&jobs).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(count: i64, wl_count: i64) -> Counts {
        Counts { count, wl_count }
    }

    #[test]
    fn spamassassin_rules() {
        let t = Thresholds::default();
        assert_eq!(verdict([], &t), Verdict::Unknown);
        assert_eq!(verdict([c(4, 0)], &t), Verdict::Clean);
        assert_eq!(verdict([c(4, 0), c(5, 0)], &t), Verdict::Spam { count: 5 });
        // whitelisted: at least 10 and at least a fifth of the reports
        assert_eq!(verdict([c(40, 10)], &t), Verdict::Welcome { wl_count: 10 });
        assert_eq!(verdict([c(60, 10)], &t), Verdict::Spam { count: 60 });
        assert_eq!(verdict([c(0, 9)], &t), Verdict::Clean);
        // the highest of each count across servers decides
        assert_eq!(
            verdict([c(60, 0), c(0, 12)], &t),
            Verdict::Welcome { wl_count: 12 }
        );
    }
}
