//! Protocol version handling (protocol §1.5).

use crate::code::ServerError;
use crate::pycompat::py_float;

/// The protocol version every 1.x peer sends and answers with.
pub const PROTOCOL_VERSION: &str = "2.1";

/// The major version a request must carry to be served.
pub(crate) const PROTOCOL_MAJOR: f64 = 2.0;

/// Checks a request's `PV` header the way pyzord 1.1.2 does: absent → 400,
/// not a Python float (or `nan`) → 400, integer part other than 2 → 505.
/// An infinite value (`inf`, `1e309`) is a 400 too, where the reference
/// fails with a 500 (its `OverflowError`): bad input is not a server
/// failure.
pub fn check_protocol_version(pv: Option<&str>) -> Result<(), ServerError> {
    let pv = pv.ok_or(ServerError::MissingProtocolVersion)?;
    let v = py_float(pv).ok_or(ServerError::InvalidProtocolVersion)?;
    if !v.is_finite() {
        return Err(ServerError::InvalidProtocolVersion);
    }
    if v.trunc() != PROTOCOL_MAJOR {
        return Err(ServerError::VersionNotSupported);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_cases() {
        for ok in ["2", "2.0", "2.99", " 2.1", "2.1e0", "2.1   "] {
            assert_eq!(check_protocol_version(Some(ok)), Ok(()), "{ok}");
        }
        for unsupported in ["1.0", "1.999", "3", "-2.5", "1e300"] {
            assert_eq!(
                check_protocol_version(Some(unsupported)),
                Err(ServerError::VersionNotSupported),
                "{unsupported}"
            );
        }
        for invalid in ["", "abc", "nan", "2.1.0", "two"] {
            assert_eq!(
                check_protocol_version(Some(invalid)),
                Err(ServerError::InvalidProtocolVersion),
                "{invalid}"
            );
        }
        assert_eq!(
            check_protocol_version(None),
            Err(ServerError::MissingProtocolVersion)
        );
        for infinite in ["inf", "-inf", "1e309", "Infinity", " -INF "] {
            assert_eq!(
                check_protocol_version(Some(infinite)).unwrap_err().diag(),
                "Bad request: Invalid Protocol Version",
                "{infinite}"
            );
        }
    }
}
