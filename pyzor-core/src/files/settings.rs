//! Typed settings of the `pyzor` client and the `pyzord` server, resolved as
//! the reference resolves them: built-in defaults, overridden by the
//! `[client]`/`[server]` section of `<homedir>/config`, overridden by
//! command-line options. File names are `~`-expanded and resolved against
//! the homedir; an empty value disables a file.

use std::path::{Path, PathBuf};

use super::LineError;
use super::ini::{Ini, interpolate};
use crate::pycompat::{py_float, py_int};

/// A resolved key → value map for one section.
#[derive(Debug, Clone)]
struct Resolved<'a> {
    path: &'a Path,
    homedir: &'a Path,
    home: Option<&'a Path>,
    values: Vec<(String, String)>,
    defaults: Vec<(String, String)>,
}

impl Resolved<'_> {
    fn raw(&self, key: &str) -> Option<String> {
        let key = key.to_lowercase();
        self.values
            .iter()
            .chain(self.defaults.iter())
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    }

    fn get(&self, key: &str) -> Result<String, LineError> {
        let raw = self.raw(key).unwrap_or_default();
        interpolate(key, &raw, &|k| self.raw(k))
            .map_err(|e| LineError::new(self.path, 0, e.to_string()))
    }

    fn int(&self, key: &str) -> Result<i64, LineError> {
        let v = self.get(key)?;
        py_int(&v).map_err(|e| LineError::new(self.path, 0, format!("{key}: {e}")))
    }

    fn float(&self, key: &str) -> Result<f64, LineError> {
        let v = self.get(key)?;
        py_float(&v)
            .filter(|f| f.is_finite())
            .ok_or_else(|| LineError::new(self.path, 0, format!("{key}: {v:?} is not a number")))
    }

    fn bool(&self, key: &str) -> Result<bool, LineError> {
        Ok(self.get(key)?.to_lowercase() == "true")
    }

    /// A file-valued key (see [`expand_home_file`]).
    fn file(&self, key: &str) -> Result<Option<PathBuf>, LineError> {
        Ok(expand_home_file(&self.get(key)?, self.homedir, self.home))
    }
}

/// A section's settings: `defaults`, then the section of the config file
/// (`path`, parsed as `ini`), then `overrides`; files relative to `homedir`,
/// `~` meaning `home`.
fn resolve<'a>(
    homedir: &'a Path,
    home: Option<&'a Path>,
    path: &'a Path,
    ini: Option<&Ini>,
    section: &str,
    defaults: &[(&str, &str)],
    overrides: &[(&str, String)],
) -> Resolved<'a> {
    let mut values: Vec<(String, String)> = defaults
        .iter()
        .map(|(k, v)| (k.to_lowercase(), (*v).to_owned()))
        .collect();
    let mut set = |k: &str, v: String| {
        let k = k.to_lowercase();
        match values.iter_mut().find(|(key, _)| *key == k) {
            Some(slot) => slot.1 = v,
            None => values.push((k, v)),
        }
    };
    if let Some(sect) = ini.and_then(|i| i.section(section)) {
        for (k, v) in sect.iter() {
            set(k, v);
        }
    }
    for (k, v) in overrides {
        set(k, v.clone());
    }
    let defaults = ini
        .map(|i| {
            i.defaults()
                .iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect()
        })
        .unwrap_or_default();
    Resolved {
        path,
        homedir,
        home,
        values,
        defaults,
    }
}

/// Resolves a file-valued setting: empty → `None`; `~` and `~/…` expanded
/// with `home`; relative → joined to `homedir`.
pub fn expand_home_file(value: &str, homedir: &Path, home: Option<&Path>) -> Option<PathBuf> {
    if value.is_empty() {
        return None;
    }
    let expanded = match (value.strip_prefix('~'), home) {
        (Some(""), Some(h)) => h.to_path_buf(),
        (Some(rest), Some(h)) if rest.starts_with('/') => h.join(rest.trim_start_matches('/')),
        _ => PathBuf::from(value),
    };
    Some(if expanded.is_absolute() {
        expanded
    } else {
        homedir.join(expanded)
    })
}

/// The input style of message-reading client commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// All of stdin is one message.
    Msg,
    /// stdin is an mbox of messages.
    Mbox,
    /// stdin holds one digest per line.
    Digests,
}

impl Style {
    /// Parses `msg`, `mbox` or `digests`.
    pub fn parse(s: &str) -> Option<Style> {
        match s {
            "msg" => Some(Style::Msg),
            "mbox" => Some(Style::Mbox),
            "digests" => Some(Style::Digests),
            _ => None,
        }
    }
}

