//! The provider's metadata (OpenID Connect Discovery 1.0): fetched by the server from
//! `<issuer>/.well-known/openid-configuration`, judged here.

use serde_json::{Map, Value};
use url::Url;

use super::jwks::SignatureAlg;
use super::{MAX_DOCUMENT_BYTES, OidcError};

/// Which URLs a provider may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointRule {
    /// HTTPS only (production).
    HttpsOnly,
    /// HTTPS, or plain HTTP to a loopback address or `localhost` (development and tests).
    AllowLoopbackHttp,
}

impl EndpointRule {
    /// Checks one URL: absolute, no credentials, no fragment, HTTPS (or loopback HTTP where
    /// allowed).
    ///
    /// # Errors
    /// [`OidcError::InsecureUrl`] naming the rule that failed.
    pub fn check(self, url: &Url) -> Result<(), OidcError> {
        if url.cannot_be_a_base() || url.host_str().is_none_or(str::is_empty) {
            return Err(OidcError::InsecureUrl("not an absolute URL with a host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(OidcError::InsecureUrl("credentials in the URL"));
        }
        if url.fragment().is_some() {
            return Err(OidcError::InsecureUrl("a fragment in the URL"));
        }
        match url.scheme() {
            "https" => Ok(()),
            "http" if self == Self::AllowLoopbackHttp && is_loopback(url) => Ok(()),
            "http" => Err(OidcError::InsecureUrl("plain HTTP")),
            _ => Err(OidcError::InsecureUrl("scheme is not https")),
        }
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Parses and checks a configured issuer: an absolute URL under `rule`, no query, no
/// fragment. The issuer is kept exactly as configured (ID tokens must name it exactly).
///
/// # Errors
/// [`OidcError::InsecureUrl`] or [`OidcError::InvalidUrl`].
pub fn check_issuer(issuer: &str, rule: EndpointRule) -> Result<Url, OidcError> {
    if issuer.len() > 2048 {
        return Err(OidcError::InvalidUrl);
    }
    let url = Url::parse(issuer).map_err(|_| OidcError::InvalidUrl)?;
    rule.check(&url)?;
    if url.query().is_some() {
        return Err(OidcError::InsecureUrl("a query in the issuer"));
    }
    Ok(url)
}

/// The discovery document's URL for `issuer` (a trailing `/` of the issuer is not doubled).
///
/// # Errors
/// [`OidcError::InvalidUrl`].
pub fn discovery_url(issuer: &str) -> Result<Url, OidcError> {
    let base = issuer.trim_end_matches('/');
    Url::parse(&format!("{base}/.well-known/openid-configuration"))
        .map_err(|_| OidcError::InvalidUrl)
}

/// What Breeze uses of a provider's metadata, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderMetadata {
    /// Exactly the configured issuer.
    pub issuer: String,
    /// Where the browser is sent.
    pub authorization_endpoint: Url,
    /// Where the server exchanges the code.
    pub token_endpoint: Url,
    /// Where the server reads the signing keys.
    pub jwks_uri: Url,
    /// The ID-token algorithms both sides accept (the provider's advertised list, or all of
    /// Breeze's when it advertises none).
    pub id_token_algs: Vec<SignatureAlg>,
}

impl ProviderMetadata {
    /// Parses a discovery document and checks it against the configured issuer.
    ///
    /// Order: size, JSON object, `issuer` equal to `expected_issuer` byte for byte, the three
    /// endpoints present and allowed by `rule`, `response_types_supported` (when present)
    /// offering `code`, `code_challenge_methods_supported` (when present) offering `S256`,
    /// and at least one ID-token algorithm Breeze verifies.
    ///
    /// # Errors
    /// [`OidcError::Discovery`], [`OidcError::IssuerMismatch`], [`OidcError::InsecureUrl`],
    /// [`OidcError::PkceUnsupported`].
    pub fn parse(
        document: &[u8],
        expected_issuer: &str,
        rule: EndpointRule,
    ) -> Result<Self, OidcError> {
        if document.len() > MAX_DOCUMENT_BYTES {
            return Err(OidcError::Discovery("too large"));
        }
        let value: Value =
            serde_json::from_slice(document).map_err(|_| OidcError::Discovery("not JSON"))?;
        let map = value
            .as_object()
            .ok_or(OidcError::Discovery("not a JSON object"))?;
        let issuer = text(map, "issuer")?;
        if issuer != expected_issuer {
            return Err(OidcError::IssuerMismatch);
        }
        let endpoint = |name: &'static str| -> Result<Url, OidcError> {
            let url = Url::parse(text(map, name)?).map_err(|_| OidcError::Discovery(name))?;
            rule.check(&url)?;
            Ok(url)
        };
        let authorization_endpoint = endpoint("authorization_endpoint")?;
        let token_endpoint = endpoint("token_endpoint")?;
        let jwks_uri = endpoint("jwks_uri")?;
        if let Some(types) = strings(map, "response_types_supported")?
            && !types.iter().any(|t| t == "code")
        {
            return Err(OidcError::Discovery(
                "the code response type is not supported",
            ));
        }
        if let Some(methods) = strings(map, "code_challenge_methods_supported")?
            && !methods.iter().any(|m| m == "S256")
        {
            return Err(OidcError::PkceUnsupported);
        }
        let id_token_algs = match strings(map, "id_token_signing_alg_values_supported")? {
            Some(names) => names
                .iter()
                .filter_map(|n| SignatureAlg::from_name(n))
                .collect(),
            None => SignatureAlg::ALL.to_vec(),
        };
        if id_token_algs.is_empty() {
            return Err(OidcError::Discovery(
                "no ID-token signing algorithm Breeze verifies",
            ));
        }
        Ok(Self {
            issuer: issuer.to_owned(),
            authorization_endpoint,
            token_endpoint,
            jwks_uri,
            id_token_algs,
        })
    }
}

fn text<'a>(map: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, OidcError> {
    map.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or(OidcError::Discovery(name))
}

fn strings(map: &Map<String, Value>, name: &'static str) -> Result<Option<Vec<String>>, OidcError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or(OidcError::Discovery(name))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(OidcError::Discovery(name)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;
    use serde_json::json;

    fn doc(v: &Value) -> Vec<u8> {
        serde_json::to_vec(v).unwrap()
    }

    fn good() -> Value {
        json!({
            "issuer": "https://idp.example",
            "authorization_endpoint": "https://idp.example/auth",
            "token_endpoint": "https://idp.example/token",
            "jwks_uri": "https://idp.example/jwks",
            "response_types_supported": ["code", "id_token"],
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256", "HS256", "none"]
        })
    }

    #[test]
    fn a_good_document_parses_and_keeps_only_asymmetric_algorithms() {
        let m = ProviderMetadata::parse(
            &doc(&good()),
            "https://idp.example",
            EndpointRule::HttpsOnly,
        )
        .unwrap();
        assert_eq!(m.token_endpoint.as_str(), "https://idp.example/token");
        assert_eq!(
            m.id_token_algs,
            vec![SignatureAlg::Rs256, SignatureAlg::Es256]
        );
    }

    #[test]
    fn the_issuer_must_match_exactly() {
        for expected in [
            "https://idp.example/",
            "https://IDP.example",
            "https://other.example",
        ] {
            assert_eq!(
                ProviderMetadata::parse(&doc(&good()), expected, EndpointRule::HttpsOnly),
                Err(OidcError::IssuerMismatch)
            );
        }
    }

    #[test]
    fn refusals_name_their_rule() {
        let cases: Vec<(&str, Value, &str)> = vec![
            (
                "token_endpoint",
                json!("http://idp.example/token"),
                "oidc_url_not_allowed",
            ),
            (
                "jwks_uri",
                json!("ftp://idp.example/jwks"),
                "oidc_url_not_allowed",
            ),
            (
                "jwks_uri",
                json!("https://user:pw@idp.example/jwks"),
                "oidc_url_not_allowed",
            ),
            (
                "authorization_endpoint",
                json!(null),
                "oidc_discovery_invalid",
            ),
            (
                "code_challenge_methods_supported",
                json!(["plain"]),
                "oidc_pkce_unsupported",
            ),
            (
                "response_types_supported",
                json!(["id_token"]),
                "oidc_discovery_invalid",
            ),
            (
                "id_token_signing_alg_values_supported",
                json!(["HS256"]),
                "oidc_discovery_invalid",
            ),
            (
                "id_token_signing_alg_values_supported",
                json!("RS256"),
                "oidc_discovery_invalid",
            ),
        ];
        for (field, value, code) in cases {
            let mut d = good();
            d[field] = value;
            let err =
                ProviderMetadata::parse(&doc(&d), "https://idp.example", EndpointRule::HttpsOnly)
                    .unwrap_err();
            assert_eq!(err.code(), code, "{field}");
        }
        assert_eq!(
            ProviderMetadata::parse(b"[1]", "https://idp.example", EndpointRule::HttpsOnly)
                .unwrap_err()
                .code(),
            "oidc_discovery_invalid"
        );
        let huge = vec![b' '; MAX_DOCUMENT_BYTES + 1];
        assert!(ProviderMetadata::parse(&huge, "x", EndpointRule::HttpsOnly).is_err());
    }

    #[test]
    fn loopback_http_only_when_allowed() {
        let mut d = good();
        for f in ["authorization_endpoint", "token_endpoint", "jwks_uri"] {
            d[f] = json!(format!("http://127.0.0.1:9/{f}"));
        }
        d["issuer"] = json!("http://127.0.0.1:9");
        let bytes = doc(&d);
        assert!(
            ProviderMetadata::parse(&bytes, "http://127.0.0.1:9", EndpointRule::HttpsOnly).is_err()
        );
        assert!(
            ProviderMetadata::parse(
                &bytes,
                "http://127.0.0.1:9",
                EndpointRule::AllowLoopbackHttp
            )
            .is_ok()
        );
        let public = Url::parse("http://idp.example/").unwrap();
        assert!(EndpointRule::AllowLoopbackHttp.check(&public).is_err());
    }

    #[test]
    fn issuers_are_checked_and_discovery_urls_built() {
        assert!(check_issuer("https://idp.example/tenant", EndpointRule::HttpsOnly).is_ok());
        assert!(check_issuer("https://idp.example/?a=1", EndpointRule::HttpsOnly).is_err());
        assert!(check_issuer("not a url", EndpointRule::HttpsOnly).is_err());
        assert_eq!(
            discovery_url("https://idp.example/t/").unwrap().as_str(),
            "https://idp.example/t/.well-known/openid-configuration"
        );
    }
}
