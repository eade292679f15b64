//! A provider's documents: discovery metadata and key set, fetched through the SSRF-guarded
//! client (no redirects, 10 s, at most 256 KiB read) and cached per provider; and the token
//! request.
//!
//! Key rotation: a token whose `kid` is not in the cached set makes the login re-read the
//! key set once (such forced re-reads at most every [`JWKS_REFETCH_SECS`] per provider, so
//! tokens naming unknown keys cannot make Breeze hammer a provider), then verify again. A
//! retired key disappears from the cache at the next read of the set: at the latest when
//! the cached documents expire ([`CACHE_SECS`]).

use std::collections::HashMap;
use std::sync::Arc;
use time::OffsetDateTime;

use breeze_core::ssrf::Method;
use breeze_crypto::oidc::discovery::discovery_url;
use breeze_crypto::oidc::{
    Jwks, MAX_DOCUMENT_BYTES, OidcError, ProviderMetadata, TokenRequest, TokenResponse,
};
use parking_lot::Mutex;
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::Sso;

/// How long documents are kept (seconds, on the server clock).
pub const CACHE_SECS: i64 = 600;
/// The shortest interval between two forced reads of one provider's key set.
pub const JWKS_REFETCH_SECS: i64 = 30;

/// Why a provider document or the token exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// The provider could not be reached, or the guard refused its address.
    #[error("the identity provider cannot be reached")]
    Unreachable,
    /// The provider answered a status other than 200.
    #[error("the identity provider answered an error")]
    Status,
    /// The token endpoint refused the code (used, expired, wrong verifier or client).
    #[error("the identity provider refused the authorization code")]
    CodeRejected,
    /// A document failed the library's checks.
    #[error(transparent)]
    Oidc(#[from] OidcError),
}

impl DocumentError {
    /// Stable code (audited and answered).
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Unreachable => "oidc_provider_unreachable",
            Self::Status => "oidc_provider_error",
            Self::CodeRejected => "oidc_code_rejected",
            Self::Oidc(e) => e.code(),
        }
    }
}

struct Entry {
    issuer: String,
    metadata: Arc<ProviderMetadata>,
    jwks: Arc<Jwks>,
    fetched: OffsetDateTime,
    /// The last re-read forced by an unknown key.
    forced: Option<OffsetDateTime>,
}

/// Documents of every provider this replica logged in through.
#[derive(Default)]
pub struct DocumentCache {
    entries: Mutex<HashMap<Uuid, Entry>>,
}

/// A provider's metadata and keys as one login uses them.
pub struct Documents {
    /// Metadata.
    pub metadata: Arc<ProviderMetadata>,
    /// Keys.
    pub jwks: Arc<Jwks>,
}

impl DocumentCache {
    /// The provider's documents, from the cache when fresh (at `now`) and fetched for the
    /// same issuer.
    ///
    /// # Errors
    /// [`DocumentError`].
    pub async fn get(
        &self,
        sso: &Sso,
        provider: Uuid,
        issuer: &str,
        now: OffsetDateTime,
    ) -> Result<Documents, DocumentError> {
        {
            let entries = self.entries.lock();
            if let Some(e) = entries.get(&provider)
                && e.issuer == issuer
                && (now - e.fetched).whole_seconds() < CACHE_SECS
            {
                return Ok(Documents {
                    metadata: e.metadata.clone(),
                    jwks: e.jwks.clone(),
                });
            }
        }
        let url = discovery_url(issuer)?;
        let body = fetch(sso, Method::GET, url.as_str(), None).await?;
        let metadata = Arc::new(ProviderMetadata::parse(&body, issuer, sso.rule)?);
        let jwks = Arc::new(read_jwks(sso, &metadata).await?);
        self.entries.lock().insert(
            provider,
            Entry {
                issuer: issuer.to_owned(),
                metadata: metadata.clone(),
                jwks: jwks.clone(),
                fetched: now,
                forced: None,
            },
        );
        Ok(Documents { metadata, jwks })
    }

    /// Re-reads the key set after a token named a key it does not hold; `None` when such a
    /// forced re-read happened less than [`JWKS_REFETCH_SECS`] before `now` (the cached set
    /// stands).
    ///
    /// # Errors
    /// [`DocumentError`].
    pub async fn refresh_jwks(
        &self,
        sso: &Sso,
        provider: Uuid,
        metadata: &ProviderMetadata,
        now: OffsetDateTime,
    ) -> Result<Option<Arc<Jwks>>, DocumentError> {
        {
            let entries = self.entries.lock();
            if entries
                .get(&provider)
                .and_then(|e| e.forced)
                .is_some_and(|at| (now - at).whole_seconds() < JWKS_REFETCH_SECS)
            {
                return Ok(None);
            }
        }
        let jwks = Arc::new(read_jwks(sso, metadata).await?);
        if let Some(e) = self.entries.lock().get_mut(&provider) {
            e.jwks = jwks.clone();
            e.forced = Some(now);
        }
        Ok(Some(jwks))
    }

    /// Drops a provider's documents (its configuration changed or it was deleted).
    pub fn forget(&self, provider: Uuid) {
        self.entries.lock().remove(&provider);
    }
}

async fn read_jwks(sso: &Sso, metadata: &ProviderMetadata) -> Result<Jwks, DocumentError> {
    let body = fetch(sso, Method::GET, metadata.jwks_uri.as_str(), None).await?;
    Ok(Jwks::parse(&body)?)
}

/// Exchanges the code at the token endpoint.
///
/// # Errors
/// [`DocumentError::CodeRejected`] for a 400/401 answer; others as [`fetch`].
pub async fn exchange(
    sso: &Sso,
    metadata: &ProviderMetadata,
    request: &TokenRequest,
) -> Result<TokenResponse, DocumentError> {
    let body = fetch(
        sso,
        Method::POST,
        metadata.token_endpoint.as_str(),
        Some(request),
    )
    .await?;
    Ok(TokenResponse::parse(&body)?)
}

/// One request to the provider; the answer's body, at most [`MAX_DOCUMENT_BYTES`] + 1 bytes
/// read (the library refuses the larger ones).
async fn fetch(
    sso: &Sso,
    method: Method,
    url: &str,
    token: Option<&TokenRequest>,
) -> Result<Vec<u8>, DocumentError> {
    let mut request = sso
        .client
        .request(method, url)
        .map_err(|_| DocumentError::Unreachable)?
        .header("accept", "application/json");
    if let Some(t) = token {
        request = request
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", t.authorization.expose_secret())
            .body(t.body.expose_secret().to_owned());
    }
    let mut response = sso
        .client
        .send(request)
        .await
        .map_err(|_| DocumentError::Unreachable)?;
    let status = response.status().as_u16();
    if token.is_some() && matches!(status, 400 | 401) {
        return Err(DocumentError::CodeRejected);
    }
    if status != 200 {
        return Err(DocumentError::Status);
    }
    let mut body = Vec::new();
    while body.len() <= MAX_DOCUMENT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => return Ok(body),
            Err(_) => return Err(DocumentError::Unreachable),
        }
    }
    Ok(body)
}
