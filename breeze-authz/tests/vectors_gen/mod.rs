//! Builds the shared vectors of `vectors/authz/` (used by `examples/gen_vectors.rs`, which
//! writes them, and by `tests/vectors.rs`, which fails when the checked-in copy is stale).
//! Inputs are fixed; expected outputs are computed by this crate.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "generator and test code"
)]

use std::path::PathBuf;

use breeze_authz::access::{
    AccessContext, MembershipState, Memberships, OrgAccess, OrgMembership, OrgRecord,
    PartnerMembership, Principal, SiteAccess, SystemMembership, resolve,
};
use breeze_authz::ai::{AiScope, TOOLS};
use breeze_authz::api_key::{ApiKeyRecord, ApiKeyScopes, ApiKeyStatus};
use breeze_authz::approval::{
    ARGUMENT_DIGEST_DOMAIN, Approval, ArgumentDigest, EXECUTION_WINDOW, FRESH_FACTOR_WINDOW,
    MAX_ARGUMENT_BYTES, MAX_ARGUMENT_DEPTH,
};
use breeze_authz::mfa::{
    MFA_ENROLLMENT_REQUIRED_BODY, MFA_ENROLLMENT_REQUIRED_STATUS, MfaGate, MfaPolicy,
};
use breeze_authz::permission::{Grant, Permission};
use breeze_authz::registry::Registry;
use breeze_authz::risk::{
    APPROVAL_TTL, ApprovalRequest, ApprovalVerdict, Approver, PolicyScope, RiskEngine, RiskLevel,
    ToolCatalogue, ToolTarget,
};
use breeze_authz::seeded::SeededRole;
use breeze_authz::session::{SessionInvalid, TokenFacts, UserFacts, check_session};
use breeze_core::tenancy::{
    ApiKeyId, DeviceGroupId, DeviceId, OrgId, OrgStatus, PartnerId, RoleId, SiteId, UserId,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

#[path = "../../../vectors/gen_support.rs"]
pub mod support;

/// The folder of the files under `vectors/`.
pub const DIR: &str = "authz";

/// The command that rewrites the files.
pub const COMMAND: &str = "cargo run -p breeze-authz --example gen_vectors";

/// `vectors/<DIR>` in this checkout.
pub fn dir() -> PathBuf {
    support::dir(env!("CARGO_MANIFEST_DIR"), DIR)
}

/// Every vector file: (file name under `vectors/<DIR>/`, pretty JSON text).
pub fn all() -> Vec<(String, String)> {
    support::pretty([
        ("permissions.json", permissions()),
        ("scopes.json", scopes()),
        ("risk.json", risk()),
        ("access.json", access()),
        ("mfa.json", mfa()),
        ("session.json", session()),
        ("approvals.json", approvals()),
    ])
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0000 | n)
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).expect("formats")
}

pub fn parse_time(s: &str) -> OffsetDateTime {
    OffsetDateTime::parse(s, &Rfc3339).expect("rfc3339")
}

fn permissions() -> Value {
    let registry = Registry::spec();
    let roles: Vec<Value> = SeededRole::ALL
        .iter()
        .map(|r| {
            json!({
                "name": r.name(),
                "scope": r.scope(),
                "force_mfa": r.force_mfa(),
                "grants": r.grant_strings(),
            })
        })
        .collect();
    let mut checks = Vec::new();
    for role in SeededRole::ALL {
        let set = role
            .role()
            .compile(&registry)
            .expect("seeded roles compile");
        for p in registry.iter() {
            checks.push(json!({
                "role": role.name(),
                "permission": p.to_string(),
                "allowed": set.allows_permission(&registry, p),
            }));
        }
    }
    let grant_cases = [
        ("*:*", "billing:manage"),
        ("devices:*", "devices:execute"),
        ("devices:*", "scripts:execute"),
        ("devices:*", "devices-admin:read"),
        ("*:read", "audit:read"),
        ("*:read", "audit:export"),
        ("*:read", "reads:write"),
        ("devices:read", "devices:read"),
        ("devices:read", "devices:readx"),
        ("remote:access", "remote:accessible"),
    ];
    let grant_matches: Vec<Value> = grant_cases
        .iter()
        .map(|(g, p)| {
            let grant: Grant = g.parse().expect("grant");
            let permission: Permission = p.parse().expect("permission");
            json!({"grant": g, "permission": p, "matches": grant.matches(&permission)})
        })
        .collect();
    let invalid = [
        "",
        "devices",
        "devices:",
        ":read",
        "Devices:read",
        "devices:read:x",
        "dev ices:read",
        "*",
        "**:read",
        "devices:re*",
    ];
    let invalid_grants: Vec<Value> = invalid
        .iter()
        .map(|s| json!({"input": s, "error_code": s.parse::<Grant>().expect_err("invalid").code()}))
        .collect();
    let full_wildcard_roles: Vec<Value> = ["system", "partner", "organization"]
        .iter()
        .map(|scope| json!({"scope": scope, "grant": "*:*", "allowed": *scope == "system"}))
        .collect();
    json!({
        "description": "SPEC 5: the registry, every seeded role's grants, and the answer for every (role, permission). Generated by `cargo run -p breeze-authz --example gen_vectors`.",
        "registry": registry.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "roles": roles,
        "checks": checks,
        "grant_matches": grant_matches,
        "invalid_grants": invalid_grants,
        "full_wildcard_by_scope": full_wildcard_roles,
    })
}

