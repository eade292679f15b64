//! Partner IP allow-lists (SPEC 16): which client addresses may use a partner's user logins,
//! access tokens and API keys.
//!
//! A list has a [`IpAllowMode`] and at most [`MAX_ENTRIES`] networks. In
//! [`IpAllowMode::Off`] every address is admitted (the networks are kept, so a list can be
//! switched off and on again without retyping it); in [`IpAllowMode::Enforce`] only an
//! address inside one of the networks is. Parsing is strict and normalizing:
//!
//! - an entry is a CIDR network (`203.0.113.0/24`, `2001:db8::/32`) or a bare address (a
//!   `/32` or `/128`); surrounding whitespace is ignored, nothing else is;
//! - an IPv4-mapped IPv6 entry (`::ffff:203.0.113.0/120`) is stored as the IPv4 network it
//!   is, and an IPv4-mapped client address is matched as IPv4, so the two spellings of one
//!   address can never disagree;
//! - a network with host bits set (`10.0.0.5/8`) is refused with the network it probably
//!   meant ([`IpAllowError::HostBitsSet`]) rather than silently widened or narrowed: an
//!   allow-list is a security setting and its owner should see exactly what it admits;
//! - duplicates are dropped and the networks sorted, so equal lists compare equal;
//! - an enforced list must name at least one network (an empty one would lock every user
//!   and key of the partner out; use [`IpAllowMode::Off`] instead).
//!
//! The module does no I/O (it builds for WebAssembly).
//!
//! ```
//! use breeze_core::ipallow::{IpAllowList, IpAllowMode};
//!
//! let list = IpAllowList::parse(IpAllowMode::Enforce, ["203.0.113.0/24", "2001:db8::1"])?;
//! assert!(list.permits("203.0.113.9".parse()?));
//! assert!(list.permits("::ffff:203.0.113.9".parse()?)); // IPv4-mapped: the same client
//! assert!(!list.permits("198.51.100.1".parse()?));
//! assert_eq!(list.entry_strings(), ["203.0.113.0/24", "2001:db8::1/128"]);
//! assert!(IpAllowList::parse(IpAllowMode::Enforce, ["10.0.0.5/8"]).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net};

use crate::clientip::canonical_ip;

/// The most networks a list holds.
pub const MAX_ENTRIES: usize = 100;

/// The longest entry accepted (the longest IPv6 CIDR spelling is 43 characters).
pub const MAX_ENTRY_LEN: usize = 64;

/// Whether a list is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IpAllowMode {
    /// Every address is admitted.
    #[default]
    Off,
    /// Only addresses inside the list are admitted.
    Enforce,
}

impl IpAllowMode {
    /// `off` or `enforce` (the API and storage spelling).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Enforce => "enforce",
        }
    }
}

impl fmt::Display for IpAllowMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IpAllowMode {
    type Err = IpAllowError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" => Ok(Self::Off),
            "enforce" => Ok(Self::Enforce),
            _ => Err(IpAllowError::InvalidMode),
        }
    }
}

/// Why a list was refused. Messages name an entry by its position (0-based), never echo it
/// beyond the normalized network a [`IpAllowError::HostBitsSet`] suggests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IpAllowError {
    /// The mode is neither `off` nor `enforce`.
    #[error("mode must be off or enforce")]
    InvalidMode,
    /// More than [`MAX_ENTRIES`] entries.
    #[error("at most {max} networks, got {count}")]
    TooMany {
        /// Entries given.
        count: usize,
        /// [`MAX_ENTRIES`].
        max: usize,
    },
    /// An entry is neither an address nor a CIDR network (or is longer than
    /// [`MAX_ENTRY_LEN`] bytes, whitespace included).
    #[error("entry {index} is not an IP address or CIDR network")]
    InvalidEntry {
        /// Position of the entry.
        index: usize,
    },
    /// An entry has bits set after its prefix (`10.0.0.5/8`).
    #[error("entry {index} has host bits set; did you mean {network}?")]
    HostBitsSet {
        /// Position of the entry.
        index: usize,
        /// The network with the host bits cleared.
        network: IpNet,
    },
    /// An enforced list with no network.
    #[error("an enforced list needs at least one network (use mode off to admit everyone)")]
    EmptyEnforced,
}

