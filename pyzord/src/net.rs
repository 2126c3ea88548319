//! Sockets: binding (IPv4, IPv6, dual-stack, `SO_REUSEPORT`) and batched
//! receive/send with `recvmmsg`/`sendmmsg`: one system call moves up to
//! [`BATCH`] datagrams each way.

use std::io;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::time::Duration;

use pyzor_core::MAX_DATAGRAM;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// Datagrams per system call.
pub const BATCH: usize = 64;

/// The receive buffer asked for each socket, in bytes: room for bursts,
/// and for what arrives while a worker waits for room in a stalled
/// commit queue (about 4 000 requests). The kernel caps it at
/// `net.core.rmem_max` unless the process may force it (`CAP_NET_ADMIN`).
pub const RECV_BUFFER: usize = 4 << 20;

/// Binds a UDP socket like pyzord: an address containing `:` is IPv6 and
/// accepts IPv4 too (dual-stack); with `reuse_port` several sockets share
/// the port and the kernel spreads datagrams over them.
pub fn bind(addr: SocketAddr, reuse_port: bool) -> io::Result<UdpSocket> {
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        // dual stack; like the reference, failing to get it is not fatal
        if let Err(e) = s.set_only_v6(false) {
            tracing::debug!("Unable to set IPV6_V6ONLY to false {e}");
        }
    }
    if reuse_port {
        s.set_reuse_port(true)?;
    }
    let _ = s.set_recv_buffer_size(RECV_BUFFER);
    if s.recv_buffer_size().is_ok_and(|n| granted(n) < RECV_BUFFER) {
        sys::force_recv_buffer(&s, RECV_BUFFER);
    }
    let _ = s.set_send_buffer_size(4 << 20);
    s.bind(&addr.into())?;
    Ok(s.into())
}

/// The receive buffer a socket has, in the bytes it was asked for.
pub fn recv_buffer(sock: &UdpSocket) -> Option<usize> {
    socket2::SockRef::from(sock)
        .recv_buffer_size()
        .ok()
        .map(granted)
}

/// A reported receive buffer in the bytes asked for: Linux reports twice
/// what it granted, its bookkeeping included (socket(7)).
fn granted(reported: usize) -> usize {
    if cfg!(target_os = "linux") {
        reported / 2
    } else {
        reported
    }
}

/// Datagrams the kernel has dropped on arrival at this socket since it
/// was made, because its receive buffer was full (or memory short);
/// `None` where the system does not tell (Linux's `SO_MEMINFO` does).
pub fn dropped(sock: &UdpSocket) -> Option<u64> {
    sys::dropped(sock)
}

/// Binds `n` sockets to one address with `SO_REUSEPORT`, one per worker,
/// and has the kernel spread datagrams over them at random rather than by
/// the sender's address and port (its default hash): with few clients —
/// one busy MTA, one rspamd — the default sends everything to one socket
/// and leaves the other workers idle. Where the random spreading cannot be
/// set up, the default hash stays and this is logged.
///
/// A port someone holds is an error (`AddrInUse`), whoever holds it: a
/// socket without `SO_REUSEPORT` is bound first and let go, because a
/// `SO_REUSEPORT` bind alone would silently join the sockets of another
/// pyzord of the same user and take part of its traffic. (Two servers
/// started in the same instant could still both pass that check.)
pub fn bind_group(addr: SocketAddr, n: usize) -> io::Result<Vec<UdpSocket>> {
    let probe = bind(addr, false)?;
    // the port itself when `addr` asks for any
    let addr = probe.local_addr()?;
    drop(probe);
    let first = bind(addr, true)?;
    let mut socks = vec![first];
    for _ in 1..n.max(1) {
        socks.push(bind(addr, true)?);
    }
    if socks.len() > 1
        && let Err(e) = spread_randomly(&socks[0], socks.len())
    {
        tracing::debug!("cannot spread datagrams over the workers at random: {e}");
    }
    Ok(socks)
}

