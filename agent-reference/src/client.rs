//! The agent's HTTP client: rustls (ring) only, no redirects, timeouts, strict decoding of
//! every reply with the protocol crate, and retries with backoff that honour `Retry-After`.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use breeze_agent_proto::version::{AgentVersions, PROTOCOL_VERSION_HEADER};
use breeze_agent_proto::{
    DecodeError, EncodeError, ErrorReason, HttpErrorBody, Message, ProtocolVersion,
    TOKEN_ROTATION_REQUIRED_HEADER,
};
use breeze_crypto::credentials::AgentToken;
use breeze_crypto::httpsig::DeviceSigningKey;
use breeze_crypto::httpsig::profile::{self, RequestParts, SignOptions};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};

use crate::backoff::{Backoff, parse_retry_after};

/// Connect timeout for every request.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Whole-request timeout (results can be tens of megabytes).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Largest CA file read (a bundle of a few roots is a few KiB).
const MAX_CA_FILE_BYTES: u64 = 1024 * 1024;
/// Largest error body read from the server.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// An HTTP exchange with the server failed. Messages never contain a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server URL is not acceptable.
    #[error("invalid server url: {0}")]
    InvalidUrl(&'static str),
    /// TLS could not be set up.
    #[error("tls setup failed: {0}")]
    Tls(String),
    /// Connection, timeout or body transfer failed.
    #[error("transport error: {0}")]
    Transport(#[source] reqwest::Error),
    /// The server answered with a redirect; redirects are never followed (the bearer token
    /// would go with it).
    #[error("server answered with redirect status {status}; redirects are refused")]
    Redirect {
        /// The 3xx status.
        status: u16,
    },
    /// The server answered with an error status.
    #[error("server answered {status}{}", reason.map(|r| format!(" `{}`", r.as_str())).unwrap_or_default())]
    Status {
        /// The HTTP status.
        status: u16,
        /// The machine reason from the error body, when it had one.
        reason: Option<ErrorReason>,
        /// The server's `Retry-After`, when present and valid.
        retry_after: Option<Duration>,
    },
    /// The reply body is larger than its limit.
    #[error("reply body larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The reply failed strict decoding.
    #[error("invalid reply: {0}")]
    Decode(#[source] DecodeError),
    /// The request could not be encoded (a value the server would refuse).
    #[error("request refused before sending: {0}")]
    Encode(#[source] EncodeError),
    /// The request could not be signed.
    #[error("request could not be signed: {0}")]
    Sign(&'static str),
}

impl ClientError {
    /// A stable snake_case code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::InvalidUrl(_) => "invalid_url",
            Self::Tls(_) => "tls",
            Self::Transport(_) => "transport",
            Self::Redirect { .. } => "redirect",
            Self::Status { .. } => "status",
            Self::TooLarge { .. } => "too_large",
            Self::Decode(_) => "decode",
            Self::Encode(_) => "encode",
            Self::Sign(_) => "sign",
        }
    }

    /// Whether retrying the same request later may succeed (network trouble, 408, 429, 5xx).
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Status { status, .. } => matches!(*status, 408 | 429 | 500..=599),
            _ => false,
        }
    }

    /// The server's `Retry-After`, if any.
    #[must_use]
    pub const fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The machine reason of an error status, if any.
    #[must_use]
    pub const fn reason(&self) -> Option<ErrorReason> {
        match self {
            Self::Status { reason, .. } => *reason,
            _ => None,
        }
    }
}

/// Checks a server URL: `https`, or `http` only for a loopback host or when `insecure_http`
/// is set; no credentials, query or fragment. Returns the URL without a trailing slash.
///
/// # Errors
/// [`ClientError::InvalidUrl`].
pub fn validate_server_url(raw: &str, insecure_http: bool) -> Result<Url, ClientError> {
    let url = Url::parse(raw).map_err(|_| ClientError::InvalidUrl("not an absolute url"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ClientError::InvalidUrl(
            "credentials in the url are refused",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ClientError::InvalidUrl("query and fragment are refused"));
    }
    if url.host_str().is_none() {
        return Err(ClientError::InvalidUrl("no host"));
    }
    match url.scheme() {
        "https" => {}
        "http" if insecure_http || is_loopback(&url) => {}
        "http" => {
            return Err(ClientError::InvalidUrl(
                "plain http is allowed only to a loopback host or with --insecure-http",
            ));
        }
        _ => return Err(ClientError::InvalidUrl("scheme must be https")),
    }
    Ok(url)
}

/// Whether the URL's host is a loopback address or `localhost`.
#[must_use]
pub fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// The roots of a PEM CA file: every certificate in it, at least one, each accepted as a
/// trust anchor.
///
/// # Errors
/// [`ClientError::Tls`] naming the file and the problem (never its content).
pub fn ca_roots(ca_file: &Path) -> Result<rustls::RootCertStore, ClientError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    use std::io::Read as _;
    let name = ca_file.display();
    let mut pem = Vec::new();
    std::fs::File::open(ca_file)
        .and_then(|f| {
            f.take(MAX_CA_FILE_BYTES.saturating_add(1))
                .read_to_end(&mut pem)
        })
        .map_err(|e| ClientError::Tls(format!("cannot read the CA file {name}: {}", e.kind())))?;
    if pem.len() as u64 > MAX_CA_FILE_BYTES {
        return Err(ClientError::Tls(format!(
            "the CA file {name} is larger than {MAX_CA_FILE_BYTES} bytes"
        )));
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|_| ClientError::Tls(format!("the CA file {name} is not PEM")))?;
    if certs.is_empty() {
        return Err(ClientError::Tls(format!(
            "the CA file {name} holds no certificate"
        )));
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| ClientError::Tls(format!("a certificate in {name} is refused: {e}")))?;
    }
    Ok(roots)
}

