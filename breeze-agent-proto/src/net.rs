//! IP address text as agents report it.

use std::net::IpAddr;

/// Parses an IPv4 or IPv6 address, ignoring an IPv6 zone suffix (`fe80::1%eth0`); `None` when
/// the text is longer than `max` characters or not an address.
#[must_use]
pub(crate) fn parse_ip(text: &str, max: usize) -> Option<IpAddr> {
    if text.len() > max {
        return None;
    }
    let addr = match text.split_once('%') {
        Some((addr, zone)) if !zone.is_empty() && addr.contains(':') => addr,
        Some(_) => return None,
        None => text,
    };
    addr.parse().ok()
}
