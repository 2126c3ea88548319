//! Guards against poisoning and replay, applied to reports and whitelists
//! that passed the reference's checks (sans-io: the time is a parameter).
//!
//! * **Replay** (on by default): a signed request seen again while its
//!   `Time` is inside the 300-second window (same user, `Time` and `Sig`)
//!   is answered as it was the first time and not applied again, so that a
//!   replayed or retried report counts once. Anonymous requests carry no
//!   signature to tell a replay from a new report, and are not concerned.
//! * **Rate limit** (off by default): a token bucket per source network
//!   (the sender's address under a prefix, /24 and /56 by default) for the
//!   digests of reports and whitelists: `rate` digests a second, bursts of
//!   `burst`. Over it, a 429 naming the network. Users and networks can be
//!   exempt.
//! * **One report per network** (off by default): a digest reported again
//!   from the same source network within the window is answered 200 and not
//!   counted again.
//!
//! Each table is bounded; when one is full, new entries are not made (the
//! guard lets the request through) and that is counted.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

use pyzor_core::Digest;
use sha1::{Digest as _, Sha1};

use crate::stats::Stats;
use crate::store::Update;

/// How long a signed request may be replayed: the signature window of the
/// reference (a `Time` further than this from the server's clock fails).
const REPLAY_WINDOW: i64 = 300;

/// Entries each table holds at most.
pub const TABLE_LIMIT: usize = 1_000_000;

/// A network: an address with the bits past `prefix` cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// The network of `addr` under `prefix` bits (IPv4-mapped IPv6
    /// addresses count as IPv4).
    pub fn of(addr: IpAddr, v4_prefix: u8, v6_prefix: u8) -> Network {
        match canonical(addr) {
            IpAddr::V4(a) => {
                let prefix = v4_prefix.min(32);
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                Network {
                    addr: IpAddr::from((u32::from(a) & mask).to_be_bytes()),
                    prefix,
                }
            }
            IpAddr::V6(a) => {
                let prefix = v6_prefix.min(128);
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                Network {
                    addr: IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask)),
                    prefix,
                }
            }
        }
    }

    /// Parses `ADDR/PREFIX` (or a bare address: the host alone).
    pub fn parse(s: &str) -> Result<Network, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| format!("{s:?} is not an address or network"))?;
        let addr = canonical(addr);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix must be 0 to {max}"))?,
        };
        Ok(Network::of(addr, prefix, prefix))
    }

    /// Whether `addr` is in this network.
    pub fn contains(&self, addr: IpAddr) -> bool {
        Network::of(addr, self.prefix, self.prefix) == *self
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// The guards' settings (`[server]` keys and pyzord options of the same
/// names). The default keeps pyzord 1.1.2's behaviour but for the replay
/// rule.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardConfig {
    /// Answer a replayed signed request without applying it again
    /// (`ReplayProtection`, default on).
    pub replay: bool,
    /// Digests of reports and whitelists a second per source network
    /// (`UpdateRate`; 0: no limit).
    pub rate: f64,
    /// The bucket's size (`UpdateBurst`; at least 1 when `rate` is set).
    pub burst: f64,
    /// The IPv4 prefix of a source network (`RateLimitIPv4Prefix`, 24).
    pub v4_prefix: u8,
    /// The IPv6 prefix of a source network (`RateLimitIPv6Prefix`, 56).
    pub v6_prefix: u8,
    /// Users the rate limit and the one-report rule do not apply to.
    pub exempt_users: Vec<String>,
    /// Networks they do not apply to.
    pub exempt_networks: Vec<Network>,
    /// Seconds during which a digest counts one report per source network
    /// (`OneReportPerNetwork`; 0: off).
    pub one_report_window: i64,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            replay: true,
            rate: 0.0,
            burst: 0.0,
            v4_prefix: 24,
            v6_prefix: 56,
            exempt_users: Vec::new(),
            exempt_networks: Vec::new(),
            one_report_window: 0,
        }
    }
}

impl GuardConfig {
    /// No guard at all: pyzord 1.1.2's behaviour.
    pub fn off() -> GuardConfig {
        GuardConfig {
            replay: false,
            ..GuardConfig::default()
        }
    }
}

