//! Accounts, keys and request signatures (protocol §3).
//!
//! A request is signed with `SHA1(SHA1(M) ‖ ":" time ":" hashed_key)`, where
//! `M` is the request serialized without its `Sig` header and stripped of
//! surrounding whitespace, and `hashed_key = SHA1(user ":" lowercase(key))`.
//! All digests are lowercase hex.

use std::time::{SystemTime, UNIX_EPOCH};

use sha1::{Digest as _, Sha1};
use subtle::ConstantTimeEq;

use crate::code::ServerError;
use crate::digest::hex_lower;
use crate::message::{Message, write_header};
use crate::pycompat::{py_int, py_repr_str, py_strip};

/// The user name of unauthenticated requests.
pub const ANONYMOUS: &str = "anonymous";

/// How far (in seconds) a request's `Time` may be from the server's clock.
pub const MAX_TIMESTAMP_DIFFERENCE: f64 = 300.0;

/// A client account: the user name and the shared key (the salt is kept in
/// the accounts file but plays no part in the protocol).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// User name sent in the `User` header.
    pub user: String,
    /// The salt from the accounts file (unused by the protocol).
    pub salt: String,
    /// The key (hex), shared with the server's passwd file.
    pub key: String,
}

impl Account {
    /// The anonymous account: user `anonymous`, empty key.
    pub fn anonymous() -> Account {
        Account {
            user: ANONYMOUS.to_owned(),
            salt: String::new(),
            key: String::new(),
        }
    }

    /// `true` for the anonymous account.
    pub fn is_anonymous(&self) -> bool {
        self.user == ANONYMOUS
    }

    /// The hashed key this account signs with.
    pub fn hashed_key(&self) -> String {
        hash_key(&self.key, &self.user)
    }
}

impl Default for Account {
    fn default() -> Self {
        Account::anonymous()
    }
}

/// `hex(SHA1(user ":" lowercase(key)))`.
pub fn hash_key(key: &str, user: &str) -> String {
    let mut h = Sha1::new();
    h.update(user.as_bytes());
    h.update(b":");
    h.update(key.to_lowercase().as_bytes());
    hex_lower(&h.finalize())
}

/// The signature of a payload (the request without `Sig`, already stripped)
/// at `time`, with a hashed key: `hex(SHA1(SHA1(payload) ":" time ":" hashed_key))`.
pub fn sign(hashed_key: &str, time: i64, payload: &[u8]) -> String {
    let inner = Sha1::digest(payload);
    let mut h = Sha1::new();
    h.update(inner);
    h.update(format!(":{time}:{hashed_key}").as_bytes());
    hex_lower(&h.finalize())
}

/// Builds the signed payload of a message: every header except `Sig`, in
/// order, as `Name: value\n`, with surrounding (Python) whitespace stripped.
pub fn signed_payload(msg: &Message<'_>) -> Vec<u8> {
    let mut buf = Vec::with_capacity(msg.encoded_len());
    for h in msg.headers() {
        if !h.name.eq_ignore_ascii_case("Sig") {
            write_header(&mut buf, h.name, h.value);
        }
    }
    strip_payload(buf)
}

/// Strips Python whitespace from both ends of a serialized header block.
pub(crate) fn strip_payload(buf: Vec<u8>) -> Vec<u8> {
    match std::str::from_utf8(&buf) {
        Ok(s) => {
            let t = py_strip(s);
            if t.len() == s.len() {
                return buf;
            }
            t.as_bytes().to_vec()
        }
        // Only ever called on text built from &str pieces.
        Err(_) => buf,
    }
}

/// Seconds since the epoch as a float, like Python's `time.time()`.
fn unix_f64(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// Verifies a signed request for a known user, as pyzord 1.1.2 does (§3.3):
/// `Time` must be an integer (else 400, where the reference answers 500
/// with Python's exception), within 300 s
/// of `now` (else 401), and `Sig` must equal the signature computed with the
/// user's `key` over the request without its `Sig` headers (else 401). The
/// comparison is exact (an uppercase signature fails) and constant-time.
pub fn verify(msg: &Message<'_>, key: &str, now: SystemTime) -> Result<(), ServerError> {
    let time = match msg.get("Time") {
        None => return Err(ServerError::MissingTime),
        Some(t) => py_int(t).map_err(|_| ServerError::InvalidTime(py_repr_str(t)))?,
    };
    let user = msg.get("User").unwrap_or_default();
    if (unix_f64(now) - time as f64).abs() > MAX_TIMESTAMP_DIFFERENCE {
        return Err(ServerError::StaleTimestamp);
    }
    let expected = sign(&hash_key(key, user), time, &signed_payload(msg));
    let provided = msg.get("Sig").unwrap_or_default();
    if provided.len() == expected.len()
        && bool::from(provided.as_bytes().ct_eq(expected.as_bytes()))
    {
        Ok(())
    } else {
        Err(ServerError::InvalidSignature)
    }
}

/// A key generated from a passphrase (`pyzor genkey`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedKey {
    /// `hex(SHA1(raw salt))`, kept in the client's accounts file.
    pub salt: String,
    /// `hex(SHA1(SHA1(raw salt) ‖ passphrase))`, the shared secret.
    pub key: String,
}

