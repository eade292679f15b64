//! Session management (SPEC 16): a user lists and revokes their own sessions, an
//! administrator with `users:write` revokes another user's, and a revocation committed on
//! one replica refuses the session on another at once (two real `breeze-server` processes).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use crate::common;
use crate::common::FIXTURE_PASSWORD;
use crate::common::auth::{
    Session, audit_rows, exec, random_ip, scalar, server, session_of, set_cookie, status_body,
    viewer,
};
use crate::common::procs::{server_binary, server_process_with};
use crate::common::tenancy::mfa_token;
use crate::common::{FixtureUser, TestServer};
use breeze_authz::seeded::SeededRole;
use serde_json::{Value, json};
use uuid::Uuid;

const ME: &str = "/api/v1/users/me";
const SESSIONS: &str = "/api/v1/auth/sessions";

/// One server (harness or a real process) as a client sees it.
#[derive(Clone, Copy)]
struct Api<'a> {
    http: &'a reqwest::Client,
    base: &'a str,
}

impl<'a> Api<'a> {
    fn of(server: &'a TestServer) -> Self {
        Self {
            http: &server.http,
            base: &server.base,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Logs `email` in from `ip` with user agent `ua`.
    async fn login(&self, email: &str, ip: &str, ua: &str) -> Session {
        session_of(
            self.http
                .post(self.url("/api/v1/auth/login"))
                .header("x-forwarded-for", ip)
                .header("user-agent", ua)
                .json(&json!({"email": email, "password": FIXTURE_PASSWORD}))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn refresh(&self, s: &Session) -> reqwest::Response {
        self.http
            .post(self.url("/api/v1/auth/refresh"))
            .header(
                "cookie",
                format!("breeze_refresh={}; breeze_csrf={}", s.refresh, s.csrf),
            )
            .header("x-breeze-csrf", &s.csrf)
            .header("x-forwarded-for", random_ip())
            .send()
            .await
            .unwrap()
    }

    async fn call(&self, token: &str, method: &str, path: &str) -> reqwest::Response {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        self.http
            .request(method, self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    async fn status(&self, token: &str, method: &str, path: &str) -> u16 {
        self.call(token, method, path).await.status().as_u16()
    }

    async fn json(&self, token: &str, method: &str, path: &str) -> (u16, Value) {
        status_body(self.call(token, method, path).await).await
    }

    /// The session list of `token`'s user, as `token` sees it.
    async fn sessions(&self, token: &str) -> Vec<Value> {
        let (status, body) = self.json(token, "GET", SESSIONS).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["truncated"], false);
        body["items"].as_array().unwrap().clone()
    }

    /// The session id (`sid`) of `token`: the listed session marked current.
    async fn sid(&self, token: &str) -> Uuid {
        let items = self.sessions(token).await;
        let current: Vec<&Value> = items.iter().filter(|i| i["current"] == true).collect();
        assert_eq!(current.len(), 1, "{items:?}");
        current[0]["id"].as_str().unwrap().parse().unwrap()
    }
}

fn ids(items: &[Value]) -> Vec<Uuid> {
    items
        .iter()
        .map(|i| i["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

async fn family_reason(fx: &common::Fixtures, family: Uuid) -> Option<String> {
    scalar(
        fx,
        "SELECT revoked_reason FROM refresh_families WHERE id = $1",
        family,
    )
    .await
}

#[tokio::test]
async fn a_user_lists_their_sessions_and_revokes_one_or_the_others() {
    let server = server().await;
    let api = Api::of(&server);
    let fx = server.fixtures().await;
    let user = viewer(&fx).await;

    let s1 = api
        .login(&user.email, "10.9.8.1", "laptop-browser/1.0")
        .await;
    server.clock.advance(2);
    let s2 = api.login(&user.email, "10.9.8.2", "phone-app/2.0").await;
    let sid1 = api.sid(&s1.access).await;
    let sid2 = api.sid(&s2.access).await;
    assert_ne!(sid1, sid2);

    // two sessions, newest first, with address and user agent, `current` the asker's
    let items = api.sessions(&s2.access).await;
    assert_eq!(ids(&items), vec![sid2, sid1]);
    assert_eq!(items[0]["current"], true);
    assert_eq!(items[1]["current"], false);
    assert_eq!(items[0]["ip"], "10.9.8.2");
    assert_eq!(items[0]["userAgent"], "phone-app/2.0");
    assert_eq!(items[1]["ip"], "10.9.8.1");
    assert_eq!(items[1]["userAgent"], "laptop-browser/1.0");
    assert_eq!(items[1]["createdAt"], items[1]["lastUsedAt"]);

    // a refresh rotation records the use (an ordinary request does not)
    server.clock.advance(60);
    assert_eq!(api.status(&s1.access, "GET", ME).await, 200);
    let before = api.sessions(&s2.access).await;
    assert_eq!(before[1]["createdAt"], before[1]["lastUsedAt"]);
    let s1 = session_of(api.refresh(&s1).await).await;
    let after = api.sessions(&s2.access).await;
    assert_eq!(after[1]["id"], sid1.to_string());
    assert_ne!(after[1]["lastUsedAt"], after[1]["createdAt"]);
    assert_eq!(after[1]["createdAt"], before[1]["createdAt"]);

    // revoke session 1 from session 2
    let res = api
        .call(&s2.access, "DELETE", &format!("{SESSIONS}/{sid1}"))
        .await;
    assert_eq!(res.status(), 204);
    assert!(set_cookie(&res, "breeze_refresh").is_none(), "not a logout");
    assert_eq!(api.status(&s1.access, "GET", ME).await, 401);
    let (status, body) = status_body(api.refresh(&s1).await).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "session_revoked");
    assert_eq!(api.status(&s2.access, "GET", ME).await, 200);
    let s2 = session_of(api.refresh(&s2).await).await;
    assert_eq!(ids(&api.sessions(&s2.access).await), vec![sid2]);
    assert_eq!(
        family_reason(&fx, sid1).await.as_deref(),
        Some("user_revoked")
    );
    let rows = audit_rows(&fx, "auth.session.revoked").await;
    assert_eq!(rows.len(), 1);
    let d = rows[0].details();
    assert_eq!(d["familyId"], sid1.to_string());
    assert_eq!(d["userId"], user.id.to_string());
    assert_eq!(d["revokedBy"], user.id.to_string());
    assert_eq!(d["reason"], "user_revoked");
    assert_eq!(
        rows[0].actor_id.as_deref(),
        Some(user.id.to_string().as_str())
    );
    assert_eq!(rows[0].chain, user.org.unwrap().to_string());
    // a revoked session is gone: a second revocation is 404 and writes nothing
    assert_eq!(
        api.status(&s2.access, "DELETE", &format!("{SESSIONS}/{sid1}"))
            .await,
        404
    );
    assert_eq!(audit_rows(&fx, "auth.session.revoked").await.len(), 1);

    // revoke-others keeps exactly the current session
    let s3 = api.login(&user.email, &random_ip(), "tablet/3").await;
    let s4 = api.login(&user.email, &random_ip(), "desktop/4").await;
    let sid4 = api.sid(&s4.access).await;
    let (status, body) = api
        .json(&s4.access, "POST", &format!("{SESSIONS}/revoke-others"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"revoked": 2}));
    assert_eq!(ids(&api.sessions(&s4.access).await), vec![sid4]);
    for s in [&s2, &s3] {
        assert_eq!(api.status(&s.access, "GET", ME).await, 401);
        assert_eq!(api.refresh(s).await.status(), 401);
    }
    assert_eq!(
        family_reason(&fx, sid2).await.as_deref(),
        Some("user_revoked")
    );
    let rows = audit_rows(&fx, "auth.session.revoked").await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].details()["count"], 2);
    assert_eq!(rows[1].details()["kept"], sid4.to_string());
    // nothing else to revoke: 0, still audited
    let (_, body) = api
        .json(&s4.access, "POST", &format!("{SESSIONS}/revoke-others"))
        .await;
    assert_eq!(body, json!({"revoked": 0}));
    assert_eq!(api.status(&s4.access, "GET", ME).await, 200);

    // revoking the current session is a logout: cookies cleared, the token dead
    let res = api
        .call(&s4.access, "DELETE", &format!("{SESSIONS}/{sid4}"))
        .await;
    assert_eq!(res.status(), 204);
    assert!(
        set_cookie(&res, "breeze_refresh").is_some_and(|c| c.contains("Max-Age=0")),
        "the current session's cookies are cleared"
    );
    assert_eq!(api.status(&s4.access, "GET", ME).await, 401);
    assert_eq!(api.refresh(&s4).await.status(), 401);
    assert_eq!(
        family_reason(&fx, sid4).await.as_deref(),
        Some("user_revoked")
    );
}

#[tokio::test]
async fn another_users_session_is_404_and_bad_ids_are_400() {
    let server = server().await;
    let api = Api::of(&server);
    let fx = server.fixtures().await;
    let alice = viewer(&fx).await;
    let bob = viewer(&fx).await;
    let a = api.login(&alice.email, &random_ip(), "alice").await;
    let b = api.login(&bob.email, &random_ip(), "bob").await;
    let bob_sid = api.sid(&b.access).await;

    // alice cannot see or revoke bob's session: 404 exactly as an unknown id
    assert!(!ids(&api.sessions(&a.access).await).contains(&bob_sid));
    let (status, body) = api
        .json(&a.access, "DELETE", &format!("{SESSIONS}/{bob_sid}"))
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, unknown) = api
        .json(
            &a.access,
            "DELETE",
            &format!("{SESSIONS}/{}", Uuid::new_v4()),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(body, unknown);
    assert_eq!(family_reason(&fx, bob_sid).await, None);
    assert_eq!(api.status(&b.access, "GET", ME).await, 200);
    assert!(api.refresh(&b).await.status().is_success());
    // alice's revoke-others never reaches bob
    let (_, body) = api
        .json(&a.access, "POST", &format!("{SESSIONS}/revoke-others"))
        .await;
    assert_eq!(body, json!({"revoked": 0}));
    assert_eq!(family_reason(&fx, bob_sid).await, None);
    assert_eq!(audit_rows(&fx, "auth.session.revoked").await.len(), 1);

    // an expired session is neither listed nor revocable
    let a2 = api.login(&alice.email, &random_ip(), "alice-two").await;
    let a2_sid = api.sid(&a2.access).await;
    exec(
        &fx,
        "UPDATE refresh_families SET expires_at = now() - interval '1 second' WHERE id = $1",
        a2_sid,
    )
    .await;
    assert!(!ids(&api.sessions(&a.access).await).contains(&a2_sid));
    assert_eq!(
        api.status(&a.access, "DELETE", &format!("{SESSIONS}/{a2_sid}"))
            .await,
        404
    );
    assert_eq!(family_reason(&fx, a2_sid).await, None);

    // a malformed id
    let (status, body) = api
        .json(&a.access, "DELETE", &format!("{SESSIONS}/not-a-uuid"))
        .await;
    assert_eq!(status, 400, "{body}");
    // the admin routes need users:read / users:write before anything else
    let (status, _) = api
        .json(
            &a.access,
            "DELETE",
            &format!("/api/v1/users/{}/sessions", bob.id),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(family_reason(&fx, bob_sid).await, None);
    // without a token
    let res = server.http.get(server.url(SESSIONS)).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

/// A user of organization `org` with role `role` and an MFA-complete token.
async fn member(
    server: &TestServer,
    fx: &common::Fixtures,
    partner: breeze_core::tenancy::PartnerId,
    org: breeze_core::tenancy::OrgId,
    role: SeededRole,
) -> (FixtureUser, String) {
    let user = fx.org_user(partner, org, role, None).await;
    let token = mfa_token(server, fx, &user).await;
    (user, token)
}

#[tokio::test]
async fn an_admin_with_users_write_revokes_another_users_sessions() {
    let server = server().await;
    let api = Api::of(&server);
    let fx = server.fixtures().await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let other_org = fx.org(partner).await;
    let other_partner = fx.partner().await;
    let foreign_org = fx.org(other_partner).await;

    let target = fx.org_user(partner, org, SeededRole::OrgViewer, None).await;
    let (admin, admin_token) = member(&server, &fx, partner, org, SeededRole::OrgAdmin).await;
    let (_, tech_token) = member(&server, &fx, partner, org, SeededRole::OrgTechnician).await;
    let (_, sibling_admin) = member(&server, &fx, partner, other_org, SeededRole::OrgAdmin).await;
    let (_, foreign_admin) = member(
        &server,
        &fx,
        other_partner,
        foreign_org,
        SeededRole::OrgAdmin,
    )
    .await;

    let t1 = api.login(&target.email, "10.1.1.1", "target-one").await;
    let t2 = api.login(&target.email, "10.1.1.2", "target-two").await;
    let sid1 = api.sid(&t1.access).await;
    let sid2 = api.sid(&t2.access).await;
    let all = format!("/api/v1/users/{}/sessions", target.id);
    let one = format!("{all}/{sid1}");

    // users:read lists, nobody's session is `current`
    for token in [&admin_token, &tech_token] {
        let (status, body) = api.json(token, "GET", &all).await;
        assert_eq!(status, 200, "{body}");
        let items = body["items"].as_array().unwrap();
        assert_eq!(ids(items), vec![sid2, sid1]);
        assert!(items.iter().all(|i| i["current"] == false));
        assert_eq!(items[1]["userAgent"], "target-one");
    }
    // without users:write: 403, nothing revoked
    assert_eq!(api.status(&tech_token, "DELETE", &one).await, 403);
    assert_eq!(api.status(&tech_token, "DELETE", &all).await, 403);
    // admins who do not reach the user: 404 for every route, nothing revoked
    for token in [&sibling_admin, &foreign_admin] {
        for (method, path) in [("GET", &all), ("DELETE", &one), ("DELETE", &all)] {
            let (status, body) = api.json(token, method, path).await;
            assert_eq!(status, 404, "{method} {path}: {body}");
            assert!(!body.to_string().contains(&sid1.to_string()));
        }
    }
    assert_eq!(family_reason(&fx, sid1).await, None);
    assert_eq!(family_reason(&fx, sid2).await, None);
    assert!(audit_rows(&fx, "auth.session.revoked").await.is_empty());

    // malformed ids
    for (method, path) in [
        (
            "DELETE",
            format!("/api/v1/users/not-a-uuid/sessions/{sid1}"),
        ),
        ("DELETE", format!("{all}/12345")),
        ("DELETE", "/api/v1/users/not-a-uuid/sessions".to_owned()),
        ("GET", "/api/v1/users/not-a-uuid/sessions".to_owned()),
    ] {
        let (status, body) = api.json(&admin_token, method, &path).await;
        assert_eq!(status, 400, "{method} {path}: {body}");
    }

    // the admin revokes one session
    assert_eq!(api.status(&admin_token, "DELETE", &one).await, 204);
    assert_eq!(api.status(&t1.access, "GET", ME).await, 401);
    assert_eq!(api.refresh(&t1).await.status(), 401);
    assert_eq!(api.status(&t2.access, "GET", ME).await, 200);
    assert_eq!(
        family_reason(&fx, sid1).await.as_deref(),
        Some("admin_revoked")
    );
    let rows = audit_rows(&fx, "auth.session.revoked").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].actor_id.as_deref(),
        Some(admin.id.to_string().as_str())
    );
    assert_eq!(rows[0].chain, org.to_string());
    assert_eq!(rows[0].details()["userId"], target.id.to_string());
    assert_eq!(rows[0].details()["revokedBy"], admin.id.to_string());
    assert_eq!(rows[0].details()["familyId"], sid1.to_string());
    assert_eq!(rows[0].details()["reason"], "admin_revoked");
    // gone, unknown, or a family of another user under this user's id: 404
    let admin_sid = api.sid(&admin_token).await;
    for family in [sid1, Uuid::new_v4(), admin_sid] {
        let path = format!("{all}/{family}");
        assert_eq!(
            api.status(&admin_token, "DELETE", &path).await,
            404,
            "{path}"
        );
    }

    // ...then every remaining one
    let (status, body) = api.json(&admin_token, "DELETE", &all).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"revoked": 1}));
    assert_eq!(api.status(&t2.access, "GET", ME).await, 401);
    assert_eq!(api.refresh(&t2).await.status(), 401);
    let rows = audit_rows(&fx, "auth.session.revoked").await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].details()["count"], 1);
    assert_eq!(rows[1].details()["userId"], target.id.to_string());
    let (_, body) = api.json(&admin_token, "GET", &all).await;
    assert_eq!(body["items"], json!([]));
    // the target logs in again: a new working session
    let t3 = api.login(&target.email, &random_ip(), "again").await;
    assert_eq!(api.status(&t3.access, "GET", ME).await, 200);

    // an administrator's own sessions are revoked through /auth/sessions, not here
    let own = format!("/api/v1/users/{}/sessions", admin.id);
    let (status, body) = api.json(&admin_token, "DELETE", &own).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "cannot_modify_self");
}