/// Attaches a classic BPF program to the reuseport group of `sock` that
/// picks one of its `n` sockets at random for each datagram.
#[cfg(all(
    target_os = "linux",
    any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm",
        target_arch = "riscv64",
        target_arch = "powerpc64",
        target_arch = "s390x"
    )
))]
#[allow(unsafe_code)]
fn spread_randomly(sock: &UdpSocket, n: usize) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // linux/filter.h, asm-generic/socket.h (stable kernel ABI)
    const SO_ATTACH_REUSEPORT_CBPF: libc::c_int = 51;
    // BPF_LD | BPF_W | BPF_ABS (0x00 | 0x00 | 0x20)
    const BPF_LD_W_ABS: u16 = 0x20;
    // BPF_ALU | BPF_MOD | BPF_K (0x04 | 0x90 | 0x00)
    const BPF_ALU_MOD_K: u16 = 0x94;
    // BPF_RET | BPF_A (0x06 | 0x10)
    const BPF_RET_A: u16 = 0x16;
    const SKF_AD_RANDOM: u32 = (-0x1000i32 + 56) as u32;
    let mut prog = [
        libc::sock_filter {
            code: BPF_LD_W_ABS,
            jt: 0,
            jf: 0,
            k: SKF_AD_RANDOM,
        },
        libc::sock_filter {
            code: BPF_ALU_MOD_K,
            jt: 0,
            jf: 0,
            k: n as u32,
        },
        libc::sock_filter {
            code: BPF_RET_A,
            jt: 0,
            jf: 0,
            k: 0,
        },
    ];
    let fprog = libc::sock_fprog {
        len: prog.len() as libc::c_ushort,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: a valid socket, and a program that outlives the call (the
    // kernel copies it).
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_ATTACH_REUSEPORT_CBPF,
            (&fprog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(all(
    target_os = "linux",
    any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm",
        target_arch = "riscv64",
        target_arch = "powerpc64",
        target_arch = "s390x"
    )
)))]
fn spread_randomly(_sock: &UdpSocket, _n: usize) -> io::Result<()> {
    Err(io::Error::other("not supported on this platform"))
}

/// A received datagram's metadata.
#[derive(Debug, Clone, Copy)]
pub struct Received {
    /// Bytes stored (at most [`MAX_DATAGRAM`]).
    pub stored: usize,
    /// The datagram's real length.
    pub len: usize,
    /// The sender.
    pub peer: SocketAddr,
}

/// Receive buffers for a batch, reused.
pub struct RecvBatch {
    bufs: Vec<u8>,
    /// Metadata of the datagrams of the last receive.
    pub received: Vec<Received>,

    #[cfg(target_os = "linux")]
    addrs: Vec<libc::sockaddr_storage>,
}

impl Default for RecvBatch {
    fn default() -> Self {
        RecvBatch::new()
    }
}

impl RecvBatch {
    /// Buffers for [`BATCH`] datagrams.
    pub fn new() -> RecvBatch {
        RecvBatch {
            bufs: vec![0u8; BATCH * MAX_DATAGRAM],
            received: Vec::with_capacity(BATCH),

            #[cfg(target_os = "linux")]
            addrs: vec![zeroed_storage(); BATCH],
        }
    }

    /// The data of datagram `i` of the last receive.
    pub fn data(&self, i: usize) -> &[u8] {
        let start = i * MAX_DATAGRAM;
        &self.bufs[start..start + self.received[i].stored]
    }

    /// Waits up to `timeout` for datagrams, then takes every one that is
    /// ready (up to [`BATCH`]). Returns how many (0 on timeout). A zero
    /// timeout does not wait. The timeout is a socket option, rounded up to
    /// the kernel's tick.
    pub fn recv(&mut self, sock: &UdpSocket, timeout: Duration) -> io::Result<usize> {
        let nonblocking = timeout.is_zero();
        if !nonblocking {
            sock.set_read_timeout(Some(timeout))?;
        }
        self.received.clear();
        #[cfg(target_os = "linux")]
        let addrs = &mut self.addrs;
        #[cfg(not(target_os = "linux"))]
        let addrs = &mut Vec::new();
        let n = match sys::recv_batch(sock, &mut self.bufs, addrs, &mut self.received, nonblocking)
        {
            Ok(n) => n,
            Err(e) if pyzor_core::recv::nothing_received(e.kind()) => 0,
            Err(e) => return Err(e),
        };
        Ok(n)
    }
}

#[cfg(target_os = "linux")]
fn zeroed_storage() -> libc::sockaddr_storage {
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
    #[allow(unsafe_code)]
    unsafe {
        std::mem::zeroed()
    }
}