fn scopes() -> Value {
    let lists: &[&[&str]] = &[
        &["*"],
        &["*:*"],
        &["devices:*"],
        &["*:read"],
        &["devices:read", "scripts:execute"],
        &[],
    ];
    let wanted = [
        "devices:read",
        "devices:delete",
        "scripts:execute",
        "audit:read",
        "billing:manage",
    ];
    let mut cases = Vec::new();
    for list in lists {
        let parsed = ApiKeyScopes::parse(list.iter()).expect("valid scopes");
        for w in wanted {
            let p: Permission = w.parse().expect("permission");
            cases.push(json!({"scopes": list, "permission": w, "allowed": parsed.allows(&p)}));
        }
    }
    let bad: &[&[&str]] = &[
        &["devices"],
        &["devices:read", "DEVICES:read"],
        &["**"],
        &[" *"],
        &[""],
    ];
    let invalid: Vec<Value> = bad
        .iter()
        .map(|list| {
            let code = ApiKeyScopes::parse(list.iter())
                .expect_err("invalid")
                .code();
            json!({"scopes": list, "error_code": code})
        })
        .collect();
    let now = parse_time("2026-06-01T12:00:00Z");
    let statuses = [
        (ApiKeyStatus::Active, None),
        (ApiKeyStatus::Active, Some("2026-06-01T12:00:01Z")),
        (ApiKeyStatus::Active, Some("2026-06-01T12:00:00Z")),
        (ApiKeyStatus::Active, Some("2025-01-01T00:00:00Z")),
        (ApiKeyStatus::Revoked, None),
        (ApiKeyStatus::Revoked, Some("2025-01-01T00:00:00Z")),
        (ApiKeyStatus::Expired, None),
        (ApiKeyStatus::Expired, Some("2030-01-01T00:00:00Z")),
    ];
    let key_status: Vec<Value> = statuses
        .iter()
        .map(|(status, expires)| {
            let record = ApiKeyRecord {
                id: ApiKeyId::from_uuid(id(1)),
                org_id: OrgId::from_uuid(id(2)),
                status: *status,
                expires_at: expires.map(parse_time),
                scopes: ApiKeyScopes::default(),
            };
            let outcome = match record.check(now) {
                Ok(_) => "usable".to_owned(),
                Err(e) => e.code().to_owned(),
            };
            json!({"status": status, "expires_at": expires, "now": rfc3339(now), "outcome": outcome})
        })
        .collect();
    json!({
        "description": "SPEC 3.3: API-key scope matching, invalid scope lists, and key status/expiry decisions. Generated by `cargo run -p breeze-authz --example gen_vectors`.",
        "matches": cases,
        "invalid": invalid,
        "key_status": key_status,
    })
}

fn risk_target() -> ToolTarget {
    ToolTarget {
        partner_id: PartnerId::from_uuid(id(0x10)),
        org_id: OrgId::from_uuid(id(0x11)),
        site_id: Some(SiteId::from_uuid(id(0x12))),
        device_group_id: Some(DeviceGroupId::from_uuid(id(0x13))),
    }
}

/// The policies of the risk vectors: (scope, tool, level).
pub fn risk_policies() -> Vec<(PolicyScope, &'static str, RiskLevel)> {
    let t = risk_target();
    let site = t.site_id.expect("site");
    let group = t.device_group_id.expect("group");
    vec![
        (
            PolicyScope::Partner(t.partner_id),
            "run_script",
            RiskLevel::Medium,
        ),
        (
            PolicyScope::Organization(t.org_id),
            "run_script",
            RiskLevel::Low,
        ),
        (PolicyScope::Site(site), "run_script", RiskLevel::High),
        (
            PolicyScope::Organization(t.org_id),
            "manage_alerts",
            RiskLevel::Low,
        ),
        (
            PolicyScope::DeviceGroup(group),
            "query_devices",
            RiskLevel::High,
        ),
        (
            PolicyScope::Partner(t.partner_id),
            "execute_command",
            RiskLevel::Critical,
        ),
        (
            PolicyScope::DeviceGroup(group),
            "execute_command",
            RiskLevel::Low,
        ),
        (PolicyScope::Site(site), "wipe_device", RiskLevel::Critical),
    ]
}

fn risk() -> Value {
    let mut engine = RiskEngine::new(ToolCatalogue::default_catalogue());
    let policies: Vec<Value> = risk_policies()
        .into_iter()
        .map(|(scope, tool, level)| {
            engine
                .set_override(scope, tool, level)
                .expect("valid policy");
            json!({"scope": scope, "tool": tool, "level": level})
        })
        .collect();
    let t = risk_target();
    let other = ToolTarget {
        partner_id: PartnerId::from_uuid(id(0x20)),
        org_id: OrgId::from_uuid(id(0x21)),
        site_id: None,
        device_group_id: None,
    };
    let org_only = ToolTarget {
        site_id: None,
        device_group_id: None,
        ..t
    };
    let tools = [
        "query_devices",
        "manage_alerts",
        "run_script",
        "execute_command",
        "wipe_device",
        "deploy_patches",
        "no_such_tool",
        "Bad Tool",
    ];
    let mut cases = Vec::new();
    for target in [t, org_only, other] {
        for tool in tools {
            let d = engine.decide(tool, &target);
            cases.push(json!({
                "tool": tool,
                "target": target,
                "level": d.level,
                "outcome": d.outcome,
                "source": d.source,
                "ignored_override": d.ignored_override,
            }));
        }
    }
    let refused_inputs = [
        (
            PolicyScope::Organization(t.org_id),
            "wipe_device",
            RiskLevel::High,
        ),
        (
            PolicyScope::Partner(t.partner_id),
            "bulk_delete",
            RiskLevel::Low,
        ),
        (
            PolicyScope::Site(t.site_id.expect("site")),
            "no_such_tool",
            RiskLevel::Low,
        ),
        (
            PolicyScope::Site(t.site_id.expect("site")),
            "Bad Tool",
            RiskLevel::Low,
        ),
    ];
    let refused: Vec<Value> = refused_inputs
        .iter()
        .map(|(scope, tool, level)| {
            let mut e = RiskEngine::new(ToolCatalogue::default_catalogue());
            let code = e
                .set_override(*scope, tool, *level)
                .expect_err("refused")
                .code();
            json!({"scope": scope, "tool": tool, "level": level, "error_code": code})
        })
        .collect();
    let catalogue: Vec<Value> = engine
        .catalogue()
        .tools()
        .into_iter()
        .map(|(tool, level)| json!({"tool": tool, "level": level}))
        .collect();
    json!({
        "description": "SPEC 10: the default tool catalogue, policy overrides (most specific wins, critical is a floor), decisions, and refused overrides. Generated by `cargo run -p breeze-authz --example gen_vectors`.",
        "catalogue": catalogue,
        "policies": policies,
        "decisions": cases,
        "refused_policies": refused,
    })
}

