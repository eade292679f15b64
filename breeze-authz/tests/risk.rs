//! The AI tool risk engine (SPEC 10) and approvals.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use breeze_authz::access::{AccessContext, OrgAccess, OrgRecord, SiteAccess, resolve};
use breeze_authz::registry::Registry;
use breeze_authz::risk::{
    APPROVAL_TTL, ApprovalError, ApprovalRequest, ApprovalVerdict, Approver, DEFAULT_TOOLS,
    LevelSource, PolicyScope, RiskEngine, RiskLevel, RiskOutcome, ToolCatalogue, ToolTarget,
};
use breeze_authz::seeded::SeededRole;
use breeze_core::tenancy::{DeviceGroupId, OrgId, OrgStatus, PartnerId, SiteId, UserId};
use time::{Duration, OffsetDateTime};

mod common;

fn target() -> ToolTarget {
    ToolTarget {
        partner_id: PartnerId::new_random(),
        org_id: OrgId::new_random(),
        site_id: Some(SiteId::new_random()),
        device_group_id: Some(DeviceGroupId::new_random()),
    }
}

fn engine() -> RiskEngine {
    RiskEngine::new(ToolCatalogue::default_catalogue())
}

#[test]
fn levels_map_to_outcomes() {
    assert_eq!(RiskLevel::Low.outcome(), RiskOutcome::Run);
    assert_eq!(RiskLevel::Medium.outcome(), RiskOutcome::RunAndNotify);
    assert_eq!(RiskLevel::High.outcome(), RiskOutcome::NeedsApproval);
    assert_eq!(RiskLevel::Critical.outcome(), RiskOutcome::Blocked);
    let e = engine();
    let t = target();
    for (tool, level) in DEFAULT_TOOLS {
        let d = e.decide(tool, &t);
        assert_eq!(d.level, *level, "{tool}");
        assert_eq!(d.source, LevelSource::Catalogue);
        assert_eq!(d.ignored_override, None);
    }
}

#[test]
fn unknown_and_malformed_tools_are_blocked() {
    let e = engine();
    for tool in [
        "no_such_tool",
        "",
        "Run_Script",
        "run script",
        &"x".repeat(10_000),
    ] {
        let d = e.decide(tool, &target());
        assert_eq!(d.outcome, RiskOutcome::Blocked);
        assert_eq!(d.source, LevelSource::UnknownTool);
        assert!(d.tool.chars().count() <= 100);
    }
}

#[test]
fn most_specific_override_wins() {
    let mut e = engine();
    let t = target();
    let partner = PolicyScope::Partner(t.partner_id);
    let org = PolicyScope::Organization(t.org_id);
    let site = PolicyScope::Site(t.site_id.unwrap());
    let group = PolicyScope::DeviceGroup(t.device_group_id.unwrap());
    e.set_override(partner, "run_script", RiskLevel::Medium)
        .unwrap();
    assert_eq!(
        e.decide("run_script", &t).source,
        LevelSource::Policy(partner)
    );
    assert_eq!(e.decide("run_script", &t).level, RiskLevel::Medium);
    e.set_override(org, "run_script", RiskLevel::Low).unwrap();
    assert_eq!(e.decide("run_script", &t).level, RiskLevel::Low);
    e.set_override(site, "run_script", RiskLevel::High).unwrap();
    assert_eq!(e.decide("run_script", &t).level, RiskLevel::High);
    e.set_override(group, "run_script", RiskLevel::Medium)
        .unwrap();
    let d = e.decide("run_script", &t);
    assert_eq!(
        (d.level, d.source),
        (RiskLevel::Medium, LevelSource::Policy(group))
    );
    // Overrides for other tenants do not apply.
    let other = target();
    assert_eq!(e.decide("run_script", &other).level, RiskLevel::High);
    assert_eq!(
        e.decide("run_script", &other).source,
        LevelSource::Catalogue
    );
    // A target without site/group ignores those overrides.
    let no_site = ToolTarget {
        site_id: None,
        device_group_id: None,
        ..t
    };
    assert_eq!(
        e.decide("run_script", &no_site).source,
        LevelSource::Policy(org)
    );
    // Removing falls back.
    assert!(e.remove_override(group, "run_script"));
    assert!(!e.remove_override(group, "run_script"));
    assert_eq!(e.decide("run_script", &t).source, LevelSource::Policy(site));
}

