//! The rate-limit key of a client address.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address with IPv4-mapped IPv6 (`::ffff:a.b.c.d`) turned into plain IPv4.
#[must_use]
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// The identity a client is rate limited under: an IPv4 address or an IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClientKey {
    /// An IPv4 client (including IPv4-mapped IPv6).
    V4(Ipv4Addr),
    /// An IPv6 client's /64 network (the address with its low 64 bits cleared).
    V6Net64(Ipv6Addr),
}

impl ClientKey {
    /// The key of `ip`.
    #[must_use]
    pub fn from_ip(ip: IpAddr) -> Self {
        match canonical_ip(ip) {
            IpAddr::V4(v4) => Self::V4(v4),
            IpAddr::V6(v6) => {
                let net = u128::from(v6) & !u128::from(u64::MAX);
                Self::V6Net64(Ipv6Addr::from(net))
            }
        }
    }
}

impl From<IpAddr> for ClientKey {
    fn from(ip: IpAddr) -> Self {
        Self::from_ip(ip)
    }
}

impl fmt::Display for ClientKey {
    /// `v4:203.0.113.7` or `v6:2001:db8:1:2::/64`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V4(ip) => write!(f, "v4:{ip}"),
            Self::V6Net64(net) => write!(f, "v6:{net}/64"),
        }
    }
}