/// The organizations of the access vectors.
pub fn access_orgs() -> Vec<OrgRecord> {
    let p1 = PartnerId::from_uuid(id(0x100));
    let p2 = PartnerId::from_uuid(id(0x200));
    let rec = |n, partner, status, deleted| OrgRecord {
        id: OrgId::from_uuid(id(n)),
        partner_id: partner,
        status,
        deleted,
    };
    vec![
        rec(0x101, p1, OrgStatus::Active, false),
        rec(0x102, p1, OrgStatus::Trial, false),
        rec(0x103, p1, OrgStatus::Suspended, false),
        rec(0x104, p1, OrgStatus::Offboarding, false),
        rec(0x105, p1, OrgStatus::Active, true),
        rec(0x201, p2, OrgStatus::Active, false),
    ]
}

fn user(n: u128, memberships: Memberships) -> Value {
    json!({"kind": "user", "user_id": UserId::from_uuid(id(n)), "memberships": memberships})
}

fn partner_m(access: OrgAccess, state: MembershipState) -> PartnerMembership {
    PartnerMembership {
        partner_id: PartnerId::from_uuid(id(0x100)),
        role_id: RoleId::from_uuid(id(0x900)),
        org_access: access,
        state,
    }
}

fn org_m(org: u128, sites: SiteAccess, state: MembershipState) -> OrgMembership {
    OrgMembership {
        org_id: OrgId::from_uuid(id(org)),
        role_id: RoleId::from_uuid(id(0x901)),
        sites,
        state,
    }
}

/// Turns a vector principal back into a [`Principal`] (shared with the replay test).
pub fn principal_from(v: &Value) -> Principal {
    let uuid = |k: &str| v[k].as_str().expect("id").parse::<Uuid>().expect("uuid");
    match v["kind"].as_str().expect("kind") {
        "user" => Principal::User {
            user_id: UserId::from_uuid(uuid("user_id")),
            memberships: serde_json::from_value(v["memberships"].clone()).expect("memberships"),
        },
        "agent" => Principal::Agent {
            device_id: DeviceId::from_uuid(uuid("device_id")),
            org_id: OrgId::from_uuid(uuid("org_id")),
            site_id: SiteId::from_uuid(uuid("site_id")),
        },
        "api_key" => {
            let record = ApiKeyRecord {
                id: ApiKeyId::from_uuid(uuid("key_id")),
                org_id: OrgId::from_uuid(uuid("org_id")),
                status: ApiKeyStatus::Active,
                expires_at: None,
                scopes: ApiKeyScopes::parse(
                    v["scopes"]
                        .as_array()
                        .expect("scopes")
                        .iter()
                        .map(|s| s.as_str().expect("str")),
                )
                .expect("scopes"),
            };
            Principal::ApiKey(record.check(OffsetDateTime::UNIX_EPOCH).expect("usable"))
        }
        other => panic!("unknown principal kind {other}"),
    }
}

/// The expected result of resolving a vector principal (shared with the replay test).
pub fn resolution(principal: &Principal, orgs: &[OrgRecord]) -> Value {
    match resolve(principal, orgs) {
        Ok(ctx) => {
            let settings: serde_json::Map<String, Value> = ctx
                .session_settings()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), Value::String(v)))
                .collect();
            json!({
                "ok": {
                    "scope": ctx.scope(),
                    "actor": ctx.actor(),
                    "can_write_partner_wide": ctx.can_write_partner_wide(),
                    "org_offboarding": ctx.org_offboarding(),
                    "session_settings": settings,
                }
            })
        }
        Err(e) => json!({"error": e.code()}),
    }
}

