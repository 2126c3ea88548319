//! Request identifiers (`Thread` header, protocol §1.7).

use std::fmt;

/// A request id: a client picks one uniformly in 1024..=65535 for every
/// request and the server echoes it. 0..=1023 are reserved (0 is the
/// reference's error value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThreadId(pub u16);

impl ThreadId {
    /// Smallest id a client may pick.
    pub const MIN_OK: u16 = 1024;

    /// A fresh random id in 1024..=65535.
    pub fn generate<R: rand::Rng + ?Sized>(rng: &mut R) -> ThreadId {
        use rand::RngExt as _;
        ThreadId(rng.random_range(Self::MIN_OK..=u16::MAX))
    }

    /// `true` for ids a client may pick (1024..=65535).
    pub const fn in_ok_range(self) -> bool {
        self.0 >= Self::MIN_OK
    }

    /// Reads a `Thread` header value as the reference client does (Python
    /// `int()`): an integer in 0..=65535, or an error for anything else
    /// (non-numeric or out of range, where the reference client crashes).
    pub fn parse(s: &str) -> Result<ThreadId, ThreadIdError> {
        let v = crate::pycompat::py_int(s).map_err(|_| ThreadIdError(s.to_owned()))?;
        u16::try_from(v)
            .map(ThreadId)
            .map_err(|_| ThreadIdError(s.to_owned()))
    }
}

/// A `Thread` value that is not an integer in 0..=65535.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid thread id {0:?}")]
pub struct ThreadIdError(pub String);

impl fmt::Display for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_avoid_the_reserved_range() {
        let mut rng = rand::rng();
        for _ in 0..10_000 {
            assert!(ThreadId::generate(&mut rng).in_ok_range());
        }
    }

    #[test]
    fn parsing() {
        assert_eq!(ThreadId::parse("4242"), Ok(ThreadId(4242)));
        assert_eq!(ThreadId::parse(" 5 "), Ok(ThreadId(5)));
        assert!(!ThreadId(5).in_ok_range());
        assert!(ThreadId::parse("65536").is_err());
        assert!(ThreadId::parse("-1").is_err());
        assert!(ThreadId::parse("abc").is_err());
    }
}
