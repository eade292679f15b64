//! Which addresses an outbound request must never reach.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RefusedRange {
    /// `0.0.0.0/8`, `::`.
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `10/8`, `172.16/12`, `192.168/16`.
    Private,
    /// `169.254/16` (except the metadata address), `fe80::/10`.
    LinkLocal,
    /// Carrier-grade NAT `100.64.0.0/10`.
    SharedAddressSpace,
    /// Cloud metadata endpoints: `169.254.169.254`, `fd00:ec2::254`.
    CloudMetadata,
    /// `192.0.2/24`, `198.51.100/24`, `203.0.113/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `198.18.0.0/15`.
    Benchmarking,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `240.0.0.0/4`, `192.0.0.0/24`, `192.88.99.0/24`, IETF-reserved IPv6 blocks.
    Reserved,
    /// `fc00::/7` (and the deprecated site-local `fec0::/10`).
    UniqueLocal,
    /// Translation and tunnelling forms that do not name a public IPv4 host: IPv4-compatible
    /// `::a.b.c.d`, local-use NAT64 `64:ff9b:1::/48`, 6to4 `2002::/16`, `2001::/23`.
    Tunnel,
}

impl fmt::Display for RefusedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unspecified => "unspecified",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::LinkLocal => "link-local",
            Self::SharedAddressSpace => "shared address space (cgnat)",
            Self::CloudMetadata => "cloud metadata",
            Self::Documentation => "documentation",
            Self::Benchmarking => "benchmarking",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Reserved => "reserved",
            Self::UniqueLocal => "unique-local",
            Self::Tunnel => "tunnel or translation",
        })
    }
}

const fn in_v4(ip: u32, net: u32, bits: u32) -> bool {
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    ip & mask == net & mask
}

const fn in_v6(ip: u128, net: u128, bits: u32) -> bool {
    let mask = if bits == 0 {
        0
    } else {
        u128::MAX << (128 - bits)
    };
    ip & mask == net & mask
}

/// Why `ip` is refused, or `None` for a public unicast IPv4 address.
#[must_use]
pub fn refused_v4(ip: Ipv4Addr) -> Option<RefusedRange> {
    let n = u32::from(ip);
    let range = if n == u32::from(Ipv4Addr::new(169, 254, 169, 254)) {
        RefusedRange::CloudMetadata
    } else if n == u32::MAX {
        RefusedRange::Broadcast
    } else if in_v4(n, 0, 8) {
        RefusedRange::Unspecified
    } else if in_v4(n, 0x7f00_0000, 8) {
        RefusedRange::Loopback
    } else if in_v4(n, 0x0a00_0000, 8) || in_v4(n, 0xac10_0000, 12) || in_v4(n, 0xc0a8_0000, 16) {
        RefusedRange::Private
    } else if in_v4(n, 0xa9fe_0000, 16) {
        RefusedRange::LinkLocal
    } else if in_v4(n, 0x6440_0000, 10) {
        RefusedRange::SharedAddressSpace
    } else if in_v4(n, 0xc000_0200, 24) || in_v4(n, 0xc633_6400, 24) || in_v4(n, 0xcb00_7100, 24) {
        RefusedRange::Documentation
    } else if in_v4(n, 0xc612_0000, 15) {
        RefusedRange::Benchmarking
    } else if in_v4(n, 0xe000_0000, 4) {
        RefusedRange::Multicast
    } else if in_v4(n, 0xf000_0000, 4) || in_v4(n, 0xc000_0000, 24) || in_v4(n, 0xc058_6300, 24) {
        RefusedRange::Reserved
    } else {
        return None;
    };
    Some(range)
}

/// Why `ip` is refused, or `None` for a public unicast IPv6 address. IPv4-mapped
/// (`::ffff:a.b.c.d`) and NAT64 (`64:ff9b::a.b.c.d`) addresses are judged by the IPv4
/// address they carry.
#[must_use]
pub fn refused_v6(ip: Ipv6Addr) -> Option<RefusedRange> {
    let n = u128::from(ip);
    let low32 = Ipv4Addr::from(u32::try_from(n & u128::from(u32::MAX)).unwrap_or(u32::MAX));
    if n == 0 {
        return Some(RefusedRange::Unspecified);
    }
    if n == 1 {
        return Some(RefusedRange::Loopback);
    }
    if in_v6(n, 0xffff_0000_0000, 96) || in_v6(n, 0x0064_ff9b_u128 << 96, 96) {
        // IPv4-mapped or well-known NAT64 prefix: the embedded IPv4 address decides.
        return refused_v4(low32);
    }
    let range = if ip == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254) {
        RefusedRange::CloudMetadata
    } else if in_v6(n, 0, 96) {
        RefusedRange::Tunnel // IPv4-compatible, deprecated
    } else if in_v6(n, 0xfe80_u128 << 112, 10) {
        RefusedRange::LinkLocal
    } else if in_v6(n, 0xfc00_u128 << 112, 7) || in_v6(n, 0xfec0_u128 << 112, 10) {
        RefusedRange::UniqueLocal
    } else if in_v6(n, 0xff00_u128 << 112, 8) {
        RefusedRange::Multicast
    } else if in_v6(n, 0x2001_0db8_u128 << 96, 32) || in_v6(n, 0x3fff_u128 << 112, 20) {
        RefusedRange::Documentation
    } else if in_v6(n, 0x0064_ff9b_0001_u128 << 80, 48)
        || in_v6(n, 0x2002_u128 << 112, 16)
        || in_v6(n, 0x2001_u128 << 112, 23)
    {
        RefusedRange::Tunnel
    } else if in_v6(n, 0x0100_u128 << 112, 64) || in_v6(n, 0x5f00_u128 << 112, 16) {
        RefusedRange::Reserved
    } else if !in_v6(n, 0x2000_u128 << 112, 3) {
        // Only 2000::/3 is allocated for global unicast.
        RefusedRange::Reserved
    } else {
        return None;
    };
    Some(range)
}

/// Why `ip` is refused, or `None` when it is a public unicast address.
#[must_use]
pub fn refused_range(ip: IpAddr) -> Option<RefusedRange> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => refused_v6(v6),
    }
}
