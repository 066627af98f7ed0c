//! UDP sockets for the shards: binding (every shard binds its own socket
//! on each listen address with SO_REUSEPORT, and the kernel spreads
//! datagrams over them), buffer sizes, the host's local addresses (for a
//! config without `listen=`), CPU pinning, and the socket-address
//! encoding both drivers share.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, Socket, Type};

/// Receive buffer asked for when the config does not say (SER's `-b`
/// caps it). A shard that sleeps a few milliseconds under load must not
/// lose a burst: 4 MB holds about 8000 datagrams of 500 bytes.
pub const DEFAULT_RCVBUF: usize = 4 << 20;

/// Send buffer asked for when the config does not say.
pub const DEFAULT_SNDBUF: usize = 4 << 20;

/// Binds a non-blocking UDP socket on `addr` with SO_REUSEADDR and
/// SO_REUSEPORT (IPV6_V6ONLY for IPv6, so that `[::]` and `0.0.0.0` can
/// both be bound). Buffer sizes default to [`DEFAULT_RCVBUF`] and
/// [`DEFAULT_SNDBUF`]; SO_RCVBUFFORCE/SO_SNDBUFFORCE are tried first
/// (they pass `net.core.rmem_max` when running as root), then the plain
/// options, which the kernel silently caps. A buffer size that cannot be
/// set is not an error: [`buffer_sizes`] tells what was granted.
pub fn bind_udp(
    addr: SocketAddr,
    rcvbuf: Option<usize>,
    sndbuf: Option<usize>,
) -> io::Result<UdpSocket> {
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    sock.set_reuse_address(true)?;
    sock.set_reuse_port(true)?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.set_nonblocking(true)?;
    set_buffer(
        &sock,
        libc::SO_RCVBUFFORCE,
        rcvbuf.unwrap_or(DEFAULT_RCVBUF),
        Socket::set_recv_buffer_size,
    );
    set_buffer(
        &sock,
        libc::SO_SNDBUFFORCE,
        sndbuf.unwrap_or(DEFAULT_SNDBUF),
        Socket::set_send_buffer_size,
    );
    sock.bind(&addr.into())?;
    Ok(sock.into())
}

/// Fails with `AddrInUse` when another socket (another process, or a
/// second `ser`) already holds `addr`. The shards bind with SO_REUSEADDR
/// and SO_REUSEPORT so that they can share a port; without this check a
/// process that set the same options (Kamailio does) would silently share
/// the port and the traffic with us. A socket bound without those options
/// is refused whenever anyone holds the address.
pub fn check_free(addr: SocketAddr) -> io::Result<()> {
    if addr.port() == 0 {
        return Ok(());
    }
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.bind(&addr.into())
}

/// Sets a buffer size with the FORCE option, else with the plain one.
fn set_buffer(
    sock: &Socket,
    force: libc::c_int,
    size: usize,
    plain: fn(&Socket, usize) -> io::Result<()>,
) {
    // The kernel doubles the value (bookkeeping overhead) and takes an int.
    let val = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
    // SAFETY: `val` is a live c_int and its size is passed alongside; the
    // fd belongs to `sock`, which outlives the call.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            force,
            (&val as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        // EPERM without CAP_NET_ADMIN: ask within the sysctl's limit.
        let _ = plain(sock, size);
    }
}

/// The receive and send buffer sizes the kernel granted (as it reports
/// them: twice what was asked, capped), for the start-up log.
pub fn buffer_sizes(sock: &UdpSocket) -> io::Result<(usize, usize)> {
    let s = socket2::SockRef::from(sock);
    Ok((s.recv_buffer_size()?, s.send_buffer_size()?))
}

/// Addresses of the interfaces that are up, IPv4 and IPv6, loopback
/// included, without duplicates, in the order the kernel lists them.
/// IPv6 link-local addresses (fe80::/10) are left out: binding them needs
/// a scope id, and SIP peers cannot reach them by address alone.
/// Kamailio listens on all of these when the config has no `listen=`.
pub fn local_addresses() -> io::Result<Vec<IpAddr>> {
    addresses_of(None)
}

/// The addresses of the interface named `name` (`eth0`, `lo`), up, IPv4
/// and IPv6 (not link-local); empty when there is no such interface.
/// Lets `-l eth0` listen on an interface as SER allows.
pub fn interface_addresses(name: &str) -> io::Result<Vec<IpAddr>> {
    addresses_of(Some(name))
}

/// The addresses of the interfaces that are up (of `only`, if given).
fn addresses_of(only: Option<&str>) -> io::Result<Vec<IpAddr>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head into `head`; checked below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut found = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, which
        // stays valid until freeifaddrs below.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_flags & libc::IFF_UP as libc::c_uint == 0 || ifa.ifa_addr.is_null() {
            continue;
        }
        if let Some(want) = only {
            if ifa.ifa_name.is_null() {
                continue;
            }
            // SAFETY: a non-null `ifa_name` is a NUL-terminated string owned
            // by the list, valid until freeifaddrs below.
            let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) };
            if name.to_bytes() != want.as_bytes() {
                continue;
            }
        }
        // SAFETY: `ifa_addr` is non-null and points at a sockaddr whose
        // family tells its real type; each arm reads only that type.
        let ip = unsafe {
            match i32::from((*ifa.ifa_addr).sa_family) {
                libc::AF_INET => {
                    let sin = &*ifa.ifa_addr.cast::<libc::sockaddr_in>();
                    IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
                }
                libc::AF_INET6 => {
                    let sin6 = &*ifa.ifa_addr.cast::<libc::sockaddr_in6>();
                    IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr))
                }
                _ => continue,
            }
        };
        if let IpAddr::V6(v6) = ip
            && v6.segments()[0] & 0xffc0 == 0xfe80
        {
            continue;
        }
        if !found.contains(&ip) {
            found.push(ip);
        }
    }
    // SAFETY: `head` came from a successful getifaddrs and is freed once;
    // no reference into the list outlives this point.
    unsafe { libc::freeifaddrs(head) };
    Ok(found)
}

