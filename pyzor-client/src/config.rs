//! A client homedir as a library: the `config` file's `[client]` section,
//! the `servers` and `accounts` files, with the `pyzor` command's defaults.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pyzor_core::ServerAddr;
use pyzor_core::files::accounts::Accounts;
use pyzor_core::files::ini::Ini;
use pyzor_core::files::servers::parse_servers;
use pyzor_core::files::settings::ClientSettings;
use pyzor_core::files::{LineError, file_text};

use crate::Client;

/// Why a homedir's configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("{}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The reading error.
        #[source]
        source: std::io::Error,
    },
    /// The `config` file or a setting in it is invalid (each error names the
    /// file and the line).
    #[error("{}", join(.0))]
    Invalid(Vec<LineError>),
}

fn join(errors: &[LineError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// How much a [`Notice`] matters (the reference logs these at that level).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Informational (a default was taken).
    Info,
    /// Something was skipped or is missing.
    Warning,
}

/// Something noticed while loading, which the caller may log: a skipped
/// line, a default taken for a missing file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// How much it matters.
    pub severity: Severity,
    /// What happened (a skipped line names its file and line).
    pub message: String,
}

/// A client homedir's configuration.
///
/// ```no_run
/// let config = pyzor_client::Config::from_homedir("/etc/pyzor")?;
/// let client = config.client();
/// for server in &config.servers {
///     client.ping(server)?;
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    /// The homedir the files were read from.
    pub homedir: PathBuf,
    /// The `[client]` settings after defaults, the config file and
    /// overrides.
    pub settings: ClientSettings,
    /// The servers to ask (`public.pyzor.org:24441` when the servers file
    /// is missing or names none, as in the reference).
    pub servers: Vec<ServerAddr>,
    /// The accounts to sign with (empty: anonymous).
    pub accounts: Accounts,
    /// What was noticed while loading, in order (the `pyzor` command logs
    /// these).
    pub notices: Vec<Notice>,
}

impl Config {
    /// Reads `homedir/config`, then the servers and accounts files it
    /// names (by default `homedir/servers` and `homedir/accounts`). A
    /// missing file is not an error; an invalid config file is, naming the
    /// file and line.
    pub fn from_homedir(homedir: impl AsRef<Path>) -> Result<Config, ConfigError> {
        Config::load(homedir.as_ref(), &[])
    }

    /// [`Config::from_homedir`] with settings overridden by name (the
    /// `config` keys: `("Timeout", "2")`, `("ServersFile", "…")`), as the
    /// command line overrides them.
    pub fn load(homedir: &Path, overrides: &[(&str, String)]) -> Result<Config, ConfigError> {
        let config_path = homedir.join("config");
        let ini = read_ini(&config_path)?;
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let settings = ClientSettings::resolve(
            homedir,
            home.as_deref(),
            &config_path,
            ini.as_ref(),
            overrides,
        )
        .map_err(|e| ConfigError::Invalid(vec![e]))?;
        let mut notices = Vec::new();
        let servers = load_servers(settings.servers_file.as_deref(), &mut notices);
        let accounts = load_accounts(settings.accounts_file.as_deref(), &mut notices);
        Ok(Config {
            homedir: homedir.to_owned(),
            settings,
            servers,
            accounts,
            notices,
        })
    }

    /// The per-reply timeout (`Timeout`, in seconds; negative is 0).
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(u64::try_from(self.settings.timeout).unwrap_or(0))
    }

    /// A blocking client with these accounts and this timeout.
    pub fn client(&self) -> Client {
        Client::new()
            .with_accounts(self.accounts.clone())
            .with_timeout(self.timeout())
    }

    /// An async client with these accounts and this timeout.
    #[cfg(feature = "tokio")]
    pub fn async_client(&self) -> crate::AsyncClient {
        crate::AsyncClient::new()
            .with_accounts(self.accounts.clone())
            .with_timeout(self.timeout())
    }
}

/// Reads and parses an ini file; a missing file is `None`.
pub fn read_ini(path: &Path) -> Result<Option<Ini>, ConfigError> {
    let text = file_text(std::fs::read(path)).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    text.map(|t| Ini::parse(path, &t).map_err(ConfigError::Invalid))
        .transpose()
}

/// A file's text; `None` when it is missing or unreadable (the servers and
/// accounts files: the reference falls back to its defaults).
fn read_or_default(path: Option<&Path>) -> Option<(&Path, String)> {
    let p = path?;
    Some((p, file_text(std::fs::read(p)).ok().flatten()?))
}

fn skipped(notices: &mut Vec<Notice>, errors: &[LineError]) {
    notices.extend(errors.iter().map(|e| Notice {
        severity: Severity::Warning,
        message: e.to_string(),
    }));
}

/// The servers file, or `public.pyzor.org:24441` when it names none.
fn load_servers(path: Option<&Path>, notices: &mut Vec<Notice>) -> Vec<ServerAddr> {
    let mut servers = Vec::new();
    if let Some((p, text)) = read_or_default(path) {
        let parsed = parse_servers(p, &text);
        skipped(notices, &parsed.skipped);
        servers = parsed.value;
    }
    if servers.is_empty() {
        notices.push(Notice {
            severity: Severity::Info,
            message: "No servers specified, defaulting to public.pyzor.org.".into(),
        });
        servers.push(ServerAddr::public());
    }
    servers
}

/// The accounts file (none: everything is anonymous).
fn load_accounts(path: Option<&Path>, notices: &mut Vec<Notice>) -> Accounts {
    match read_or_default(path) {
        Some((p, text)) => {
            let parsed = Accounts::parse(p, &text);
            skipped(notices, &parsed.skipped);
            parsed.value
        }
        _ => {
            notices.push(Notice {
                severity: Severity::Warning,
                message:
                    "No accounts are setup.  All commands will be executed by the anonymous user."
                        .into(),
            });
            Accounts::empty()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_homedir_gives_the_reference_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::from_homedir(dir.path()).unwrap();
        assert_eq!(c.servers, [ServerAddr::public()]);
        assert!(c.accounts.is_empty());
        assert_eq!(c.timeout(), Duration::from_secs(5));
        assert_eq!(c.settings.servers_file, Some(dir.path().join("servers")));
        let severities: Vec<Severity> = c.notices.iter().map(|n| n.severity).collect();
        assert_eq!(severities, [Severity::Info, Severity::Warning]);
    }

    #[test]
    fn files_are_read_and_bad_lines_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config"),
            "[client]\nTimeout = 2\nServersFile = srv\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("srv"), "127.0.0.1:24441\nbad line here\n").unwrap();
        std::fs::write(
            dir.path().join("accounts"),
            "127.0.0.1 : 24441 : alice : salt,key\n",
        )
        .unwrap();
        let c = Config::from_homedir(dir.path()).unwrap();
        assert_eq!(c.servers, [ServerAddr::new("127.0.0.1", 24441)]);
        assert_eq!(c.accounts.len(), 1);
        assert_eq!(c.timeout(), Duration::from_secs(2));
        assert_eq!(c.client().timeout(), Duration::from_secs(2));
        assert_eq!(c.notices.len(), 1, "{:?}", c.notices);
        assert!(c.notices[0].message.contains("srv:2"), "{:?}", c.notices);
        let o = Config::load(dir.path(), &[("Timeout", "9".into())]).unwrap();
        assert_eq!(o.timeout(), Duration::from_secs(9));
    }

    #[test]
    fn an_invalid_config_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config"), "[client]\nno equals sign\n").unwrap();
        let e = Config::from_homedir(dir.path()).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("config:2"), "{text}");
    }
}
