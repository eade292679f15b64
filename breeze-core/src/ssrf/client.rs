//! The SSRF-guarded outbound HTTP client.

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, Request, RequestBuilder, Response, Url, redirect};

use super::policy::{SsrfError, SsrfPolicy};
use super::resolver::{DnsResolver, GuardedResolver, HickoryDnsResolver};

/// The default total request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks a URL's scheme and, for an IP-literal host, the address (reqwest does not resolve
/// literals, so the resolver hook never sees them).
///
/// # Errors
/// [`SsrfError::SchemeNotAllowed`], [`SsrfError::MissingHost`] or [`SsrfError::Refused`].
pub fn check_url(policy: &SsrfPolicy, url: &Url) -> Result<(), SsrfError> {
    policy.check_scheme(url.scheme())?;
    match literal_host(url)? {
        UrlHost::Ip(ip) => policy.check_ip(&ip.to_string(), ip),
        UrlHost::Name(_) => Ok(()),
    }
}

/// The host of a URL: an address literal or a name.
enum UrlHost<'a> {
    Ip(IpAddr),
    Name(&'a str),
}

/// The URL parser has already normalised numeric IPv4 forms (`0x7f.1`, `2130706433`) to
/// dotted quads, so a literal is either `a.b.c.d` or `[v6]`.
fn literal_host(url: &Url) -> Result<UrlHost<'_>, SsrfError> {
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or(SsrfError::MissingHost)?;
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Ok(match IpAddr::from_str(bare) {
        Ok(ip) => UrlHost::Ip(ip),
        Err(_) => UrlHost::Name(host),
    })
}

/// Builds a [`GuardedClient`].
pub struct GuardedClientBuilder {
    policy: SsrfPolicy,
    resolver: Option<Arc<dyn DnsResolver>>,
    timeout: Duration,
    connect_timeout: Duration,
    user_agent: String,
    extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
}

