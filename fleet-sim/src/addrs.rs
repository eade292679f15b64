//! Loopback source addresses: agent `i` connects from address `i % len`, so a run of tens
//! of thousands of sockets is not bounded by one address's ephemeral port range (about
//! 28,000 ports) and the server's per-IP limits see a fleet of hosts, as in production.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::SimError;

/// Most source addresses one run may use.
pub const MAX_SOURCES: usize = 60_000;

/// A pool of `127.x.y.z` source addresses (never `127.0.0.1`, the usual server address,
/// and never a `.0` or `.255` last octet).
#[derive(Debug, Clone)]
pub struct SourcePool {
    addrs: Vec<Ipv4Addr>,
}

impl SourcePool {
    /// `count` addresses from `127.1.0.1` upwards.
    ///
    /// # Errors
    /// [`SimError::Argument`] when `count` is 0 or above [`MAX_SOURCES`].
    pub fn new(count: usize) -> Result<Self, SimError> {
        if count == 0 || count > MAX_SOURCES {
            return Err(SimError::Argument(
                "--source-addrs",
                format!("must be 1 to {MAX_SOURCES}"),
            ));
        }
        let addrs = (1u8..=254)
            .flat_map(|b| (0u8..=255).flat_map(move |c| (1u8..=254).map(move |d| (b, c, d))))
            .take(count)
            .map(|(b, c, d)| Ipv4Addr::new(127, b, c, d))
            .collect();
        Ok(Self { addrs })
    }

    /// Number of addresses.
    #[must_use]
    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    /// Always false (a pool has at least one address).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }

    /// The address of agent `index`.
    #[must_use]
    pub fn for_agent(&self, index: usize) -> IpAddr {
        let i = index.checked_rem(self.addrs.len()).unwrap_or(0);
        IpAddr::V4(self.addrs.get(i).copied().unwrap_or(Ipv4Addr::LOCALHOST))
    }

    /// Every address (one HTTP client each).
    #[must_use]
    pub fn all(&self) -> &[Ipv4Addr] {
        &self.addrs
    }

    /// Binds a TCP socket to the address of agent `index` (any port) and connects it to
    /// `server`.
    ///
    /// # Errors
    /// The I/O error of bind or connect.
    pub async fn connect(
        &self,
        index: usize,
        server: SocketAddr,
    ) -> std::io::Result<tokio::net::TcpStream> {
        let socket = if server.is_ipv4() {
            let s = tokio::net::TcpSocket::new_v4()?;
            s.bind(SocketAddr::new(self.for_agent(index), 0))?;
            s
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_nodelay(true)?;
        socket.connect(server).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]
    use super::*;

    #[test]
    fn addresses_are_distinct_loopback_and_skip_edges() {
        let pool = SourcePool::new(1000).unwrap();
        let set: std::collections::HashSet<_> = pool.all().iter().collect();
        assert_eq!(set.len(), 1000);
        for a in pool.all() {
            assert!(a.is_loopback());
            assert_ne!(*a, Ipv4Addr::LOCALHOST);
            assert!(a.octets()[3] != 0 && a.octets()[3] != 255);
        }
        assert_eq!(pool.all()[0], Ipv4Addr::new(127, 1, 0, 1));
        assert_eq!(pool.all()[254], Ipv4Addr::new(127, 1, 1, 1));
        assert_eq!(pool.for_agent(1000), pool.for_agent(0));
        assert_eq!(pool.for_agent(1001), IpAddr::V4(pool.all()[1]));
    }

    #[test]
    fn bounds_are_enforced() {
        assert!(SourcePool::new(0).is_err());
        assert!(SourcePool::new(MAX_SOURCES + 1).is_err());
        assert_eq!(SourcePool::new(MAX_SOURCES).unwrap().len(), MAX_SOURCES);
    }

    #[tokio::test]
    async fn connects_from_the_chosen_source_address() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = listener.local_addr().unwrap();
        let pool = SourcePool::new(10).unwrap();
        let accept = tokio::spawn(async move { listener.accept().await.unwrap().1 });
        let _stream = pool.connect(3, server).await.unwrap();
        let peer = accept.await.unwrap();
        assert_eq!(peer.ip(), pool.for_agent(3));
    }
}
