//! What an API key may do through the MCP endpoint (SPEC 14): named `ai:*` scopes, the tool
//! table, the creator's current permissions as a cap, and the delegated tenancy.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use breeze_authz::access::{
    AccessContext, Actor, OrgAccess, OrgRecord, ResolveError, Scope, SiteAccess, resolve,
};
use breeze_authz::ai::{AiScope, TOOLS, ToolDenial, authorize_tool, delegated_context, tool_spec};
use breeze_authz::api_key::{ApiKeyRecord, ApiKeyScopes, ApiKeyStatus, UsableApiKey};
use breeze_authz::permission::Permission;
use breeze_authz::registry::{PermissionSet, Registry};
use breeze_authz::risk::{ApprovalError, RiskLevel, ToolCatalogue};
use breeze_authz::seeded::SeededRole;
use breeze_core::tenancy::{ApiKeyId, OrgId, OrgStatus, PartnerId, SiteId, UserId};
use time::OffsetDateTime;

mod common;

const ALL_SCOPES: [AiScope; 3] = [AiScope::Read, AiScope::Write, AiScope::Execute];

fn scopes(list: &[&str]) -> ApiKeyScopes {
    ApiKeyScopes::parse(list).unwrap()
}

fn compiled(role: SeededRole, registry: &Registry) -> PermissionSet {
    role.role().compile(registry).unwrap()
}

// ---------------------------------------------------------------- scopes

#[test]
fn wildcards_never_grant_ai_scopes() {
    let wildcards = ["*", "*:*", "ai:*", "*:read", "*:write", "*:execute"];
    for wild in wildcards {
        for scope in ALL_SCOPES {
            assert!(
                !scope.named_by(&scopes(&[wild])),
                "{wild} granted {scope:?}"
            );
        }
    }
    // Not even all of them together, although they allow every ordinary permission.
    let everything = scopes(&wildcards);
    assert!(everything.allows(&"devices:execute".parse::<Permission>().unwrap()));
    for scope in ALL_SCOPES {
        assert!(!scope.named_by(&everything), "{scope:?}");
    }
    // Nor an empty list.
    for scope in ALL_SCOPES {
        assert!(!scope.named_by(&ApiKeyScopes::default()));
    }
}

#[test]
fn each_ai_scope_is_granted_only_by_its_own_name() {
    for granted in ALL_SCOPES {
        let key = scopes(&[granted.as_str(), "devices:*"]);
        for scope in ALL_SCOPES {
            assert_eq!(
                scope.named_by(&key),
                scope == granted,
                "{granted:?} {scope:?}"
            );
        }
    }
    // Names are exact: no prefix, no other resource.
    for near in ["ai:reads", "ai:rea", "ais:read", "a:read", "ai:admin"] {
        let key = scopes(&[near]);
        assert!(ALL_SCOPES.iter().all(|s| !s.named_by(&key)), "{near}");
    }
    // Naming a higher scope does not imply a lower one.
    assert!(!AiScope::Read.named_by(&scopes(&["ai:execute", "ai:write"])));
    assert_eq!(AiScope::Read.as_str(), "ai:read");
    assert_eq!(AiScope::Write.as_str(), "ai:write");
    assert_eq!(AiScope::Execute.as_str(), "ai:execute");
}

// ---------------------------------------------------------------- tools

#[test]
fn the_tool_table() {
    let catalogue = ToolCatalogue::default_catalogue();
    let registry = Registry::spec();
    let names: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(names, sorted, "sorted by name, no duplicates");
    for tool in TOOLS {
        assert_eq!(tool_spec(tool.name), Some(tool));
        let level = catalogue.level(tool.name).unwrap();
        assert_ne!(level, RiskLevel::Critical, "{} could never run", tool.name);
        let permission: Permission = tool.permission.parse().unwrap();
        assert!(registry.contains(&permission), "{}", tool.permission);
        // The scope matches what the tool does: reads need a `read` permission and are
        // low risk; code on a device needs `execute` and a human approval.
        match tool.scope {
            AiScope::Read => {
                assert_eq!(permission.action(), "read", "{}", tool.name);
                assert_eq!(level, RiskLevel::Low, "{}", tool.name);
            }
            AiScope::Write => assert_eq!(permission.action(), "write", "{}", tool.name),
            AiScope::Execute => {
                assert_eq!(permission.action(), "execute", "{}", tool.name);
                assert_eq!(level, RiskLevel::High, "{}", tool.name);
            }
        }
    }
    let queue = tool_spec("queue_script").unwrap();
    assert_eq!(
        (queue.scope, queue.permission),
        (AiScope::Execute, "devices:execute")
    );
    assert_eq!(
        catalogue.level("quarantine_device"),
        Some(RiskLevel::Medium)
    );
    assert_eq!(tool_spec("wipe_device"), None);
    assert_eq!(tool_spec("Queue_Script"), None);
    assert_eq!(tool_spec(""), None);
}

