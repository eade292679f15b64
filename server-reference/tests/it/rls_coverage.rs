//! Row-level security coverage, checked against PostgreSQL itself (SPEC 1.2): every table
//! with `org_id` or `partner_id` (a list generated from pg_catalog, so new tables are covered
//! without editing this file) has RLS enabled AND forced with policies; the runtime role
//! without a context reads and writes nothing; a context for one organization cannot write
//! another's rows; malformed settings grant nothing; site allow-lists hold in the database.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use crate::common;
use crate::common::audit::{app_store, append_n, days_ago, signer};
use crate::common::{Fixtures, TestDb};
use breeze_authz::seeded::SeededRole;
use breeze_core::tenancy::{OrgId, PartnerId, SiteId};
use breeze_server::audit::jobs as audit_jobs;
use sqlx::{Connection as _, PgConnection, PgPool};
use uuid::Uuid;

/// Tables that are deliberately not under RLS, and why the runtime role cannot touch them.
const NO_RLS: [&str; 2] = [
    "_sqlx_migrations",  // migration bookkeeping: owner only
    "audit_chain_heads", // no tenant column; only SECURITY DEFINER functions touch it
];

/// Tables the fixtures of this file fill (so the zero-row checks are not vacuous). A table
/// added later without fixture rows is still checked for policies and noted on stderr.
const FILLED: [&str; 20] = [
    "partners",
    "refresh_families",
    "refresh_tokens",
    "mfa_recovery_codes",
    "password_resets",
    "notification_outbox",
    "organizations",
    "sites",
    "device_groups",
    "devices",
    "users",
    "partner_memberships",
    "org_memberships",
    "system_memberships",
    "roles",
    "api_keys",
    "enrollment_keys",
    "audit_log",
    "audit_checkpoints",
    "audit_anchors",
];

async fn tenant_tables(su: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
            AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                          AND a.attname IN ('org_id', 'partner_id') AND NOT a.attisdropped)
          ORDER BY 1",
    )
    .fetch_all(su)
    .await
    .unwrap()
}

async fn rls_tables(su: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relrowsecurity
          ORDER BY 1",
    )
    .fetch_all(su)
    .await
    .unwrap()
}

fn code(e: &sqlx::Error) -> String {
    e.as_database_error()
        .and_then(|d| d.code().map(|c| c.into_owned()))
        .unwrap_or_else(|| e.to_string())
}

/// A fresh runtime-role connection: no `breeze.*` setting at all.
async fn bare_app(db: &TestDb) -> PgConnection {
    PgConnection::connect(&db.url_string("breeze_app"))
        .await
        .unwrap()
}

/// Sets raw settings transaction-locally.
async fn set(conn: &mut PgConnection, settings: &[(&str, String)]) {
    for (k, v) in settings {
        sqlx::query("SELECT set_config($1, $2, true)")
            .bind(k)
            .bind(v)
            .execute(&mut *conn)
            .await
            .unwrap();
    }
}

fn org_ctx(partner: PartnerId, org: OrgId, sites: &str) -> Vec<(&'static str, String)> {
    vec![
        ("breeze.scope", "organization".into()),
        ("breeze.org_id", org.to_string()),
        ("breeze.accessible_org_ids", org.to_string()),
        ("breeze.accessible_partner_ids", String::new()),
        ("breeze.user_id", Uuid::new_v4().to_string()),
        ("breeze.current_partner_id", partner.to_string()),
        ("breeze.allowed_site_ids", sites.to_owned()),
    ]
}

struct World {
    db: TestDb,
    su: PgPool,
    partner: PartnerId,
    org_a: OrgId,
    org_b: OrgId,
    site_a: SiteId,
    site_a2: SiteId,
    site_b: SiteId,
    dev_a: Uuid,
    dev_a2: Uuid,
    dev_b: Uuid,
}