#[test]
fn critical_tools_can_never_be_lowered() {
    let mut e = engine();
    let t = target();
    for level in [RiskLevel::Low, RiskLevel::Medium, RiskLevel::High] {
        let err = e
            .set_override(
                PolicyScope::DeviceGroup(t.device_group_id.unwrap()),
                "wipe_device",
                level,
            )
            .unwrap_err();
        assert_eq!(err.code(), "critical_cannot_be_lowered");
    }
    e.set_override(
        PolicyScope::Partner(t.partner_id),
        "wipe_device",
        RiskLevel::Critical,
    )
    .unwrap();
    assert_eq!(e.decide("wipe_device", &t).outcome, RiskOutcome::Blocked);
}

#[test]
fn a_broader_critical_override_is_a_floor() {
    let mut e = engine();
    let t = target();
    let partner = PolicyScope::Partner(t.partner_id);
    let site = PolicyScope::Site(t.site_id.unwrap());
    e.set_override(partner, "execute_command", RiskLevel::Critical)
        .unwrap();
    e.set_override(site, "execute_command", RiskLevel::Low)
        .unwrap();
    let d = e.decide("execute_command", &t);
    assert_eq!(d.outcome, RiskOutcome::Blocked);
    assert_eq!(d.source, LevelSource::Policy(partner));
    assert_eq!(
        d.ignored_override,
        Some(site),
        "the ignored override is reported"
    );
    // Raising is always allowed.
    e.set_override(site, "query_devices", RiskLevel::Critical)
        .unwrap();
    assert_eq!(e.decide("query_devices", &t).outcome, RiskOutcome::Blocked);
}

#[test]
fn policy_errors() {
    let mut e = engine();
    let t = target();
    let scope = PolicyScope::Organization(t.org_id);
    assert_eq!(
        e.set_override(scope, "nope", RiskLevel::Low)
            .unwrap_err()
            .code(),
        "unknown_tool"
    );
    assert_eq!(
        e.set_override(scope, "Bad Name", RiskLevel::Low)
            .unwrap_err()
            .code(),
        "invalid_tool_name"
    );
    let mut catalogue = ToolCatalogue::default_catalogue();
    assert_eq!(
        catalogue
            .register("run_script", RiskLevel::Low)
            .unwrap_err()
            .code(),
        "tool_already_registered"
    );
    catalogue
        .register("open_ticket", RiskLevel::Medium)
        .unwrap();
    assert_eq!(catalogue.level("open_ticket"), Some(RiskLevel::Medium));
    assert!(catalogue.tools().windows(2).all(|w| w[0].0 < w[1].0));
}

struct ApprovalWorld {
    partner: PartnerId,
    org: OrgRecord,
    registry: Registry,
}

impl ApprovalWorld {
    fn new() -> Self {
        let partner = PartnerId::new_random();
        Self {
            partner,
            org: common::org_record(partner, OrgStatus::Active, false),
            registry: Registry::spec(),
        }
    }
    fn partner_ctx(&self, user: UserId, access: OrgAccess) -> AccessContext {
        let principal = common::partner_principal(user, self.partner, access);
        resolve(&principal, &[self.org]).unwrap()
    }
    fn target(&self, site: Option<SiteId>) -> ToolTarget {
        ToolTarget {
            partner_id: self.partner,
            org_id: self.org.id,
            site_id: site,
            device_group_id: None,
        }
    }
}

