//! The Pyzor configuration files: the client's `accounts` and `servers`, the
//! server's `passwd` and `access`, and the ini-style `config` of both.
//!
//! Every parser here is a pure function of the file's text (the caller reads
//! the file and says what it is called); none of them fails on bad lines.
//! Where the reference skips a bad line with a log message, these parsers
//! skip it too and report it as a [`LineError`] naming the file and the line,
//! so the caller can log it — or, for a reload, refuse the new file.

use std::fmt;
use std::path::{Path, PathBuf};

pub mod access;
pub mod accounts;
pub mod ini;
pub mod passwd;
pub mod servers;
pub mod settings;

/// A problem with one line of a configuration file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LineError {
    /// The file, as the caller named it.
    pub path: PathBuf,
    /// 1-based line number (0 when the problem is not tied to a line).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
        }
    }
}

impl LineError {
    pub(crate) fn new(path: &Path, line: usize, message: impl Into<String>) -> Self {
        LineError {
            path: path.to_owned(),
            line,
            message: message.into(),
        }
    }
}

/// A configuration file's text, from the result of reading it (the caller
/// does the reading): `None` when the file does not exist, which means its
/// defaults; any other error as it is. Bytes that are not UTF-8 become
/// U+FFFD, so a stray byte spoils its line, not the file.
pub fn file_text(read: std::io::Result<Vec<u8>>) -> std::io::Result<Option<String>> {
    match read {
        Ok(bytes) => Ok(Some(match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// A parsed file and the lines that were skipped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed<T> {
    /// What the file says.
    pub value: T,
    /// Lines that could not be used, in file order.
    pub skipped: Vec<LineError>,
}

/// Splits text into lines as Python's text-mode file iteration does
/// (universal newlines: `\r\n`, `\r` and `\n` each end a line). Yields
/// (1-based number, line without its end).
pub(crate) fn py_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = text;
    let mut n = 0;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        n += 1;
        let bytes = rest.as_bytes();
        let (line, next) = match bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
            None => (rest, ""),
            Some(i) if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') => {
                (&rest[..i], &rest[i + 2..])
            }
            Some(i) => (&rest[..i], &rest[i + 1..]),
        };
        rest = next;
        Some((n, line))
    })
}

/// Splits on Python whitespace runs, like `str.split()` with no argument.
pub(crate) fn py_split_whitespace(s: &str) -> impl Iterator<Item = &str> {
    s.split(crate::pycompat::is_py_whitespace)
        .filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn universal_newlines() {
        let lines: Vec<_> = py_lines("a\r\nb\rc\n\nd").collect();
        assert_eq!(lines, [(1, "a"), (2, "b"), (3, "c"), (4, ""), (5, "d")]);
    }

    #[test]
    fn line_error_display() {
        let e = LineError::new(Path::new("/h/passwd"), 3, "invalid line");
        assert_eq!(e.to_string(), "/h/passwd:3: invalid line");
    }
}