fn access() -> Value {
    use MembershipState::{Active, Inactive};
    let orgs = access_orgs();
    let site = |n| SiteId::from_uuid(id(n));
    let all_orgs = |ids: &[u128]| {
        ids.iter()
            .map(|n| OrgId::from_uuid(id(*n)))
            .collect::<Vec<_>>()
    };
    let principals: Vec<(&str, Value)> = vec![
        (
            "partner all: active and trial orgs only",
            user(
                1,
                Memberships {
                    partner: Some(partner_m(OrgAccess::All, Active)),
                    ..Memberships::default()
                },
            ),
        ),
        (
            "partner selected: unselected, suspended, deleted and foreign orgs never resolve",
            user(
                2,
                Memberships {
                    partner: Some(partner_m(
                        OrgAccess::Selected(all_orgs(&[0x101, 0x103, 0x105, 0x201])),
                        Active,
                    )),
                    ..Memberships::default()
                },
            ),
        ),
        (
            "partner none: nothing",
            user(
                3,
                Memberships {
                    partner: Some(partner_m(OrgAccess::None, Active)),
                    ..Memberships::default()
                },
            ),
        ),
        (
            "inactive partner membership: 401",
            user(
                4,
                Memberships {
                    partner: Some(partner_m(OrgAccess::All, Inactive)),
                    ..Memberships::default()
                },
            ),
        ),
        ("no membership: 401", user(5, Memberships::default())),
        (
            "organization membership wins over partner membership",
            user(
                6,
                Memberships {
                    partner: Some(partner_m(OrgAccess::All, Active)),
                    organization: Some(org_m(0x102, SiteAccess::All, Active)),
                    system: None,
                },
            ),
        ),
        (
            "organization membership with a site list",
            user(
                7,
                Memberships {
                    organization: Some(org_m(
                        0x101,
                        SiteAccess::Only(vec![site(0x302), site(0x301)]),
                        Active,
                    )),
                    ..Memberships::default()
                },
            ),
        ),
        (
            "organization membership with an empty site list: no site",
            user(
                8,
                Memberships {
                    organization: Some(org_m(0x101, SiteAccess::Only(vec![]), Active)),
                    ..Memberships::default()
                },
            ),
        ),
        (
            "organization membership of a suspended org: 401",
            user(
                9,
                Memberships {
                    organization: Some(org_m(0x103, SiteAccess::All, Active)),
                    ..Memberships::default()
                },
            ),
        ),
        (
            "system membership",
            user(
                10,
                Memberships {
                    system: Some(SystemMembership {
                        role_id: RoleId::from_uuid(id(0x902)),
                        state: Active,
                    }),
                    ..Memberships::default()
                },
            ),
        ),
        (
            "api key",
            json!({"kind": "api_key", "key_id": id(0x401), "org_id": id(0x101), "scopes": ["devices:read"]}),
        ),
        (
            "api key of a deleted org: 401",
            json!({"kind": "api_key", "key_id": id(0x402), "org_id": id(0x105), "scopes": ["*"]}),
        ),
        (
            "agent",
            json!({"kind": "agent", "device_id": id(0x501), "org_id": id(0x101), "site_id": id(0x301)}),
        ),
        (
            "agent of an offboarding org",
            json!({"kind": "agent", "device_id": id(0x502), "org_id": id(0x104), "site_id": id(0x303)}),
        ),
        (
            "agent of a suspended org: 401",
            json!({"kind": "agent", "device_id": id(0x503), "org_id": id(0x103), "site_id": id(0x304)}),
        ),
    ];
    let cases: Vec<Value> = principals
        .into_iter()
        .map(|(name, p)| {
            let expected = resolution(&principal_from(&p), &orgs);
            json!({"name": name, "principal": p, "expected": expected})
        })
        .collect();
    json!({
        "description": "SPEC 1.1/1.2: access resolution from a principal and the organizations loaded for it, to the scope and the PostgreSQL session settings. Generated by `cargo run -p breeze-authz --example gen_vectors`.",
        "orgs": orgs,
        "cases": cases,
    })
}

fn mfa() -> Value {
    let policy = MfaPolicy::default();
    let paths = [
        "/api/v1/devices",
        "/api/v1/auth/logout",
        "/api/v1/users/me",
        "/api/v1/users/me/",
        "/api/v1/users/me?x=1",
        "/api/v1/auth/mfa/setup",
        "/api/v1/auth/mfa/confirm",
        "/api/v1/users/me/../devices",
        "/api/v1//users/me",
        "/api/v1/users/%6de",
        "/api/v1/users/mex",
    ];
    let mut cases = Vec::new();
    for path in paths {
        for (requires, enrolled) in [(true, false), (true, true), (false, false)] {
            let gate = policy.decide(requires, enrolled, path);
            cases.push(json!({
                "role_requires_mfa": requires,
                "mfa_enrolled": enrolled,
                "path": path,
                "enrollment_required": gate == MfaGate::EnrollmentRequired,
            }));
        }
    }
    json!({
        "description": "SPEC 2.4 force-MFA: which requests get the 428. Generated by `cargo run -p breeze-authz --example gen_vectors`.",
        "status": MFA_ENROLLMENT_REQUIRED_STATUS,
        "body": MFA_ENROLLMENT_REQUIRED_BODY,
        "exempt_paths": policy.exempt_paths(),
        "cases": cases,
    })
}

/// The outcome of [`check_session`] in the vector format: `valid` or the error code.
pub fn session_outcome(user: &UserFacts, token: &TokenFacts) -> &'static str {
    match check_session(user, token) {
        Ok(()) => "valid",
        Err(e) => e.code(),
    }
}

