//! The operator side the simulator needs: log in as an administrator, create the tenancy a
//! run enrolls into, and queue a command for many devices at once.

use std::time::Duration;

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use breeze_crypto::totp::{self, TotpSecret};
use reqwest::header::CONTENT_TYPE;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};

use crate::SimError;
use crate::target::Target;

/// An administrator session (bearer access token).
pub struct Admin {
    http: reqwest::Client,
    target: Target,
    token: SecretString,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

fn client() -> Result<reqwest::Client, SimError> {
    crate::http_agent::ensure_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| SimError::Local(format!("http client: {e}")))
}

/// The `error`/`code` of an error body, never the whole body (it could echo input).
fn describe(status: u16, body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let code = v.get("code").and_then(Value::as_str).unwrap_or("");
    let issues = v.get("issues").map(ToString::to_string).unwrap_or_default();
    format!("status {status} {code} {issues}").trim().to_owned()
}

/// How the simulator logs in as an administrator.
#[derive(Clone)]
pub struct AdminLogin {
    /// E-mail.
    pub email: String,
    /// Password.
    pub password: SecretString,
    /// The account's TOTP secret (base32, mode 0600). Platform administrators must use MFA:
    /// when the account has none yet, the simulator enrols it and writes the secret here.
    pub totp_file: PathBuf,
}

impl std::fmt::Debug for AdminLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminLogin")
            .field("email", &self.email)
            .field("totp_file", &self.totp_file)
            .finish_non_exhaustive()
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
#[must_use]
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn totp_code(secret: &TotpSecret) -> Result<String, SimError> {
    totp::code_at(secret, unix_now()).map_err(|e| SimError::Local(format!("totp: {e}")))
}

/// Sleeps into the next 30-second TOTP step (the server refuses a step twice).
async fn next_step() {
    let into = u64::try_from(unix_now().rem_euclid(30)).unwrap_or(0);
    tokio::time::sleep(Duration::from_secs(30 - into) + Duration::from_millis(200)).await;
}

fn read_totp(path: &Path) -> Result<Option<TotpSecret>, SimError> {
    match std::fs::read_to_string(path) {
        Ok(text) => TotpSecret::from_base32(text.trim())
            .map(Some)
            .map_err(|_| SimError::file(path, "not a base32 TOTP secret")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SimError::file(path, e)),
    }
}

fn write_totp(path: &Path, base32: &str) -> Result<(), SimError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| SimError::file(path, e))?;
    f.write_all(base32.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| SimError::file(path, e))
}

async fn post_json(
    http: &reqwest::Client,
    url: String,
    bearer: Option<&SecretString>,
    body: &Value,
) -> Result<Value, SimError> {
    let mut req = http
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string());
    if let Some(t) = bearer {
        req = req.bearer_auth(t.expose_secret());
    }
    let resp = req
        .send()
        .await
        .map_err(|e| SimError::Server(format!("request: {e}")))?;
    let status = resp.status().as_u16();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| SimError::Server(format!("request: {e}")))?;
    if !matches!(status, 200 | 201) {
        return Err(SimError::Server(describe(status, &bytes)));
    }
    serde_json::from_slice(&bytes).map_err(|_| SimError::Server("malformed answer".into()))
}

/// Puts `what` in front of a server error's message.
fn context(what: &'static str) -> impl Fn(SimError) -> SimError {
    move |e| match e {
        SimError::Server(m) => SimError::Server(format!("{what}: {m}")),
        other => other,
    }
}

fn access_token(v: &Value) -> Result<SecretString, SimError> {
    v.get("accessToken")
        .and_then(Value::as_str)
        .map(|t| SecretString::from(t.to_owned()))
        .ok_or_else(|| SimError::Server("login: no access token".into()))
}

impl Admin {
    /// Logs in: password, then the TOTP code when the account has MFA. An account without
    /// MFA is enrolled first (setup, confirm, secret written to `totp_file`), then logged in
    /// again with MFA, as platform administrators must be.
    ///
    /// # Errors
    /// [`SimError::Server`] when a step is refused; [`SimError::File`] for the TOTP file.
    pub async fn login(target: &Target, login: &AdminLogin) -> Result<Self, SimError> {
        let http = client()?;
        for _ in 0..2 {
            let body = json!({"email": login.email, "password": login.password.expose_secret()});
            let v = post_json(&http, target.http_url("/api/v1/auth/login"), None, &body)
                .await
                .map_err(context("login refused"))?;
            if v.get("mfaRequired").and_then(Value::as_bool) == Some(true) {
                let secret = read_totp(&login.totp_file)?.ok_or_else(|| {
                    SimError::file(
                        &login.totp_file,
                        "the account has MFA but this file is missing",
                    )
                })?;
                let mfa_token = v
                    .get("mfaToken")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let url = target.http_url("/api/v1/auth/mfa/verify");
                let first = post_json(
                    &http,
                    url.clone(),
                    None,
                    &json!({"mfaToken": mfa_token, "code": totp_code(&secret)?}),
                )
                .await;
                let v = match first {
                    Ok(ok) => ok,
                    Err(_) => {
                        // this step's code was used already: the next step's is fresh
                        next_step().await;
                        post_json(
                            &http,
                            url,
                            None,
                            &json!({"mfaToken": mfa_token, "code": totp_code(&secret)?}),
                        )
                        .await
                        .map_err(context("mfa verify"))?
                    }
                };
                return Ok(Self {
                    http,
                    target: target.clone(),
                    token: access_token(&v)?,
                });
            }
            // no MFA yet: enrol it, then log in again with it
            let token = access_token(&v)?;
            let setup = post_json(
                &http,
                target.http_url("/api/v1/auth/mfa/setup"),
                Some(&token),
                &json!({"password": login.password.expose_secret()}),
            )
            .await
            .map_err(context("mfa setup"))?;
            let base32 = setup
                .get("secret")
                .and_then(Value::as_str)
                .ok_or_else(|| SimError::Server("mfa setup: no secret".into()))?;
            let secret = TotpSecret::from_base32(base32)
                .map_err(|_| SimError::Server("mfa setup: malformed secret".into()))?;
            write_totp(&login.totp_file, base32)?;
            post_json(
                &http,
                target.http_url("/api/v1/auth/mfa/confirm"),
                Some(&token),
                &json!({"code": totp_code(&secret)?}),
            )
            .await
            .map_err(context("mfa confirm"))?;
            next_step().await;
        }
        Err(SimError::Server("login: MFA enrolment did not take".into()))
    }

    /// POSTs `body` to `path`; returns the JSON answer of a 200/201.
    ///
    /// # Errors
    /// [`SimError::Server`] with the status and error code.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, SimError> {
        post_json(
            &self.http,
            self.target.http_url(path),
            Some(&self.token),
            body,
        )
        .await
        .map_err(|e| match e {
            SimError::Server(m) => SimError::Server(format!("{path}: {m}")),
            other => other,
        })
    }
}

impl Admin {
    /// The authorization header value of this session, for callers that time their own
    /// requests ([`crate::probe`]).
    #[must_use]
    pub fn bearer(&self) -> SecretString {
        SecretString::from(format!("Bearer {}", self.token.expose_secret()))
    }
}

/// The `id` field of an answer.
///
/// # Errors
/// [`SimError::Server`] when missing.
pub fn id_of(v: &Value, what: &str) -> Result<uuid::Uuid, SimError> {
    v.get("id")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| SimError::Server(format!("{what}: no id in the answer")))
}