/// Derives a salt and key from a passphrase the way `pyzor genkey` does: the
/// raw salt is 20 code points in 0..=255 (given here as bytes; the caller
/// draws them at random), UTF-8 encoded before hashing.
pub fn genkey(passphrase: &str, raw_salt: &[u8; 20]) -> GeneratedKey {
    let salt_text: String = raw_salt.iter().map(|&b| char::from(b)).collect();
    let salt_digest = Sha1::digest(salt_text.as_bytes());
    let mut h = Sha1::new();
    h.update(salt_digest);
    h.update(passphrase.as_bytes());
    GeneratedKey {
        salt: hex_lower(&salt_digest),
        key: hex_lower(&h.finalize()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn reference_vectors() {
        assert_eq!(
            hash_key("testkey", "testuser"),
            "0957bd79b58263657127a39762879098286d8477"
        );
        assert_eq!(
            hash_key("", ANONYMOUS),
            "993fddad78000f2246ee74c4b1b9edcb89f91937"
        );
        let hashed = hex_lower(&Sha1::digest(b"test_key"));
        assert_eq!(
            sign(
                &hashed,
                1381219396,
                b"Op: ping\nThread: 14941\nPV: 2.1\nUser: anonymous\nTime: 1381219396"
            ),
            "2ab1bad2aae6fd80c656a896c82eef0ec1ec38a0"
        );
        let m = Message::parse(
            "Op: check\nOp-Digest: 8cc3769958948319b31ad22608fe39e576608808\nThread: 26195\nPV: 2.1\nUser: anonymous\nTime: 1795315720\nSig: 1be8e17699cbb0632c8324b618b5b506280f407c\n\n",
        );
        assert_eq!(
            sign(
                &Account::anonymous().hashed_key(),
                1795315720,
                &signed_payload(&m)
            ),
            "1be8e17699cbb0632c8324b618b5b506280f407c"
        );
    }

    #[test]
    fn genkey_matches_reference() {
        // key = SHA1(unhex(salt) ‖ passphrase)
        let raw = [0xffu8; 20];
        let g = genkey("secret", &raw);
        let salt_text: String = raw.iter().map(|&b| char::from(b)).collect();
        assert_eq!(g.salt, hex_lower(&Sha1::digest(salt_text.as_bytes())));
        let mut h = Sha1::new();
        h.update(Sha1::digest(salt_text.as_bytes()));
        h.update(b"secret");
        assert_eq!(g.key, hex_lower(&h.finalize()));
    }

    fn signed(user: &str, key: &str, time: i64) -> String {
        let body = format!("Op: ping\nThread: 4242\nPV: 2.1\nUser: {user}\nTime: {time}");
        let sig = sign(&hash_key(key, user), time, body.as_bytes());
        format!("{body}\nSig: {sig}\n\n")
    }

    #[test]
    fn verification() {
        let text = signed("bob", "ABCDEF", 1_000_000);
        let m = Message::parse(&text);
        // keys are lower-cased on both sides
        assert_eq!(verify(&m, "abcdef", at(1_000_000)), Ok(()));
        assert_eq!(verify(&m, "ABCDEF", at(1_000_300)), Ok(()));
        assert_eq!(
            verify(&m, "abcdef", at(1_000_301)),
            Err(ServerError::StaleTimestamp)
        );
        assert_eq!(
            verify(&m, "abcdef", at(999_699)),
            Err(ServerError::StaleTimestamp)
        );
        assert_eq!(
            verify(&m, "other", at(1_000_000)),
            Err(ServerError::InvalidSignature)
        );
        // the window is measured against a fractional clock: -300 s fails
        let near = UNIX_EPOCH + Duration::from_millis(1_000_300_500);
        assert_eq!(verify(&m, "abcdef", near), Err(ServerError::StaleTimestamp));
        let just = UNIX_EPOCH + Duration::from_millis(999_700_500);
        assert_eq!(verify(&m, "abcdef", just), Ok(()));
    }

    #[test]
    fn verification_edge_cases() {
        let text = signed("bob", "k", 1_000_000);
        // Sig first, CRLF line ends
        let sig_line = text.lines().find(|l| l.starts_with("Sig:")).unwrap();
        let rest: String = text
            .lines()
            .filter(|l| !l.starts_with("Sig:"))
            .map(|l| format!("{l}\r\n"))
            .collect();
        let moved = format!("{sig_line}\r\n{rest}");
        assert_eq!(verify(&Message::parse(&moved), "k", at(1_000_000)), Ok(()));
        // upper-case signature fails
        let upper = text.replace(sig_line, &sig_line.to_uppercase().replace("SIG:", "Sig:"));
        assert_eq!(
            verify(&Message::parse(&upper), "k", at(1_000_000)),
            Err(ServerError::InvalidSignature)
        );
        // an unsigned extra header fails
        let extra = text.replace("\n\n", "\nX-Extra: 1\n\n");
        assert_eq!(
            verify(&Message::parse(&extra), "k", at(1_000_000)),
            Err(ServerError::InvalidSignature)
        );
        // missing and garbled Time are the client's fault: 400 (the
        // reference answers 500 with Python's exception)
        let no_time = Message::parse("Op: ping\nThread: 4242\nPV: 2.1\nUser: bob\nSig: x\n\n");
        let e = verify(&no_time, "k", at(0)).unwrap_err();
        assert_eq!(e.code().0, 400);
        assert_eq!(
            e.diag(),
            "Bad request: Time not specified in signed request"
        );
        for (time, diag) in [
            ("xyz", "Bad request: Invalid Time: 'xyz'"),
            ("1e9", "Bad request: Invalid Time: '1e9'"),
        ] {
            let text = format!("Op: ping\nUser: bob\nTime: {time}\n\n");
            let bad_time = Message::parse(&text);
            let e = verify(&bad_time, "k", at(0)).unwrap_err();
            assert_eq!((e.code().0, e.diag().as_str()), (400, diag));
        }
        // an integer too large is a stale timestamp, as in Python
        let text = "Op: ping\nUser: bob\nTime: 99999999999999999999999\n\n";
        assert_eq!(
            verify(&Message::parse(text), "k", at(0)),
            Err(ServerError::StaleTimestamp)
        );
    }
}