async fn world() -> World {
    let db = TestDb::new().await;
    let fx = Fixtures::new(&db).await;
    let partner = fx.partner().await;
    let org_a = fx.org(partner).await;
    let org_b = fx.org(partner).await;
    let site_a = fx.site(org_a).await;
    let site_a2 = fx.site(org_a).await;
    let site_b = fx.site(org_b).await;
    fx.group(org_a, site_a).await;
    let dev_a = fx.device(org_a, site_a).await;
    let dev_a2 = fx.device(org_a, site_a2).await;
    let dev_b = fx.device(org_b, site_b).await;
    fx.partner_user(partner, SeededRole::PartnerAdmin, "all", &[])
        .await;
    let user = fx
        .org_user(partner, org_a, SeededRole::OrgTechnician, None)
        .await;
    fx.platform_admin().await;
    let family = fx.open_family(user.id).await;
    let u = *user.id.as_uuid();
    fx.exec(
        "INSERT INTO refresh_tokens (jti, family_id, user_id) VALUES ($1, $2, $3)",
        &[Uuid::new_v4(), family, u],
    )
    .await;
    fx.exec(
        "INSERT INTO mfa_recovery_codes (user_id, code_hash) VALUES ($1, repeat('f', 64))",
        &[u],
    )
    .await;
    fx.exec(
        "INSERT INTO password_resets (id, user_id, token_hash, expires_at)
         VALUES ($1, $2, repeat('9', 64), now() + interval '1 hour')",
        &[Uuid::new_v4(), u],
    )
    .await;
    fx.exec(
        "INSERT INTO notification_outbox (id, user_id, kind, recipient, body)
         VALUES ($1, $2, 'test', 'x@example.test', 'sealed')",
        &[Uuid::new_v4(), u],
    )
    .await;
    // a custom role of the partner (roles carry partner_id)
    common::audit::custom_role(&fx, partner, &["devices:read"]).await;
    fx.exec(
        "INSERT INTO api_keys (id, org_id, name, key_prefix, key_hash, scopes)
         VALUES ($1, $2, 'k', 'abcdefgh', repeat('a', 64), '{devices:read}')",
        &[Uuid::new_v4(), *org_a.as_uuid()],
    )
    .await;
    fx.exec(
        "INSERT INTO enrollment_keys (id, org_id, site_id, name, key_hash, max_usage, expires_at)
         VALUES ($1, $2, $3, 'e', repeat('b', 64), 5, now() + interval '1 day')",
        &[Uuid::new_v4(), *org_a.as_uuid(), *site_a.as_uuid()],
    )
    .await;
    // audit: entries, a checkpoint, and a retention run so every audit table has rows
    let store = app_store(&db).await;
    append_n(
        &store,
        Some(org_a),
        3,
        "device.delete",
        "device",
        days_ago(500),
    )
    .await;
    append_n(
        &store,
        Some(org_b),
        2,
        "device.delete",
        "device",
        days_ago(0),
    )
    .await;
    audit_jobs::checkpoint_all(&store, &signer(), time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    let maint = common::audit::maint_store(&db).await;
    let done = audit_jobs::retention_run(
        &maint,
        &common::audit::keys(),
        time::OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    assert_eq!(done.pruned.len(), 1);
    append_n(
        &store,
        Some(org_a),
        1,
        "device.delete",
        "device",
        days_ago(0),
    )
    .await;
    let su = db.superuser_pool().await;
    World {
        db,
        su,
        partner,
        org_a,
        org_b,
        site_a,
        site_a2,
        site_b,
        dev_a,
        dev_a2,
        dev_b,
    }
}

#[tokio::test]
async fn every_tenant_table_has_forced_rls_and_policies() {
    let db = TestDb::new().await;
    let su = db.superuser_pool().await;
    let tables = tenant_tables(&su).await;
    for must in [
        "organizations",
        "sites",
        "devices",
        "api_keys",
        "audit_log",
        "audit_checkpoints",
        "audit_anchors",
        "roles",
        "users",
    ] {
        assert!(
            tables.iter().any(|t| t == must),
            "{must} missing from {tables:?}"
        );
    }
    let rows: Vec<(String, bool, bool, i64)> = sqlx::query_as(
        "SELECT c.relname::text, c.relrowsecurity, c.relforcerowsecurity,
                (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1",
    )
    .fetch_all(&su)
    .await
    .unwrap();
    let mut failures = Vec::new();
    for (t, enabled, forced, policies) in &rows {
        let tenant = tables.contains(t);
        if tenant && !(*enabled && *forced && *policies > 0) {
            failures.push(format!(
                "{t}: enabled={enabled} forced={forced} policies={policies}"
            ));
        }
        if !tenant && !*enabled && !NO_RLS.contains(&t.as_str()) {
            failures.push(format!("{t}: no RLS and not on the reviewed NO_RLS list"));
        }
    }
    assert!(failures.is_empty(), "RLS gaps:\n{}", failures.join("\n"));

    // The tables outside RLS give the runtime role no privilege at all.
    for t in NO_RLS {
        let any: bool = sqlx::query_scalar(
            "SELECT has_table_privilege('breeze_app', $1, 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE')",
        )
        .bind(t)
        .fetch_one(&su)
        .await
        .unwrap_or(false);
        assert!(!any, "breeze_app has a privilege on {t}");
    }
    // The runtime and maintenance roles cannot bypass RLS or own tables.
    let bad: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_roles r WHERE r.rolname IN ('breeze_app', 'breeze_maint')
            AND (r.rolsuper OR r.rolbypassrls
                 OR EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid))",
    )
    .fetch_one(&su)
    .await
    .unwrap();
    assert_eq!(bad, 0);
}

#[tokio::test]
async fn without_a_context_the_runtime_role_reads_and_writes_nothing() {
    let w = world().await;
    let tables = rls_tables(&w.su).await;
    let mut empty_fixture = Vec::new();
    for t in &tables {
        let total: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {t}")))
                .fetch_one(&w.su)
                .await
                .unwrap();
        if total == 0 {
            empty_fixture.push(t.clone());
            continue;
        }
        let mut conn = bare_app(&w.db).await;
        match sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {t}")))
            .fetch_one(&mut conn)
            .await
        {
            Ok(n) => assert_eq!(n, 0, "{t}: {n} of {total} rows visible without a context"),
            Err(e) => assert_eq!(code(&e), "42501", "{t}: {e}"),
        }

        // Re-insert a copy of an existing row (generated columns left out): refused.
        let cols: Vec<String> = sqlx::query_scalar(
            "SELECT quote_ident(a.attname) FROM pg_attribute a
              WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
                AND a.attgenerated = '' ORDER BY a.attnum",
        )
        .bind(t)
        .fetch_all(&w.su)
        .await
        .unwrap();
        let cols = cols.join(", ");
        let row: serde_json::Value = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT to_jsonb(x) FROM {t} x LIMIT 1"
        )))
        .fetch_one(&w.su)
        .await
        .unwrap();
        let has_before_insert: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = $1::regclass
                              AND NOT tgisinternal AND (tgtype & 2) <> 0 AND (tgtype & 4) <> 0)",
        )
        .bind(t)
        .fetch_one(&w.su)
        .await
        .unwrap();
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {t} ({cols}) SELECT {cols} FROM jsonb_populate_record(NULL::{t}, $1)"
        )))
        .bind(&row)
        .execute(&mut conn)
        .await;
        match r {
            Ok(_) => panic!("{t}: insert without a context accepted"),
            // a BEFORE INSERT trigger (the audit chain check) may refuse first
            Err(_) if has_before_insert => {}
            Err(e) => assert_eq!(code(&e), "42501", "{t}: {e}"),
        }
    }
    for t in FILLED {
        assert!(
            !empty_fixture.iter().any(|e| e == t),
            "fixture left {t} empty"
        );
    }
    if !empty_fixture.is_empty() {
        eprintln!("note: no fixture rows in {empty_fixture:?}; only their policies were checked");
    }
}