impl IpAllowError {
    /// A stable machine code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::InvalidMode => "ip_allowlist_invalid_mode",
            Self::TooMany { .. } => "ip_allowlist_too_many",
            Self::InvalidEntry { .. } => "ip_allowlist_invalid_entry",
            Self::HostBitsSet { .. } => "ip_allowlist_host_bits_set",
            Self::EmptyEnforced => "ip_allowlist_empty",
        }
    }

    /// The position of the offending entry, when one entry is at fault.
    #[must_use]
    pub const fn index(&self) -> Option<usize> {
        match self {
            Self::InvalidEntry { index } | Self::HostBitsSet { index, .. } => Some(*index),
            Self::InvalidMode | Self::TooMany { .. } | Self::EmptyEnforced => None,
        }
    }
}

/// A partner's IP allow-list: a mode and normalized networks.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct IpAllowList {
    mode: IpAllowMode,
    entries: Vec<IpNet>,
}

impl IpAllowList {
    /// The list that admits everyone (mode off, no network): a partner without a list.
    #[must_use]
    pub const fn off() -> Self {
        Self {
            mode: IpAllowMode::Off,
            entries: Vec::new(),
        }
    }

    /// Parses and normalizes a list (see the module docs).
    ///
    /// # Errors
    /// [`IpAllowError::TooMany`], [`IpAllowError::InvalidEntry`],
    /// [`IpAllowError::HostBitsSet`] naming the first bad entry, or
    /// [`IpAllowError::EmptyEnforced`].
    pub fn parse<I, S>(mode: IpAllowMode, entries: I) -> Result<Self, IpAllowError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut nets = Vec::new();
        for (index, entry) in entries.into_iter().enumerate() {
            if index >= MAX_ENTRIES {
                // count the rest without parsing them
                return Err(IpAllowError::TooMany {
                    count: index.saturating_add(1),
                    max: MAX_ENTRIES,
                });
            }
            nets.push(parse_entry(index, entry.as_ref())?);
        }
        Self::from_networks(mode, nets)
    }

    /// A list from networks already parsed: normalized as [`Self::parse`] does (IPv4-mapped
    /// networks as IPv4, sorted, duplicates dropped); networks with host bits set are
    /// refused.
    ///
    /// # Errors
    /// As [`Self::parse`].
    pub fn from_networks(mode: IpAllowMode, nets: Vec<IpNet>) -> Result<Self, IpAllowError> {
        if nets.len() > MAX_ENTRIES {
            return Err(IpAllowError::TooMany {
                count: nets.len(),
                max: MAX_ENTRIES,
            });
        }
        let mut entries = Vec::with_capacity(nets.len());
        for (index, net) in nets.into_iter().enumerate() {
            let net = unmap(net);
            if net.trunc() != net {
                return Err(IpAllowError::HostBitsSet {
                    index,
                    network: net.trunc(),
                });
            }
            entries.push(net);
        }
        entries.sort_unstable();
        entries.dedup();
        if mode == IpAllowMode::Enforce && entries.is_empty() {
            return Err(IpAllowError::EmptyEnforced);
        }
        Ok(Self { mode, entries })
    }

    /// The mode.
    #[must_use]
    pub const fn mode(&self) -> IpAllowMode {
        self.mode
    }

    /// The networks, sorted.
    #[must_use]
    pub fn entries(&self) -> &[IpNet] {
        &self.entries
    }

    /// The networks in CIDR notation (`203.0.113.0/24`), sorted.
    #[must_use]
    pub fn entry_strings(&self) -> Vec<String> {
        self.entries.iter().map(ToString::to_string).collect()
    }

    /// Whether `ip` is inside one of the networks, whatever the mode (an IPv4-mapped IPv6
    /// address is matched as IPv4).
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical_ip(ip);
        self.entries.iter().any(|net| net.contains(&ip))
    }

    /// Whether a request from `ip` is admitted: always in mode off, else when
    /// [`Self::contains`] it.
    #[must_use]
    pub fn permits(&self, ip: IpAddr) -> bool {
        match self.mode {
            IpAllowMode::Off => true,
            IpAllowMode::Enforce => self.contains(ip),
        }
    }
}