/// What the guard says of an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Apply these digests (all, or those not counted from this network
    /// within the window).
    Apply(Vec<Digest>),
    /// Answer 200 and apply nothing (a replay, or every digest already
    /// counted from this network).
    AnswerOnly,
    /// Over the rate limit: refuse with a 429 naming the network.
    Limited(Network),
}

#[derive(Debug, Default)]
struct Bucket {
    tokens: f64,
    at: f64,
}

#[derive(Debug, Default)]
struct Tables {
    /// Signed updates seen: a hash of (user, Time, Sig) → their Time.
    seen: HashMap<[u8; 20], i64>,
    buckets: HashMap<Network, Bucket>,
    /// (network, digest) → when a report of it was last counted.
    reported: HashMap<(Network, Digest), i64>,
    /// When the tables were last swept of stale entries.
    swept: i64,
}

/// The guards' state, shared by the workers (one lock, taken once per
/// update request).
#[derive(Debug)]
pub struct Guard {
    config: GuardConfig,
    tables: Mutex<Tables>,
    stats: Arc<Stats>,
}

/// A signed update as the guard sees it.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    /// The user (not anonymous).
    pub user: &'a str,
    /// Its `Time` header as an integer.
    pub time: i64,
    /// Its `Sig` header.
    pub sig: &'a str,
}

impl Guard {
    /// A guard with these settings, counting what it does in `stats`.
    pub fn new(config: GuardConfig, stats: Arc<Stats>) -> Guard {
        Guard {
            config,
            tables: Mutex::new(Tables::default()),
            stats,
        }
    }

    /// The settings.
    pub fn config(&self) -> &GuardConfig {
        &self.config
    }

