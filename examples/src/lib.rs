//! Embedding pyzor-rs in a mail filter.
//!
//! [`PyzorFilter`] is what a milter, an MTA hook or a content scanner does
//! with Pyzor, in-process and without forking a Python interpreter per
//! message: digest the message ([`pyzor_digest::digest`]), ask every
//! configured server at once ([`pyzor_client::Client::check_all`]) and
//! turn the counts into a verdict with SpamAssassin's Pyzor rules
//! (`pyzor_count_min`, `pyzor_welcomelist_min`,
//! `pyzor_welcomelist_factor`). Reporting spam and ham goes through the
//! same client, batched.
//!
//! ```no_run
//! use pyzor_core::ServerAddr;
//! use pyzor_examples::{PyzorFilter, Verdict};
//!
//! let filter = PyzorFilter::new(vec![ServerAddr::new("127.0.0.1", 24441)]);
//! let message = std::fs::read("message.eml")?;
//! match filter.check(&message).verdict {
//!     Verdict::Spam { count } => println!("listed {count} times: add to the spam score"),
//!     Verdict::Welcome { .. } | Verdict::Clean => println!("not listed"),
//!     Verdict::Unknown => println!("no server answered: no opinion"),
//! }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Runnable programs: `cargo run -p pyzor-examples --example mail_filter`
//! (check messages against servers) and `--example embedded_server` (a
//! pyzord in the same process, with a client reporting and checking).

use std::time::Duration;

use pyzor_client::{Client, ClientError, Job};
use pyzor_core::files::accounts::Accounts;
use pyzor_core::{Counts, Digest, Op, ServerAddr};

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

/// The result of a check: the digest, what each server said, the verdict.
#[derive(Debug)]
pub struct CheckOutcome {
    /// The message's Pyzor digest.
    pub digest: Digest,
    /// Each server's answer, in the order of the servers.
    pub answers: Vec<(ServerAddr, Result<Counts, ClientError>)>,
    /// The verdict over all answers.
    pub verdict: Verdict,
}

/// A Pyzor check and report facility for a mail filter. Cheap to clone and
/// safe to share between threads.
#[derive(Debug, Clone)]
pub struct PyzorFilter {
    client: Client,
    servers: Vec<ServerAddr>,
    thresholds: Thresholds,
}

impl PyzorFilter {
    /// A filter asking these servers, anonymously, with a short timeout (a
    /// mail filter cannot wait the reference's 5 s).
    pub fn new(servers: Vec<ServerAddr>) -> PyzorFilter {
        PyzorFilter {
            client: Client::new().with_timeout(Duration::from_millis(1500)),
            servers,
            thresholds: Thresholds::default(),
        }
    }

    /// Signs with these accounts (a `pyzor` homedir's `accounts` file).
    pub fn with_accounts(mut self, accounts: Accounts) -> PyzorFilter {
        self.client = self.client.with_accounts(accounts);
        self
    }

    /// Replaces the timeout per request.
    pub fn with_timeout(mut self, timeout: Duration) -> PyzorFilter {
        self.client = self.client.with_timeout(timeout);
        self
    }

    /// Replaces the thresholds.
    pub fn with_thresholds(mut self, thresholds: Thresholds) -> PyzorFilter {
        self.thresholds = thresholds;
        self
    }

    /// Digests a raw message (any bytes) and asks every server at once.
    pub fn check(&self, message: &[u8]) -> CheckOutcome {
        let digest = pyzor_digest::digest(message);
        let answers: Vec<_> = self
            .servers
            .iter()
            .cloned()
            .zip(self.client.check_all(digest, &self.servers))
            .collect();
        let verdict = verdict(
            answers.iter().filter_map(|(_, a)| a.as_ref().ok().copied()),
            &self.thresholds,
        );
        CheckOutcome {
            digest,
            answers,
            verdict,
        }
    }

    /// Reports messages as spam (or, with `spam = false`, as ham) to every
    /// server, in one pipelined batch. Returns the failures, if any, with
    /// their server.
    pub fn report(&self, messages: &[&[u8]], spam: bool) -> Vec<(ServerAddr, ClientError)> {
        let mut digester = pyzor_digest::Digester::new();
        let digests: Vec<Digest> = messages.iter().map(|m| digester.digest(m)).collect();
        let op = if spam { Op::Report } else { Op::Whitelist };
        let jobs: Vec<Job> = self
            .servers
            .iter()
            .map(|s| Job::new(s.clone(), op, digests.clone()))
            .collect();
        self.client
            .batch(&jobs)
            .into_iter()
            .zip(&self.servers)
            .filter_map(|(r, s)| r.err().map(|e| (s.clone(), e)))
            .collect()
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
    }
}