/// The `pyzor` client's settings (`[client]` section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// `ServersFile` (default `servers`).
    pub servers_file: Option<PathBuf>,
    /// `AccountsFile` (default `accounts`).
    pub accounts_file: Option<PathBuf>,
    /// `LocalWhitelist` (default `whitelist`).
    pub local_whitelist: Option<PathBuf>,
    /// `LogFile` (default: none).
    pub log_file: Option<PathBuf>,
    /// `Timeout` in seconds (default 5).
    pub timeout: i64,
    /// `Style` (default `msg`).
    pub style: Style,
    /// `ReportThreshold` (default 0).
    pub report_threshold: i64,
    /// `WhitelistThreshold` (default 0).
    pub whitelist_threshold: i64,
}

/// The reference client's defaults.
pub const CLIENT_DEFAULTS: &[(&str, &str)] = &[
    ("ServersFile", "servers"),
    ("AccountsFile", "accounts"),
    ("LocalWhitelist", "whitelist"),
    ("LogFile", ""),
    ("Timeout", "5"),
    ("Style", "msg"),
    ("ReportThreshold", "0"),
    ("WhitelistThreshold", "0"),
];

impl ClientSettings {
    /// Resolves the client settings. `config_path` names the config file in
    /// errors; `ini` is its parsed content (None if it does not exist);
    /// `overrides` are command-line options as (config key, value).
    pub fn resolve(
        homedir: &Path,
        home: Option<&Path>,
        config_path: &Path,
        ini: Option<&Ini>,
        overrides: &[(&str, String)],
    ) -> Result<ClientSettings, LineError> {
        let r = resolve(
            homedir,
            home,
            config_path,
            ini,
            "client",
            CLIENT_DEFAULTS,
            overrides,
        );
        let file = |key: &str| r.file(key);
        let style_s = r.get("Style")?;
        let style = Style::parse(&style_s).ok_or_else(|| {
            LineError::new(
                config_path,
                0,
                format!("Style: unknown input style {style_s:?} (msg, mbox or digests)"),
            )
        })?;
        Ok(ClientSettings {
            servers_file: file("ServersFile")?,
            accounts_file: file("AccountsFile")?,
            local_whitelist: file("LocalWhitelist")?,
            log_file: file("LogFile")?,
            timeout: r.int("Timeout")?,
            style,
            report_threshold: r.int("ReportThreshold")?,
            whitelist_threshold: r.int("WhitelistThreshold")?,
        })
    }
}

/// The `pyzord` server's settings (`[server]` section), with the
/// reference's keys and defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSettings {
    /// `ListenAddress` (default `0.0.0.0`).
    pub listen_address: String,
    /// `Port` (default 24441).
    pub port: i64,
    /// `Engine` (the reference's default is `gdbm`; pyzord-rs decides its own).
    pub engine: String,
    /// `true` if `Engine` was set by the config file or the command line.
    pub engine_explicit: bool,
    /// `DigestDB`, the engine's data source, as written (default `pyzord.db`).
    pub digest_db: String,
    /// `true` if `DigestDB` was set by the config file or the command line.
    pub digest_db_explicit: bool,
    /// `CleanupAge` in seconds (default 120 days; 0 disables expiry).
    pub cleanup_age: i64,
    /// `Threads`.
    pub threads: bool,
    /// `MaxThreads`.
    pub max_threads: i64,
    /// `Processes`.
    pub processes: bool,
    /// `MaxProcesses`.
    pub max_processes: i64,
    /// `DBConnections`.
    pub db_connections: i64,
    /// `PreFork`.
    pub pre_fork: i64,
    /// `Gevent`.
    pub gevent: bool,
    /// `ForwardClientHomeDir` (used as given; empty = off).
    pub forward_client_homedir: Option<PathBuf>,
    /// `PasswdFile` (default `pyzord.passwd`).
    pub passwd_file: Option<PathBuf>,
    /// `AccessFile` (default `pyzord.access`).
    pub access_file: Option<PathBuf>,
    /// `LogFile`.
    pub log_file: Option<PathBuf>,
    /// `UsageLogFile`.
    pub usage_log_file: Option<PathBuf>,
    /// `PidFile` (default `pyzord.pid`).
    pub pid_file: Option<PathBuf>,
    /// `SentryDSN` (accepted, unused).
    pub sentry_dsn: String,
    /// `UsageSentryDSN` (accepted, unused).
    pub usage_sentry_dsn: String,
    /// `ReplayProtection` (ours, default `True`): a signed report or
    /// whitelist seen again within its time window is not applied again.
    pub replay_protection: bool,
    /// `UpdateRate` (ours, default 0: no limit): digests of reports and
    /// whitelists a second per source network.
    pub update_rate: f64,
    /// `UpdateBurst` (ours, default 0: the rate, at least 1).
    pub update_burst: f64,
    /// `RateLimitIPv4Prefix` (ours, default 24): an IPv4 source network.
    pub rate_limit_ipv4_prefix: i64,
    /// `RateLimitIPv6Prefix` (ours, default 56): an IPv6 source network.
    pub rate_limit_ipv6_prefix: i64,
    /// `RateLimitExempt` (ours): comma-separated users and networks the
    /// rate limit and `OneReportPerNetwork` do not apply to.
    pub rate_limit_exempt: String,
    /// `OneReportPerNetwork` (ours, default 0: off): seconds during which
    /// a digest counts one report per source network.
    pub one_report_per_network: i64,
    /// `SyncInterval` (ours, default 0: a report is answered once it is
    /// on disk): with the file store, seconds between syncs, reports being
    /// answered at once (Redis' `everysec` is 1).
    pub sync_interval: f64,
    /// `CacheSize` (ours, default 256): the file store's cache, in MiB.
    pub cache_size: i64,
    /// `Metrics` (ours, default empty: off): where to serve Prometheus
    /// metrics, `PORT` (on 127.0.0.1), `HOST:PORT` or `[IPv6]:PORT`.
    pub metrics: String,
}