// ---------------------------------------------------------------- authorize_tool

#[test]
fn the_scope_is_checked_before_the_creator() {
    let registry = Registry::spec();
    let queue = tool_spec("queue_script").unwrap();
    let viewer = compiled(SeededRole::PartnerViewer, &registry);
    let missing = ToolDenial::MissingAiScope {
        scope: "ai:execute",
    };
    // Without the scope the answer is the same whatever the creator: it reveals nothing.
    for key in [
        scopes(&["*"]),
        scopes(&["ai:read", "ai:write"]),
        scopes(&[]),
    ] {
        assert_eq!(
            authorize_tool(queue, &key, None, &registry),
            Err(missing.clone())
        );
        assert_eq!(
            authorize_tool(queue, &key, Some(&viewer), &registry),
            Err(missing.clone())
        );
    }
    let err = authorize_tool(queue, &scopes(&["*"]), None, &registry).unwrap_err();
    assert_eq!(err.code(), "missing_ai_scope");
    assert_eq!(
        err.to_string(),
        "the api key does not name the `ai:execute` scope"
    );
}

#[test]
fn a_key_without_a_creator_reaches_no_tool() {
    let registry = Registry::spec();
    let key = scopes(&["ai:read", "ai:write", "ai:execute"]);
    for tool in TOOLS {
        let err = authorize_tool(tool, &key, None, &registry).unwrap_err();
        assert_eq!(err, ToolDenial::NoCreator, "{}", tool.name);
        assert_eq!(err.code(), "key_without_creator");
    }
}

#[test]
fn the_creator_caps_the_key() {
    let registry = Registry::spec();
    let key = scopes(&["ai:read", "ai:write", "ai:execute"]);
    let viewer = compiled(SeededRole::PartnerViewer, &registry);
    let queue = tool_spec("queue_script").unwrap();
    let err = authorize_tool(queue, &key, Some(&viewer), &registry).unwrap_err();
    assert_eq!(
        err,
        ToolDenial::CreatorLacksPermission {
            permission: "devices:execute"
        }
    );
    assert_eq!(err.code(), "creator_lacks_permission");
    assert_eq!(
        err.to_string(),
        "the key's creator does not hold `devices:execute`"
    );
    // A viewer's key lists devices but cannot read the audit log (the viewer cannot).
    let list = tool_spec("list_devices").unwrap();
    assert_eq!(authorize_tool(list, &key, Some(&viewer), &registry), Ok(()));
    let audit = tool_spec("query_audit_log").unwrap();
    assert_eq!(
        authorize_tool(audit, &key, Some(&viewer), &registry),
        Err(ToolDenial::CreatorLacksPermission {
            permission: "audit:read"
        })
    );
    // An empty permission set holds nothing.
    let nothing = PermissionSet::empty_for(&registry);
    for tool in TOOLS {
        assert!(matches!(
            authorize_tool(tool, &key, Some(&nothing), &registry),
            Err(ToolDenial::CreatorLacksPermission { .. })
        ));
    }
}

#[test]
fn every_tool_for_every_seeded_role_and_scope() {
    let registry = Registry::spec();
    let lists: &[&[&str]] = &[
        &["ai:read"],
        &["ai:write"],
        &["ai:execute"],
        &["ai:read", "ai:write", "ai:execute"],
        &["*"],
    ];
    for role in SeededRole::ALL {
        let set = compiled(role, &registry);
        for list in lists {
            let key = scopes(list);
            for tool in TOOLS {
                let holds = set.allows_permission(&registry, &tool.permission.parse().unwrap());
                let expected = if !tool.scope.named_by(&key) {
                    Err("missing_ai_scope")
                } else if holds {
                    Ok(())
                } else {
                    Err("creator_lacks_permission")
                };
                assert_eq!(
                    authorize_tool(tool, &key, Some(&set), &registry).map_err(|e| e.code()),
                    expected,
                    "{role:?} {list:?} {}",
                    tool.name
                );
            }
        }
    }
    // Anchors: a technician's execute key may queue a script; a partner viewer's may not.
    let key = scopes(&["ai:execute"]);
    let queue = tool_spec("queue_script").unwrap();
    let tech = compiled(SeededRole::PartnerTechnician, &registry);
    assert_eq!(authorize_tool(queue, &key, Some(&tech), &registry), Ok(()));
    let admin = compiled(SeededRole::PlatformAdmin, &registry);
    assert_eq!(authorize_tool(queue, &key, Some(&admin), &registry), Ok(()));
}

