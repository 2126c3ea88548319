//! The socket edge shared by the blocking and the async client: one UDP
//! socket that reaches IPv4 and IPv6 servers, addresses as that socket
//! sees them, and the errors of a receive that mean "keep waiting".

use std::io;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};

use pyzor_core::{ServerAddr, recv};

/// Bytes a reply may have (a UDP datagram's largest payload).
pub(crate) const RECV_BUF: usize = 65536;

/// A client socket: IPv6 dual-stack when the host has IPv6 (so one socket
/// reaches IPv4 and IPv6 servers), IPv4 otherwise.
pub(crate) struct ClientSocket {
    pub(crate) socket: std::net::UdpSocket,
    pub(crate) v6: bool,
}

impl ClientSocket {
    /// Opens the socket; fails only when no IPv4 socket can be had either,
    /// or when IPv6 is `needed` and unavailable.
    pub(crate) fn open(needed_v6: bool) -> io::Result<ClientSocket> {
        let v6 = socket2::Socket::new(
            socket2::Domain::IPV6,
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )
        .and_then(|s| {
            s.set_only_v6(false)?;
            s.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)).into())?;
            Ok(s)
        });
        match v6 {
            Ok(s) => Ok(ClientSocket {
                socket: s.into(),
                v6: true,
            }),
            Err(e) if needed_v6 => Err(e),
            Err(_) => Ok(ClientSocket {
                socket: std::net::UdpSocket::bind(("0.0.0.0", 0))?,
                v6: false,
            }),
        }
    }

    /// The addresses of a server this socket can send to, as it sees them
    /// (IPv4 as IPv4-mapped IPv6 on a dual-stack socket: replies come from
    /// that form).
    pub(crate) fn view(&self, addrs: impl IntoIterator<Item = SocketAddr>) -> Vec<SocketAddr> {
        view(self.v6, addrs)
    }
}

/// See [`ClientSocket::view`].
pub(crate) fn view(v6: bool, addrs: impl IntoIterator<Item = SocketAddr>) -> Vec<SocketAddr> {
    addrs
        .into_iter()
        .filter_map(|a| match (v6, a) {
            (true, SocketAddr::V4(a)) => Some(SocketAddr::V6(SocketAddrV6::new(
                a.ip().to_ipv6_mapped(),
                a.port(),
                0,
                0,
            ))),
            (false, SocketAddr::V6(_)) => None,
            _ => Some(a),
        })
        .collect()
}

/// The host of a server without IPv6 brackets, and whether it is an IP
/// literal (no name to resolve).
pub(crate) fn literal(server: &ServerAddr) -> Result<SocketAddr, &str> {
    let host = server.host.trim_start_matches('[').trim_end_matches(']');
    host.parse::<std::net::IpAddr>()
        .map(|ip| SocketAddr::new(ip, server.port))
        .map_err(|_| host)
}

/// Resolves a server's name (blocking).
pub(crate) fn resolve(server: &ServerAddr) -> io::Result<Vec<SocketAddr>> {
    use std::net::ToSocketAddrs as _;
    let addrs: Vec<SocketAddr> = match literal(server) {
        Ok(a) => vec![a],
        Err(host) => (host, server.port).to_socket_addrs()?.collect(),
    };
    if addrs.is_empty() {
        return Err(io::Error::new(io::ErrorKind::NotFound, "no address"));
    }
    Ok(addrs)
}

/// What a failed receive means for the requests in flight.
pub(crate) enum RecvError {
    /// Nothing yet, or an ICMP error queued on the socket (port
    /// unreachable, …), which is not tied to one request: like the
    /// reference, keep waiting.
    KeepWaiting,
    /// The socket itself failed.
    Fatal(io::Error),
}

/// Classifies a receive error.
pub(crate) fn classify(e: io::Error) -> RecvError {
    if recv::nothing_received(e.kind()) || recv::icmp_error(e.kind()) {
        RecvError::KeepWaiting
    } else {
        RecvError::Fatal(e)
    }
}

/// A copy of an I/O error (its kind and text) for each request it ends:
/// `io::Error` is not `Clone`.
pub(crate) fn copy_io(e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), e.to_string())
}

/// The current Unix time in whole seconds (a request's signing time).
pub(crate) fn unix_now() -> i64 {
    pyzor_core::unix_secs(std::time::SystemTime::now())
}