/// Revokes a session through replica A and checks replica B refuses its access token and
/// its refresh token at once; `extra` are settings both replicas share.
async fn across_replicas(extra: &[(&str, &str)]) {
    server_binary();
    let harness = TestServer::start().await;
    let fx = harness.fixtures().await;
    let user = viewer(&fx).await;
    let tmp = std::env::temp_dir().join(format!("breeze-sessions-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&tmp).unwrap();
    let (server_a, base_a) = server_process_with(&harness.db, &tmp, "server-a", extra).await;
    let (server_b, base_b) = server_process_with(&harness.db, &tmp, "server-b", extra).await;
    let http = reqwest::Client::new();
    let a = Api {
        http: &http,
        base: &base_a,
    };
    let b = Api {
        http: &http,
        base: &base_b,
    };

    // two sessions opened on B; the doomed one is in use there (caches warm)
    let doomed = b.login(&user.email, &random_ip(), "doomed").await;
    let kept = b.login(&user.email, &random_ip(), "kept").await;
    let doomed_sid = b.sid(&doomed.access).await;
    assert_eq!(b.status(&doomed.access, "GET", ME).await, 200);
    let doomed = session_of(b.refresh(&doomed).await).await;
    assert_eq!(b.status(&doomed.access, "GET", ME).await, 200);
    // A sees the same sessions
    assert_eq!(a.sessions(&kept.access).await.len(), 2);

    // revoked through A ...
    let status = a
        .status(&kept.access, "DELETE", &format!("{SESSIONS}/{doomed_sid}"))
        .await;
    assert_eq!(status, 204, "{}", server_a.log());
    // ... refused on B at once: access token and refresh token
    let (status, body) = b.json(&doomed.access, "GET", ME).await;
    assert_eq!(status, 401, "{body} {}", server_b.log());
    assert_eq!(body["error"], "session_revoked");
    let (status, body) = status_body(b.refresh(&doomed).await).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "session_revoked");
    // the other session lives on both
    assert_eq!(b.status(&kept.access, "GET", ME).await, 200);
    assert_eq!(a.status(&kept.access, "GET", ME).await, 200);
    assert!(b.refresh(&kept).await.status().is_success());
    drop((server_a, server_b));
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Without Redis each replica has its own in-memory revocation cache: the durable family
/// check refuses the session on B.
#[tokio::test]
async fn a_session_revoked_on_replica_a_is_refused_on_replica_b() {
    across_replicas(&[]).await;
}

/// With Redis both replicas share one revocation cache (same key prefix).
#[tokio::test]
async fn a_session_revoked_on_replica_a_is_refused_on_replica_b_with_redis() {
    let url = common::redis_url();
    let prefix = format!("breeze-test-{}:", Uuid::new_v4().simple());
    across_replicas(&[("REDIS_URL", &url), ("BREEZE_REDIS_PREFIX", &prefix)]).await;
}