impl std::fmt::Debug for GuardedClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedClientBuilder")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl GuardedClientBuilder {
    /// Uses `policy` (allow-list, redirect bound, schemes).
    #[must_use]
    pub fn policy(mut self, policy: SsrfPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Resolves names with `resolver` instead of the system DNS through hickory.
    #[must_use]
    pub fn resolver(mut self, resolver: Arc<dyn DnsResolver>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// The total timeout of one request (redirects included).
    #[must_use]
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The timeout of one connection attempt.
    #[must_use]
    pub const fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Also trusts the root certificates of `pem` (a private CA of the operator's, or a test
    /// CA), on top of the Mozilla roots. The address checks are unchanged.
    ///
    /// # Errors
    /// [`SsrfError::Build`] when `pem` holds no certificate or one that does not parse.
    pub fn add_root_certificates_pem(mut self, pem: &[u8]) -> Result<Self, SsrfError> {
        use rustls::pki_types::pem::PemObject as _;
        let before = self.extra_roots.len();
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|_| SsrfError::Build {
                reason: "a root certificate does not parse".to_owned(),
            })?;
            self.extra_roots.push(cert);
        }
        if self.extra_roots.len() == before {
            return Err(SsrfError::Build {
                reason: "no certificate in the root certificate file".to_owned(),
            });
        }
        Ok(self)
    }

    /// The `User-Agent` header.
    #[must_use]
    pub fn user_agent(mut self, user_agent: &str) -> Self {
        user_agent.clone_into(&mut self.user_agent);
        self
    }

    /// Builds the client: TLS through rustls with the ring provider and the Mozilla roots, no
    /// proxy (an environment proxy would resolve names itself, past the guard), the guarded
    /// resolver, and a redirect policy re-checking every hop.
    ///
    /// # Errors
    /// [`SsrfError::Build`] when the TLS configuration, the system resolver or the client
    /// cannot be built.
    pub fn build(self) -> Result<GuardedClient, SsrfError> {
        let resolver: Arc<dyn DnsResolver> = match self.resolver {
            Some(resolver) => resolver,
            None => Arc::new(HickoryDnsResolver::from_system()?),
        };
        let policy = Arc::new(self.policy);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for cert in self.extra_roots {
            roots.add(cert).map_err(|e| SsrfError::Build {
                reason: format!("root certificate: {e}"),
            })?;
        }
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| SsrfError::Build {
                reason: e.to_string(),
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let redirect_policy = Arc::clone(&policy);
        let redirects = redirect::Policy::custom(move |attempt| {
            let max = redirect_policy.redirect_limit();
            if attempt.previous().len() > max {
                return attempt.error(SsrfError::TooManyRedirects { max });
            }
            match check_url(&redirect_policy, attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(e) => attempt.error(e),
            }
        });
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .no_proxy()
            .https_only(!policy.plain_http_allowed())
            .dns_resolver(Arc::new(GuardedResolver {
                inner: Arc::clone(&resolver),
                policy: Arc::clone(&policy),
            }))
            .redirect(redirects)
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(self.user_agent)
            .build()
            .map_err(|e| SsrfError::Build {
                reason: e.without_url().to_string(),
            })?;
        Ok(GuardedClient {
            client,
            policy,
            resolver,
        })
    }
}

/// An HTTP client for webhooks and integrations that cannot be pointed at internal addresses
/// (SPEC 9): HTTPS only, every resolved address checked, the connection made to a checked
/// address, redirects re-checked and bounded, IP-literal URLs checked.
#[derive(Clone)]
pub struct GuardedClient {
    client: reqwest::Client,
    policy: Arc<SsrfPolicy>,
    resolver: Arc<dyn DnsResolver>,
}

impl std::fmt::Debug for GuardedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedClient")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl GuardedClient {
    /// A builder with the strict default policy and the system resolver.
    #[must_use]
    pub fn builder() -> GuardedClientBuilder {
        GuardedClientBuilder {
            policy: SsrfPolicy::new(),
            resolver: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            user_agent: "breeze-webhooks".to_owned(),
            extra_roots: Vec::new(),
        }
    }

    /// The policy.
    #[must_use]
    pub fn policy(&self) -> &SsrfPolicy {
        &self.policy
    }

    /// Validates `url` up front (scheme, literal address, and every address its host resolves
    /// to now), for example when a webhook is saved. The request itself checks again: this
    /// answer is not trusted at send time.
    ///
    /// # Errors
    /// Any [`SsrfError`] the request would raise for the destination.
    pub async fn preflight(&self, url: &str) -> Result<Vec<IpAddr>, SsrfError> {
        let url = Url::parse(url).map_err(|_| SsrfError::InvalidUrl)?;
        check_url(&self.policy, &url)?;
        match literal_host(&url)? {
            UrlHost::Ip(ip) => Ok(vec![ip]),
            UrlHost::Name(host) => {
                GuardedResolver::resolve_checked(self.resolver.as_ref(), &self.policy, host).await
            }
        }
    }

    /// A request builder for `method` on `url`, after checking the URL; send it with
    /// [`GuardedClient::send`].
    ///
    /// # Errors
    /// [`SsrfError::InvalidUrl`] or the URL check's error.
    pub fn request(&self, method: Method, url: &str) -> Result<RequestBuilder, SsrfError> {
        let url = Url::parse(url).map_err(|_| SsrfError::InvalidUrl)?;
        check_url(&self.policy, &url)?;
        Ok(self.client.request(method, url))
    }

    /// Sends a request built by [`GuardedClient::request`].
    ///
    /// # Errors
    /// The guard's refusal, or [`SsrfError::Transport`].
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, SsrfError> {
        let request = request.build().map_err(|e| transport(&e))?;
        self.execute(request).await
    }

    /// Checks and executes `request`.
    ///
    /// # Errors
    /// The guard's refusal, or [`SsrfError::Transport`].
    pub async fn execute(&self, request: Request) -> Result<Response, SsrfError> {
        check_url(&self.policy, request.url())?;
        self.client
            .execute(request)
            .await
            .map_err(|e| transport(&e))
    }
}

/// Maps a reqwest error to the guard's own refusal when one is in its source chain.
fn transport(error: &reqwest::Error) -> SsrfError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(ssrf) = e.downcast_ref::<SsrfError>() {
            return ssrf.clone();
        }
        source = e.source();
    }
    let reason = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else if error.is_redirect() {
        "redirect refused".to_owned()
    } else {
        // Display of a reqwest error would include the URL: describe it without.
        error
            .status()
            .map_or_else(|| "http error".to_owned(), |s| format!("status {s}"))
    };
    SsrfError::Transport { reason }
}