fn session() -> Value {
    // 2026-01-01T00:00:00Z: the last password change of the base user.
    const CHANGED: i64 = 1_767_225_600;
    let user = UserFacts {
        active: true,
        auth_epoch: 4,
        mfa_epoch: 2,
        password_changed_at: CHANGED,
        mfa_enabled: true,
    };
    let token = TokenFacts {
        aep: 4,
        mep: 2,
        iat: CHANGED + 300,
        mfa: true,
    };
    let mut cases = Vec::new();
    let mut case = |name: String, user: UserFacts, token: TokenFacts| {
        cases.push(json!({
            "name": name,
            "user": user,
            "token": token,
            "outcome": session_outcome(&user, &token),
        }));
    };
    case("current".into(), user, token);
    case(
        "inactive_user".into(),
        UserFacts {
            active: false,
            ..user
        },
        token,
    );
    case(
        "auth_epoch_bumped".into(),
        UserFacts {
            auth_epoch: 5,
            ..user
        },
        token,
    );
    case(
        "mfa_epoch_bumped".into(),
        UserFacts {
            mfa_epoch: 3,
            ..user
        },
        token,
    );
    case(
        "token_epoch_ahead".into(),
        user,
        TokenFacts { aep: 9, ..token },
    );
    case(
        "issued_a_second_before_password_change".into(),
        user,
        TokenFacts {
            iat: CHANGED - 1,
            ..token
        },
    );
    case(
        "issued_in_the_second_of_password_change".into(),
        user,
        TokenFacts {
            iat: CHANGED,
            ..token
        },
    );
    case(
        "mfa_not_completed".into(),
        user,
        TokenFacts {
            mfa: false,
            ..token
        },
    );
    case(
        "no_mfa_user_without_mfa".into(),
        UserFacts {
            mfa_enabled: false,
            ..user
        },
        TokenFacts {
            mfa: false,
            ..token
        },
    );
    // The largest integer every binding's number type holds exactly (2^53 - 1).
    const MAX_SAFE: u64 = 9_007_199_254_740_991;
    let big_user = UserFacts {
        auth_epoch: MAX_SAFE,
        mfa_epoch: MAX_SAFE,
        ..user
    };
    case(
        "largest_epochs".into(),
        big_user,
        TokenFacts {
            aep: MAX_SAFE,
            mep: MAX_SAFE,
            ..token
        },
    );
    case(
        "largest_epochs_off_by_one".into(),
        big_user,
        TokenFacts {
            aep: MAX_SAFE,
            mep: MAX_SAFE - 1,
            ..token
        },
    );
    case(
        "pre_epoch_times".into(),
        UserFacts {
            password_changed_at: -86_400,
            ..user
        },
        TokenFacts {
            iat: -86_399,
            ..token
        },
    );
    // Every combination of one fault per check, so the order is in the file.
    for active in [true, false] {
        for aep in [4, 3] {
            for mep in [2, 1] {
                for iat in [CHANGED + 1, CHANGED, CHANGED - 1] {
                    for (mfa_enabled, mfa) in
                        [(false, false), (false, true), (true, false), (true, true)]
                    {
                        let u = UserFacts {
                            active,
                            mfa_enabled,
                            ..user
                        };
                        let t = TokenFacts { aep, mep, iat, mfa };
                        case(
                            format!(
                                "matrix/active={active},aep={aep},mep={mep},iat=changed{:+},mfa_enabled={mfa_enabled},mfa={mfa}",
                                iat - CHANGED
                            ),
                            u,
                            t,
                        );
                    }
                }
            }
        }
    }
    json!({
        "description": "SPEC 2.2/2.3 session validity: a verified token (its aep, mep, iat and mfa claims) against the user's current row. The checks run in the order of `checks` and the first failure is the outcome (its code), else `valid`. Times are Unix seconds. Generated by `cargo run -p breeze-authz --example gen_vectors`.",
        "checks": SessionInvalid::ALL.iter().map(|e| e.code()).collect::<Vec<_>>(),
        "cases": cases,
    })
}

/// The outcome of digesting `arguments_json` (JSON text) for `tool`: the hex, or the error
/// code (text that is not JSON is `invalid_arguments` too: it cannot be an argument object).
pub fn digest_outcome(tool: &str, arguments_json: &str) -> Result<String, &'static str> {
    let invalid = breeze_authz::risk::ApprovalError::InvalidArguments;
    let value: Value = serde_json::from_str(arguments_json).map_err(|_| invalid.code())?;
    ArgumentDigest::of(tool, &value)
        .map(|d| d.to_hex())
        .map_err(|e| e.code())
}

fn nested_json(depth: usize) -> String {
    // `{}` is depth 1; each `{"a": ...}` adds one.
    let mut text = "{}".to_owned();
    for _ in 1..depth {
        text = format!("{{\"a\":{text}}}");
    }
    text
}

/// `{"s":"xxx..."}` whose canonical form wrapped for `tool` is exactly `bytes` long.
fn sized_json(tool: &str, bytes: usize) -> String {
    let overhead = format!(r#"{{"arguments":{{"s":""}},"tool":"{tool}"}}"#).len();
    format!(r#"{{"s":"{}"}}"#, "x".repeat(bytes - overhead))
}

/// The AI scopes as their strings.
fn ai_scope(s: &str) -> AiScope {
    [AiScope::Read, AiScope::Write, AiScope::Execute]
        .into_iter()
        .find(|a| a.as_str() == s)
        .expect("an ai scope")
}

/// Whether the scope list names `scope` (shared with the replay test).
pub fn ai_scope_named(scopes: &[&str], scope: &str) -> bool {
    ai_scope(scope).named_by(&ApiKeyScopes::parse(scopes).expect("valid scopes"))
}

/// The MCP tools with their AI scope, the permission their creator must hold and the default
/// risk level (shared with the replay test).
pub fn ai_tools() -> Value {
    let catalogue = ToolCatalogue::default_catalogue();
    TOOLS
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "scope": t.scope.as_str(),
                "permission": t.permission,
                "level": catalogue.level(t.name).expect("every tool is in the catalogue"),
            })
        })
        .collect()
}