/// The rustls client configuration: ring provider, TLS 1.2+, and as roots either the public
/// web PKI (webpki roots) or, with `ca_file`, only the certificates of that file (a private
/// CA: the server's certificate must chain to it; public CAs are then not trusted). There
/// is no switch that skips verification.
///
/// # Errors
/// [`ClientError::Tls`].
pub fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, ClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = match ca_file {
        Some(file) => ca_roots(file)?,
        None => rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    };
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// A failed exchange: a refused server certificate is [`ClientError::Tls`] (not retried:
/// waiting does not make an untrusted certificate trusted), anything else
/// [`ClientError::Transport`].
fn transport_error(e: reqwest::Error) -> ClientError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = source {
        if let Some(tls) = err.downcast_ref::<rustls::Error>()
            && matches!(
                tls,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
            )
        {
            return ClientError::Tls(format!("the server's certificate is refused: {tls}"));
        }
        // an io::Error's `source()` skips the error it wraps (often another io::Error around
        // the rustls error): descend through what it wraps instead
        source = match err.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    ClientError::Transport(e)
}

/// A decoded successful reply.
#[derive(Debug)]
pub struct Reply<T> {
    /// The message.
    pub message: T,
    /// The server set `x-token-rotation-required: true` (we used a grace-window token).
    pub rotation_required: bool,
}

/// Signs requests with the device's key (SPEC 17).
#[derive(Debug)]
struct Signer {
    key: Arc<DeviceSigningKey>,
    agent_id: String,
}

/// The agent's HTTP client for one server.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    tls: Arc<rustls::ClientConfig>,
    base: Url,
    signer: Option<Arc<Signer>>,
}

