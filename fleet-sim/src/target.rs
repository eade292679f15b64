//! The server under test: an `http://` URL whose host is a loopback address.

use std::net::IpAddr;

use crate::SimError;

/// A loopback server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    ip: IpAddr,
    port: u16,
}

impl Target {
    /// Parses `http://IP:PORT` (an optional trailing `/`); the IP must be loopback. Host
    /// names are refused so a typo cannot send a fleet's worth of traffic elsewhere.
    ///
    /// # Errors
    /// [`SimError::NotLoopback`] for anything else.
    pub fn parse(url: &str) -> Result<Self, SimError> {
        let refused = || SimError::NotLoopback(url.to_owned());
        let rest = url.strip_prefix("http://").ok_or_else(refused)?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        let addr: std::net::SocketAddr = authority.parse().map_err(|_| refused())?;
        if !addr.ip().is_loopback() || addr.port() == 0 {
            return Err(refused());
        }
        Ok(Self {
            ip: addr.ip(),
            port: addr.port(),
        })
    }

    /// The server's socket address.
    #[must_use]
    pub const fn socket_addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::new(self.ip, self.port)
    }

    /// Whether the server listens on IPv4 (source addresses are then `127.x.y.z`).
    #[must_use]
    pub const fn is_ipv4(&self) -> bool {
        self.ip.is_ipv4()
    }

    fn authority(&self) -> String {
        match self.ip {
            IpAddr::V4(v4) => format!("{v4}:{}", self.port),
            IpAddr::V6(v6) => format!("[{v6}]:{}", self.port),
        }
    }

    /// `http://host:port` + `path`.
    #[must_use]
    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.authority())
    }

    /// `ws://host:port` + `path`.
    #[must_use]
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.authority())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn only_loopback_ip_literals_are_accepted() {
        assert!(Target::parse("http://127.0.0.1:3000").is_ok());
        assert!(Target::parse("http://127.0.0.1:3000/").is_ok());
        assert!(Target::parse("http://127.9.8.7:80").is_ok());
        assert_eq!(
            Target::parse("http://[::1]:8080").unwrap().http_url("/x"),
            "http://[::1]:8080/x"
        );
        for bad in [
            "https://127.0.0.1:3000",
            "http://localhost:3000",
            "http://10.0.0.1:3000",
            "http://0.0.0.0:3000",
            "http://127.0.0.1:0",
            "http://127.0.0.1",
            "http://127.0.0.1:3000/api",
            "ws://127.0.0.1:3000",
            "",
        ] {
            assert!(
                matches!(Target::parse(bad), Err(SimError::NotLoopback(_))),
                "{bad} accepted"
            );
        }
    }
}