#[tokio::test]
async fn an_org_context_cannot_touch_another_orgs_rows() {
    let w = world().await;
    let mut conn = PgConnection::connect(&w.db.url_string("breeze_app"))
        .await
        .unwrap();
    let ctx = org_ctx(w.partner, w.org_a, "*");

    let mut expect_denied = async |sql: &str, binds: Vec<Uuid>| {
        let mut tx = conn.begin().await.unwrap();
        set(&mut tx, &ctx).await;
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
        for b in binds {
            q = q.bind(b);
        }
        let r = q.execute(&mut *tx).await;
        match r {
            Ok(done) => assert_eq!(done.rows_affected(), 0, "`{sql}` changed rows"),
            Err(e) => assert_eq!(code(&e), "42501", "`{sql}`: {e}"),
        }
    };
    let (a, b) = (*w.org_a.as_uuid(), *w.org_b.as_uuid());
    let (sb, sa) = (*w.site_b.as_uuid(), *w.site_a.as_uuid());
    expect_denied(
        "INSERT INTO devices (id, org_id, site_id, agent_id, hostname, os_type)
         VALUES ($1, $2, $3, repeat('c', 64), 'evil', 'linux')",
        vec![Uuid::new_v4(), b, sb],
    )
    .await;
    expect_denied(
        "INSERT INTO sites (id, org_id, name) VALUES ($1, $2, 'evil')",
        vec![Uuid::new_v4(), b],
    )
    .await;
    expect_denied("UPDATE sites SET name = 'evil' WHERE org_id = $1", vec![b]).await;
    expect_denied(
        "UPDATE devices SET hostname = 'evil' WHERE id = $1",
        vec![w.dev_b],
    )
    .await;
    expect_denied("DELETE FROM devices WHERE org_id = $1", vec![b]).await;
    expect_denied(
        "UPDATE organizations SET name = 'evil' WHERE id = $1",
        vec![b],
    )
    .await;
    expect_denied(
        "INSERT INTO api_keys (id, org_id, name, key_prefix, key_hash, scopes)
                   VALUES ($1, $2, 'k', 'abcdefgh', repeat('d', 64), '{devices:read}')",
        vec![Uuid::new_v4(), b],
    )
    .await;
    expect_denied("SELECT * FROM breeze_audit_lock_head($1::text)", vec![b]).await;
    let _ = (a, sa);

    // Moving one's own row into another organization is refused outright (WITH CHECK).
    let mut tx = conn.begin().await.unwrap();
    set(&mut tx, &ctx).await;
    let e = sqlx::query("UPDATE devices SET org_id = $1, site_id = $2 WHERE id = $3")
        .bind(b)
        .bind(sb)
        .bind(w.dev_a)
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(code(&e), "42501", "{e}");
    drop(tx);

    // Reads of B through any path see nothing.
    let mut tx = conn.begin().await.unwrap();
    set(&mut tx, &ctx).await;
    for sql in [
        "SELECT count(*) FROM devices WHERE org_id = $1",
        "SELECT count(*) FROM sites WHERE org_id = $1",
        "SELECT count(*) FROM organizations WHERE id = $1",
        "SELECT count(*) FROM audit_log WHERE org_id = $1",
        "SELECT count(*) FROM audit_checkpoints WHERE org_id = $1",
    ] {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .bind(b)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(n, 0, "{sql}");
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM breeze_audit_heads()")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 1, "only the own chain's head");
    drop(tx);

    // B is untouched.
    let (name, host): (String, String) = sqlx::query_as(
        "SELECT s.name, d.hostname FROM sites s JOIN devices d ON d.site_id = s.id WHERE d.id = $1",
    )
    .bind(w.dev_b)
    .fetch_one(&w.su)
    .await
    .unwrap();
    assert_ne!(name, "evil");
    assert_ne!(host, "evil");
}

#[tokio::test]
async fn malformed_settings_grant_nothing() {
    let w = world().await;
    let tables = rls_tables(&w.su).await;
    let a = w.org_a.to_string();
    let p = w.partner.to_string();
    let variants: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "garbage lists in partner scope",
            vec![
                ("breeze.scope", "partner".into()),
                ("breeze.accessible_org_ids", "garbage".into()),
                ("breeze.accessible_partner_ids", "garbage".into()),
                ("breeze.current_partner_id", "garbage".into()),
                ("breeze.allowed_site_ids", "garbage".into()),
            ],
        ),
        (
            "unknown scope root",
            vec![
                ("breeze.scope", "root".into()),
                ("breeze.accessible_org_ids", "*".into()),
                ("breeze.accessible_partner_ids", "*".into()),
                ("breeze.allowed_site_ids", "*".into()),
            ],
        ),
        (
            "'*' in partner scope",
            vec![
                ("breeze.scope", "partner".into()),
                ("breeze.accessible_org_ids", "*".into()),
                ("breeze.accessible_partner_ids", "*".into()),
                ("breeze.allowed_site_ids", "*".into()),
            ],
        ),
        (
            "'*' org list in organization scope",
            vec![
                ("breeze.scope", "organization".into()),
                ("breeze.org_id", a.clone()),
                ("breeze.accessible_org_ids", "*".into()),
                ("breeze.allowed_site_ids", "*".into()),
            ],
        ),
        (
            "uppercase ids",
            vec![
                ("breeze.scope", "partner".into()),
                ("breeze.accessible_org_ids", a.to_uppercase()),
                ("breeze.accessible_partner_ids", p.to_uppercase()),
                ("breeze.allowed_site_ids", "*".into()),
            ],
        ),
        (
            "trailing comma and spaces",
            vec![
                ("breeze.scope", "partner".into()),
                ("breeze.accessible_org_ids", format!("{a},")),
                ("breeze.accessible_partner_ids", format!(" {p}")),
                ("breeze.allowed_site_ids", "*".into()),
            ],
        ),
        (
            "SQL in a setting",
            vec![
                ("breeze.scope", "system' OR '1'='1".into()),
                ("breeze.accessible_org_ids", "*".into()),
                ("breeze.accessible_partner_ids", "*".into()),
                ("breeze.allowed_site_ids", "*".into()),
            ],
        ),
        (
            "empty strings",
            vec![
                ("breeze.scope", String::new()),
                ("breeze.accessible_org_ids", String::new()),
                ("breeze.allowed_site_ids", String::new()),
            ],
        ),
    ];
    // tables keyed by user alone (refresh families, ...) are reachable by user id, which
    // none of these variants sets
    let mut conn = PgConnection::connect(&w.db.url_string("breeze_app"))
        .await
        .unwrap();
    for (name, settings) in &variants {
        for t in &tables {
            let mut tx = conn.begin().await.unwrap();
            set(&mut tx, settings).await;
            // seeded roles (partner_id NULL) are shared by design with every valid scope
            let sql = if t == "roles" {
                "SELECT count(*) FROM roles WHERE partner_id IS NOT NULL".to_owned()
            } else {
                format!("SELECT count(*) FROM {t}")
            };
            match sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut *tx)
                .await
            {
                Ok(n) => assert_eq!(n, 0, "{name}: {t} shows {n} rows"),
                Err(e) => assert_eq!(code(&e), "42501", "{name}: {t}: {e}"),
            }
        }
        let mut tx = conn.begin().await.unwrap();
        set(&mut tx, settings).await;
        let e = sqlx::query("INSERT INTO sites (id, org_id, name) VALUES ($1, $2, 'x')")
            .bind(Uuid::new_v4())
            .bind(w.org_a.as_uuid())
            .execute(&mut *tx)
            .await
            .unwrap_err();
        assert_eq!(code(&e), "42501", "{name}");
    }

    // System scope with garbage lists: system-wide rows (users, the system audit chain) stay
    // visible by design, but no organization's or partner's rows do.
    let garbage = [
        ("breeze.scope", "system".to_owned()),
        ("breeze.accessible_org_ids", "garbage".to_owned()),
        ("breeze.accessible_partner_ids", "garbage".to_owned()),
        ("breeze.allowed_site_ids", "garbage".to_owned()),
    ];
    for sql in [
        "SELECT count(*) FROM organizations",
        "SELECT count(*) FROM partners",
        "SELECT count(*) FROM sites",
        "SELECT count(*) FROM devices",
        "SELECT count(*) FROM device_groups",
        "SELECT count(*) FROM api_keys",
        "SELECT count(*) FROM enrollment_keys",
        "SELECT count(*) FROM audit_log WHERE org_id IS NOT NULL",
        "SELECT count(*) FROM audit_checkpoints WHERE org_id IS NOT NULL",
        "SELECT count(*) FROM audit_anchors",
        "SELECT count(*) FROM breeze_audit_heads() WHERE chain_key <> 'system'",
    ] {
        let mut tx = conn.begin().await.unwrap();
        set(&mut tx, &garbage).await;
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(n, 0, "system scope with garbage lists: {sql}");
    }
}

