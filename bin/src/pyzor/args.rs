//! The command line of `pyzor`, with pyzor 1.1.2's options.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;

/// Read data from stdin and execute the requested command (one of 'check',
/// 'report', 'ping', 'pong', 'digest', 'predigest', 'genkey',
/// 'local_whitelist', 'local_unwhitelist', 'info', 'whitelist'; and, in
/// pyzor-rs, 'serve': check messages sent over TCP, for rspamd).
#[derive(Debug, Parser)]
#[command(name = "pyzor", disable_version_flag = true, about, long_about = None)]
pub struct Args {
    /// 'nice' level
    #[arg(
        short = 'n',
        long = "nice",
        value_name = "NICE",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub nice: i32,

    /// enable debugging output
    #[arg(short = 'd', long = "debug")]
    pub debug: bool,

    /// configuration directory
    #[arg(long = "homedir", value_name = "HOMEDIR")]
    pub homedir: Option<PathBuf>,

    /// input style: 'msg' (individual RFC5321 message), 'mbox' (mbox file of
    /// messages), 'digests' (Pyzor digests, one per line).
    #[arg(short = 's', long = "style", value_name = "STYLE")]
    pub style: Option<String>,

    /// name of log file
    #[arg(long = "log-file", value_name = "LOGFILE")]
    pub log_file: Option<String>,

    /// name of servers file
    #[arg(long = "servers-file", value_name = "SERVERSFILE")]
    pub servers_file: Option<String>,

    /// name of accounts file
    #[arg(long = "accounts-file", value_name = "ACCOUNTSFILE")]
    pub accounts_file: Option<String>,

    /// name of the local whitelist file
    #[arg(long = "local-whitelist", value_name = "LOCALWHITELIST")]
    pub local_whitelist: Option<String>,

    /// timeout (in seconds)
    #[arg(
        short = 't',
        long = "timeout",
        value_name = "TIMEOUT",
        allow_negative_numbers = true
    )]
    pub timeout: Option<i64>,

    /// threshold for number of reports
    #[arg(
        short = 'r',
        long = "report-threshold",
        value_name = "REPORTTHRESHOLD",
        allow_negative_numbers = true
    )]
    pub report_threshold: Option<i64>,

    /// threshold for number of whitelist
    #[arg(
        short = 'w',
        long = "whitelist-threshold",
        value_name = "WHITELISTTHRESHOLD",
        allow_negative_numbers = true
    )]
    pub whitelist_threshold: Option<i64>,

    /// resend a request that timed out this many more times (pyzor-rs; the
    /// reference never retries)
    #[arg(long = "retries", value_name = "N", default_value_t = 0)]
    pub retries: u32,

    /// with the `serve` command: where to listen for rspamd-style TCP
    /// check requests (pyzor-rs)
    #[arg(long = "listen", value_name = "ADDR", default_value = "127.0.0.1:5953")]
    pub listen: String,

    /// with `serve`: connections served at once (pyzor-rs)
    #[arg(long = "max-connections", value_name = "N", default_value_t = 64)]
    pub max_connections: usize,

    /// with `serve`: largest message accepted, in bytes (pyzor-rs)
    #[arg(long = "max-message-size", value_name = "BYTES", default_value_t = 64 << 20)]
    pub max_message_size: usize,

    /// with `serve`: seconds a peer has to send its message (pyzor-rs)
    #[arg(long = "read-timeout", value_name = "SECS", default_value_t = 30)]
    pub read_timeout: u64,

    /// print version and exit
    #[arg(short = 'V', long = "version")]
    pub version: bool,

    /// commands to run, in order
    #[arg(value_name = "COMMAND")]
    pub commands: Vec<String>,
}

impl Args {
    /// The command-line overrides of config keys, as the reference applies
    /// them (`config.set("client", key, str(value))`).
    pub fn overrides(&self) -> Vec<(&'static str, String)> {
        let mut o = Vec::new();
        let mut put = |k: &'static str, v: Option<String>| {
            if let Some(v) = v {
                o.push((k, v));
            }
        };
        put("Style", self.style.clone());
        put("LogFile", self.log_file.clone());
        put("ServersFile", self.servers_file.clone());
        put("AccountsFile", self.accounts_file.clone());
        put("LocalWhitelist", self.local_whitelist.clone());
        put("Timeout", self.timeout.map(|v| v.to_string()));
        put(
            "ReportThreshold",
            self.report_threshold.map(|v| v.to_string()),
        );
        put(
            "WhitelistThreshold",
            self.whitelist_threshold.map(|v| v.to_string()),
        );
        o
    }

    /// Parses `args` (the first is the program name).
    pub fn parse_from_os(args: impl IntoIterator<Item = OsString>) -> Result<Args, clap::Error> {
        Args::try_parse_from(args)
    }
}
