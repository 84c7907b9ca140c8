//! Free TCP ports on 127.0.0.1 (nothing listens elsewhere).
//!
//! A port taken by binding 127.0.0.1:0 comes from the kernel's ephemeral range, the same range
//! every outgoing connection (wrk's, HAProxy's to the origin, a probe's) draws its local port
//! from; between the moment it is released here and the moment nginx or HAProxy binds it, an
//! outgoing socket can take it (CI saw exactly that). So the ports handed out here lie below
//! the ephemeral range, where the kernel never picks local ports by itself, and one process
//! never hands the same port out twice.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

/// Lowest port considered: above the well-known and most registered service ports.
const LOWEST: u16 = 20_000;

/// The first port of the kernel's ephemeral range (`ip_local_port_range`), 32768 if unreadable.
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// Ports handed out so far by this process (the next candidate is offset by it).
static HANDED_OUT: AtomicU32 = AtomicU32::new(0);

/// A port that was free a moment ago and that no outgoing connection will take by itself:
/// the first port below the ephemeral range, from a per-process starting point, that binds.
pub fn free_port() -> std::io::Result<u16> {
    let high = ephemeral_low().max(LOWEST + 1000);
    let span = u32::from(high - LOWEST);
    // Spread concurrent processes (parallel test binaries) over the range by their pid.
    let start = std::process::id().wrapping_mul(7919) % span;
    for _ in 0..span {
        let k = HANDED_OUT.fetch_add(1, Ordering::Relaxed);
        let port = LOWEST + ((start + k) % span) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        format!("no free port on 127.0.0.1 between {LOWEST} and {high}"),
    ))
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`, up to `limit`.
pub fn wait_listening(port: u16, limit: std::time::Duration) -> bool {
    let until = std::time::Instant::now() + limit;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    while std::time::Instant::now() < until {
        if std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(200))
            .is_ok()
        {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_port_is_outside_the_ephemeral_range_and_bindable() {
        let p = free_port().unwrap();
        assert!(p >= LOWEST && p < ephemeral_low().max(LOWEST + 1000), "{p}");
        let l = TcpListener::bind(("127.0.0.1", p)).unwrap();
        assert!(wait_listening(p, std::time::Duration::from_secs(1)));
        drop(l);
    }

    #[test]
    fn two_ports_in_a_row_differ() {
        let a = free_port().unwrap();
        let b = free_port().unwrap();
        assert_ne!(a, b);
    }
}