#[tokio::test]
async fn site_allow_list_is_enforced_by_the_database() {
    let w = world().await;
    let mut conn = PgConnection::connect(&w.db.url_string("breeze_app"))
        .await
        .unwrap();
    let limited = org_ctx(w.partner, w.org_a, &w.site_a.to_string());

    let mut tx = conn.begin().await.unwrap();
    set(&mut tx, &limited).await;
    let ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM devices ORDER BY id")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(ids, vec![w.dev_a], "only the device of the allowed site");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM devices WHERE site_id = $1 OR id = $2")
        .bind(w.site_a2.as_uuid())
        .bind(w.dev_a2)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 0);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sites")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 1);
    let done = sqlx::query("UPDATE devices SET hostname = 'x' WHERE id = $1")
        .bind(w.dev_a2)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 0);
    drop(tx);

    let mut tx = conn.begin().await.unwrap();
    set(&mut tx, &limited).await;
    let e = sqlx::query("UPDATE devices SET site_id = $1 WHERE id = $2")
        .bind(w.site_a2.as_uuid())
        .bind(w.dev_a)
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(code(&e), "42501");
    drop(tx);

    let mut tx = conn.begin().await.unwrap();
    set(&mut tx, &limited).await;
    let e = sqlx::query(
        "INSERT INTO devices (id, org_id, site_id, agent_id, hostname, os_type)
         VALUES ($1, $2, $3, repeat('e', 64), 'h', 'linux')",
    )
    .bind(Uuid::new_v4())
    .bind(w.org_a.as_uuid())
    .bind(w.site_a2.as_uuid())
    .execute(&mut *tx)
    .await
    .unwrap_err();
    assert_eq!(code(&e), "42501");
    drop(tx);

    // an empty list means no site at all
    let none = org_ctx(w.partner, w.org_a, "");
    let mut tx = conn.begin().await.unwrap();
    set(&mut tx, &none).await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM devices")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 0);
    drop(tx);

    // all sites: both devices of A, never B's
    let all = org_ctx(w.partner, w.org_a, "*");
    let mut tx = conn.begin().await.unwrap();
    set(&mut tx, &all).await;
    let mut ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM devices")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    ids.sort();
    let mut want = vec![w.dev_a, w.dev_a2];
    want.sort();
    assert_eq!(ids, want);
    assert!(!ids.contains(&w.dev_b));
    let _ = w.site_b;
}