/// The fixed world of the lifecycle vectors: one partner, one active organization, the
/// requester and another user.
pub struct LifecycleWorld {
    partner: PartnerId,
    org: OrgRecord,
    requester: UserId,
    other: UserId,
    registry: Registry,
}

impl LifecycleWorld {
    /// The world of `approvals.json`.
    pub fn new() -> Self {
        let partner = PartnerId::from_uuid(id(0x600));
        Self {
            partner,
            org: OrgRecord {
                id: OrgId::from_uuid(id(0x601)),
                partner_id: partner,
                status: OrgStatus::Active,
                deleted: false,
            },
            requester: UserId::from_uuid(id(0x610)),
            other: UserId::from_uuid(id(0x611)),
            registry: Registry::spec(),
        }
    }

    /// The partner, organization, requester and other user.
    pub fn ids(&self) -> (PartnerId, OrgId, UserId, UserId) {
        (self.partner, self.org.id, self.requester, self.other)
    }

    fn context(&self, who: &str, in_scope: bool, now: OffsetDateTime) -> AccessContext {
        let user = match who {
            "requester" => self.requester,
            "other" => self.other,
            "system" => {
                return AccessContext::system("vectors", now).expect("reason").0;
            }
            other => panic!("unknown approver {other}"),
        };
        let access = if in_scope {
            OrgAccess::All
        } else {
            OrgAccess::None
        };
        let principal = Principal::User {
            user_id: user,
            memberships: Memberships {
                partner: Some(PartnerMembership {
                    partner_id: self.partner,
                    role_id: RoleId::from_uuid(id(0x620)),
                    org_access: access,
                    state: MembershipState::Active,
                }),
                ..Memberships::default()
            },
        };
        resolve(&principal, &[self.org]).expect("resolves")
    }

    /// Runs one lifecycle case (`requested_at`, `arguments`, `steps` without `expected`)
    /// and returns each step's outcome: `{"status": ...}` (after a decide or execute, the
    /// stored status of the next approval; for `status`, the status at `now`) or
    /// `{"error": code}` (the approval is unchanged).
    pub fn run(&self, tool: &str, case: &Value) -> Vec<Value> {
        let requested_at = parse_time(case["requested_at"].as_str().expect("requested_at"));
        let target = ToolTarget {
            partner_id: self.partner,
            org_id: self.org.id,
            site_id: None,
            device_group_id: None,
        };
        let decision = RiskEngine::new(ToolCatalogue::default_catalogue()).decide(tool, &target);
        let request =
            ApprovalRequest::new(decision, self.requester, requested_at).expect("high risk");
        let arguments = case["arguments"].to_string();
        let digest = |text: &str| -> ArgumentDigest {
            digest_outcome(tool, text)
                .expect("valid arguments")
                .parse()
                .expect("hex")
        };
        let mut approval = Approval::new(request, digest(&arguments));
        let decider = SeededRole::SecurityApprover
            .role()
            .compile(&self.registry)
            .expect("compiles");
        let technician = SeededRole::PartnerTechnician
            .role()
            .compile(&self.registry)
            .expect("compiles");
        let mut outcomes = Vec::new();
        for step in case["steps"].as_array().expect("steps") {
            let now = parse_time(step["now"].as_str().expect("now"));
            let result = match step["op"].as_str().expect("op") {
                "status" => Ok(approval.status_at(now)),
                "decide" => {
                    let a = &step["approver"];
                    let context = self.context(
                        a["who"].as_str().expect("who"),
                        a["in_scope"].as_bool().expect("in_scope"),
                        now,
                    );
                    let approver = Approver {
                        context: &context,
                        permissions: if a["has_permission"].as_bool().expect("has_permission") {
                            &decider
                        } else {
                            &technician
                        },
                        registry: &self.registry,
                    };
                    let verdict: ApprovalVerdict =
                        serde_json::from_value(step["verdict"].clone()).expect("verdict");
                    let factor = step["factor_verified_at"].as_str().map(parse_time);
                    approval
                        .decide(approver, verdict, step["reason"].as_str(), factor, now)
                        .map(|(next, _record)| {
                            approval = next;
                            approval.stored_status()
                        })
                }
                "execute" => approval
                    .execute(&digest(&step["arguments"].to_string()), now)
                    .map(|next| {
                        approval = next;
                        approval.stored_status()
                    }),
                other => panic!("unknown op {other}"),
            };
            outcomes.push(match result {
                Ok(status) => json!({"status": status}),
                Err(e) => json!({"error": e.code()}),
            });
        }
        outcomes
    }
}

