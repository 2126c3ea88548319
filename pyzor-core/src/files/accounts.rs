//! The client's `accounts` file: `host : port : username : salt,key`
//! (protocol §3.4).

use std::collections::HashMap;
use std::path::Path;

use super::servers::ServerAddr;
use super::{LineError, Parsed, py_lines};
use crate::auth::Account;
use crate::pycompat::{py_int, py_strip};

/// Accounts by server, matched on the exact (host text, port) pair of the
/// servers file (`localhost` does not match `127.0.0.1`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Accounts {
    by_server: HashMap<ServerAddr, Account>,
}

impl Accounts {
    /// No accounts: every server is used anonymously.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parses an accounts file. Each line is trimmed; blank lines and lines
    /// starting with `#` are skipped. A line is split on `:` into exactly
    /// four trimmed fields; the port must be an integer, the last field
    /// `salt,key` with exactly one comma, and salt and key not both empty.
    /// An IPv6 host may be written in brackets: `[::1] : 24441 : user : salt,key`.
    pub fn parse(path: &Path, text: &str) -> Parsed<Accounts> {
        let mut out = Parsed::<Accounts>::default();
        for (n, line) in py_lines(text) {
            let line = py_strip(line);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_line(line) {
                Ok((addr, account)) => {
                    out.value.by_server.insert(addr, account);
                }
                Err(e) => out.skipped.push(LineError::new(
                    path,
                    n,
                    format!("invalid account line: {e}"),
                )),
            }
        }
        out
    }

    /// The account for a server, if any.
    pub fn get(&self, server: &ServerAddr) -> Option<&Account> {
        self.by_server.get(server)
    }

    /// The account for a server, or anonymous.
    pub fn for_server(&self, server: &ServerAddr) -> Account {
        self.get(server).cloned().unwrap_or_else(Account::anonymous)
    }

    /// Adds or replaces the account for a server.
    pub fn insert(&mut self, server: ServerAddr, account: Account) {
        self.by_server.insert(server, account);
    }

    /// Number of accounts.
    pub fn len(&self) -> usize {
        self.by_server.len()
    }

    /// `true` if there are none.
    pub fn is_empty(&self) -> bool {
        self.by_server.is_empty()
    }
}

fn parse_line(line: &str) -> Result<(ServerAddr, Account), String> {
    // A bracketed IPv6 host is ours; the reference cannot express one.
    let (host, rest) = match line.strip_prefix('[') {
        Some(r) => {
            let end = r.find(']').ok_or("unclosed '['")?;
            let rest = py_strip(&r[end + 1..])
                .strip_prefix(':')
                .ok_or("wrong number of parts")?;
            (r[..end].to_owned(), rest)
        }
        None => {
            let (h, r) = line.split_once(':').ok_or("wrong number of parts")?;
            (py_strip(h).to_owned(), r)
        }
    };
    let parts: Vec<&str> = rest.split(':').map(py_strip).collect();
    let [port, user, keystuff] = parts[..] else {
        return Err("wrong number of parts".into());
    };
    let port = py_int(port).map_err(|e| e.to_string())?;
    let port = u16::try_from(port).map_err(|_| format!("port {port} out of range"))?;
    let pieces: Vec<&str> = keystuff.split(',').collect();
    let [salt, key] = pieces[..] else {
        return Err("Invalid number of parts for key; perhaps you forgot the comma at the beginning for the salt divider?".into());
    };
    if salt.is_empty() && key.is_empty() {
        return Err("keystuff can't be all None's".into());
    }
    Ok((
        ServerAddr::new(host, port),
        Account {
            user: user.to_owned(),
            salt: salt.to_owned(),
            key: key.to_owned(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_accounts() {
        let text = "# accounts\n127.0.0.1 : 24441 : interop : 0011,abcd\nlocalhost:9999:bob:,KEY\n[::1] : 1 : six : s,k\nbad : line\nh : x : u : s,k\nh : 1 : u : nocomma\nh : 1 : u : ,\nh : 70000 : u : s,k\n";
        let p = Accounts::parse(Path::new("accounts"), text);
        let a = p.value.get(&ServerAddr::new("127.0.0.1", 24441)).unwrap();
        assert_eq!(
            (a.user.as_str(), a.salt.as_str(), a.key.as_str()),
            ("interop", "0011", "abcd")
        );
        assert_eq!(
            p.value
                .get(&ServerAddr::new("localhost", 9999))
                .unwrap()
                .key,
            "KEY"
        );
        assert_eq!(p.value.get(&ServerAddr::new("::1", 1)).unwrap().user, "six");
        assert!(p.value.get(&ServerAddr::new("127.0.0.1", 9999)).is_none());
        assert!(p.value.for_server(&ServerAddr::new("x", 1)).is_anonymous());
        let lines: Vec<usize> = p.skipped.iter().map(|e| e.line).collect();
        assert_eq!(lines, [5, 6, 7, 8, 9]);
    }
}