impl ApiClient {
    /// A client for `server_url` (see [`validate_server_url`]), trusting the roots of
    /// [`tls_config`]`(ca_file)`.
    ///
    /// # Errors
    /// [`ClientError::InvalidUrl`], [`ClientError::Tls`], [`ClientError::Transport`].
    pub fn new(
        server_url: &str,
        insecure_http: bool,
        ca_file: Option<&Path>,
    ) -> Result<Self, ClientError> {
        let base = validate_server_url(server_url, insecure_http)?;
        let tls = Arc::new(tls_config(ca_file)?);
        let mut headers = HeaderMap::new();
        let versions = AgentVersions::announced(Some(ProtocolVersion::CURRENT), None);
        if let Ok(v) = HeaderValue::from_str(&versions.to_header()) {
            headers.insert(PROTOCOL_VERSION_HEADER, v);
        }
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(rustls::ClientConfig::clone(&tls))
            // Never follow a redirect: the Authorization header would leak to another host.
            .redirect(reqwest::redirect::Policy::none())
            .https_only(base.scheme() == "https")
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("breeze-agent/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .build()
            .map_err(ClientError::Transport)?;
        Ok(Self {
            http,
            tls,
            base,
            signer: None,
        })
    }

    /// This client signing every request with `key` as agent `agent_id` (RFC 9421, SPEC 17).
    #[must_use]
    pub fn signing(mut self, key: Arc<DeviceSigningKey>, agent_id: &str) -> Self {
        self.signer = Some(Arc::new(Signer {
            key,
            agent_id: agent_id.to_owned(),
        }));
        self
    }

    /// Whether requests are signed.
    #[must_use]
    pub fn is_signing(&self) -> bool {
        self.signer.is_some()
    }

    /// The signature fields of a request to `url` (`None` when this client does not sign).
    ///
    /// # Errors
    /// [`ClientError::Sign`] when no nonce can be drawn or a field cannot be encoded.
    pub fn signature(
        &self,
        method: &str,
        url: &str,
        body: &[u8],
    ) -> Result<Option<Vec<(&'static str, String)>>, ClientError> {
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        sign_with(&signer.key, &signer.agent_id, method, url, body).map(Some)
    }

    /// The server base URL.
    #[must_use]
    pub const fn base(&self) -> &Url {
        &self.base
    }

    /// The TLS configuration (the WebSocket connects with the same roots).
    #[must_use]
    pub fn tls(&self) -> Arc<rustls::ClientConfig> {
        Arc::clone(&self.tls)
    }

    /// The absolute URL of `path` (which starts with `/`), keeping any base path prefix.
    ///
    /// # Errors
    /// [`ClientError::InvalidUrl`].
    pub fn url(&self, path: &str) -> Result<Url, ClientError> {
        let prefix = self.base.path().trim_end_matches('/');
        let mut url = self.base.clone();
        url.set_path(&format!("{prefix}{path}"));
        Ok(url)
    }

    /// POSTs `body` to `path` (bearer `token` when given) and decodes the reply as `R`.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn post<Q: Message, R: Message>(
        &self,
        path: &str,
        token: Option<&AgentToken>,
        body: &Q,
        extra: &[(&'static str, &str)],
    ) -> Result<Reply<R>, ClientError> {
        let (bytes, rotation_required) = self
            .post_raw(path, token, body, extra, R::MAX_BYTES)
            .await?;
        let decoded = R::decode(&bytes).map_err(ClientError::Decode)?;
        Ok(Reply {
            message: decoded.message,
            rotation_required,
        })
    }

    /// POSTs `body` and ignores the reply body of a success (result uploads).
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn post_ignore_reply<Q: Message>(
        &self,
        path: &str,
        token: Option<&AgentToken>,
        body: &Q,
    ) -> Result<bool, ClientError> {
        self.post_raw(path, token, body, &[], MAX_ERROR_BODY_BYTES)
            .await
            .map(|(_, rotation)| rotation)
    }

    async fn post_raw<Q: Message>(
        &self,
        path: &str,
        token: Option<&AgentToken>,
        body: &Q,
        extra: &[(&'static str, &str)],
        limit: usize,
    ) -> Result<(Vec<u8>, bool), ClientError> {
        let text = zeroize::Zeroizing::new(body.encode().map_err(ClientError::Encode)?);
        let url = self.url(path)?;
        let signature = self.signature("POST", url.as_str(), text.as_bytes())?;
        let mut request = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(text.as_bytes().to_vec());
        for (name, value) in signature.into_iter().flatten() {
            request = request.header(name, value);
        }
        if let Some(token) = token {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
                .map_err(|_| ClientError::InvalidUrl("token is not a valid header value"))?;
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
        }
        for (name, value) in extra {
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| ClientError::InvalidUrl("header value is not valid"))?;
            value.set_sensitive(true);
            request = request.header(*name, value);
        }
        let response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        let rotation_required = response
            .headers()
            .get(TOKEN_ROTATION_REQUIRED_HEADER)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
        if status.is_redirection() {
            return Err(ClientError::Redirect {
                status: status.as_u16(),
            });
        }
        if !status.is_success() {
            return Err(error_from(response, status).await);
        }
        let bytes = read_capped(response, limit).await?;
        Ok((bytes, rotation_required))
    }

    /// [`ApiClient::post`] with retries on retryable errors, waiting per `backoff` (and at
    /// least the server's `Retry-After`), at most `attempts` tries in all.
    ///
    /// # Errors
    /// The last error, or the first non-retryable one.
    pub async fn post_with_retry<Q: Message, R: Message>(
        &self,
        path: &str,
        token: Option<&AgentToken>,
        body: &Q,
        extra: &[(&'static str, &str)],
        backoff: &mut Backoff,
        attempts: u32,
    ) -> Result<Reply<R>, ClientError> {
        let mut tries = 0u32;
        loop {
            tries = tries.saturating_add(1);
            match self.post(path, token, body, extra).await {
                Ok(reply) => {
                    backoff.reset();
                    return Ok(reply);
                }
                Err(e) if e.is_retryable() && tries < attempts => {
                    let wait = backoff.next_delay_honouring(e.retry_after());
                    tracing::warn!(error = %e, wait_ms = wait.as_millis(), "request failed; retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// The signature fields (`content-digest` when there is a body, `signature-input`,
/// `signature`) of a request by agent `agent_id` to `url`, signed with `key` now.
///
/// # Errors
/// [`ClientError::Sign`] with the library's code.
pub fn sign_with(
    key: &DeviceSigningKey,
    agent_id: &str,
    method: &str,
    url: &str,
    body: &[u8],
) -> Result<Vec<(&'static str, String)>, ClientError> {
    let created = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let options = SignOptions::new(agent_id, created).map_err(|e| ClientError::Sign(e.code()))?;
    let signed = profile::sign_request(
        key,
        &RequestParts {
            method,
            target_uri: url,
            body,
        },
        &options,
    )
    .map_err(|e| ClientError::Sign(e.code()))?;
    Ok(signed.into_fields())
}

async fn error_from(response: reqwest::Response, status: StatusCode) -> ClientError {
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    let reason = read_capped(response, MAX_ERROR_BODY_BYTES)
        .await
        .ok()
        .and_then(|b| HttpErrorBody::decode(&b).ok())
        .map(|d| d.message.code);
    ClientError::Status {
        status: status.as_u16(),
        reason,
        retry_after,
    }
}

async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, ClientError> {
    if response
        .content_length()
        .is_some_and(|len| usize::try_from(len).map_or(true, |l| l > limit))
    {
        return Err(ClientError::TooLarge { limit });
    }
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(ClientError::Transport)? {
        if out.len().saturating_add(chunk.len()) > limit {
            return Err(ClientError::TooLarge { limit });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}