#[test]
fn approvals_check_the_approver() {
    let w = ApprovalWorld::new();
    let now = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
    let requester = UserId::new_random();
    let approver_id = UserId::new_random();
    let d = engine().decide("run_script", &w.target(None));
    let request = ApprovalRequest::new(d, requester, now).unwrap();
    let approver_set = SeededRole::SecurityApprover
        .role()
        .compile(&w.registry)
        .unwrap();
    let tech_set = SeededRole::PartnerTechnician
        .role()
        .compile(&w.registry)
        .unwrap();
    let ctx = w.partner_ctx(approver_id, OrgAccess::All);
    let approver = Approver {
        context: &ctx,
        permissions: &approver_set,
        registry: &w.registry,
    };

    let record = request
        .decide(
            approver,
            ApprovalVerdict::Approved,
            Some("  looks fine "),
            now + Duration::minutes(5),
        )
        .unwrap();
    assert_eq!(record.decided_by, approver_id);
    assert_eq!(record.requested_by, requester);
    assert_eq!(record.level, RiskLevel::High);
    assert_eq!(record.reason.as_deref(), Some("looks fine"));
    assert_eq!(record.tool, "run_script");

    // Missing permission.
    let tech = Approver {
        permissions: &tech_set,
        ..approver
    };
    assert_eq!(
        request
            .decide(tech, ApprovalVerdict::Approved, None, now)
            .unwrap_err(),
        ApprovalError::MissingPermission
    );
    // Out of scope: a partner user with `none` org access.
    let blind = w.partner_ctx(approver_id, OrgAccess::None);
    let out = Approver {
        context: &blind,
        ..approver
    };
    assert_eq!(
        request
            .decide(out, ApprovalVerdict::Approved, None, now)
            .unwrap_err(),
        ApprovalError::OutOfScope
    );
    // Self-approval.
    let own_ctx = w.partner_ctx(requester, OrgAccess::All);
    let own = Approver {
        context: &own_ctx,
        ..approver
    };
    assert_eq!(
        request
            .decide(own, ApprovalVerdict::Approved, None, now)
            .unwrap_err(),
        ApprovalError::SelfApproval
    );
    // Expired.
    assert_eq!(
        request
            .decide(
                approver,
                ApprovalVerdict::Approved,
                None,
                now + APPROVAL_TTL
            )
            .unwrap_err(),
        ApprovalError::Expired
    );
    // Bad reason.
    assert_eq!(
        request
            .decide(approver, ApprovalVerdict::Denied, Some("a\u{0}b"), now)
            .unwrap_err(),
        ApprovalError::InvalidReason
    );
    // A system context is not a user.
    let (system, _record) = AccessContext::system("test", now).unwrap();
    let sys = Approver {
        context: &system,
        ..approver
    };
    assert_eq!(
        request
            .decide(sys, ApprovalVerdict::Approved, None, now)
            .unwrap_err(),
        ApprovalError::ApproverNotAUser
    );
}

#[test]
fn approvals_respect_site_limits() {
    let w = ApprovalWorld::new();
    let now = OffsetDateTime::UNIX_EPOCH;
    let (site, other_site) = (SiteId::new_random(), SiteId::new_random());
    let approver_id = UserId::new_random();
    let principal = common::org_principal(approver_id, w.org.id, SiteAccess::Only(vec![site]));
    let ctx = resolve(&principal, &[w.org]).unwrap();
    let set = SeededRole::OrgAdmin.role().compile(&w.registry).unwrap();
    let approver = Approver {
        context: &ctx,
        permissions: &set,
        registry: &w.registry,
    };
    let ok = ApprovalRequest::new(
        engine().decide("run_script", &w.target(Some(site))),
        UserId::new_random(),
        now,
    )
    .unwrap();
    assert!(
        ok.decide(approver, ApprovalVerdict::Approved, None, now)
            .is_ok()
    );
    let far = ApprovalRequest::new(
        engine().decide("run_script", &w.target(Some(other_site))),
        UserId::new_random(),
        now,
    )
    .unwrap();
    assert_eq!(
        far.decide(approver, ApprovalVerdict::Approved, None, now)
            .unwrap_err(),
        ApprovalError::OutOfScope
    );
}

#[test]
fn only_needs_approval_decisions_can_be_requested() {
    let t = target();
    let now = OffsetDateTime::UNIX_EPOCH;
    for (tool, outcome) in [
        ("query_devices", RiskOutcome::Run),
        ("manage_alerts", RiskOutcome::RunAndNotify),
        ("wipe_device", RiskOutcome::Blocked),
        ("unknown_tool", RiskOutcome::Blocked),
    ] {
        let err =
            ApprovalRequest::new(engine().decide(tool, &t), UserId::new_random(), now).unwrap_err();
        assert_eq!(err, ApprovalError::NotApprovable { outcome });
    }
}