/// The settings of a real context, as the store sets them.
fn ctx_settings(ctx: &breeze_authz::access::AccessContext) -> Vec<(&'static str, String)> {
    ctx.session_settings().into_iter().collect()
}

#[tokio::test]
async fn finding_11_a_narrowed_system_context_reaches_no_identity_table() {
    let w = world().await;
    let user: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE org_id = $1 LIMIT 1")
        .bind(w.org_a.as_uuid())
        .fetch_one(&w.su)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO mfa_challenges (id, user_id, token_hash, expires_at)
         VALUES ($1, $2, repeat('c', 64), now() + interval '5 minutes')",
    )
    .bind(Uuid::new_v4())
    .bind(user)
    .execute(&w.su)
    .await
    .unwrap();
    let (narrowed, _record) = breeze_authz::access::AccessContext::system_within(
        "heartbeat batch (test)",
        time::OffsetDateTime::now_utc(),
        [w.org_a],
        [w.site_a],
    )
    .unwrap();
    let settings = ctx_settings(&narrowed);
    let mut conn = bare_app(&w.db).await;

    // it still does its job: the devices of its organization and site
    let mut tx = conn.begin().await.unwrap();
    set(&mut tx, &settings).await;
    let ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM devices")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(ids, vec![w.dev_a]);
    for table in [
        "users",
        "refresh_families",
        "refresh_tokens",
        "mfa_recovery_codes",
        "mfa_challenges",
        "password_resets",
        "system_memberships",
        "notification_outbox",
    ] {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        assert_eq!(n, 0, "a narrowed system context reads {table}");
    }
    for (table, sql) in [
        ("users", "UPDATE users SET name = 'x' WHERE id = $1"),
        (
            "refresh_families",
            "UPDATE refresh_families SET revoked_at = now() WHERE user_id = $1",
        ),
        (
            "refresh_tokens",
            "UPDATE refresh_tokens SET used_at = now() WHERE user_id = $1",
        ),
        (
            "mfa_recovery_codes",
            "DELETE FROM mfa_recovery_codes WHERE user_id = $1",
        ),
        (
            "mfa_challenges",
            "UPDATE mfa_challenges SET used_at = now() WHERE user_id = $1",
        ),
        (
            "password_resets",
            "UPDATE password_resets SET used_at = now() WHERE user_id = $1",
        ),
    ] {
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user)
            .execute(&mut *tx)
            .await
            .unwrap();
        assert_eq!(
            done.rows_affected(),
            0,
            "a narrowed system context writes {table}"
        );
    }
    drop(tx);
    for (table, sql) in [
        (
            "users",
            format!(
                "INSERT INTO users (id, email, partner_id, org_id, password_hash)
                 VALUES ($1, 'n@example.test', '{}', '{}', 'x')",
                w.partner, w.org_a
            ),
        ),
        (
            "refresh_families",
            "INSERT INTO refresh_families (id, user_id, expires_at) VALUES ($1, $2, now())"
                .to_owned(),
        ),
        (
            "password_resets",
            "INSERT INTO password_resets (id, user_id, token_hash, expires_at)
             VALUES ($1, $2, repeat('7', 64), now())"
                .to_owned(),
        ),
        (
            "mfa_recovery_codes",
            "INSERT INTO mfa_recovery_codes (user_id, code_hash) VALUES ($2, repeat('e', 64))
             ON CONFLICT DO NOTHING RETURNING $1::uuid"
                .to_owned(),
        ),
    ] {
        let mut tx = conn.begin().await.unwrap();
        set(&mut tx, &settings).await;
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(Uuid::new_v4());
        if table != "users" {
            q = q.bind(user);
        }
        let e = q.execute(&mut *tx).await.unwrap_err();
        assert_eq!(
            code(&e),
            "42501",
            "a narrowed system context inserts into {table}"
        );
    }
    // the unnarrowed system context still reaches them (the test is not vacuous)
    let (system, _record) = breeze_authz::access::AccessContext::system(
        "auth flow (test)",
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    let mut tx = conn.begin().await.unwrap();
    set(&mut tx, &ctx_settings(&system)).await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM refresh_tokens")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert!(n > 0);
}

