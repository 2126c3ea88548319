//! The server's `pyzord.access` file: `operations : users : allow|deny`
//! (protocol §3.6), evaluated exactly as pyzord 1.1.2 evaluates it.
//!
//! Semantics (the code's, not the reference's documentation): every user
//! starts with no rights; lines are applied top to bottom, `allow` adding and
//! `deny` removing the listed operations for the listed users, so the last
//! line that mentions a (user, operation) pair wins. The whole line is
//! lower-cased first. `all` as the operations field means the six
//! operations; `all` as the users field means every account of the passwd
//! file (anonymous is not one of them). Operation names the server does not
//! know are kept (an ACL can grant them, and the request then gets 501).
//! Without an access file, anonymous may check, report, ping, pong and info.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use super::passwd::Passwd;
use super::{LineError, Parsed, py_lines, py_split_whitespace};
use crate::auth::ANONYMOUS;
use crate::op::Op;
use crate::pycompat::py_strip;

/// The rights of one user.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rights {
    known: u8,
    unknown: BTreeSet<String>,
}

impl Rights {
    fn allow(&mut self, op: &str) {
        match Op::from_wire(op) {
            Some(o) => self.known |= o.bit(),
            None => {
                self.unknown.insert(op.to_owned());
            }
        }
    }

    fn deny(&mut self, op: &str) {
        match Op::from_wire(op) {
            Some(o) => self.known &= !o.bit(),
            None => {
                self.unknown.remove(op);
            }
        }
    }

    /// `true` if the user may use this (known) operation.
    pub fn allows_op(&self, op: Op) -> bool {
        self.known & op.bit() != 0
    }

    /// `true` if the user may use the operation named exactly `op`.
    pub fn allows(&self, op: &str) -> bool {
        match Op::from_wire(op) {
            Some(o) => self.allows_op(o),
            None => self.unknown.contains(op),
        }
    }

    /// Every operation name granted, known ones first.
    pub fn names(&self) -> Vec<String> {
        Op::ALL
            .iter()
            .filter(|o| self.allows_op(**o))
            .map(|o| o.as_str().to_owned())
            .chain(self.unknown.iter().cloned())
            .collect()
    }
}

/// The access control list: user → rights.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Acl {
    users: HashMap<String, Rights>,
}

impl Acl {
    /// The rules that apply when there is no access file: anonymous may
    /// check, report, ping, pong and info; nobody else may do anything.
    pub fn default_rules() -> Acl {
        let mut r = Rights::default();
        for op in Op::ANONYMOUS_DEFAULT {
            r.known |= op.bit();
        }
        Acl {
            users: HashMap::from([(ANONYMOUS.to_owned(), r)]),
        }
    }

    /// Parses an access file; `passwd` gives the users that `all` stands for.
    pub fn parse(path: &Path, text: &str, passwd: &Passwd) -> Parsed<Acl> {
        let mut out = Parsed::<Acl>::default();
        for (n, line) in py_lines(text) {
            if py_strip(line).is_empty() || line.starts_with('#') {
                continue;
            }
            let lower = line.to_lowercase();
            let parts: Vec<&str> = lower.split(':').map(py_strip).collect();
            let [ops, users, verdict] = parts[..] else {
                out.skipped.push(LineError::new(
                    path,
                    n,
                    format!(
                        "invalid ACL line (expected 'operations : users : allow|deny', found {} fields)",
                        parts.len()
                    ),
                ));
                continue;
            };
            let allow = match verdict {
                "allow" => true,
                "deny" => false,
                other => {
                    out.skipped.push(LineError::new(
                        path,
                        n,
                        format!(
                            "invalid ACL line (third field must be allow or deny, found {other:?})"
                        ),
                    ));
                    continue;
                }
            };
            let op_list: Vec<&str> = if ops == "all" {
                Op::ALL.iter().map(|o| o.as_str()).collect()
            } else {
                py_split_whitespace(ops).collect()
            };
            let user_list: Vec<&str> = if users == "all" {
                passwd.users().collect()
            } else {
                py_split_whitespace(users).collect()
            };
            for user in user_list {
                let rights = out.value.users.entry(user.to_owned()).or_default();
                for op in &op_list {
                    if allow {
                        rights.allow(op);
                    } else {
                        rights.deny(op);
                    }
                }
            }
        }
        out
    }

