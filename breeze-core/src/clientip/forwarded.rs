//! Forwarded headers, trusted only from configured proxy networks.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use ipnet::IpNet;

use super::key::canonical_ip;

/// Which header the trusted proxies write.
///
/// Only one is read: if the proxies write `X-Forwarded-For` but pass a client's own
/// `Forwarded` header through untouched, reading `Forwarded` would let the client pick its
/// address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client;proto=https, for=proxy1`.
    Forwarded,
}

/// Errors configuring trusted proxies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientIpError {
    /// A proxy entry is neither an address nor a CIDR network.
    #[error("invalid proxy cidr `{0}`")]
    InvalidCidr(String),
}

impl ClientIpError {
    /// A stable machine code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::InvalidCidr(_) => "invalid_proxy_cidr",
        }
    }
}

/// The proxy networks whose forwarded headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// No trusted proxy: the TCP peer is always the client.
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// Parses CIDR networks or single addresses (`10.0.0.0/8`, `::1`).
    ///
    /// # Errors
    /// [`ClientIpError::InvalidCidr`] naming the first entry that does not parse.
    pub fn parse<I, S>(entries: I, header: ForwardedHeader) -> Result<Self, ClientIpError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let nets = entries
            .into_iter()
            .map(|entry| parse_net(entry.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { nets, header })
    }

    /// The configured networks.
    #[must_use]
    pub fn networks(&self) -> &[IpNet] {
        &self.nets
    }

    /// Whether `ip` is a trusted proxy.
    #[must_use]
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = canonical_ip(ip);
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The client address of a request from TCP peer `peer` carrying the configured forwarded
    /// header's values (`header_values`, one per header line, in the order received).
    ///
    /// When the peer is not trusted the headers are ignored. Otherwise the chain is walked
    /// right to left: trusted proxies are skipped and the first untrusted address is the
    /// client. An entry that is not an address (`unknown`, an obfuscated token, garbage) stops
    /// the walk at the last trusted hop, so the request is keyed by that proxy rather than by
    /// anything a client wrote.
    #[must_use]
    pub fn client_ip<'a, I>(&self, peer: IpAddr, header_values: I) -> IpAddr
    where
        I: IntoIterator<Item = &'a str>,
    {
        let mut current = canonical_ip(peer);
        if !self.is_trusted(current) {
            return current;
        }
        let entries: Vec<Option<IpAddr>> = header_values
            .into_iter()
            .flat_map(|line| line.split(','))
            .map(|element| match self.header {
                ForwardedHeader::XForwardedFor => parse_node(element),
                ForwardedHeader::Forwarded => forwarded_for(element),
            })
            .collect();
        for entry in entries.into_iter().rev() {
            match entry {
                Some(ip) => {
                    current = canonical_ip(ip);
                    if !self.is_trusted(current) {
                        return current;
                    }
                }
                None => return current,
            }
        }
        current
    }
}

fn parse_net(entry: &str) -> Result<IpNet, ClientIpError> {
    let entry = entry.trim();
    IpNet::from_str(entry)
        .or_else(|_| IpAddr::from_str(entry).map(IpNet::from))
        .map(|net| net.trunc())
        .map_err(|_| ClientIpError::InvalidCidr(entry.chars().take(64).collect()))
}

/// One node: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]:80` (quotes removed).
fn parse_node(raw: &str) -> Option<IpAddr> {
    let node = raw.trim().trim_matches('"');
    if let Ok(ip) = IpAddr::from_str(node) {
        return Some(ip);
    }
    if let Ok(sock) = SocketAddr::from_str(node) {
        return Some(sock.ip());
    }
    let inner = node.strip_prefix('[')?.strip_suffix(']')?;
    IpAddr::from_str(inner).ok()
}

/// The `for=` parameter of one `Forwarded` element.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("for") {
            parse_node(value)
        } else {
            None
        }
    })
}