#[tokio::test]
async fn finding_13_partner_wide_writes_are_refused_by_postgres_without_the_right() {
    use breeze_authz::access::{OrgAccess, OrgRecord};
    use breeze_core::tenancy::OrgStatus;
    let w = world().await;
    let orgs = [w.org_a, w.org_b].map(|id| OrgRecord {
        id,
        partner_id: w.partner,
        status: OrgStatus::Active,
        deleted: false,
    });
    let role: Uuid = sqlx::query_scalar("SELECT id FROM roles WHERE partner_id = $1 LIMIT 1")
        .bind(w.partner.as_uuid())
        .fetch_one(&w.su)
        .await
        .unwrap();
    let ctx_for = |access: OrgAccess| partner_context(w.partner, access, &orgs);
    let mut conn = bare_app(&w.db).await;
    let p = *w.partner.as_uuid();
    for access in [OrgAccess::Selected(vec![w.org_a]), OrgAccess::None] {
        let ctx = ctx_for(access.clone());
        assert!(!ctx.can_write_partner_wide());
        let settings = ctx_settings(&ctx);
        for (what, sql) in [
            (
                "organization insert",
                "INSERT INTO organizations (id, partner_id, name) VALUES ($1, $2, 'new org')",
            ),
            (
                "custom role insert",
                "INSERT INTO roles (id, partner_id, scope, name, seeded)
                 VALUES ($1, $2, 'organization', 'sneaky', false)",
            ),
        ] {
            let mut tx = conn.begin().await.unwrap();
            set(&mut tx, &settings).await;
            let e = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(Uuid::new_v4())
                .bind(p)
                .execute(&mut *tx)
                .await
                .unwrap_err();
            assert_eq!(code(&e), "42501", "{what} with {access:?}");
        }
        for (what, sql) in [
            (
                "custom role update",
                "UPDATE roles SET name = 'renamed' WHERE id = $1 AND $2::uuid IS NOT NULL",
            ),
            (
                "custom role delete",
                "DELETE FROM roles WHERE id = $1 AND $2::uuid IS NOT NULL",
            ),
            (
                "partner row update",
                "UPDATE partners SET name = 'renamed' WHERE id = $2 AND $1::uuid IS NOT NULL",
            ),
            (
                "partner membership update",
                "UPDATE partner_memberships SET org_access = 'all', org_ids = '{}'
                  WHERE partner_id = $2 AND $1::uuid IS NOT NULL",
            ),
            (
                "partner membership delete",
                "DELETE FROM partner_memberships WHERE partner_id = $2 AND $1::uuid IS NOT NULL",
            ),
            (
                "organization delete",
                "DELETE FROM organizations WHERE partner_id = $2 AND $1::uuid IS NOT NULL",
            ),
        ] {
            let mut tx = conn.begin().await.unwrap();
            set(&mut tx, &settings).await;
            let done = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(role)
                .bind(p)
                .execute(&mut *tx)
                .await;
            let affected = match done {
                Ok(d) => d.rows_affected(),
                Err(e) => {
                    assert_eq!(code(&e), "42501", "{what} with {access:?}");
                    0
                }
            };
            assert_eq!(affected, 0, "{what} with {access:?}");
        }
    }
    // with org_access = all the same insert is allowed (the refusal is the right, not the SQL)
    let settings = ctx_settings(&ctx_for(OrgAccess::All));
    let mut tx = conn.begin().await.unwrap();
    set(&mut tx, &settings).await;
    sqlx::query("INSERT INTO organizations (id, partner_id, name) VALUES ($1, $2, 'new org')")
        .bind(Uuid::new_v4())
        .bind(p)
        .execute(&mut *tx)
        .await
        .unwrap();
    let done = sqlx::query("UPDATE roles SET name = 'renamed' WHERE id = $1")
        .bind(role)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1);
}

