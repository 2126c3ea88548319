//! The server's `pyzord.passwd` file: `username : key` per line (protocol §3.5).

use std::collections::HashMap;
use std::path::Path;

use super::{LineError, Parsed, py_lines};
use crate::pycompat::py_strip;

/// The server's accounts: user name → key. Names are case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Passwd {
    users: HashMap<String, String>,
    order: Vec<String>,
}

impl Passwd {
    /// No accounts (what a missing file means): only anonymous exists.
    pub fn empty() -> Passwd {
        Passwd::default()
    }

    /// Parses the file: one `user : key` per line, split on `:` into exactly
    /// two parts, both trimmed. Blank lines and lines whose first character
    /// is `#` are skipped; an indented `#` line is not a comment (it is an
    /// invalid line, as in the reference). A repeated user keeps the last key.
    pub fn parse(path: &Path, text: &str) -> Parsed<Passwd> {
        let mut out = Parsed::<Passwd>::default();
        for (n, line) in py_lines(text) {
            if py_strip(line).is_empty() || line.starts_with('#') {
                continue;
            }
            let parts: Vec<&str> = line.split(':').collect();
            let [user, key] = parts[..] else {
                out.skipped.push(LineError::new(
                    path,
                    n,
                    format!(
                        "invalid accounts line (expected 'user : key', found {} fields)",
                        parts.len()
                    ),
                ));
                continue;
            };
            out.value.insert(py_strip(user), py_strip(key));
        }
        out
    }

    fn insert(&mut self, user: &str, key: &str) {
        if self.users.insert(user.to_owned(), key.to_owned()).is_none() {
            self.order.push(user.to_owned());
        }
    }

    /// The key of a user.
    pub fn key(&self, user: &str) -> Option<&str> {
        self.users.get(user).map(String::as_str)
    }

    /// User names in file order (the set the access file's `all` means).
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(String::as_str)
    }

    /// Number of accounts.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// `true` if there are no accounts.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_the_reference() {
        let text = "# comment\nalice : 1234\n\n  \nbob:ABCD\n  # indented\nbad line\na:b:c\nalice: 5678\r\n";
        let p = Passwd::parse(Path::new("pyzord.passwd"), text);
        assert_eq!(p.value.key("alice"), Some("5678"));
        assert_eq!(p.value.key("bob"), Some("ABCD"));
        assert_eq!(p.value.key("Bob"), None);
        assert_eq!(p.value.users().collect::<Vec<_>>(), ["alice", "bob"]);
        let lines: Vec<usize> = p.skipped.iter().map(|e| e.line).collect();
        assert_eq!(lines, [6, 7, 8]);
        assert!(
            p.skipped[0]
                .to_string()
                .starts_with("pyzord.passwd:6: invalid accounts line")
        );
    }
}
