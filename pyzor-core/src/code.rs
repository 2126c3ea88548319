//! Response codes and the exact `Diag` texts of pyzord 1.1.2 (protocol §2.3).

use std::fmt;

/// An HTTP-like response code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code(pub u16);

impl Code {
    /// 200: success.
    pub const OK: Code = Code(200);
    /// 400: malformed request (or, client-side, a malformed reply).
    pub const BAD_REQUEST: Code = Code(400);
    /// 401: unknown user, stale timestamp or bad signature.
    pub const UNAUTHORIZED: Code = Code(401);
    /// 403: the user may not use this operation.
    pub const FORBIDDEN: Code = Code(403);
    /// 500: the server failed (database down).
    pub const INTERNAL_ERROR: Code = Code(500);
    /// 429 (ours): a source network sent more updates than its rate limit.
    pub const TOO_MANY_REQUESTS: Code = Code(429);
    /// 501: an operation the ACL allows but the server does not know.
    pub const NOT_IMPLEMENTED: Code = Code(501);
    /// 504: client-side only, the reply did not arrive in time.
    pub const TIMEOUT: Code = Code(504);
    /// 505: the request's protocol major version is not 2.
    pub const VERSION_NOT_SUPPORTED: Code = Code(505);

    /// `true` for 200.
    pub const fn is_ok(self) -> bool {
        self.0 == 200
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The `Diag` of a successful reply.
pub const DIAG_OK: &str = "OK";

/// Why pyzord refuses a request. [`ServerError::code`] and the `Display`
/// text are exactly the reference's `Code` and `Diag`, except for the
/// variants marked as ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerError {
    /// No `PV` header (also every empty or garbage datagram).
    #[error("Bad request: Protocol Version not specified in request")]
    MissingProtocolVersion,
    /// `PV` is not a number (or is `nan`).
    #[error("Bad request: Invalid Protocol Version")]
    InvalidProtocolVersion,
    /// `PV` major version is not 2. The reference's text ends with a space.
    #[error("Version Not Supported: ")]
    VersionNotSupported,
    /// `User` is not anonymous and not in the passwd file.
    #[error("Unauthorized: Signature Error: Unknown user.")]
    UnknownUser,
    /// `Time` is more than 300 s away from the server's clock.
    #[error("Unauthorized: Signature Error: Timestamp not within allowed range.")]
    StaleTimestamp,
    /// The signature does not match (or is missing).
    #[error("Unauthorized: Signature Error: Invalid signature.")]
    InvalidSignature,
    /// The user's ACL does not include the operation (also unknown and
    /// missing operations).
    #[error("Forbidden: User is not authorized to request the operation.")]
    Forbidden,
    /// The ACL allows an operation the server does not implement.
    #[error("Not implemented: Requested operation is not implemented.")]
    NotImplemented,
    /// Any failure inside the server, with the reference's wording where it
    /// has one (e.g. `Database temporarily unavailable.`).
    #[error("Internal Server Error: {0}")]
    Internal(String),
    /// Ours: an `Op-Digest` that is not 40 hex digits. The reference stores
    /// such strings as keys; we refuse them and change nothing.
    #[error("Bad request: Invalid digest: {0}")]
    InvalidDigest(String),
    /// Ours: a datagram over 8192 bytes. The reference parses a truncated
    /// prefix; we refuse it.
    #[error("Bad request: Request exceeds {} bytes", crate::MAX_DATAGRAM)]
    TooLong,
    /// Ours: a signed request without `Time`. The reference fails with
    /// Python's exception as a 500; it is the client's fault, so a 400.
    #[error("Bad request: Time not specified in signed request")]
    MissingTime,
    /// Ours: a `Time` that is not an integer (the value as Python's
    /// `repr`). The reference answers 500 with Python's exception.
    #[error("Bad request: Invalid Time: {0}")]
    InvalidTime(String),
    /// Ours: the sender's network is over its report and whitelist rate
    /// limit (the network, `ADDR/PREFIX`).
    #[error("Too Many Requests: update rate limit exceeded for {0}")]
    RateLimited(String),
}

impl ServerError {
    /// The response code.
    pub const fn code(&self) -> Code {
        match self {
            ServerError::MissingProtocolVersion
            | ServerError::InvalidProtocolVersion
            | ServerError::InvalidDigest(_)
            | ServerError::TooLong
            | ServerError::MissingTime
            | ServerError::InvalidTime(_) => Code::BAD_REQUEST,
            ServerError::VersionNotSupported => Code::VERSION_NOT_SUPPORTED,
            ServerError::UnknownUser
            | ServerError::StaleTimestamp
            | ServerError::InvalidSignature => Code::UNAUTHORIZED,
            ServerError::Forbidden => Code::FORBIDDEN,
            ServerError::NotImplemented => Code::NOT_IMPLEMENTED,
            ServerError::Internal(_) => Code::INTERNAL_ERROR,
            ServerError::RateLimited(_) => Code::TOO_MANY_REQUESTS,
        }
    }

    /// The `Diag` text.
    pub fn diag(&self) -> String {
        self.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diag_strings_are_the_references() {
        let cases = [
            (
                ServerError::MissingProtocolVersion,
                400,
                "Bad request: Protocol Version not specified in request",
            ),
            (
                ServerError::InvalidProtocolVersion,
                400,
                "Bad request: Invalid Protocol Version",
            ),
            (
                ServerError::VersionNotSupported,
                505,
                "Version Not Supported: ",
            ),
            (
                ServerError::UnknownUser,
                401,
                "Unauthorized: Signature Error: Unknown user.",
            ),
            (
                ServerError::StaleTimestamp,
                401,
                "Unauthorized: Signature Error: Timestamp not within allowed range.",
            ),
            (
                ServerError::InvalidSignature,
                401,
                "Unauthorized: Signature Error: Invalid signature.",
            ),
            (
                ServerError::Forbidden,
                403,
                "Forbidden: User is not authorized to request the operation.",
            ),
            (
                ServerError::NotImplemented,
                501,
                "Not implemented: Requested operation is not implemented.",
            ),
            (
                ServerError::Internal("Database temporarily unavailable.".into()),
                500,
                "Internal Server Error: Database temporarily unavailable.",
            ),
        ];
        for (err, code, diag) in cases {
            assert_eq!(err.code(), Code(code));
            assert_eq!(err.diag(), diag);
        }
    }
}
