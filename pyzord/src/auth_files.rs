//! Loading the passwd and access files into an [`Auth`].

use std::io;
use std::path::Path;

use pyzor_core::files::access::Acl;
use pyzor_core::files::passwd::Passwd;
use pyzor_core::files::{LineError, file_text};

use crate::handler::Auth;

/// Why the files could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A file exists but cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The error.
        source: io::Error,
    },
    /// Lines that are not valid (only an error when loading strictly).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<LineError>),
}

fn read(path: &Path) -> Result<Option<String>, AuthError> {
    file_text(std::fs::read(path)).map_err(|source| AuthError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Loads the accounts and the ACL. A missing passwd file means no accounts;
/// a missing access file means the default rules. Invalid lines are logged
/// and skipped, as the reference does — or, with `strict` (a reload),
/// make the whole load fail so that the old rules stay.
pub fn load(passwd: Option<&Path>, access: Option<&Path>, strict: bool) -> Result<Auth, AuthError> {
    let mut invalid = Vec::new();
    let passwd_value = match passwd.map(|p| (p, read(p))) {
        Some((p, Ok(Some(text)))) => {
            let parsed = Passwd::parse(p, &text);
            invalid.extend(parsed.skipped);
            tracing::info!(
                "Accounts: {}",
                parsed.value.users().collect::<Vec<_>>().join(",")
            );
            parsed.value
        }
        Some((_, Err(e))) => return Err(e),
        _ => {
            tracing::info!(
                "Accounts file does not exist - only the anonymous user will be available."
            );
            Passwd::empty()
        }
    };
    let acl = match access.map(|p| (p, read(p))) {
        Some((p, Ok(Some(text)))) => {
            let parsed = Acl::parse(p, &text, &passwd_value);
            invalid.extend(parsed.skipped);
            parsed.value
        }
        Some((_, Err(e))) => return Err(e),
        _ => {
            tracing::info!(
                "Using default ACL: the anonymous user may use the check, report, ping, pong and info commands."
            );
            Acl::default_rules()
        }
    };
    for e in &invalid {
        tracing::warn!("{e}");
    }
    if strict && !invalid.is_empty() {
        return Err(AuthError::Invalid(invalid));
    }
    Ok(Auth {
        passwd: passwd_value,
        acl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_and_refuses_broken_files_strictly() {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("pyzord.passwd");
        let acc = dir.path().join("pyzord.access");
        let a = load(Some(&pw), Some(&acc), true).unwrap();
        assert!(a.acl.allows("anonymous", Some("check")));
        std::fs::write(&pw, "bob : abc\n").unwrap();
        std::fs::write(&acc, "all : bob : allow\nbroken line\n").unwrap();
        let a = load(Some(&pw), Some(&acc), false).unwrap();
        assert!(a.acl.allows("bob", Some("whitelist")));
        assert!(!a.acl.allows("anonymous", Some("check")));
        let e = load(Some(&pw), Some(&acc), true).unwrap_err().to_string();
        assert!(e.contains("pyzord.access:2:"), "{e}");
    }
}
