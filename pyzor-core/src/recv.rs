//! What a failed UDP receive means, for the client and the server alike.

use std::io::ErrorKind;

/// Whether a receive error only means "no datagram yet": the timeout of a
/// blocking socket passed, a non-blocking socket had none, or a signal
/// interrupted the wait.
pub fn nothing_received(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}

/// Whether a receive error is an ICMP error that an earlier send left on
/// the socket (port unreachable, …): it is tied to no one request, so a
/// client keeps waiting for its replies, as the reference does.
pub fn icmp_error(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset
    )
}