/// Pins the calling thread to CPU `cpu` (a shard to its core).
pub fn pin_current_thread(cpu: usize) -> io::Result<()> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: cpu_set_t is plain data, valid when zeroed; CPU_SET is given
    // an index below CPU_SETSIZE (checked above); sched_setaffinity reads
    // `size_of::<cpu_set_t>()` bytes from a live local.
    let r = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Decodes a socket address the kernel wrote (`sockaddr_in` or
/// `sockaddr_in6`, as bytes, possibly cut short). `None` for another
/// family or too few bytes; never panics.
pub(crate) fn decode_sockaddr(b: &[u8]) -> Option<SocketAddr> {
    let family = u16::from_ne_bytes(b.get(0..2)?.try_into().ok()?);
    let port = u16::from_be_bytes(b.get(2..4)?.try_into().ok()?);
    match i32::from(family) {
        libc::AF_INET => {
            let ip: [u8; 4] = b.get(4..8)?.try_into().ok()?;
            Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
        }
        libc::AF_INET6 => {
            let flow = u32::from_be_bytes(b.get(4..8)?.try_into().ok()?);
            let ip: [u8; 16] = b.get(8..24)?.try_into().ok()?;
            let scope = u32::from_ne_bytes(b.get(24..28)?.try_into().ok()?);
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                flow,
                scope,
            )))
        }
        _ => None,
    }
}

/// [`decode_sockaddr`] over the first `len` bytes of a `sockaddr_storage`.
pub(crate) fn decode_storage(
    ss: &libc::sockaddr_storage,
    len: libc::socklen_t,
) -> Option<SocketAddr> {
    let size = std::mem::size_of::<libc::sockaddr_storage>();
    let len = usize::try_from(len).map_or(size, |l| l.min(size));
    // SAFETY: `ss` is a live sockaddr_storage (plain bytes, fully
    // initialised); the slice covers at most its size and is read only
    // while `ss` is borrowed.
    let bytes = unsafe {
        std::slice::from_raw_parts((ss as *const libc::sockaddr_storage).cast::<u8>(), len)
    };
    decode_sockaddr(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn two_sockets_share_a_port_with_reuseport() {
        let a = bind_udp("127.0.0.1:0".parse().unwrap(), None, None).unwrap();
        let addr = a.local_addr().unwrap();
        let b = bind_udp(addr, Some(1 << 20), Some(1 << 20)).unwrap();
        assert_eq!(b.local_addr().unwrap(), addr);
        // Both are usable: each receives what is sent to it (the kernel
        // may pick either; send enough that both plausibly get some, but
        // only require that all arrive somewhere).
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..64u8 {
            c.send_to(&[i], addr).unwrap();
        }
        a.set_nonblocking(false).unwrap();
        b.set_nonblocking(false).unwrap();
        a.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        b.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut n = 0;
        let mut buf = [0u8; 16];
        for s in [&a, &b] {
            while s.recv_from(&mut buf).is_ok() {
                n += 1;
            }
        }
        assert_eq!(n, 64);
        let (r, s) = buffer_sizes(&a).unwrap();
        assert!(r > 0 && s > 0);
    }

    #[test]
    fn v6_socket_is_v6_only() {
        let Ok(s) = bind_udp("[::1]:0".parse().unwrap(), None, None) else {
            return; // no IPv6 on this host
        };
        assert!(socket2::SockRef::from(&s).only_v6().unwrap());
    }

    #[test]
    fn local_addresses_include_loopback() {
        let a = local_addresses().unwrap();
        assert!(a.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)), "{a:?}");
        assert!(
            !a.iter()
                .any(|ip| matches!(ip, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80))
        );
    }

    #[test]
    fn interface_addresses_by_name() {
        let lo = interface_addresses("lo").unwrap();
        assert!(lo.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)), "{lo:?}");
        assert!(lo.iter().all(|ip| ip.is_loopback()), "{lo:?}");
        assert!(interface_addresses("no-such-if0").unwrap().is_empty());
    }

    #[test]
    fn pin_to_cpu_zero() {
        std::thread::spawn(|| pin_current_thread(0).unwrap())
            .join()
            .unwrap();
        assert!(pin_current_thread(usize::MAX).is_err());
    }

    #[test]
    fn decode_is_defensive() {
        assert_eq!(decode_sockaddr(&[]), None);
        assert_eq!(decode_sockaddr(&[2, 0, 0]), None);
        let v4: SocketAddr = "10.1.2.3:5060".parse().unwrap();
        let sa = socket2::SockAddr::from(v4);
        let len = sa.len();
        assert_eq!(decode_storage(&sa.as_storage(), len), Some(v4));
        let v6: SocketAddr = "[2001:db8::1]:5061".parse().unwrap();
        let sa = socket2::SockAddr::from(v6);
        let len = sa.len();
        let ss = sa.as_storage();
        assert_eq!(decode_storage(&ss, len), Some(v6));
        // Cut short: no address rather than garbage.
        assert_eq!(decode_storage(&ss, 20), None);
    }
}