#[tokio::test]
async fn finding_14_device_credentials_and_ip_history_follow_site_allow_lists() {
    let w = world().await;
    for (dev, org) in [(w.dev_a, w.org_a), (w.dev_a2, w.org_a), (w.dev_b, w.org_b)] {
        sqlx::query("INSERT INTO device_credentials (device_id, org_id, agent_hash) VALUES ($1, $2, repeat('d', 64))")
            .bind(dev)
            .bind(org.as_uuid())
            .execute(&w.su)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO agent_ip_history (device_id, ip, org_id) VALUES ($1, '192.0.2.1', $2)",
        )
        .bind(dev)
        .bind(org.as_uuid())
        .execute(&w.su)
        .await
        .unwrap();
    }
    let limited = org_ctx(w.partner, w.org_a, &w.site_a.to_string());
    let mut conn = bare_app(&w.db).await;
    let mut tx = conn.begin().await.unwrap();
    set(&mut tx, &limited).await;
    for table in ["device_credentials", "agent_ip_history"] {
        let ids: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT device_id FROM {table}"
        )))
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        assert_eq!(ids, vec![w.dev_a], "{table} under a site-limited context");
    }
    let done = sqlx::query(
        "UPDATE device_credentials SET suspended = true, suspended_at = now() WHERE device_id = $1",
    )
    .bind(w.dev_a2)
    .execute(&mut *tx)
    .await
    .unwrap();
    assert_eq!(done.rows_affected(), 0);
    let done = sqlx::query("DELETE FROM agent_ip_history WHERE device_id = $1")
        .bind(w.dev_a2)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 0);
    drop(tx);
    let mut tx = conn.begin().await.unwrap();
    set(&mut tx, &limited).await;
    let e = sqlx::query(
        "INSERT INTO agent_ip_history (device_id, ip, org_id) VALUES ($1, '198.51.100.7', $2)",
    )
    .bind(w.dev_a2)
    .bind(w.org_a.as_uuid())
    .execute(&mut *tx)
    .await
    .unwrap_err();
    assert_eq!(code(&e), "42501");
    drop(tx);
    // all sites of the organization: both of A's devices, never B's
    let all = org_ctx(w.partner, w.org_a, "*");
    let mut tx = conn.begin().await.unwrap();
    set(&mut tx, &all).await;
    let mut ids: Vec<Uuid> = sqlx::query_scalar("SELECT device_id FROM device_credentials")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    ids.sort();
    let mut want = vec![w.dev_a, w.dev_a2];
    want.sort();
    assert_eq!(ids, want);
}

/// The permission-cache versions (migration 0740): forced RLS admitting only the owner, no
/// privilege for the runtime role, readable through their function only, and bumped by the
/// triggers (a membership change bumps its user; a role change bumps the global counter).
#[tokio::test]
async fn permission_versions_are_private_and_bumped_by_triggers() {
    let db = TestDb::new().await;
    let su = db.superuser_pool().await;
    let (enabled, forced): (bool, bool) = sqlx::query_as(
        "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = 'permission_versions'",
    )
    .fetch_one(&su)
    .await
    .unwrap();
    assert!(enabled && forced);
    let any: bool = sqlx::query_scalar(
        "SELECT has_table_privilege('breeze_app', 'permission_versions', 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE')",
    )
    .fetch_one(&su)
    .await
    .unwrap();
    assert!(!any, "breeze_app has a privilege on permission_versions");
    let mut app = bare_app(&db).await;
    assert!(
        sqlx::query("SELECT * FROM permission_versions")
            .fetch_all(&mut app)
            .await
            .is_err()
    );
    assert!(
        sqlx::query("SELECT breeze_bump_permission_version(gen_random_uuid())")
            .execute(&mut app)
            .await
            .is_err(),
        "the runtime role must not bump counters by hand"
    );

    let fx = Fixtures::new(&db).await;
    let partner = fx.partner().await;
    let org = fx.org(partner).await;
    let user = fx.org_user(partner, org, SeededRole::OrgViewer, None).await;
    let (g0, u0) = permission_versions(&mut app, *user.id.as_uuid()).await;
    fx.exec(
        "UPDATE org_memberships SET role_id = role_id WHERE user_id = $1",
        &[*user.id.as_uuid()],
    )
    .await;
    let (g1, u1) = permission_versions(&mut app, *user.id.as_uuid()).await;
    assert_eq!((g1, u1), (g0, u0 + 1), "a membership change bumps its user");
    fx.exec(
        "UPDATE roles SET updated_at = now() WHERE id = $1",
        &[Uuid::nil()],
    )
    .await;
    let (g2, u2) = permission_versions(&mut app, *user.id.as_uuid()).await;
    assert_eq!(
        (g2, u2),
        (g1 + 1, u1),
        "a role change bumps the global counter"
    );
}

async fn permission_versions(conn: &mut PgConnection, user: Uuid) -> (i64, i64) {
    sqlx::query_as("SELECT global_version, user_version FROM breeze_permission_versions($1)")
        .bind(user)
        .fetch_one(conn)
        .await
        .unwrap()
}

