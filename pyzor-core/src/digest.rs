//! The 20-byte message digest that Pyzor servers count.

use std::fmt;
use std::str::FromStr;

/// A Pyzor digest: the SHA-1 of a message's selected lines, 20 bytes, written
/// on the wire as 40 lowercase hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Digest(pub [u8; 20]);

/// Why a string is not a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// Not exactly 40 characters long.
    #[error("a digest is 40 hexadecimal digits, got {0} characters")]
    Length(usize),
    /// A character that is not a hexadecimal digit.
    #[error("a digest is 40 hexadecimal digits, found {0:?}")]
    NotHex(char),
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl Digest {
    /// The digest of no lines at all (SHA-1 of the empty string), which the
    /// reference prints for messages without any usable line.
    pub const EMPTY: Digest = Digest([
        0xda, 0x39, 0xa3, 0xee, 0x5e, 0x6b, 0x4b, 0x0d, 0x32, 0x55, 0xbf, 0xef, 0x95, 0x60, 0x18,
        0x90, 0xaf, 0xd8, 0x07, 0x09,
    ]);

    /// Parses 40 hexadecimal digits (either case; the canonical form is
    /// lowercase).
    pub fn from_hex(s: &str) -> Result<Self, DigestError> {
        Self::from_hex_bytes(s.as_bytes()).map_err(|e| match e {
            DigestError::NotHex(_) => {
                let bad = s.chars().find(|c| !c.is_ascii_hexdigit()).unwrap_or('?');
                DigestError::NotHex(bad)
            }
            other => other,
        })
    }

    /// [`Digest::from_hex`] over bytes.
    pub fn from_hex_bytes(s: &[u8]) -> Result<Self, DigestError> {
        if s.len() != 40 {
            return Err(DigestError::Length(s.len()));
        }
        let mut out = [0u8; 20];
        for (i, pair) in s.chunks_exact(2).enumerate() {
            let hi = hex_val(pair[0]).ok_or(DigestError::NotHex(pair[0] as char))?;
            let lo = hex_val(pair[1]).ok_or(DigestError::NotHex(pair[1] as char))?;
            out[i] = (hi << 4) | lo;
        }
        Ok(Digest(out))
    }

    /// The 40 lowercase hex digits as bytes, without allocating.
    pub fn to_hex_bytes(&self) -> [u8; 40] {
        let mut out = [0u8; 40];
        for (i, b) in self.0.iter().enumerate() {
            out[2 * i] = HEX[usize::from(b >> 4)];
            out[2 * i + 1] = HEX[usize::from(b & 0xf)];
        }
        out
    }

    /// The 40 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        // The bytes are ASCII hex digits by construction.
        String::from_utf8_lossy(&self.to_hex_bytes()).into_owned()
    }

    /// The raw 20 bytes.
    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }
}

#[inline]
fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Lowercase hex of any byte string (used for SHA-1 outputs).
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 0xf)] as char);
    }
    s
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.to_hex_bytes();
        // ASCII by construction
        f.write_str(std::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::from_hex(s)
    }
}

impl From<[u8; 20]> for Digest {
    fn from(b: [u8; 20]) -> Self {
        Digest(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let s = "8cc3769958948319b31ad22608fe39e576608808";
        let d: Digest = s.parse().unwrap();
        assert_eq!(d.to_string(), s);
        assert_eq!(d.to_hex(), s);
        assert_eq!(Digest::from_hex(&s.to_uppercase()).unwrap(), d);
        assert_eq!(
            Digest::EMPTY.to_string(),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(Digest::from_hex("abc"), Err(DigestError::Length(3)));
        assert_eq!(
            Digest::from_hex("zzc3769958948319b31ad22608fe39e576608808"),
            Err(DigestError::NotHex('z'))
        );
        assert!(Digest::from_hex("not-a-digest at all").is_err());
        // a multi-byte character must not panic the pairwise scan
        assert!(Digest::from_hex("é8c3769958948319b31ad22608fe39e57660880").is_err());
    }
}
