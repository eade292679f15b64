//! Audit fixtures: appending events through the real append path, the test signer and key
//! ring, custom roles for audit API tests, and running the real binary.

use breeze_authz::access::AccessContext;
use breeze_core::audit::{
    Action, Actor, AuditEvent, AuditResult, CheckpointSigner, InitiatedBy, KeyId, KeyRing,
    Timestamp,
};
use breeze_core::tenancy::{OrgId, PartnerId, RoleId, UserId};
use breeze_crypto::jwt::TokenScope;
use breeze_server::store::{PgStore, audit};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{FixtureUser, Fixtures, TestDb, test_settings};

/// The seed of `BREEZE_AUDIT_SIGNING_KEY_t1` in [`test_settings`].
pub const TEST_AUDIT_SEED: &str =
    "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d";

/// The test checkpoint signer (same key as the server's).
pub fn signer() -> CheckpointSigner {
    let mut seed = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(TEST_AUDIT_SEED, seed.as_mut_slice()).unwrap();
    CheckpointSigner::from_seed(KeyId::new("t1").unwrap(), &seed)
}

/// The trusted key ring of the test key, as the server builds it: under its configured id
/// `t1` (what [`signer`] signs under) and under its derived id (what the server signs under).
pub fn keys() -> KeyRing {
    let s = signer();
    let mut ring = KeyRing::new();
    ring.insert(s.key_id().clone(), s.verifying_key()).unwrap();
    let derived =
        breeze_server::audit::checkpoint_keys::derived_key_id(s.verifying_key().as_bytes())
            .unwrap();
    ring.insert(derived, s.verifying_key()).unwrap();
    ring
}

/// A runtime-role store on `db`.
pub async fn app_store(db: &TestDb) -> PgStore {
    PgStore::connect(&db.url("breeze_app"), 20).await.unwrap()
}

/// A maintenance-role store on `db`.
pub async fn maint_store(db: &TestDb) -> PgStore {
    PgStore::connect(&db.url("breeze_maint"), 2).await.unwrap()
}

/// A system context.
pub fn system_ctx() -> AccessContext {
    AccessContext::system("audit tests", time::OffsetDateTime::now_utc())
        .unwrap()
        .0
}

/// An event by a user at `at`.
pub fn event(
    action: &str,
    resource_type: &str,
    resource_id: &str,
    result: AuditResult,
    at: Timestamp,
) -> AuditEvent {
    AuditEvent::builder(
        Actor::User(UserId::from_uuid(Uuid::new_v4())),
        Action::new(action).unwrap(),
        result,
        InitiatedBy::Manual,
        at,
    )
    .resource_type(resource_type)
    .resource_id(resource_id)
    .details(&serde_json::json!({"n": resource_id}))
    .build()
    .unwrap()
}

/// A timestamp `days_ago` days before now.
pub fn days_ago(days: i64) -> Timestamp {
    Timestamp::from_datetime_truncated(time::OffsetDateTime::now_utc() - time::Duration::days(days))
        .unwrap()
}

/// Appends `n` events (`action` on `resource_type`) to `org`'s chain, one transaction
/// each, through the real append path.
pub async fn append_n(
    store: &PgStore,
    org: Option<OrgId>,
    n: usize,
    action: &str,
    resource_type: &str,
    at: Timestamp,
) {
    for i in 0..n {
        let mut tx = store.begin(&system_ctx()).await.unwrap();
        audit::append(
            &mut tx,
            org,
            event(
                action,
                resource_type,
                &format!("r-{i}"),
                AuditResult::Success,
                at,
            ),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
}

/// A custom organization-scope role of `partner` with `permissions`, no MFA required.
pub async fn custom_role(fx: &Fixtures, partner: PartnerId, permissions: &[&str]) -> RoleId {
    custom_role_of_scope(fx, partner, "organization", permissions).await
}

/// A custom role of `partner` in `scope` (`organization` or `partner`) with `permissions`,
/// no MFA required.
pub async fn custom_role_of_scope(
    fx: &Fixtures,
    partner: PartnerId,
    scope: &str,
    permissions: &[&str],
) -> RoleId {
    let id = Uuid::new_v4();
    let perms: Vec<String> = permissions.iter().map(|p| (*p).to_owned()).collect();
    let mut tx = fx.pool().begin().await.unwrap();
    super::system_context(&mut tx).await;
    sqlx::query(
        "INSERT INTO roles (id, partner_id, scope, name, permissions, requires_mfa, seeded)
         VALUES ($1, $2, $4, 'Custom ' || $1::text, $3, false, false)",
    )
    .bind(id)
    .bind(partner.as_uuid())
    .bind(&perms)
    .bind(scope)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    RoleId::from_uuid(id)
}

/// An organization user of `org` holding the custom `role`.
pub async fn org_user_with_role(
    fx: &Fixtures,
    partner: PartnerId,
    org: OrgId,
    role: RoleId,
) -> FixtureUser {
    let id = Uuid::new_v4();
    let email = format!("a{}@example.test", id.simple());
    let mut tx = fx.pool().begin().await.unwrap();
    super::system_context(&mut tx).await;
    sqlx::query(
        "INSERT INTO users (id, email, name, partner_id, org_id, password_hash)
         VALUES ($1, $2, 'Auditor', $3, $4, 'x')",
    )
    .bind(id)
    .bind(&email)
    .bind(partner.as_uuid())
    .bind(org.as_uuid())
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query("INSERT INTO org_memberships (user_id, org_id, role_id) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(org.as_uuid())
        .bind(role.as_uuid())
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    FixtureUser {
        id: UserId::from_uuid(id),
        email,
        role,
        partner: Some(partner),
        org: Some(org),
        scope: TokenScope::Organization,
    }
}

/// Runs the real `breeze-server` binary with the test settings of `db` and `args`;
/// returns (exit success, stdout, stderr).
pub fn run_cli(db: &TestDb, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_breeze-server"))
        .args(args)
        .env_clear()
        .envs(test_settings(db))
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
