//! Logging in the reference's format, on `tracing`.
//!
//! pyzor 1.1.2 writes `YYYY-MM-DD HH:MM:SS,mmm (<pid>) <LEVEL> <message>`
//! lines: to stderr only at CRITICAL (everything with `-d`), to the log file
//! from INFO (DEBUG with `-d`). Events are `tracing` events; an event with a
//! `critical = true` field is CRITICAL, `WARN` prints as `WARNING`.
//!
//! ```no_run
//! pyzor_rs::logging::init(vec![pyzor_rs::logging::Output::stderr(false)])?;
//! pyzor_rs::critical!("Unknown command: {}", "frob");
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::Registry;

/// Logs a CRITICAL event (an `error!` with `critical = true`).
#[macro_export]
macro_rules! critical {
    ($($arg:tt)+) => {
        ::tracing::error!(critical = true, $($arg)+)
    };
}

/// Which events go where.
pub struct Output {
    writer: Mutex<Box<dyn Write + Send>>,
    /// Lowest level written (CRITICAL-only when `critical_only`).
    min: Level,
    critical_only: bool,
    /// Only events whose target starts with this (None: all but excluded).
    target_prefix: Option<&'static str>,
    /// Events whose target starts with this are not written here.
    exclude_prefix: Option<&'static str>,
    /// Events whose target starts with this are written here whatever
    /// their level.
    also_prefix: Option<&'static str>,
}

impl Output {
    /// stderr: CRITICAL only, or everything from DEBUG when `debug`.
    pub fn stderr(debug: bool) -> Output {
        Output {
            writer: Mutex::new(Box::new(io::stderr())),
            min: if debug { Level::DEBUG } else { Level::ERROR },
            critical_only: !debug,
            target_prefix: None,
            exclude_prefix: None,
            also_prefix: None,
        }
    }

    /// A log file (appended to), from INFO, or DEBUG when `debug`.
    pub fn file(path: &Path, debug: bool) -> io::Result<Output> {
        let f: File = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Output {
            writer: Mutex::new(Box::new(f)),
            min: if debug { Level::DEBUG } else { Level::INFO },
            critical_only: false,
            target_prefix: None,
            exclude_prefix: None,
            also_prefix: None,
        })
    }

    /// Restricts this output to events whose target starts with `prefix`.
    pub fn only(mut self, prefix: &'static str) -> Output {
        self.target_prefix = Some(prefix);
        self
    }

    /// Leaves out events whose target starts with `prefix`.
    pub fn except(mut self, prefix: &'static str) -> Output {
        self.exclude_prefix = Some(prefix);
        self
    }

    /// Also writes events whose target starts with `prefix`, whatever
    /// their level (a CRITICAL-only stderr that still shows one start-up
    /// line).
    pub fn also(mut self, prefix: &'static str) -> Output {
        self.also_prefix = Some(prefix);
        self
    }

    /// Whether an event of this callsite (`critical`: flagged CRITICAL, or
    /// for a callsite, able to be) is written here.
    fn takes(&self, meta: &Metadata<'_>, critical: bool) -> bool {
        let target = meta.target();
        if self.exclude_prefix.is_some_and(|p| target.starts_with(p))
            || self.target_prefix.is_some_and(|p| !target.starts_with(p))
        {
            return false;
        }
        self.also_prefix.is_some_and(|p| target.starts_with(p))
            || (*meta.level() <= self.min && (!self.critical_only || critical))
    }

    /// Whether events of this callsite may be written here (a CRITICAL-only
    /// output takes the callsites with a `critical` field).
    fn accepts(&self, meta: &Metadata<'_>) -> bool {
        self.takes(meta, meta.fields().field("critical").is_some())
    }
}

struct Fields {
    message: String,
    critical: bool,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => {
                let _ = write!(self.message, "{value:?}");
            }
            "critical" => self.critical = format!("{value:?}") == "true",
            other => {
                let _ = write!(self.message, " {other}={value:?}");
            }
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.message, " {}={value}", field.name());
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == "critical" {
            self.critical = value;
        } else {
            let _ = write!(self.message, " {}={value}", field.name());
        }
    }
}

/// The line prefix of the reference's log format, for the current time.
pub fn line_prefix(level: &str) -> String {
    let now = chrono::Local::now();
    format!(
        "{} ({}) {level}",
        now.format("%Y-%m-%d %H:%M:%S,%3f"),
        std::process::id()
    )
}

struct PyLayer {
    outputs: Vec<Output>,
}

impl<S: Subscriber> Layer<S> for PyLayer {
    // Callsites no output takes are disabled once and for all, so a
    // `debug!` costs nothing (not even its formatting) without `-d`.
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.outputs.iter().any(|o| o.accepts(meta)) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        self.outputs.iter().any(|o| o.accepts(meta))
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(
            self.outputs
                .iter()
                .map(|o| match o.also_prefix {
                    Some(_) => LevelFilter::TRACE,
                    None => LevelFilter::from_level(o.min),
                })
                .max()
                .unwrap_or(LevelFilter::OFF),
        )
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut fields = Fields {
            message: String::new(),
            critical: false,
        };
        event.record(&mut fields);
        let level = *meta.level();
        let name = if fields.critical {
            "CRITICAL"
        } else {
            match level {
                Level::ERROR => "ERROR",
                Level::WARN => "WARNING",
                Level::INFO => "INFO",
                Level::DEBUG | Level::TRACE => "DEBUG",
            }
        };
        let mut line: Option<String> = None;
        for out in &self.outputs {
            if !out.takes(meta, fields.critical) {
                continue;
            }
            let text =
                line.get_or_insert_with(|| format!("{} {}\n", line_prefix(name), fields.message));
            if let Ok(mut w) = out.writer.lock() {
                let _ = w.write_all(text.as_bytes());
                let _ = w.flush();
            }
        }
    }
}

/// Installs the global subscriber with these outputs. Fails if a
/// subscriber is already installed.
pub fn init(outputs: Vec<Output>) -> io::Result<()> {
    let layer = PyLayer { outputs };
    tracing::subscriber::set_global_default(Registry::default().with(layer))
        .map_err(io::Error::other)
}
