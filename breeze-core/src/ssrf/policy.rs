//! The outbound-address policy: refused ranges, the explicit allow-list, schemes, redirects.

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

use super::classify::{RefusedRange, refused_range};
use crate::clientip::canonical_ip;

/// The default bound on followed redirects.
pub const DEFAULT_MAX_REDIRECTS: usize = 5;

/// Errors of the SSRF guard. Messages name hosts and addresses, never a full URL (its path or
/// query may carry a webhook secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SsrfError {
    /// The URL does not parse.
    #[error("invalid url")]
    InvalidUrl,
    /// Only `https` (and, behind the dangerous switch, `http`) is allowed.
    #[error("scheme `{scheme}` is not allowed")]
    SchemeNotAllowed {
        /// The refused scheme.
        scheme: String,
    },
    /// The URL has no host.
    #[error("url has no host")]
    MissingHost,
    /// The destination (a literal or a resolved address) is in a refused range.
    #[error("address {addr} of `{host}` is refused: {range}")]
    Refused {
        /// The host as written in the URL.
        host: String,
        /// The refused address.
        addr: IpAddr,
        /// Why.
        range: RefusedRange,
    },
    /// The name resolved to no address.
    #[error("`{host}` has no address")]
    NoAddresses {
        /// The host.
        host: String,
    },
    /// Resolution failed.
    #[error("could not resolve `{host}`")]
    Resolve {
        /// The host.
        host: String,
    },
    /// More redirects than allowed.
    #[error("more than {max} redirects")]
    TooManyRedirects {
        /// The bound.
        max: usize,
    },
    /// An allow-list entry does not parse.
    #[error("invalid allow-list entry `{entry}`")]
    InvalidAllowEntry {
        /// The entry.
        entry: String,
    },
    /// Building the HTTP client failed.
    #[error("could not build the http client: {reason}")]
    Build {
        /// What failed.
        reason: String,
    },
    /// The request failed for another reason (connect, TLS, timeout, protocol).
    #[error("request failed: {reason}")]
    Transport {
        /// What failed (without the URL).
        reason: String,
    },
}

impl SsrfError {
    /// A stable machine code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::InvalidUrl => "invalid_url",
            Self::SchemeNotAllowed { .. } => "scheme_not_allowed",
            Self::MissingHost => "missing_host",
            Self::Refused { .. } => "address_refused",
            Self::NoAddresses { .. } => "no_addresses",
            Self::Resolve { .. } => "resolve_failed",
            Self::TooManyRedirects { .. } => "too_many_redirects",
            Self::InvalidAllowEntry { .. } => "invalid_allow_entry",
            Self::Build { .. } => "build_failed",
            Self::Transport { .. } => "transport_failed",
        }
    }
}

/// What outbound requests may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsrfPolicy {
    allow: Vec<IpNet>,
    plain_http: bool,
    max_redirects: usize,
}

impl Default for SsrfPolicy {
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            plain_http: false,
            max_redirects: DEFAULT_MAX_REDIRECTS,
        }
    }
}

impl SsrfPolicy {
    /// HTTPS only, every refused range refused, at most 5 redirects.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Permits `net` even if it lies in a refused range (an internal integration the operator
    /// named explicitly).
    #[must_use]
    pub fn allow(mut self, net: IpNet) -> Self {
        self.allow.push(net.trunc());
        self
    }

    /// Parses allow-list entries (`10.1.2.0/24`, `192.0.2.7`).
    ///
    /// # Errors
    /// [`SsrfError::InvalidAllowEntry`] naming the first bad entry.
    pub fn allow_entries<I, S>(mut self, entries: I) -> Result<Self, SsrfError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for entry in entries {
            let entry = entry.as_ref().trim();
            let net = IpNet::from_str(entry)
                .or_else(|_| IpAddr::from_str(entry).map(IpNet::from))
                .map_err(|_| SsrfError::InvalidAllowEntry {
                    entry: entry.chars().take(64).collect(),
                })?;
            self.allow.push(net.trunc());
        }
        Ok(self)
    }

    /// Sets the redirect bound (0 = never follow).
    #[must_use]
    pub const fn max_redirects(mut self, max: usize) -> Self {
        self.max_redirects = max;
        self
    }

    /// DANGEROUS: also permits plain `http://` URLs. Only for tests against a local server
    /// (which must also be allow-listed); never in production, where webhooks carry secrets.
    #[must_use]
    pub const fn dangerous_allow_plain_http(mut self) -> Self {
        self.plain_http = true;
        self
    }

    /// The redirect bound.
    #[must_use]
    pub const fn redirect_limit(&self) -> usize {
        self.max_redirects
    }

    /// Whether plain HTTP is permitted.
    #[must_use]
    pub const fn plain_http_allowed(&self) -> bool {
        self.plain_http
    }

    /// Whether `ip` is on the allow-list (IPv4-mapped forms match IPv4 entries).
    #[must_use]
    pub fn is_allow_listed(&self, ip: IpAddr) -> bool {
        let canonical = canonical_ip(ip);
        self.allow
            .iter()
            .any(|net| net.contains(&ip) || net.contains(&canonical))
    }

    /// Checks one destination address of `host`.
    ///
    /// # Errors
    /// [`SsrfError::Refused`] when `ip` is in a refused range and not allow-listed.
    pub fn check_ip(&self, host: &str, ip: IpAddr) -> Result<(), SsrfError> {
        if self.is_allow_listed(ip) {
            return Ok(());
        }
        match refused_range(ip) {
            Some(range) => Err(SsrfError::Refused {
                host: host.chars().take(253).collect(),
                addr: ip,
                range,
            }),
            None => Ok(()),
        }
    }

    /// Checks every resolved address of `host`: one refused address refuses the host.
    ///
    /// # Errors
    /// [`SsrfError::NoAddresses`] for an empty answer, [`SsrfError::Refused`] otherwise.
    pub fn check_all(&self, host: &str, addrs: &[IpAddr]) -> Result<(), SsrfError> {
        if addrs.is_empty() {
            return Err(SsrfError::NoAddresses {
                host: host.chars().take(253).collect(),
            });
        }
        addrs.iter().try_for_each(|ip| self.check_ip(host, *ip))
    }

    /// Checks a scheme.
    ///
    /// # Errors
    /// [`SsrfError::SchemeNotAllowed`].
    pub fn check_scheme(&self, scheme: &str) -> Result<(), SsrfError> {
        if scheme == "https" || (self.plain_http && scheme == "http") {
            Ok(())
        } else {
            Err(SsrfError::SchemeNotAllowed {
                scheme: scheme.chars().take(32).collect(),
            })
        }
    }
}