/// The reference server's defaults.
pub const SERVER_DEFAULTS: &[(&str, &str)] = &[
    ("Port", "24441"),
    ("ListenAddress", "0.0.0.0"),
    ("Engine", "gdbm"),
    ("DigestDB", "pyzord.db"),
    ("CleanupAge", "10368000"),
    ("Threads", "False"),
    ("MaxThreads", "0"),
    ("Processes", "False"),
    ("MaxProcesses", "40"),
    ("DBConnections", "0"),
    ("PreFork", "0"),
    ("Gevent", "False"),
    ("ForwardClientHomeDir", ""),
    ("PasswdFile", "pyzord.passwd"),
    ("AccessFile", "pyzord.access"),
    ("LogFile", ""),
    ("SentryDSN", ""),
    ("SentryLogLevel", "WARN"),
    ("UsageLogFile", ""),
    ("UsageSentryDSN", ""),
    ("UsageSentryLogLevel", "WARN"),
    ("PidFile", "pyzord.pid"),
    // pyzor-rs
    ("ReplayProtection", "True"),
    ("UpdateRate", "0"),
    ("UpdateBurst", "0"),
    ("RateLimitIPv4Prefix", "24"),
    ("RateLimitIPv6Prefix", "56"),
    ("RateLimitExempt", ""),
    ("OneReportPerNetwork", "0"),
    ("SyncInterval", "0"),
    ("CacheSize", "256"),
    ("Metrics", ""),
];