    /// The rights of a user (none if the user is not mentioned).
    pub fn rights(&self, user: &str) -> Option<&Rights> {
        self.users.get(user)
    }

    /// `true` if `user` may request the operation named `op` (`None`, a
    /// request without `Op`, is never allowed).
    pub fn allows(&self, user: &str, op: Option<&str>) -> bool {
        match (self.users.get(user), op) {
            (Some(r), Some(op)) => r.allows(op),
            _ => false,
        }
    }

    /// Users with at least one right, sorted (for logging).
    pub fn users(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .users
            .iter()
            .filter(|(_, r)| r.known != 0 || !r.unknown.is_empty())
            .map(|(u, _)| u.as_str())
            .collect();
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passwd(text: &str) -> Passwd {
        Passwd::parse(Path::new("passwd"), text).value
    }

    fn ops(acl: &Acl, user: &str) -> Vec<String> {
        acl.rights(user).map(Rights::names).unwrap_or_default()
    }

    #[test]
    fn upstream_functional_example() {
        let pw = passwd("alice : a\nbob : b\ndan : d\n");
        let text = "check report ping pong info whitelist : alice : deny\n\
                    check report ping pong info whitelist : bob : allow\n\
                    ALL : dan : allow\n\
                    pong info whitelist : dan : deny\n";
        let acl = Acl::parse(Path::new("access"), text, &pw);
        assert!(acl.skipped.is_empty());
        let acl = acl.value;
        assert!(ops(&acl, "alice").is_empty());
        assert_eq!(
            ops(&acl, "bob"),
            ["check", "report", "ping", "pong", "info", "whitelist"]
        );
        assert_eq!(ops(&acl, "dan"), ["check", "report", "ping"]);
        assert!(ops(&acl, "anonymous").is_empty());
        assert!(!acl.allows("anonymous", Some("check")));
        assert!(acl.allows("bob", Some("whitelist")));
        assert!(!acl.allows("bob", Some("WHITELIST")));
        assert!(!acl.allows("bob", None));
    }

    #[test]
    fn default_rules() {
        let acl = Acl::default_rules();
        for op in ["check", "report", "ping", "pong", "info"] {
            assert!(acl.allows("anonymous", Some(op)), "{op}");
        }
        assert!(!acl.allows("anonymous", Some("whitelist")));
        assert!(!acl.allows("bob", Some("check")));
    }

    #[test]
    fn last_line_wins_and_all_excludes_anonymous() {
        let pw = passwd("Eve : e\nbob : b\n");
        let text = "all : all : allow\ncheck : bob : deny\ncheck : bob : allow\nreport : bob : deny\nping : anonymous : allow\nall : eve : deny\n";
        let acl = Acl::parse(Path::new("access"), text, &pw).value;
        assert_eq!(
            ops(&acl, "bob"),
            ["check", "ping", "pong", "info", "whitelist"]
        );
        assert_eq!(ops(&acl, "anonymous"), ["ping"]);
        // 'all' uses the passwd spelling; an explicit 'Eve' line names 'eve'
        assert_eq!(ops(&acl, "Eve").len(), 6);
        assert!(ops(&acl, "eve").is_empty());
    }

    #[test]
    fn unknown_ops_and_invalid_lines() {
        let pw = passwd("");
        let text = "foo check : anonymous : allow\n  # indented comment\nping : anonymous\nping : anonymous : maybe\n# comment\nall check : anonymous : allow\n";
        let parsed = Acl::parse(Path::new("access"), text, &pw);
        let acl = parsed.value;
        assert!(acl.allows("anonymous", Some("foo")));
        assert!(acl.allows("anonymous", Some("check")));
        assert!(acl.allows("anonymous", Some("all")));
        assert!(!acl.allows("anonymous", Some("ping")));
        let lines: Vec<usize> = parsed.skipped.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 4]);
    }
}
