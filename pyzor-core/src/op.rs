//! The six Pyzor operations.

use std::fmt;
use std::str::FromStr;

/// A Pyzor operation (protocol §2.1). On the wire, the `Op` header carries
/// the lowercase name, compared exactly (no case folding, no trimming).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// Liveness check; no digest, no database access.
    Ping,
    /// Test operation: answers `Count: 9223372036854775807`, `WL-Count: 0`.
    Pong,
    /// Report and whitelist counts of the first digest.
    Check,
    /// Counts and first/last timestamps of the first digest.
    Info,
    /// Count every digest as spam once more.
    Report,
    /// Count every digest as ham once more.
    Whitelist,
}

/// The value of `Count` in a `pong` reply: `sys.maxsize` of a 64-bit CPython.
pub const PONG_COUNT: i64 = i64::MAX;

impl Op {
    /// All operations, in the order the reference's `all` keyword lists them.
    pub const ALL: [Op; 6] = [
        Op::Check,
        Op::Report,
        Op::Ping,
        Op::Pong,
        Op::Info,
        Op::Whitelist,
    ];

    /// The operations anonymous users may use when there is no access file.
    pub const ANONYMOUS_DEFAULT: [Op; 5] = [Op::Check, Op::Report, Op::Ping, Op::Pong, Op::Info];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Op::Ping => "ping",
            Op::Pong => "pong",
            Op::Check => "check",
            Op::Info => "info",
            Op::Report => "report",
            Op::Whitelist => "whitelist",
        }
    }

    /// Parses an exact wire name.
    pub fn from_wire(s: &str) -> Option<Op> {
        Some(match s {
            "ping" => Op::Ping,
            "pong" => Op::Pong,
            "check" => Op::Check,
            "info" => Op::Info,
            "report" => Op::Report,
            "whitelist" => Op::Whitelist,
            _ => return None,
        })
    }

    /// `true` for report and whitelist, which change the database and send
    /// `Op-Spec`.
    pub const fn is_update(self) -> bool {
        matches!(self, Op::Report | Op::Whitelist)
    }

    /// `true` for every operation that carries an `Op-Digest`.
    pub const fn takes_digest(self) -> bool {
        !matches!(self, Op::Ping)
    }

    /// A bit for use in sets of operations.
    pub const fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown operation name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown operation {0:?}")]
pub struct UnknownOp(pub String);

impl FromStr for Op {
    type Err = UnknownOp;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Op::from_wire(s).ok_or_else(|| UnknownOp(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for op in Op::ALL {
            assert_eq!(Op::from_wire(op.as_str()), Some(op));
        }
        assert_eq!(Op::from_wire("PING"), None);
        assert_eq!(Op::from_wire("check "), None);
        let bits: u8 = Op::ALL.iter().map(|o| o.bit()).fold(0, |a, b| a | b);
        assert_eq!(bits.count_ones(), 6);
    }
}