/// Sends each reply to its peer (one `sendmmsg` per [`BATCH`]).
pub fn send_batch(sock: &UdpSocket, replies: &[(&[u8], SocketAddr)]) -> io::Result<()> {
    sys::send_batch(sock, replies)
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod sys {
    use std::os::fd::AsRawFd;

    use super::*;

    /// Asks for `bytes` past `net.core.rmem_max` (`SO_RCVBUFFORCE`), which
    /// only a process with `CAP_NET_ADMIN` may; otherwise nothing changes.
    pub(super) fn force_recv_buffer(sock: &Socket, bytes: usize) {
        let v = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        // SAFETY: the option value is a live c_int of the size given.
        let _ = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&v as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
    }

    pub(super) fn dropped(sock: &UdpSocket) -> Option<u64> {
        // SK_MEMINFO_VARS entries of u32 (9 since Linux 4.6); room for more
        let mut info = [0u32; 16];
        let mut len = std::mem::size_of_val(&info) as libc::socklen_t;
        // SAFETY: the buffer is live and `len` says its size; the kernel
        // writes at most that and sets `len` to what it wrote.
        let r = unsafe {
            libc::getsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_MEMINFO,
                info.as_mut_ptr().cast(),
                &mut len,
            )
        };
        let at = libc::SK_MEMINFO_DROPS as usize;
        (r == 0 && len as usize >= (at + 1) * 4).then(|| u64::from(info[at]))
    }

    pub(super) fn to_socket_addr(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
        match i32::from(s.ss_family) {
            libc::AF_INET => {
                // SAFETY: the family says this storage holds a sockaddr_in.
                let a =
                    unsafe { &*(s as *const libc::sockaddr_storage as *const libc::sockaddr_in) };
                let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                Some(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(a.sin_port),
                )))
            }
            libc::AF_INET6 => {
                // SAFETY: the family says this storage holds a sockaddr_in6.
                let a =
                    unsafe { &*(s as *const libc::sockaddr_storage as *const libc::sockaddr_in6) };
                let ip = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
                Some(SocketAddr::V6(SocketAddrV6::new(
                    ip,
                    u16::from_be(a.sin6_port),
                    a.sin6_flowinfo,
                    a.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }

    pub(super) fn recv_batch(
        sock: &UdpSocket,
        bufs: &mut [u8],
        addrs: &mut [libc::sockaddr_storage],
        out: &mut Vec<Received>,
        nonblocking: bool,
    ) -> io::Result<usize> {
        let n = addrs.len().min(bufs.len() / MAX_DATAGRAM);
        let mut iovs: Vec<libc::iovec> = bufs
            .chunks_mut(MAX_DATAGRAM)
            .take(n)
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            })
            .collect();
        let mut msgs: Vec<libc::mmsghdr> = iovs
            .iter_mut()
            .zip(addrs.iter_mut())
            .map(|(iov, addr)| {
                // SAFETY: mmsghdr is plain data; zero is a valid initial value.
                let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
                m.msg_hdr.msg_name = (addr as *mut libc::sockaddr_storage).cast();
                m.msg_hdr.msg_namelen =
                    std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
                m.msg_hdr.msg_iov = iov;
                m.msg_hdr.msg_iovlen = 1;
                m
            })
            .collect();
        // SAFETY: every mmsghdr points at a live iovec, buffer and address
        // storage of the right sizes, which outlive the call.
        let got = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                msgs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_WAITFORONE
                    | libc::MSG_TRUNC
                    | if nonblocking { libc::MSG_DONTWAIT } else { 0 },
                std::ptr::null_mut(),
            )
        };
        if got < 0 {
            return Err(io::Error::last_os_error());
        }
        let got = got as usize;
        for (m, addr) in msgs.iter().zip(addrs.iter()).take(got) {
            // with MSG_TRUNC, msg_len is the datagram's real length
            let len = m.msg_len as usize;
            let peer = to_socket_addr(addr).unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
            out.push(Received {
                stored: len.min(MAX_DATAGRAM),
                len,
                peer,
            });
        }
        Ok(got)
    }

    pub(super) fn send_batch(sock: &UdpSocket, replies: &[(&[u8], SocketAddr)]) -> io::Result<()> {
        for chunk in replies.chunks(BATCH) {
            let addrs: Vec<SockAddr> = chunk.iter().map(|(_, a)| SockAddr::from(*a)).collect();
            let mut iovs: Vec<libc::iovec> = chunk
                .iter()
                .map(|(data, _)| libc::iovec {
                    iov_base: data.as_ptr() as *mut libc::c_void,
                    iov_len: data.len(),
                })
                .collect();
            let mut msgs: Vec<libc::mmsghdr> = iovs
                .iter_mut()
                .zip(&addrs)
                .map(|(iov, addr)| {
                    // SAFETY: mmsghdr is plain data; zero is a valid initial value.
                    let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
                    m.msg_hdr.msg_name = addr.as_ptr() as *mut libc::c_void;
                    m.msg_hdr.msg_namelen = addr.len();
                    m.msg_hdr.msg_iov = iov;
                    m.msg_hdr.msg_iovlen = 1;
                    m
                })
                .collect();
            let mut sent = 0;
            while sent < msgs.len() {
                // SAFETY: the headers point at live buffers and addresses.
                let r = unsafe {
                    libc::sendmmsg(
                        sock.as_raw_fd(),
                        msgs[sent..].as_mut_ptr(),
                        (msgs.len() - sent) as libc::c_uint,
                        0,
                    )
                };
                if r < 0 {
                    let e = io::Error::last_os_error();
                    if e.kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    // A reply that cannot be sent (e.g. to an unreachable
                    // peer) is dropped, not retried forever.
                    tracing::debug!("sendmmsg: {e}");
                    sent += 1;
                    continue;
                }
                sent += r as usize;
            }
        }
        Ok(())
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    use super::*;

    pub(super) fn force_recv_buffer(_sock: &Socket, _bytes: usize) {}

    pub(super) fn dropped(_sock: &UdpSocket) -> Option<u64> {
        None
    }

    pub(super) fn recv_batch(
        sock: &UdpSocket,
        bufs: &mut [u8],
        _addrs: &mut Vec<()>,
        out: &mut Vec<Received>,
        nonblocking: bool,
    ) -> io::Result<usize> {
        if nonblocking {
            sock.set_nonblocking(true)?;
        }
        let r = sock.recv_from(&mut bufs[..MAX_DATAGRAM]);
        if nonblocking {
            sock.set_nonblocking(false)?;
        }
        let (len, peer) = r?;
        out.push(Received {
            stored: len,
            len,
            peer,
        });
        Ok(1)
    }

    pub(super) fn send_batch(sock: &UdpSocket, replies: &[(&[u8], SocketAddr)]) -> io::Result<()> {
        for (data, peer) in replies {
            let _ = sock.send_to(data, peer);
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A socket's receive buffer as small as the kernel makes it, and its
    /// drops once `n` datagrams have been sent at it and have settled.
    #[cfg(target_os = "linux")]
    pub(crate) fn overflow(rx: &UdpSocket, n: u64) -> u64 {
        socket2::SockRef::from(rx).set_recv_buffer_size(1).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        for _ in 0..n {
            tx.send_to(&[7; 100], rx.local_addr().unwrap()).unwrap();
        }
        // delivery on loopback may finish in a softirq after the send
        let mut last = dropped(rx).unwrap();
        loop {
            std::thread::sleep(Duration::from_millis(20));
            let now = dropped(rx).unwrap();
            if now == last {
                return now;
            }
            last = now;
        }
    }

    /// What the kernel drops at a full receive buffer is counted: every
    /// datagram sent is either received or dropped.
    #[cfg(target_os = "linux")]
    #[test]
    fn drops_at_a_full_receive_buffer_are_counted() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(dropped(&rx), Some(0));
        let sent = 200;
        let drops = overflow(&rx, sent);
        rx.set_nonblocking(true).unwrap();
        let mut received = 0;
        let mut buf = [0u8; 200];
        while rx.recv_from(&mut buf).is_ok() {
            received += 1;
        }
        assert!(
            drops > 0 && received > 0,
            "{received} received, {drops} dropped"
        );
        assert_eq!(received + drops, sent);
    }

    /// A socket gets the receive buffer asked for, or, where the process
    /// may not force it (`CAP_NET_ADMIN`), as much as `net.core.rmem_max`
    /// allows.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_socket_gets_the_receive_buffer_asked_for_or_the_systems_most() {
        let max: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let caps = status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .map(|c| u64::from_str_radix(c.trim(), 16).unwrap())
            .unwrap();
        // CAP_NET_ADMIN, which counts in the first user namespace only
        let first_ns = std::fs::read_to_string("/proc/self/uid_map")
            .is_ok_and(|m| m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"]);
        let may_force = caps & (1 << 12) != 0 && first_ns;
        let s = bind("127.0.0.1:0".parse().unwrap(), false).unwrap();
        let want = if may_force {
            RECV_BUFFER
        } else {
            RECV_BUFFER.min(max)
        };
        assert_eq!(
            recv_buffer(&s),
            Some(want),
            "rmem_max {max}, forced: {may_force}"
        );
    }

    #[test]
    fn a_taken_port_is_refused_whoever_holds_it() {
        // a plain socket
        let plain = UdpSocket::bind("127.0.0.1:0").unwrap();
        let e = bind_group(plain.local_addr().unwrap(), 2).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        // another group of SO_REUSEPORT sockets (another pyzord)
        let group = bind_group("127.0.0.1:0".parse().unwrap(), 2).unwrap();
        let e = bind_group(group[0].local_addr().unwrap(), 2).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        // once let go, the port is free again
        let addr = group[0].local_addr().unwrap();
        drop(group);
        assert_eq!(bind_group(addr, 2).unwrap().len(), 2);
    }

    /// One client socket (one 4-tuple) still reaches every worker's socket,
    /// and nothing is lost or duplicated on the way.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_group_spreads_one_client_over_all_sockets() {
        let socks = bind_group("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        let addr = socks[0].local_addr().unwrap();
        assert!(socks.iter().all(|s| s.local_addr().unwrap() == addr));
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..300u16 {
            client.send_to(&i.to_be_bytes(), addr).unwrap();
        }
        let mut got = Vec::new();
        let mut per_socket = Vec::new();
        let mut batch = RecvBatch::new();
        for s in &socks {
            let mut n_here = 0;
            loop {
                let n = batch.recv(s, Duration::from_millis(200)).unwrap();
                if n == 0 {
                    break;
                }
                for i in 0..n {
                    let d = batch.data(i);
                    got.push(u16::from_be_bytes([d[0], d[1]]));
                }
                n_here += n;
            }
            per_socket.push(n_here);
        }
        got.sort_unstable();
        assert_eq!(got, (0..300).collect::<Vec<_>>());
        assert!(per_socket.iter().all(|&n| n > 30), "{per_socket:?}");
    }

    #[test]
    fn a_zero_timeout_does_not_wait() {
        let server = bind("127.0.0.1:0".parse().unwrap(), false).unwrap();
        let mut batch = RecvBatch::new();
        let t = std::time::Instant::now();
        assert_eq!(batch.recv(&server, Duration::ZERO).unwrap(), 0);
        assert!(t.elapsed() < Duration::from_millis(100));
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.send_to(b"x", server.local_addr().unwrap()).unwrap();
        assert!(wait(|| batch.recv(&server, Duration::ZERO).unwrap() == 1));
    }

    fn wait(mut f: impl FnMut() -> bool) -> bool {
        let t = std::time::Instant::now();
        while t.elapsed() < Duration::from_secs(2) {
            if f() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    #[test]
    fn batches_round_trip_on_loopback() {
        let server = bind("127.0.0.1:0".parse().unwrap(), false).unwrap();
        let addr = server.local_addr().unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..10u8 {
            client.send_to(&[i; 100], addr).unwrap();
        }
        client
            .send_to(&vec![7u8; MAX_DATAGRAM + 500], addr)
            .unwrap();
        let mut batch = RecvBatch::new();
        let mut total = 0;
        let mut lens = Vec::new();
        while total < 11 {
            let n = batch.recv(&server, Duration::from_secs(2)).unwrap();
            assert!(n > 0);
            for i in 0..n {
                lens.push((batch.received[i].len, batch.data(i).len()));
            }
            total += n;
        }
        assert_eq!(lens[10], (MAX_DATAGRAM + 500, MAX_DATAGRAM));
        let peer = batch.received[0].peer;
        assert_eq!(peer, client.local_addr().unwrap());
        let replies: Vec<(&[u8], SocketAddr)> = (0..3).map(|_| (&b"pong"[..], peer)).collect();
        send_batch(&server, &replies).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut buf = [0u8; 16];
        for _ in 0..3 {
            let (n, _) = client.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"pong");
        }
        // nothing pending: a short timeout returns 0
        assert_eq!(batch.recv(&server, Duration::from_millis(50)).unwrap(), 0);
    }

    #[test]
    fn dual_stack() {
        let Ok(server) = bind("[::]:0".parse().unwrap(), false) else {
            return;
        };
        let port = server.local_addr().unwrap().port();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.send_to(b"hello", ("127.0.0.1", port)).unwrap();
        let mut batch = RecvBatch::new();
        assert_eq!(batch.recv(&server, Duration::from_secs(2)).unwrap(), 1);
        assert_eq!(batch.data(0), b"hello");
    }
}