/// Partner IP allow-lists (migration 0793) follow the partner axis in PostgreSQL: a
/// partner context with the partner-wide write right writes its own list only; a partner
/// context without that right, an organization context and no context write nothing; only
/// contexts that reach the partner read it; the `cidr` type and the checks refuse a
/// malformed list even from the owner.
#[tokio::test]
async fn partner_ip_allowlists_follow_the_partner_axis() {
    use breeze_authz::access::{OrgAccess, OrgRecord};
    use breeze_core::tenancy::OrgStatus;
    let w = world().await;
    let other = {
        let fx = Fixtures::new(&w.db).await;
        fx.partner().await
    };
    let orgs = [w.org_a, w.org_b].map(|id| OrgRecord {
        id,
        partner_id: w.partner,
        status: OrgStatus::Active,
        deleted: false,
    });
    let ctx_for = |access: OrgAccess| partner_context(w.partner, access, &orgs);
    let insert = "INSERT INTO partner_ip_allowlists (partner_id, mode, cidrs)
                  VALUES ($1, 'enforce', ARRAY['192.0.2.0/24']::cidr[])";
    let mut conn = bare_app(&w.db).await;

    // no context, an organization context, a partner context without the right: refused
    let selected = ctx_settings(&ctx_for(OrgAccess::Selected(vec![w.org_a])));
    for (what, settings) in [
        ("no context", Vec::new()),
        ("organization context", org_ctx(w.partner, w.org_a, "*")),
        ("partner context, selected orgs", selected),
    ] {
        let mut tx = conn.begin().await.unwrap();
        set(&mut tx, &settings).await;
        let e = sqlx::query(insert)
            .bind(w.partner.as_uuid())
            .execute(&mut *tx)
            .await
            .unwrap_err();
        assert_eq!(code(&e), "42501", "{what}");
    }

    // the partner-wide context writes its own list, not another partner's
    let all = ctx_settings(&ctx_for(OrgAccess::All));
    let mut tx = conn.begin().await.unwrap();
    set(&mut tx, &all).await;
    sqlx::query(insert)
        .bind(w.partner.as_uuid())
        .execute(&mut *tx)
        .await
        .unwrap();
    let e = sqlx::query(insert)
        .bind(other.as_uuid())
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(code(&e), "42501", "another partner's list");
    tx.rollback().await.unwrap();
    sqlx::query(insert)
        .bind(w.partner.as_uuid())
        .execute(&w.su)
        .await
        .unwrap();

    // reading: the partner reads its list; an organization context and no context read none
    for (what, settings, want) in [
        ("partner context", all.clone(), 1i64),
        ("organization context", org_ctx(w.partner, w.org_a, "*"), 0),
        ("no context", Vec::new(), 0),
    ] {
        let mut tx = conn.begin().await.unwrap();
        set(&mut tx, &settings).await;
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM partner_ip_allowlists")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(n, want, "{what}");
        // and cannot change or delete what it cannot write
        if want == 0 {
            let changed = sqlx::query("UPDATE partner_ip_allowlists SET mode = 'off'")
                .execute(&mut *tx)
                .await
                .unwrap()
                .rows_affected();
            assert_eq!(changed, 0, "{what}");
        }
        tx.rollback().await.unwrap();
    }

    // the database refuses malformed lists whoever writes them
    for bad in [
        "INSERT INTO partner_ip_allowlists (partner_id, mode, cidrs) VALUES ($1, 'on', '{}')",
        "INSERT INTO partner_ip_allowlists (partner_id, mode, cidrs) VALUES ($1, 'enforce', '{}')",
        "INSERT INTO partner_ip_allowlists (partner_id, mode, cidrs)
         VALUES ($1, 'off', ARRAY['10.0.0.5/8']::cidr[])",
        "INSERT INTO partner_ip_allowlists (partner_id, mode, cidrs)
         VALUES ($1, 'off', (SELECT array_agg(('10.0.' || i || '.0/24')::cidr)
                               FROM generate_series(0, 100) i))",
    ] {
        assert!(
            sqlx::query(sqlx::AssertSqlSafe(bad))
                .bind(other.as_uuid())
                .execute(&w.su)
                .await
                .is_err(),
            "{bad}"
        );
    }
}

/// The context of a partner user with `access` over `orgs` (a random user and role).
fn partner_context(
    partner: PartnerId,
    access: breeze_authz::access::OrgAccess,
    orgs: &[breeze_authz::access::OrgRecord],
) -> breeze_authz::access::AccessContext {
    use breeze_authz::access::{
        MembershipState, Memberships, PartnerMembership, Principal, resolve,
    };
    use breeze_core::tenancy::{RoleId, UserId};
    resolve(
        &Principal::User {
            user_id: UserId::new_random(),
            memberships: Memberships {
                partner: Some(PartnerMembership {
                    partner_id: partner,
                    role_id: RoleId::new_random(),
                    org_access: access,
                    state: MembershipState::Active,
                }),
                ..Memberships::default()
            },
        },
        orgs,
    )
    .unwrap()
}