    /// Whether the guard can change anything (else the handler skips it).
    pub fn active(&self) -> bool {
        self.config.replay || self.config.rate > 0.0 || self.config.one_report_window > 0
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        // every change to the tables completes before the lock is let go
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Decides on a report or whitelist of `digests` from `peer` by `user`
    /// (`signed` when not anonymous) at `now` (Unix seconds, fractional).
    pub fn check(
        &self,
        kind: Update,
        digests: &[Digest],
        peer: SocketAddr,
        user: &str,
        signed: Option<Signed<'_>>,
        now: f64,
    ) -> Verdict {
        let secs = now.floor() as i64;
        let mut t = self.tables();
        if secs - t.swept >= 10 {
            self.sweep(&mut t, now);
        }
        let replay = signed.filter(|_| self.config.replay);
        if let Some(s) = replay
            && t.seen.contains_key(&ReplayKey::of(s).0)
        {
            self.stats.replays.fetch_add(1, Ordering::Relaxed);
            return Verdict::AnswerOnly;
        }
        let verdict = self.limit(&mut t, kind, digests, peer, user, now);
        // a request that is answered is remembered (a refused one may be
        // sent again)
        if let (Some(s), Verdict::Apply(_) | Verdict::AnswerOnly) = (replay, &verdict) {
            if t.seen.len() < TABLE_LIMIT {
                t.seen.insert(ReplayKey::of(s).0, s.time);
            } else {
                self.stats.guard_full.fetch_add(1, Ordering::Relaxed);
            }
        }
        verdict
    }

    /// Forgets a signed request whose update failed in the store, so that
    /// the client's retry is applied.
    pub fn forget(&self, key: ReplayKey) {
        self.tables().seen.remove(&key.0);
    }

    /// The rate limit and the one-report rule.
    fn limit(
        &self,
        t: &mut Tables,
        kind: Update,
        digests: &[Digest],
        peer: SocketAddr,
        user: &str,
        now: f64,
    ) -> Verdict {
        let secs = now.floor() as i64;
        let exempt = self.config.exempt_users.iter().any(|u| u == user)
            || self
                .config
                .exempt_networks
                .iter()
                .any(|n| n.contains(peer.ip()));
        if exempt {
            return Verdict::Apply(digests.to_vec());
        }
        let network = Network::of(peer.ip(), self.config.v4_prefix, self.config.v6_prefix);
        if self.config.rate > 0.0 && !self.take(t, network, digests.len() as f64, now) {
            self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
            return Verdict::Limited(network);
        }
        let window = self.config.one_report_window;
        if window > 0 && kind == Update::Report {
            let mut kept = Vec::with_capacity(digests.len());
            for d in digests {
                match t.reported.get(&(network, *d)) {
                    Some(&at) if secs - at < window => {
                        self.stats.deduplicated.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        if t.reported.len() < TABLE_LIMIT || t.reported.contains_key(&(network, *d))
                        {
                            t.reported.insert((network, *d), secs);
                        } else {
                            self.stats.guard_full.fetch_add(1, Ordering::Relaxed);
                        }
                        kept.push(*d);
                    }
                }
            }
            if kept.is_empty() {
                return Verdict::AnswerOnly;
            }
            return Verdict::Apply(kept);
        }
        Verdict::Apply(digests.to_vec())
    }

    /// Takes `n` tokens from `network`'s bucket; false if it has fewer.
    fn take(&self, t: &mut Tables, network: Network, n: f64, now: f64) -> bool {
        let (rate, burst) = (self.config.rate, self.config.burst.max(1.0));
        if !t.buckets.contains_key(&network) && t.buckets.len() >= TABLE_LIMIT {
            self.stats.guard_full.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        let b = t.buckets.entry(network).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        // Workers stamp their batches before they take the lock, so a
        // bucket can see an earlier time after a later one: the clock of a
        // bucket only goes forward, or each step back would be credited
        // again by the next refill.
        b.tokens = (b.tokens + (now - b.at).max(0.0) * rate).min(burst);
        b.at = b.at.max(now);
        if b.tokens >= n {
            b.tokens -= n;
            true
        } else {
            false
        }
    }

    /// Drops what can no longer matter: signed requests whose `Time` left
    /// the window, full buckets, reports older than the window.
    fn sweep(&self, t: &mut Tables, now: f64) {
        let secs = now.floor() as i64;
        t.swept = secs;
        t.seen.retain(|_, time| (secs - *time) <= REPLAY_WINDOW);
        let (rate, burst) = (self.config.rate, self.config.burst.max(1.0));
        t.buckets
            .retain(|_, b| b.tokens + (now - b.at).max(0.0) * rate < burst);
        let window = self.config.one_report_window;
        t.reported.retain(|_, at| secs - *at < window);
    }
}

/// What identifies a signed request for the replay rule: a hash of its
/// user, `Time` and `Sig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayKey([u8; 20]);

impl ReplayKey {
    /// The key of a signed request.
    pub fn of(s: Signed<'_>) -> ReplayKey {
        let mut h = Sha1::new();
        h.update(s.user.as_bytes());
        h.update([0]);
        h.update(s.time.to_le_bytes());
        h.update(s.sig.as_bytes());
        ReplayKey(h.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn guard(config: GuardConfig) -> (Guard, Arc<Stats>) {
        let stats = Arc::new(Stats::new());
        (Guard::new(config, Arc::clone(&stats)), stats)
    }

    const D: Digest = Digest([1; 20]);
    const E: Digest = Digest([2; 20]);

    #[test]
    fn networks() {
        let n = Network::of("192.0.2.77".parse().unwrap(), 24, 56);
        assert_eq!(n.to_string(), "192.0.2.0/24");
        assert!(n.contains("192.0.2.1".parse().unwrap()));
        assert!(n.contains("::ffff:192.0.2.9".parse().unwrap()));
        assert!(!n.contains("192.0.3.1".parse().unwrap()));
        let v6 = Network::of("2001:db8:1:2:3::4".parse().unwrap(), 24, 56);
        assert_eq!(v6.to_string(), "2001:db8:1::/56");
        assert_eq!(
            Network::parse("10.0.0.0/8").unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(Network::parse("[::1]").unwrap().to_string(), "::1/128");
        assert!(Network::parse("10.0.0.0/33").is_err());
        assert!(Network::parse("nonsense").is_err());
        assert_eq!(
            Network::of("10.1.2.3".parse().unwrap(), 0, 0).to_string(),
            "0.0.0.0/0"
        );
    }

    #[test]
    fn a_replayed_signed_update_is_answered_not_applied() {
        let (g, stats) = guard(GuardConfig::default());
        let s = Signed {
            user: "bob",
            time: 1000,
            sig: "abc",
        };
        let p = peer("192.0.2.1:4000");
        assert_eq!(
            g.check(Update::Report, &[D], p, "bob", Some(s), 1000.0),
            Verdict::Apply(vec![D])
        );
        // the same request again, from anywhere, within the window
        assert_eq!(
            g.check(
                Update::Report,
                &[D],
                peer("198.51.100.1:1"),
                "bob",
                Some(s),
                1200.0
            ),
            Verdict::AnswerOnly
        );
        assert_eq!(stats.replays.load(Ordering::Relaxed), 1);
        // another signature is another request
        let other = Signed { sig: "abd", ..s };
        assert_eq!(
            g.check(Update::Report, &[D], p, "bob", Some(other), 1200.0),
            Verdict::Apply(vec![D])
        );
        // anonymous requests are not concerned
        for _ in 0..3 {
            assert_eq!(
                g.check(Update::Report, &[D], p, "anonymous", None, 1200.0),
                Verdict::Apply(vec![D])
            );
        }
        // once the Time has left the window, the entry goes (the signature
        // check refuses such a request anyway)
        let key = ReplayKey::of(s).0;
        g.check(Update::Report, &[E], p, "anonymous", None, 1290.0);
        assert!(g.tables().seen.contains_key(&key));
        g.check(Update::Report, &[E], p, "anonymous", None, 1310.0);
        assert!(!g.tables().seen.contains_key(&key));
    }

    #[test]
    fn a_refused_or_failed_signed_update_may_be_sent_again() {
        let (g, _) = guard(GuardConfig {
            rate: 1.0,
            burst: 1.0,
            ..GuardConfig::default()
        });
        let s = Signed {
            user: "bob",
            time: 50,
            sig: "s",
        };
        let p = peer("192.0.2.1:1");
        // over the limit: refused, not remembered
        assert!(matches!(
            g.check(Update::Report, &[D, E], p, "bob", Some(s), 50.0),
            Verdict::Limited(_)
        ));
        assert_eq!(
            g.check(Update::Report, &[D], p, "bob", Some(s), 50.0),
            Verdict::Apply(vec![D])
        );
        assert_eq!(
            g.check(Update::Report, &[D], p, "bob", Some(s), 52.0),
            Verdict::AnswerOnly
        );
        // the store failed: forgotten, the retry applies
        g.forget(ReplayKey::of(s));
        assert_eq!(
            g.check(Update::Report, &[D], p, "bob", Some(s), 54.0),
            Verdict::Apply(vec![D])
        );
    }

    #[test]
    fn off_lets_everything_through() {
        let (g, _) = guard(GuardConfig::off());
        assert!(!g.active());
        let s = Signed {
            user: "bob",
            time: 1,
            sig: "x",
        };
        for _ in 0..3 {
            assert_eq!(
                g.check(
                    Update::Report,
                    &[D],
                    peer("192.0.2.1:1"),
                    "bob",
                    Some(s),
                    1.0
                ),
                Verdict::Apply(vec![D])
            );
        }
    }

    /// Two workers' batches reach the bucket out of time order: the time
    /// between them is credited once, not again for each step back.
    #[test]
    fn out_of_order_times_refill_once() {
        let (g, _) = guard(GuardConfig {
            rate: 2.0,
            burst: 4.0,
            ..GuardConfig::default()
        });
        let a = peer("192.0.2.1:1");
        let report = |n: usize, now: f64| {
            matches!(
                g.check(Update::Report, &vec![D; n], a, "anonymous", None, now),
                Verdict::Apply(_)
            )
        };
        assert!(report(4, 10.0));
        // stamped earlier, arriving later: nothing to refill
        assert!(!report(1, 9.0));
        // half a second after 10.0: one token, not the three since 9.0
        assert!(report(1, 10.5));
        assert!(!report(1, 10.5));
    }

    #[test]
    fn token_buckets_per_network_with_exemptions() {
        let (g, stats) = guard(GuardConfig {
            rate: 2.0,
            burst: 4.0,
            exempt_users: vec!["trusted".into()],
            exempt_networks: vec![Network::parse("10.0.0.0/8").unwrap()],
            ..GuardConfig::default()
        });
        let a = peer("192.0.2.1:1");
        let a2 = peer("192.0.2.200:9");
        // a burst of 4 digests, shared by the /24
        assert_eq!(
            g.check(Update::Report, &[D, E, D], a, "anonymous", None, 100.0),
            Verdict::Apply(vec![D, E, D])
        );
        assert_eq!(
            g.check(Update::Whitelist, &[D], a2, "anonymous", None, 100.0),
            Verdict::Apply(vec![D])
        );
        let limited = g.check(Update::Report, &[D], a, "anonymous", None, 100.1);
        assert_eq!(
            limited,
            Verdict::Limited(Network::parse("192.0.2.0/24").unwrap())
        );
        assert_eq!(stats.rate_limited.load(Ordering::Relaxed), 1);
        // another network has its own bucket; exempt users and networks none
        assert!(matches!(
            g.check(
                Update::Report,
                &[D],
                peer("192.0.3.1:1"),
                "anonymous",
                None,
                100.1
            ),
            Verdict::Apply(_)
        ));
        for _ in 0..10 {
            assert!(matches!(
                g.check(Update::Report, &[D], a, "trusted", None, 100.1),
                Verdict::Apply(_)
            ));
            assert!(matches!(
                g.check(
                    Update::Report,
                    &[D],
                    peer("10.9.9.9:1"),
                    "anonymous",
                    None,
                    100.1
                ),
                Verdict::Apply(_)
            ));
        }
        // refilled at 2 a second
        assert!(matches!(
            g.check(Update::Report, &[D, D], a, "anonymous", None, 101.2),
            Verdict::Apply(_)
        ));
        assert!(matches!(
            g.check(Update::Report, &[D], a, "anonymous", None, 101.2),
            Verdict::Limited(_)
        ));
        // IPv6 sources by /56
        let v6 = peer("[2001:db8:0:1::1]:1");
        assert!(matches!(
            g.check(Update::Report, &[D, D, D, D], v6, "anonymous", None, 200.0),
            Verdict::Apply(_)
        ));
        assert!(matches!(
            g.check(
                Update::Report,
                &[D],
                peer("[2001:db8:0:ff::9]:1"),
                "anonymous",
                None,
                200.0
            ),
            Verdict::Limited(_)
        ));
    }

    #[test]
    fn one_counted_report_per_digest_per_network() {
        let (g, stats) = guard(GuardConfig {
            one_report_window: 3600,
            ..GuardConfig::default()
        });
        let a = peer("192.0.2.1:1");
        assert_eq!(
            g.check(Update::Report, &[D], a, "anonymous", None, 0.0),
            Verdict::Apply(vec![D])
        );
        // the same network again: answered, not counted; a new digest is
        assert_eq!(
            g.check(
                Update::Report,
                &[D],
                peer("192.0.2.9:2"),
                "anonymous",
                None,
                10.0
            ),
            Verdict::AnswerOnly
        );
        assert_eq!(
            g.check(Update::Report, &[D, E], a, "anonymous", None, 10.0),
            Verdict::Apply(vec![E])
        );
        assert_eq!(stats.deduplicated.load(Ordering::Relaxed), 2);
        // another network counts; whitelists are not concerned
        assert_eq!(
            g.check(
                Update::Report,
                &[D],
                peer("198.51.100.1:1"),
                "anonymous",
                None,
                10.0
            ),
            Verdict::Apply(vec![D])
        );
        assert_eq!(
            g.check(Update::Whitelist, &[D], a, "anonymous", None, 10.0),
            Verdict::Apply(vec![D])
        );
        // after the window, it counts again
        assert_eq!(
            g.check(Update::Report, &[D], a, "anonymous", None, 3600.0),
            Verdict::Apply(vec![D])
        );
    }
}
