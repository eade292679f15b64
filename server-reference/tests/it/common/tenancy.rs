//! Tenancy fixtures and HTTP helpers: MFA-complete tokens (the admin roles force MFA),
//! custom roles, API and enrollment key rows, row snapshots and audit reads as the owner.

use breeze_crypto::jwt::TokenSubject;
use serde_json::Value;
use uuid::Uuid;

use super::{FixtureUser, Fixtures, TestServer, system_context};

/// Marks `user` as MFA-enrolled and mints an access token with `mfa = true` (what a login
/// with a TOTP code would give), so force-MFA roles pass the gate.
pub async fn mfa_token(server: &TestServer, fx: &Fixtures, user: &FixtureUser) -> String {
    fx.exec(
        "UPDATE users SET mfa_enabled = true WHERE id = $1",
        &[*user.id.as_uuid()],
    )
    .await;
    let family = fx.open_family(user.id).await;
    let subject = TokenSubject {
        user_id: *user.id.as_uuid(),
        email: user.email.clone(),
        role_id: Some(*user.role.as_uuid()),
        org_id: user.org.map(|o| *o.as_uuid()),
        partner_id: user.partner.map(|p| *p.as_uuid()),
        scope: user.scope,
        mfa: true,
        auth_epoch: 0,
        mfa_epoch: 0,
    };
    server
        .state
        .jwt
        .issue_access(&subject, family, server.state.clock.unix())
        .unwrap()
        .token
}

/// How a request authenticates.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    /// `Authorization: Bearer`.
    Bearer(&'a str),
    /// `X-API-Key`.
    ApiKey(&'a str),
}

/// Sends `method path` with an optional JSON body; returns the status and the body text.
pub async fn call(
    server: &TestServer,
    auth: Auth<'_>,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, String) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = server.http.request(method, server.url(path));
    req = match auth {
        Auth::Bearer(t) => req.bearer_auth(t),
        Auth::ApiKey(k) => req.header("x-api-key", k),
    };
    if let Some(b) = body {
        // the body's digest: the file upload route requires it, every other route ignores it
        let bytes = serde_json::to_vec(b).unwrap();
        req = req
            .header(
                "x-content-sha256",
                breeze_agent_proto::file::sha256_hex(&bytes),
            )
            .json(b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

/// [`call`] with a bearer token, parsing the body as JSON (`Null` when empty).
pub async fn json_call(
    server: &TestServer,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let (status, text) = call(server, Auth::Bearer(token), method, path, body).await;
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value)
}

/// Runs `sql` with text binds in a system-context transaction as the owner.
pub async fn exec_text(fx: &Fixtures, sql: &str, id: Uuid, texts: &[&str]) {
    let mut tx = fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).bind(id);
    for t in texts {
        q = q.bind(*t);
    }
    q.execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

/// A custom role of `partner`.
pub async fn custom_role(
    fx: &Fixtures,
    partner: Uuid,
    name: &str,
    scope: &str,
    permissions: &[&str],
) -> Uuid {
    let id = Uuid::new_v4();
    let perms: Vec<String> = permissions.iter().map(|s| (*s).to_owned()).collect();
    let mut tx = fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    sqlx::query(
        "INSERT INTO roles (id, partner_id, scope, name, permissions, seeded)
         VALUES ($1, $2, $3, $4, $5, false)",
    )
    .bind(id)
    .bind(partner)
    .bind(scope)
    .bind(name)
    .bind(perms)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

/// An API key row of `org` (a random hash: it cannot authenticate).
pub async fn api_key_row(fx: &Fixtures, org: Uuid, name: &str) -> Uuid {
    let id = Uuid::new_v4();
    let hash = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
    let mut tx = fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    sqlx::query(
        "INSERT INTO api_keys (id, org_id, name, key_prefix, key_hash, scopes)
         VALUES ($1, $2, $3, 'brzk_abc', $4, ARRAY['devices:read'])",
    )
    .bind(id)
    .bind(org)
    .bind(name)
    .bind(hash)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

/// A working API key of `org` with `scopes`, stored as the server stores one; the raw key.
pub async fn api_key_of(fx: &Fixtures, org: Uuid, scopes: &[&str]) -> String {
    let key = breeze_crypto::credentials::ApiKey::generate().unwrap();
    let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
    let mut tx = fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    sqlx::query(
        "INSERT INTO api_keys (id, org_id, name, key_prefix, key_hash, scopes)
         VALUES ($1, $2, 'test key', $3, $4, $5)",
    )
    .bind(Uuid::new_v4())
    .bind(org)
    .bind(key.display_prefix())
    .bind(key.hash().to_hex())
    .bind(scopes)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    key.expose_secret().to_owned()
}

/// An enrollment key row of `org`/`site` (random hash).
pub async fn enrollment_key_row(fx: &Fixtures, org: Uuid, site: Uuid, name: &str) -> Uuid {
    let id = Uuid::new_v4();
    let hash = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
    let mut tx = fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    sqlx::query(
        "INSERT INTO enrollment_keys (id, org_id, site_id, name, key_hash, max_usage, expires_at)
         VALUES ($1, $2, $3, $4, $5, 10, now() + interval '1 hour')",
    )
    .bind(id)
    .bind(org)
    .bind(site)
    .bind(name)
    .bind(hash)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

/// The JSON of row `id` (column `key`) of `table`, read as the owner with a system context.
pub async fn snapshot(fx: &Fixtures, table: &str, key: &str, id: Uuid) -> Option<String> {
    let mut tx = fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    let sql = format!("SELECT row_to_json(t)::text FROM {table} t WHERE {key} = $1");
    let row: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    row
}

/// A count by SQL with one uuid bind, as the owner.
pub async fn count(fx: &Fixtures, sql: &str, id: Uuid) -> i64 {
    let mut tx = fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    n
}

/// One audit row: chain, action, resource id, actor id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// `system` or the organization id.
    pub chain: String,
    /// Action.
    pub action: String,
    /// Resource id.
    pub resource_id: Option<String>,
    /// Actor id.
    pub actor_id: Option<String>,
}

/// Every audit row, in chain order, read as the owner.
pub async fn audit_rows(fx: &Fixtures) -> Vec<AuditRow> {
    let mut tx = fx.pool().begin().await.unwrap();
    system_context(&mut tx).await;
    let rows: Vec<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT chain_key, coalesce(action, ''), resource_id, actor_id FROM audit_log
          ORDER BY chain_key, seq",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    rows.into_iter()
        .map(|(chain, action, resource_id, actor_id)| AuditRow {
            chain,
            action,
            resource_id,
            actor_id,
        })
        .collect()
}

/// Whether an audit row with `action` about `resource` is in `chain`.
pub async fn has_audit(fx: &Fixtures, chain: &str, action: &str, resource: Uuid) -> bool {
    let resource = resource.to_string();
    audit_rows(fx).await.iter().any(|r| {
        r.chain == chain && r.action == action && r.resource_id.as_deref() == Some(&resource)
    })
}