impl ServerSettings {
    /// Resolves the server settings (see [`ClientSettings::resolve`]).
    pub fn resolve(
        homedir: &Path,
        home: Option<&Path>,
        config_path: &Path,
        ini: Option<&Ini>,
        overrides: &[(&str, String)],
    ) -> Result<ServerSettings, LineError> {
        let r = resolve(
            homedir,
            home,
            config_path,
            ini,
            "server",
            SERVER_DEFAULTS,
            overrides,
        );
        let file = |key: &str| r.file(key);
        let explicit = |key: &str| {
            overrides.iter().any(|(k, _)| k.eq_ignore_ascii_case(key))
                || ini
                    .and_then(|i| i.section("server"))
                    .and_then(|s| s.get(key))
                    .is_some()
        };
        let forward = r.get("ForwardClientHomeDir")?;
        Ok(ServerSettings {
            listen_address: r.get("ListenAddress")?,
            port: r.int("Port")?,
            engine: r.get("Engine")?,
            engine_explicit: explicit("Engine"),
            digest_db: r.get("DigestDB")?,
            digest_db_explicit: explicit("DigestDB"),
            cleanup_age: r.int("CleanupAge")?,
            threads: r.bool("Threads")?,
            max_threads: r.int("MaxThreads")?,
            processes: r.bool("Processes")?,
            max_processes: r.int("MaxProcesses")?,
            db_connections: r.int("DBConnections")?,
            pre_fork: r.int("PreFork")?,
            gevent: r.bool("Gevent")?,
            forward_client_homedir: (!forward.is_empty()).then(|| PathBuf::from(forward)),
            passwd_file: file("PasswdFile")?,
            access_file: file("AccessFile")?,
            log_file: file("LogFile")?,
            usage_log_file: file("UsageLogFile")?,
            pid_file: file("PidFile")?,
            sentry_dsn: r.get("SentryDSN")?,
            usage_sentry_dsn: r.get("UsageSentryDSN")?,
            replay_protection: r.bool("ReplayProtection")?,
            update_rate: r.float("UpdateRate")?,
            update_burst: r.float("UpdateBurst")?,
            rate_limit_ipv4_prefix: r.int("RateLimitIPv4Prefix")?,
            rate_limit_ipv6_prefix: r.int("RateLimitIPv6Prefix")?,
            rate_limit_exempt: r.get("RateLimitExempt")?,
            one_report_per_network: r.int("OneReportPerNetwork")?,
            sync_interval: r.float("SyncInterval")?,
            cache_size: r.int("CacheSize")?,
            metrics: r.get("Metrics")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_defaults_and_precedence() {
        let home = Path::new("/home/u");
        let homedir = Path::new("/home/u/.pyzor");
        let cfg = Path::new("/home/u/.pyzor/config");
        let s = ClientSettings::resolve(homedir, Some(home), cfg, None, &[]).unwrap();
        assert_eq!(
            s.servers_file.as_deref(),
            Some(Path::new("/home/u/.pyzor/servers"))
        );
        assert_eq!(s.log_file, None);
        assert_eq!((s.timeout, s.style, s.report_threshold), (5, Style::Msg, 0));
        let ini = Ini::parse(cfg, "[DEFAULT]\nTimeout = 30\nBase = ~/x\n[client]\nServersFile = %(base)s/servers\nTimeout = 9\nStyle = mbox\n").unwrap();
        let s = ClientSettings::resolve(
            homedir,
            Some(home),
            cfg,
            Some(&ini),
            &[("Timeout", "3".into())],
        )
        .unwrap();
        assert_eq!(
            s.servers_file.as_deref(),
            Some(Path::new("/home/u/x/servers"))
        );
        assert_eq!(s.timeout, 3);
        assert_eq!(s.style, Style::Mbox);
        // [DEFAULT] cannot override a key the reference pre-sets in the section
        let ini = Ini::parse(cfg, "[DEFAULT]\nTimeout = 30\n").unwrap();
        let s = ClientSettings::resolve(homedir, Some(home), cfg, Some(&ini), &[]).unwrap();
        assert_eq!(s.timeout, 5);
        let bad =
            ClientSettings::resolve(homedir, Some(home), cfg, None, &[("Style", "bogus".into())]);
        assert!(bad.unwrap_err().to_string().contains("unknown input style"));
    }

    #[test]
    fn server_defaults() {
        let homedir = Path::new("/srv/pyzor");
        let cfg = homedir.join("config");
        let s = ServerSettings::resolve(homedir, None, &cfg, None, &[]).unwrap();
        assert_eq!(s.listen_address, "0.0.0.0");
        assert_eq!(s.port, 24441);
        assert_eq!(s.cleanup_age, 10368000);
        assert!(!s.engine_explicit && !s.digest_db_explicit);
        assert_eq!(
            s.passwd_file.as_deref(),
            Some(Path::new("/srv/pyzor/pyzord.passwd"))
        );
        assert_eq!(s.log_file, None);
        let ini = Ini::parse(
            &cfg,
            "[server]\nEngine = redis\nThreads = TRUE\nAccessFile = /etc/acl\n",
        )
        .unwrap();
        let s =
            ServerSettings::resolve(homedir, None, &cfg, Some(&ini), &[("Port", "9999".into())])
                .unwrap();
        assert_eq!(s.engine, "redis");
        assert!(s.engine_explicit && s.threads);
        assert_eq!(s.port, 9999);
        assert_eq!(s.access_file.as_deref(), Some(Path::new("/etc/acl")));
        let bad = ServerSettings::resolve(homedir, None, &cfg, None, &[("Port", "x".into())])
            .unwrap_err();
        assert!(bad.to_string().contains("invalid literal for int()"));
    }

    #[test]
    fn home_files() {
        let hd = Path::new("/h/.pyzor");
        assert_eq!(expand_home_file("", hd, None), None);
        assert_eq!(
            expand_home_file("a", hd, None),
            Some(PathBuf::from("/h/.pyzor/a"))
        );
        assert_eq!(
            expand_home_file("/abs", hd, None),
            Some(PathBuf::from("/abs"))
        );
        assert_eq!(
            expand_home_file("~/f", hd, Some(Path::new("/h"))),
            Some(PathBuf::from("/h/f"))
        );
    }
}