// ---------------------------------------------------------------- delegated_context

struct Tenancy {
    partner: PartnerId,
    org: OrgRecord,
    other_org: OrgRecord,
    orgs: Vec<OrgRecord>,
}

impl Tenancy {
    fn new() -> Self {
        let partner = PartnerId::new_random();
        let org = common::org_record(partner, OrgStatus::Active, false);
        let other_org = common::org_record(partner, OrgStatus::Trial, false);
        Self {
            partner,
            org,
            other_org,
            orgs: vec![org, other_org],
        }
    }

    fn creator(&self, access: OrgAccess) -> AccessContext {
        let p = common::partner_principal(UserId::new_random(), self.partner, access);
        resolve(&p, &self.orgs).unwrap()
    }
}

fn key_of(org: OrgId) -> UsableApiKey {
    ApiKeyRecord {
        id: ApiKeyId::new_random(),
        org_id: org,
        status: ApiKeyStatus::Active,
        expires_at: None,
        scopes: scopes(&["ai:read"]),
    }
    .check(OffsetDateTime::UNIX_EPOCH)
    .unwrap()
}

#[test]
fn a_partner_creator_is_narrowed_to_the_key_organization() {
    let t = Tenancy::new();
    let creator = t.creator(OrgAccess::All);
    assert!(creator.can_access_org(t.org.id) && creator.can_access_org(t.other_org.id));
    let key = key_of(t.org.id);
    let ctx = delegated_context(&key, &creator, &t.orgs).unwrap();
    assert_eq!(ctx.scope(), Scope::Organization);
    assert_eq!(ctx.org_id(), Some(t.org.id));
    assert_eq!(ctx.actor(), &Actor::ApiKey(key.id()));
    assert_eq!(ctx.user_id(), None, "the key acts, not the user");
    assert_eq!(ctx.role_id(), None);
    assert!(ctx.can_access_org(t.org.id));
    assert!(!ctx.can_access_org(t.other_org.id));
    assert!(!ctx.can_access_partner(t.partner), "no partner-wide reach");
    assert!(!ctx.can_write_partner_wide());
    assert!(ctx.allowed_site_ids().is_all());
    assert!(ctx.can_access_site(t.org.id, SiteId::new_random()));
    // The same context a key resolves to on its own, except for the sites it may not widen.
    let alone = resolve(
        &breeze_authz::access::Principal::ApiKey(key.clone()),
        &t.orgs,
    )
    .unwrap();
    assert_eq!(ctx, alone);
    // A system user's key is narrowed the same way.
    let (system, _audit) = AccessContext::system("test", OffsetDateTime::UNIX_EPOCH).unwrap();
    let ctx = delegated_context(&key, &system, &t.orgs).unwrap();
    assert_eq!(ctx.accessible_org_ids().ids(), Some(vec![t.org.id]));
}

#[test]
fn an_org_creator_limited_to_sites_keeps_the_limit() {
    let t = Tenancy::new();
    let (s1, s2, s3) = (
        SiteId::new_random(),
        SiteId::new_random(),
        SiteId::new_random(),
    );
    let p = common::org_principal(
        UserId::new_random(),
        t.org.id,
        SiteAccess::Only(vec![s1, s2]),
    );
    let creator = resolve(&p, &t.orgs).unwrap();
    let ctx = delegated_context(&key_of(t.org.id), &creator, &t.orgs).unwrap();
    assert_eq!(ctx.org_id(), Some(t.org.id));
    assert!(ctx.can_access_site(t.org.id, s1));
    assert!(ctx.can_access_site(t.org.id, s2));
    assert!(!ctx.can_access_site(t.org.id, s3));
    assert_eq!(ctx.allowed_site_ids(), creator.allowed_site_ids());
    // An org creator with every site gives every site.
    let p = common::org_principal(UserId::new_random(), t.org.id, SiteAccess::All);
    let creator = resolve(&p, &t.orgs).unwrap();
    let ctx = delegated_context(&key_of(t.org.id), &creator, &t.orgs).unwrap();
    assert!(ctx.allowed_site_ids().is_all());
    // And one with an empty list gives none.
    let p = common::org_principal(UserId::new_random(), t.org.id, SiteAccess::Only(vec![]));
    let creator = resolve(&p, &t.orgs).unwrap();
    let ctx = delegated_context(&key_of(t.org.id), &creator, &t.orgs).unwrap();
    assert!(ctx.allowed_site_ids().is_none());
}

