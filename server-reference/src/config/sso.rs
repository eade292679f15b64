//! SSO settings (SPEC 16). Providers themselves are configured per tenant through the API;
//! these are the server's side of every login.

use std::path::PathBuf;

use url::Url;

use super::settings::Settings;
use super::{ConfigError, Mode};

/// The route providers send the browser back to.
pub const CALLBACK_PATH: &str = "/api/v1/auth/sso/callback";

/// Server-wide SSO settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoConfig {
    /// The server's public origin (`https://rmm.example`), from which the redirect URI
    /// `<origin>/api/v1/auth/sso/callback` registered at each provider is built.
    /// `BREEZE_PUBLIC_URL`; HTTPS in production. Unset: SSO logins answer 503
    /// `sso_not_configured` (provider configuration still works).
    pub public_url: Option<Url>,
    /// DEVELOPMENT AND TESTS ONLY: providers on loopback addresses, over plain HTTP.
    /// `BREEZE_SSO_ALLOW_LOOPBACK=1`; refused in production mode.
    pub allow_loopback: bool,
    /// A PEM file of extra root certificates trusted for providers (a private CA).
    /// `BREEZE_SSO_CA_FILE`.
    pub ca_file: Option<PathBuf>,
    /// Where the browser lands after the callback, a path of this server (`/` by default):
    /// `?sso=ok`, `?sso=mfa` or `?sso=error&reason=<code>` is appended.
    /// `BREEZE_SSO_COMPLETE_PATH`.
    pub complete_path: String,
}

impl SsoConfig {
    pub(super) fn from_settings(settings: &Settings, mode: Mode) -> Result<Self, ConfigError> {
        let invalid = |name: &str, reason: &str| ConfigError::Invalid {
            name: name.into(),
            reason: reason.into(),
        };
        let public_url = match settings.get("BREEZE_PUBLIC_URL") {
            None => None,
            Some(raw) => {
                let url = Url::parse(raw)
                    .map_err(|_| invalid("BREEZE_PUBLIC_URL", "expected an absolute URL"))?;
                let scheme_ok = match url.scheme() {
                    "https" => true,
                    "http" => mode != Mode::Production,
                    _ => false,
                };
                if !scheme_ok
                    || url.host_str().is_none()
                    || url.path() != "/"
                    || url.query().is_some()
                    || url.fragment().is_some()
                    || !url.username().is_empty()
                {
                    return Err(invalid(
                        "BREEZE_PUBLIC_URL",
                        "expected an origin such as https://rmm.example (https in production, no path)",
                    ));
                }
                Some(url)
            }
        };
        let allow_loopback = match settings.get("BREEZE_SSO_ALLOW_LOOPBACK") {
            None | Some("0" | "false") => false,
            Some("1" | "true") => true,
            Some(_) => return Err(invalid("BREEZE_SSO_ALLOW_LOOPBACK", "expected 0 or 1")),
        };
        if allow_loopback && mode == Mode::Production {
            return Err(invalid(
                "BREEZE_SSO_ALLOW_LOOPBACK",
                "loopback identity providers are for development only",
            ));
        }
        let complete_path = settings
            .get("BREEZE_SSO_COMPLETE_PATH")
            .unwrap_or("/")
            .to_owned();
        // a path of this server only: never an open redirect
        let local = complete_path.starts_with('/')
            && !complete_path.starts_with("//")
            && !complete_path.contains(['\\', '?', '#'])
            && !complete_path.chars().any(char::is_control)
            && complete_path.len() <= 256;
        if !local {
            return Err(invalid(
                "BREEZE_SSO_COMPLETE_PATH",
                "expected a path of this server such as /",
            ));
        }
        Ok(Self {
            public_url,
            allow_loopback,
            ca_file: settings.get("BREEZE_SSO_CA_FILE").map(PathBuf::from),
            complete_path,
        })
    }

    /// The redirect URI registered at providers, when the public URL is set.
    #[must_use]
    pub fn redirect_uri(&self) -> Option<String> {
        self.public_url
            .as_ref()
            .map(|u| format!("{}{}", u.as_str().trim_end_matches('/'), CALLBACK_PATH))
    }
}