fn approvals() -> Value {
    const TOOL: &str = "queue_script";
    let mut digests = Vec::new();
    let mut digest_case = |name: &str, tool: &str, text: String| {
        let mut case = json!({"name": name, "tool": tool, "arguments_json": text});
        match digest_outcome(tool, &text) {
            Ok(hex) => case["hex"] = json!(hex),
            Err(code) => case["error_code"] = json!(code),
        }
        digests.push(case);
    };
    let base = r#"{"deviceId":"7c1f0a52-0000-4000-8000-000000000001","script":"uname -a"}"#;
    digest_case("canonical text", TOOL, base.into());
    digest_case(
        "same arguments, keys reordered and whitespace added: same hex",
        TOOL,
        "{\n  \"script\" : \"uname -a\",\r\n\t\"deviceId\": \"7c1f0a52-0000-4000-8000-000000000001\"\n}".into(),
    );
    digest_case(
        "one character of a value changed",
        TOOL,
        base.replace("uname -a", "uname -A"),
    );
    digest_case("same arguments, another tool", "run_script", base.into());
    digest_case(
        "nested objects, arrays and every scalar",
        TOOL,
        r#"{"z":[3,2,1,{"b":true,"a":null}],"options":{"timeout":30,"shell":"bash","env":{"B":"2","A":"1"}},"n":-12,"f":1.5,"big":18446744073709551615,"text":"é \u0001 \" \\ \n"}"#.into(),
    );
    digest_case(
        "the same, keys reordered and escapes written differently: same hex",
        TOOL,
        r#"{"text":"\u00e9 \u0001 \" \\ \u000a","n":-12,"options":{"env":{"A":"1","B":"2"},"shell":"bash","timeout":30},"f":1.5,"big":18446744073709551615,"z":[3,2,1,{"a":null,"b":true}]}"#.into(),
    );
    digest_case(
        "array order matters",
        TOOL,
        r#"{"z":[1,2,3,{"b":true,"a":null}],"options":{"timeout":30,"shell":"bash","env":{"B":"2","A":"1"}},"n":-12,"f":1.5,"big":18446744073709551615,"text":"é \u0001 \" \\ \n"}"#.into(),
    );
    digest_case("integer 1", TOOL, r#"{"n":1}"#.into());
    digest_case(
        "float 1.0 is not integer 1 (canonical floats keep their fraction)",
        TOOL,
        r#"{"n":1.0}"#.into(),
    );
    digest_case("string \"1\"", TOOL, r#"{"n":"1"}"#.into());
    digest_case("null value", TOOL, r#"{"n":null}"#.into());
    digest_case("empty object", TOOL, "{}".into());
    digest_case(
        "duplicate keys: the last one wins (as when the server parses the call)",
        TOOL,
        r#"{"n":"1","n":1}"#.into(),
    );
    digest_case(
        &format!("depth {MAX_ARGUMENT_DEPTH} (the deepest accepted)"),
        TOOL,
        nested_json(MAX_ARGUMENT_DEPTH),
    );
    digest_case(
        &format!("depth {}", MAX_ARGUMENT_DEPTH + 1),
        TOOL,
        nested_json(MAX_ARGUMENT_DEPTH + 1),
    );
    digest_case(
        "depth 17 through arrays",
        TOOL,
        format!(r#"{{"a":{}}}"#, "[".repeat(16) + &"]".repeat(16)),
    );
    digest_case(
        &format!("canonical {{\"arguments\",\"tool\"}} of exactly {MAX_ARGUMENT_BYTES} bytes"),
        TOOL,
        sized_json(TOOL, MAX_ARGUMENT_BYTES),
    );
    digest_case(
        &format!("canonical form of {} bytes", MAX_ARGUMENT_BYTES + 1),
        TOOL,
        sized_json(TOOL, MAX_ARGUMENT_BYTES + 1),
    );
    for (name, text) in [
        ("an array", "[]"),
        ("a string", r#""{}""#),
        ("a number", "1"),
        ("null", "null"),
        ("not JSON", r#"{"a":"#),
        ("empty text", ""),
    ] {
        digest_case(name, TOOL, text.into());
    }

    let lists: &[&[&str]] = &[
        &["*"],
        &["*:*"],
        &["ai:*"],
        &["*:read"],
        &["*:write"],
        &["*:execute"],
        &["*", "*:*", "ai:*", "*:read", "*:write", "*:execute"],
        &["ai:read"],
        &["ai:write"],
        &["ai:execute"],
        &["ai:read", "ai:execute"],
        &["devices:*", "ai:write"],
        &[],
    ];
    let mut ai_scopes = Vec::new();
    for list in lists {
        for scope in ["ai:read", "ai:write", "ai:execute"] {
            ai_scopes.push(json!({
                "scopes": list,
                "scope": scope,
                "named": ai_scope_named(list, scope),
            }));
        }
    }

    // Lifecycle: times are minutes after a fixed request.
    let t0 = parse_time("2026-06-01T12:00:00Z");
    let at = |minutes: i64, seconds: i64| {
        rfc3339(t0 + time::Duration::minutes(minutes) + time::Duration::seconds(seconds))
    };
    let args = json!({"deviceId": "7c1f0a52-0000-4000-8000-000000000001", "script": "uname -a"});
    let changed =
        json!({"deviceId": "7c1f0a52-0000-4000-8000-000000000001", "script": "uname -a; id"});
    let approver = |who: &str, in_scope: bool, has_permission: bool| json!({"who": who, "in_scope": in_scope, "has_permission": has_permission});
    let good = approver("other", true, true);
    let decide = |now: String, who: &Value, verdict: &str, factor: Option<String>| json!({"op": "decide", "now": now, "approver": who, "verdict": verdict, "reason": null, "factor_verified_at": factor});
    let execute = |now: String, arguments: &Value| json!({"op": "execute", "now": now, "arguments": arguments});
    let status = |now: String| json!({"op": "status", "now": now});
    let cases: Vec<(&str, Vec<Value>)> = vec![
        (
            "approve, execute once, then every further step is refused",
            vec![
                status(at(0, 0)),
                decide(at(5, 0), &good, "approved", Some(at(4, 0))),
                status(at(5, 0)),
                execute(at(14, 59), &args),
                status(at(14, 59)),
                execute(at(14, 59), &args),
                decide(at(15, 0), &good, "denied", Some(at(15, 0))),
                status(at(600, 0)),
            ],
        ),
        (
            "deny: cannot execute, cannot be decided again, never expires",
            vec![
                decide(at(1, 0), &good, "denied", Some(at(1, 0))),
                execute(at(2, 0), &args),
                decide(at(3, 0), &good, "approved", Some(at(3, 0))),
                status(at(120, 0)),
            ],
        ),
        (
            "pending: cannot execute; expires at exactly 60 minutes",
            vec![
                execute(at(1, 0), &args),
                status(at(59, 59)),
                status(at(60, 0)),
                execute(at(61, 0), &args),
                decide(at(60, 0), &good, "approved", Some(at(60, 0))),
            ],
        ),
        (
            "decided in the last second of the hour",
            vec![
                decide(at(59, 59), &good, "approved", Some(at(59, 59))),
                execute(at(69, 58), &args),
            ],
        ),
        (
            "expiry is reported before any approver fault",
            vec![decide(
                at(60, 0),
                &approver("requester", false, false),
                "approved",
                None,
            )],
        ),
        (
            "the approver's faults in the order they are checked, then a success",
            vec![
                decide(
                    at(10, 0),
                    &approver("system", true, false),
                    "approved",
                    None,
                ),
                decide(
                    at(10, 0),
                    &approver("requester", false, false),
                    "approved",
                    None,
                ),
                decide(
                    at(10, 0),
                    &approver("other", false, true),
                    "approved",
                    Some(at(10, 0)),
                ),
                decide(
                    at(10, 0),
                    &approver("requester", true, false),
                    "approved",
                    None,
                ),
                decide(
                    at(10, 0),
                    &approver("other", true, false),
                    "approved",
                    Some(at(10, 0)),
                ),
                decide(
                    at(10, 0),
                    &approver("requester", true, true),
                    "approved",
                    None,
                ),
                decide(
                    at(10, 0),
                    &approver("requester", true, true),
                    "approved",
                    Some(at(10, 0)),
                ),
                {
                    let mut step = decide(at(10, 0), &good, "approved", None);
                    step["reason"] = json!("bell \u{7} in the reason");
                    step
                },
                decide(at(10, 0), &good, "approved", None),
                decide(at(10, 0), &good, "approved", Some(at(10, 0))),
            ],
        ),
        (
            "the second factor: at most five minutes old, not in the future; denying needs it too",
            vec![
                decide(at(20, 0), &good, "denied", None),
                decide(at(20, 0), &good, "denied", Some(at(14, 59))),
                decide(at(20, 0), &good, "approved", Some(at(20, 1))),
                decide(at(20, 0), &good, "approved", Some(at(15, 0))),
            ],
        ),
        (
            "the execution window closes at exactly ten minutes; changed arguments are refused",
            vec![
                decide(at(5, 0), &good, "approved", Some(at(5, 0))),
                execute(at(6, 0), &changed),
                status(at(14, 59)),
                status(at(15, 0)),
                execute(at(15, 0), &changed),
                execute(at(15, 0), &args),
                decide(at(16, 0), &good, "approved", Some(at(16, 0))),
            ],
        ),
        (
            "a refused execution changes nothing",
            vec![
                decide(at(5, 0), &good, "approved", Some(at(5, 0))),
                execute(at(6, 0), &changed),
                execute(at(7, 0), &args),
            ],
        ),
    ];
    let world = LifecycleWorld::new();
    let lifecycle: Vec<Value> = cases
        .into_iter()
        .map(|(name, steps)| {
            let mut case =
                json!({"name": name, "requested_at": at(0, 0), "arguments": args, "steps": steps});
            let outcomes = world.run(TOOL, &case);
            for (step, outcome) in case["steps"]
                .as_array_mut()
                .expect("steps")
                .iter_mut()
                .zip(outcomes)
            {
                step["expected"] = outcome;
            }
            case
        })
        .collect();

    let (partner, org, requester, other) = world.ids();
    json!({
        "description": "SPEC 14: the argument digest of an AI approval (SHA-256 over `digest_domain` then the canonical JSON of {\"arguments\", \"tool\"}; `arguments_json` is the exact text to digest), which API-key scopes name an ai:* scope (no wildcard does), the MCP tools with their scope, the permission their key's creator must hold and their default risk level, and approval lifecycles. A lifecycle starts pending for `tool` with `arguments`, requested at `requested_at` by `requester`, in `org` of `partner`; each step is `decide` (an approver: `who` is `requester`, `other` or `system`; `in_scope` is org access all vs none; `has_permission` is Security Approver vs Partner Technician), `execute` (the arguments presented now) or `status` (the status at `now`); `expected` is the stored status after the step, or the error code (the approval is then unchanged). Decide checks: already decided, expired, not a user, out of scope, missing approvals:decide, self approval, reason, fresh factor; execute checks: already executed or not approved, window closed, arguments changed. Generated by `cargo run -p breeze-authz --example gen_vectors`.",
        "digest_domain": String::from_utf8_lossy(ARGUMENT_DIGEST_DOMAIN),
        "max_argument_depth": MAX_ARGUMENT_DEPTH,
        "max_argument_bytes": MAX_ARGUMENT_BYTES,
        "approval_ttl_seconds": APPROVAL_TTL.whole_seconds(),
        "execution_window_seconds": EXECUTION_WINDOW.whole_seconds(),
        "fresh_factor_window_seconds": FRESH_FACTOR_WINDOW.whole_seconds(),
        "digests": digests,
        "ai_scopes": ai_scopes,
        "tools": ai_tools(),
        "lifecycle": {
            "tool": TOOL,
            "partner": partner,
            "org": org,
            "requester": requester,
            "other": other,
            "cases": lifecycle,
        },
    })
}