#[test]
fn a_key_organization_outside_the_creator_reach_is_refused() {
    let t = Tenancy::new();
    let unavailable = Err(ResolveError::OrganizationUnavailable);
    // A partner creator who selected another organization.
    let selected = t.creator(OrgAccess::Selected(vec![t.other_org.id]));
    assert_eq!(
        delegated_context(&key_of(t.org.id), &selected, &t.orgs),
        unavailable
    );
    let none = t.creator(OrgAccess::None);
    assert_eq!(
        delegated_context(&key_of(t.org.id), &none, &t.orgs),
        unavailable
    );
    // An org creator of another organization.
    let p = common::org_principal(UserId::new_random(), t.other_org.id, SiteAccess::All);
    let creator = resolve(&p, &t.orgs).unwrap();
    assert_eq!(
        delegated_context(&key_of(t.org.id), &creator, &t.orgs),
        unavailable
    );
    // A creator of another partner, even with `all`.
    let foreign_partner = PartnerId::new_random();
    let foreign_org = common::org_record(foreign_partner, OrgStatus::Active, false);
    let mut orgs = t.orgs.clone();
    orgs.push(foreign_org);
    let p = common::partner_principal(UserId::new_random(), foreign_partner, OrgAccess::All);
    let foreign = resolve(&p, &orgs).unwrap();
    assert_eq!(
        delegated_context(&key_of(t.org.id), &foreign, &orgs),
        unavailable
    );
    assert_eq!(
        ResolveError::OrganizationUnavailable.code(),
        "organization_unavailable"
    );
}

#[test]
fn an_unserviceable_or_unknown_key_organization_is_refused() {
    let t = Tenancy::new();
    // The creator was resolved while the organization was active ...
    let creator = t.creator(OrgAccess::All);
    let key = key_of(t.org.id);
    assert!(delegated_context(&key, &creator, &t.orgs).is_ok());
    // ... and it is suspended, deleted or no longer loaded when the key calls.
    for (status, deleted) in [
        (OrgStatus::Suspended, false),
        (OrgStatus::Offboarding, false),
        (OrgStatus::Active, true),
    ] {
        let orgs = vec![
            OrgRecord {
                status,
                deleted,
                ..t.org
            },
            t.other_org,
        ];
        assert_eq!(
            delegated_context(&key, &creator, &orgs),
            Err(ResolveError::OrganizationUnavailable),
            "{status:?} deleted={deleted}"
        );
    }
    assert_eq!(
        delegated_context(&key, &creator, &[t.other_org]),
        Err(ResolveError::OrganizationUnavailable)
    );
    assert_eq!(
        delegated_context(&key, &creator, &[]),
        Err(ResolveError::OrganizationUnavailable)
    );
}

#[test]
fn a_delegated_context_cannot_approve() {
    // The key acts as itself, so the four-eyes rule cannot be met by an AI key of an
    // approver: deciding needs a user.
    use breeze_authz::approval::{Approval, ArgumentDigest};
    use breeze_authz::risk::{ApprovalRequest, ApprovalVerdict, Approver, RiskEngine, ToolTarget};
    let t = Tenancy::new();
    let registry = Registry::spec();
    let approver_set = compiled(SeededRole::SecurityApprover, &registry);
    let creator = t.creator(OrgAccess::All);
    let ctx = delegated_context(&key_of(t.org.id), &creator, &t.orgs).unwrap();
    let now = OffsetDateTime::UNIX_EPOCH;
    let target = ToolTarget {
        partner_id: t.partner,
        org_id: t.org.id,
        site_id: None,
        device_group_id: None,
    };
    let decision =
        RiskEngine::new(ToolCatalogue::default_catalogue()).decide("queue_script", &target);
    let request = ApprovalRequest::new(decision, UserId::new_random(), now).unwrap();
    let approval = Approval::new(
        request,
        ArgumentDigest::of("queue_script", &serde_json::json!({})).unwrap(),
    );
    let approver = Approver {
        context: &ctx,
        permissions: &approver_set,
        registry: &registry,
    };
    assert_eq!(
        approval
            .decide(approver, ApprovalVerdict::Approved, None, Some(now), now)
            .unwrap_err(),
        ApprovalError::ApproverNotAUser
    );
}
