//! Free TCP ports on 127.0.0.1 (nothing listens elsewhere).

use std::net::TcpListener;

/// A port that was free a moment ago: bind 127.0.0.1:0, read the port, drop the socket.
pub fn free_port() -> std::io::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
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
    fn a_free_port_is_nonzero_and_bindable() {
        let p = free_port().unwrap();
        assert_ne!(p, 0);
        let l = TcpListener::bind(("127.0.0.1", p)).unwrap();
        assert!(wait_listening(p, std::time::Duration::from_secs(1)));
        drop(l);
    }
}