/// An IPv4-mapped IPv6 network (`::ffff:a.b.c.d/n`, `n >= 96`) as the IPv4 network it is.
fn unmap(net: IpNet) -> IpNet {
    let IpNet::V6(v6) = net else { return net };
    match (v6.addr().to_ipv4_mapped(), v6.prefix_len().checked_sub(96)) {
        (Some(v4), Some(len)) => Ipv4Net::new(v4, len).map_or(net, IpNet::V4),
        _ => net,
    }
}

fn parse_entry(index: usize, raw: &str) -> Result<IpNet, IpAllowError> {
    let invalid = IpAllowError::InvalidEntry { index };
    if raw.len() > MAX_ENTRY_LEN {
        return Err(invalid);
    }
    let s = raw.trim();
    if s.is_empty() {
        return Err(invalid);
    }
    let net = match s.parse::<IpNet>() {
        Ok(net) => net,
        Err(_) if !s.contains('/') => s.parse::<IpAddr>().map(IpNet::from).map_err(|_| invalid)?,
        Err(_) => return Err(invalid),
    };
    let net = unmap(net);
    if net.trunc() != net {
        return Err(IpAllowError::HostBitsSet {
            index,
            network: net.trunc(),
        });
    }
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn enforce(entries: &[&str]) -> IpAllowList {
        IpAllowList::parse(IpAllowMode::Enforce, entries).unwrap()
    }

    #[test]
    fn enforce_admits_inside_and_refuses_outside() {
        let list = enforce(&["127.0.0.1/32", "10.0.0.0/8", "2001:db8::/32"]);
        assert!(list.permits(ip("127.0.0.1")));
        assert!(!list.permits(ip("127.0.0.2")));
        assert!(list.permits(ip("10.255.1.2")));
        assert!(!list.permits(ip("11.0.0.0")));
        assert!(list.permits(ip("2001:db8:ffff::1")));
        assert!(!list.permits(ip("2001:db9::1")));
        assert!(!list.permits(ip("::1")));
    }

    #[test]
    fn off_admits_everyone_but_keeps_its_networks() {
        let list = IpAllowList::parse(IpAllowMode::Off, ["10.0.0.0/8"]).unwrap();
        assert!(list.permits(ip("192.0.2.1")));
        assert!(!list.contains(ip("192.0.2.1")));
        assert_eq!(list.entry_strings(), ["10.0.0.0/8"]);
        assert!(IpAllowList::off().permits(ip("::1")));
        assert!(
            IpAllowList::parse(IpAllowMode::Off, Vec::<String>::new())
                .unwrap()
                .permits(ip("1.1.1.1"))
        );
    }

    #[test]
    fn ipv4_mapped_addresses_and_entries_are_ipv4() {
        let list = enforce(&["192.0.2.0/24"]);
        assert!(list.permits(ip("::ffff:192.0.2.7")));
        assert!(!list.permits(ip("::ffff:192.0.3.7")));
        let mapped = enforce(&["::ffff:192.0.2.0/120", "::ffff:198.51.100.9"]);
        assert_eq!(mapped.entry_strings(), ["192.0.2.0/24", "198.51.100.9/32"]);
        assert!(mapped.permits(ip("192.0.2.200")));
        assert!(mapped.permits(ip("::ffff:198.51.100.9")));
        // an IPv6 network that is not (only) the mapped range stays IPv6
        let v6 = enforce(&["::/0"]);
        assert!(v6.permits(ip("2001:db8::1")));
        assert!(!v6.permits(ip("192.0.2.1")));
    }

    #[test]
    fn bare_addresses_whitespace_sorting_and_duplicates_normalize() {
        let list = enforce(&[" 10.0.0.1 ", "10.0.0.1/32", "2001:db8::1", "1.2.3.0/24"]);
        assert_eq!(
            list.entry_strings(),
            ["1.2.3.0/24", "10.0.0.1/32", "2001:db8::1/128"]
        );
        assert_eq!(
            list,
            enforce(&["2001:db8::1/128", "1.2.3.0/24", "10.0.0.1"])
        );
    }

    #[test]
    fn host_bits_are_refused_with_the_meant_network() {
        let err = IpAllowList::parse(IpAllowMode::Enforce, ["1.1.1.1", "10.0.0.5/8"]).unwrap_err();
        assert_eq!(
            err,
            IpAllowError::HostBitsSet {
                index: 1,
                network: "10.0.0.0/8".parse().unwrap()
            }
        );
        assert_eq!(err.code(), "ip_allowlist_host_bits_set");
        assert_eq!(err.index(), Some(1));
        assert!(err.to_string().contains("10.0.0.0/8"));
        let err = IpAllowList::parse(IpAllowMode::Off, ["2001:db8::1/32"]).unwrap_err();
        assert_eq!(err.code(), "ip_allowlist_host_bits_set");
    }

    #[test]
    fn bad_entries_are_refused_by_position_without_echo() {
        for bad in [
            "",
            "   ",
            "nonsense",
            "10.0.0.0/33",
            "10.0.0.0/",
            "/8",
            "10.0.0",
            "10.0.0.0/8/8",
            "2001:db8::/129",
            "fe80::1%eth0",
            "10.0.0.0 /8",
            "10.0.0.0/-1",
            "0x0a000000",
            "10.0.0.0/08x",
        ] {
            let err = IpAllowList::parse(IpAllowMode::Enforce, ["1.1.1.1", bad]).unwrap_err();
            assert_eq!(err, IpAllowError::InvalidEntry { index: 1 }, "{bad:?}");
            assert_eq!(err.code(), "ip_allowlist_invalid_entry");
        }
        let long = format!("{}1.1.1.1", " ".repeat(MAX_ENTRY_LEN));
        let err = IpAllowList::parse(IpAllowMode::Enforce, [long.as_str()]).unwrap_err();
        assert_eq!(err.code(), "ip_allowlist_invalid_entry");
        let secretish = "hunter2-not-an-ip";
        let err = IpAllowList::parse(IpAllowMode::Enforce, [secretish]).unwrap_err();
        assert!(!err.to_string().contains(secretish));
    }

    #[test]
    fn at_most_max_entries() {
        let ok: Vec<String> = (0..MAX_ENTRIES).map(|i| format!("10.0.{i}.0/24")).collect();
        assert_eq!(
            IpAllowList::parse(IpAllowMode::Enforce, &ok)
                .unwrap()
                .entries()
                .len(),
            MAX_ENTRIES
        );
        let too_many: Vec<String> = (0..=MAX_ENTRIES)
            .map(|i| format!("10.1.{i}.0/24"))
            .collect();
        let err = IpAllowList::parse(IpAllowMode::Enforce, &too_many).unwrap_err();
        assert_eq!(err.code(), "ip_allowlist_too_many");
        let nets: Vec<IpNet> = too_many.iter().map(|s| s.parse().unwrap()).collect();
        let err = IpAllowList::from_networks(IpAllowMode::Off, nets).unwrap_err();
        assert_eq!(
            err,
            IpAllowError::TooMany {
                count: MAX_ENTRIES + 1,
                max: MAX_ENTRIES
            }
        );
    }

    #[test]
    fn an_enforced_list_is_never_empty() {
        let err = IpAllowList::parse(IpAllowMode::Enforce, Vec::<&str>::new()).unwrap_err();
        assert_eq!(err, IpAllowError::EmptyEnforced);
        assert_eq!(err.code(), "ip_allowlist_empty");
        assert_eq!(
            IpAllowList::from_networks(IpAllowMode::Enforce, vec![]).unwrap_err(),
            IpAllowError::EmptyEnforced
        );
    }

    #[test]
    fn modes_parse_strictly() {
        assert_eq!("off".parse::<IpAllowMode>().unwrap(), IpAllowMode::Off);
        assert_eq!(
            "enforce".parse::<IpAllowMode>().unwrap(),
            IpAllowMode::Enforce
        );
        for bad in ["", "Off", "ENFORCE", "on", "enforce "] {
            let err = bad.parse::<IpAllowMode>().unwrap_err();
            assert_eq!(err.code(), "ip_allowlist_invalid_mode", "{bad:?}");
        }
        assert_eq!(IpAllowMode::Enforce.to_string(), "enforce");
    }

    #[test]
    fn from_networks_normalizes_and_refuses_host_bits() {
        let nets = vec![
            "::ffff:10.0.0.0/104".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ];
        let list = IpAllowList::from_networks(IpAllowMode::Enforce, nets).unwrap();
        assert_eq!(list.entry_strings(), ["10.0.0.0/8"]);
        let err =
            IpAllowList::from_networks(IpAllowMode::Enforce, vec!["10.0.0.1/8".parse().unwrap()])
                .unwrap_err();
        assert_eq!(err.code(), "ip_allowlist_host_bits_set");
    }
}
