//! The SSO test world: a real OpenID provider (`oidc-provider` from npm, driven by
//! `tests/sso_provider/provider.mjs`) on loopback, a Breeze server whose public URL is known
//! before it starts (the redirect URI registered at the provider), and a browser: a
//! cookie-keeping HTTP client that follows redirects by hand and honours cookie paths.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use breeze_authz::seeded::SeededRole;
use serde_json::{Value, json};

use super::{FixtureUser, Fixtures, TestDb, TestServer, seeded, test_settings};

/// The directory of the provider script.
fn provider_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sso_provider")
}

/// The client registered at the provider for RS256 ID tokens.
pub const CLIENT_ID: &str = "breeze-rs256";
/// Its secret.
pub const CLIENT_SECRET: &str = "breeze-rs256-secret-0123456789abcdef";

/// The provider process; killed on drop (its stdin closing also stops it).
pub struct Provider {
    child: Child,
    /// Its issuer (`http://127.0.0.1:PORT`).
    pub issuer: String,
    http: reqwest::Client,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Provider {
    /// Starts the provider with `redirect_uri` registered for both clients.
    pub fn start(redirect_uri: &str) -> Self {
        super::install_crypto();
        let dir = provider_dir();
        assert!(
            dir.join("node_modules/oidc-provider").exists(),
            "run `npm ci` in {} (scripts/test does)",
            dir.display()
        );
        let mut child = Command::new("node")
            .current_dir(&dir)
            .args([
                "provider.mjs",
                "--port",
                "0",
                "--redirect-uri",
                redirect_uri,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let issuer = line
            .trim()
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("provider did not start: {line:?}"))
            .to_owned();
        Self {
            child,
            issuer,
            http: reqwest::Client::new(),
        }
    }

    /// `POST /__test/<path>` with `body`; the answer's status and JSON.
    pub async fn control(&self, path: &str, body: Value) -> (u16, Value) {
        let res = self
            .http
            .post(format!("{}/__test/{path}", self.issuer))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Adds an account.
    pub async fn account(&self, id: &str, email: &str, verified: bool) {
        let (s, b) = self
            .control(
                "accounts",
                json!({"id": id, "email": email, "email_verified": verified, "name": id}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
    }

    /// Queues who the next login interaction logs in as.
    pub async fn next_login(&self, account: &str, amr: &[&str]) {
        let (s, b) = self
            .control("next-login", json!({"accountId": account, "amr": amr}))
            .await;
        assert_eq!(s, 200, "{b}");
    }

    /// Makes the next ID token bad in `mode`.
    pub async fn tamper(&self, mode: &str) {
        let (s, b) = self.control("tamper", json!({"mode": mode})).await;
        assert_eq!(s, 200, "{mode}: {b}");
    }
}

/// A cookie jar keyed by host (as browsers do: cookies are not isolated by port, RFC 6265
/// section 8.5), honouring `Path` and `Max-Age=0`.
#[derive(Debug, Default, Clone)]
pub struct Jar {
    cookies: BTreeMap<(String, String), (String, String)>,
}

impl Jar {
    fn store(&mut self, url: &reqwest::Url, res: &reqwest::Response) {
        let host = host_of(url);
        for value in res.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let mut parts = text.split(';').map(str::trim);
            let (name, val) = parts.next().unwrap().split_once('=').unwrap();
            let mut path = "/".to_owned();
            let mut delete = false;
            for attr in parts {
                if let Some(p) = attr
                    .strip_prefix("Path=")
                    .or_else(|| attr.strip_prefix("path="))
                {
                    p.clone_into(&mut path);
                }
                if attr.eq_ignore_ascii_case("Max-Age=0") {
                    delete = true;
                }
            }
            let key = (host.clone(), name.to_owned());
            if delete {
                self.cookies.remove(&key);
            } else {
                self.cookies.insert(key, (val.to_owned(), path));
            }
        }
    }

    /// The `Cookie` header for `url`.
    pub fn header_for(&self, url: &reqwest::Url) -> Option<String> {
        let host = host_of(url);
        let pairs: Vec<String> = self
            .cookies
            .iter()
            .filter(|((h, _), (_, path))| *h == host && url.path().starts_with(path.as_str()))
            .map(|((_, n), (v, _))| format!("{n}={v}"))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    /// A cookie's value on `base`'s host.
    pub fn get(&self, base: &str, name: &str) -> Option<String> {
        let host = host_of(&reqwest::Url::parse(base).unwrap());
        self.cookies
            .get(&(host, name.to_owned()))
            .map(|(v, _)| v.clone())
    }

    /// Sets a cookie on `base`'s host (replaying a captured one).
    pub fn set(&mut self, base: &str, name: &str, value: &str, path: &str) {
        let host = host_of(&reqwest::Url::parse(base).unwrap());
        self.cookies
            .insert((host, name.to_owned()), (value.to_owned(), path.to_owned()));
    }
}

fn host_of(url: &reqwest::Url) -> String {
    url.host_str().unwrap().to_owned()
}

/// A browser: one cookie jar, redirects followed by hand.
pub struct Browser {
    http: reqwest::Client,
    /// Its cookies.
    pub jar: Jar,
}

/// Where a navigation ended.
#[derive(Debug)]
pub struct Landing {
    /// The last URL requested.
    pub url: String,
    /// The status of the last answer.
    pub status: u16,
    /// Its `Location`, when it redirected to the console (`/?sso=...`).
    pub location: Option<String>,
    /// Every URL requested on the way.
    pub hops: Vec<String>,
}

impl Landing {
    /// The `sso` outcome and `reason` of the console URL.
    pub fn outcome(&self) -> (String, Option<String>) {
        let loc = self
            .location
            .as_deref()
            .unwrap_or_else(|| panic!("no landing: {self:?}"));
        let url = reqwest::Url::parse("http://x").unwrap().join(loc).unwrap();
        let q: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
        (
            q.get("sso").cloned().unwrap_or_default(),
            q.get("reason").cloned(),
        )
    }
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    /// A fresh browser.
    pub fn new() -> Self {
        Self::with(reqwest::Client::builder())
    }

    /// A fresh browser whose connections leave from the loopback address `source`
    /// (`127.0.0.2`: outside an IP allow-list of `127.0.0.1`).
    pub fn from_source(source: std::net::IpAddr) -> Self {
        Self::with(reqwest::Client::builder().local_address(source))
    }

    fn with(builder: reqwest::ClientBuilder) -> Self {
        super::install_crypto();
        Self {
            http: builder
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar: Jar::default(),
        }
    }

    /// Navigates to `url` and follows redirects until one points at `console_base`'s console
    /// path (not under `/api/`), or an answer is not a redirect. `stop_before` stops before
    /// requesting a URL whose path starts with it (to capture a callback URL).
    pub async fn navigate(
        &mut self,
        url: &str,
        console_base: &str,
        stop_before: Option<&str>,
    ) -> Landing {
        let mut current = reqwest::Url::parse(url).unwrap();
        let mut hops = Vec::new();
        for _ in 0..20 {
            if let Some(prefix) = stop_before
                && current.path().starts_with(prefix)
            {
                return Landing {
                    url: current.to_string(),
                    status: 0,
                    location: None,
                    hops,
                };
            }
            hops.push(current.to_string());
            let mut req = self.http.get(current.clone());
            if let Some(c) = self.jar.header_for(&current) {
                req = req.header("cookie", c);
            }
            let res = req.send().await.unwrap();
            self.jar.store(&current, &res);
            let status = res.status().as_u16();
            let Some(loc) = res
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned())
            else {
                return Landing {
                    url: current.to_string(),
                    status,
                    location: None,
                    hops,
                };
            };
            let next = current.join(&loc).unwrap();
            let console =
                next.as_str().starts_with(console_base) && !next.path().starts_with("/api/");
            if console {
                return Landing {
                    url: current.to_string(),
                    status,
                    location: Some(loc),
                    hops,
                };
            }
            current = next;
        }
        panic!("too many redirects: {hops:?}");
    }

    /// `POST /api/v1/auth/refresh` with the refresh cookie and the CSRF header: the access
    /// token of the session the SSO login opened.
    pub async fn access_token(&self, server: &TestServer) -> String {
        let url = reqwest::Url::parse(&server.url("/api/v1/auth/refresh")).unwrap();
        let csrf = self
            .jar
            .get(&server.base, "breeze_csrf")
            .expect("csrf cookie");
        let res = self
            .http
            .post(url.clone())
            .header("cookie", self.jar.header_for(&url).expect("cookies"))
            .header("x-breeze-csrf", csrf)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        assert_eq!(status, 200, "{body}");
        body["accessToken"].as_str().unwrap().to_owned()
    }

    /// `POST /api/v1/auth/sso/mfa {code}` with this browser's cookies.
    pub async fn sso_mfa(&mut self, server: &TestServer, code: &str) -> (u16, Value) {
        let url = reqwest::Url::parse(&server.url("/api/v1/auth/sso/mfa")).unwrap();
        let mut req = self.http.post(url.clone()).json(&json!({"code": code}));
        if let Some(c) = self.jar.header_for(&url) {
            req = req.header("cookie", c);
        }
        let res = req.send().await.unwrap();
        self.jar.store(&url, &res);
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

/// A server and a provider that know each other, a partner with its admin, and the
/// provider configured for the partner through the API.
pub struct World {
    /// The provider.
    pub provider: Provider,
    /// The server.
    pub server: TestServer,
    /// Fixtures.
    pub fx: Fixtures,
    /// The partner.
    pub partner: breeze_core::tenancy::PartnerId,
    /// An organization of the partner.
    pub org: breeze_core::tenancy::OrgId,
    /// The partner's admin.
    pub admin: FixtureUser,
    /// The admin's access token (MFA passed).
    pub admin_token: String,
    /// The configured provider's id.
    pub provider_id: String,
}

impl World {
    /// Starts everything; `edit` may change the server's settings.
    pub async fn start(edit: impl FnOnce(&mut Vec<(String, String)>)) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let provider = Provider::start(&format!("{base}/api/v1/auth/sso/callback"));
        let db = TestDb::new().await;
        let mut settings = test_settings(&db);
        settings.push(("BREEZE_PUBLIC_URL".into(), base.clone()));
        settings.push(("BREEZE_SSO_ALLOW_LOOPBACK".into(), "1".into()));
        edit(&mut settings);
        let server = TestServer::start_on_listener(db, settings, listener).await;
        let fx = server.fixtures().await;
        let partner = fx.partner().await;
        let org = fx.org(partner).await;
        let admin = fx
            .partner_user(partner, SeededRole::PartnerAdmin, "all", &[])
            .await;
        let admin_token = super::tenancy::mfa_token(&server, &fx, &admin).await;
        let mut world = Self {
            provider,
            server,
            fx,
            partner,
            org,
            admin,
            admin_token,
            provider_id: String::new(),
        };
        let jit = json!({"kind": "partner", "roleId": seeded(SeededRole::PartnerTechnician), "orgAccess": "all"});
        let (status, body) = world.configure(json!({"jitMembership": jit})).await;
        assert_eq!(status, 201, "{body}");
        world.provider_id = body["id"].as_str().unwrap().to_owned();
        world
    }

    /// `POST /api/v1/sso/providers` for the partner with `extra` fields.
    pub async fn configure(&self, extra: Value) -> (u16, Value) {
        let mut body = json!({
            "name": "Test IdP",
            "issuer": self.provider.issuer,
            "clientId": CLIENT_ID,
            "clientSecret": CLIENT_SECRET,
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        super::auth::status_body(
            self.server
                .http
                .post(self.server.url("/api/v1/sso/providers"))
                .bearer_auth(&self.admin_token)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// The start URL of the configured provider.
    pub fn start_url(&self) -> String {
        self.server
            .url(&format!("/api/v1/auth/sso/{}/start", self.provider_id))
    }

    /// A login of `account` in a fresh browser, stopped before the provider's redirect to
    /// the callback: the browser and the callback URL.
    pub async fn until_callback(&self, account: &str) -> (Browser, String) {
        self.provider.next_login(account, &["pwd"]).await;
        let mut browser = Browser::new();
        let url = browser
            .navigate(
                &self.start_url(),
                &self.server.base,
                Some("/api/v1/auth/sso/callback"),
            )
            .await
            .url;
        (browser, url)
    }

    /// A full login of `account` in a fresh browser.
    pub async fn login(&self, account: &str, amr: &[&str]) -> (Browser, Landing) {
        self.provider.next_login(account, amr).await;
        let mut browser = Browser::new();
        let landing = browser
            .navigate(&self.start_url(), &self.server.base, None)
            .await;
        (browser, landing)
    }
}
