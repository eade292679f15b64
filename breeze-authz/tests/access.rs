//! Access resolution (SPEC 1.1) and the session settings (SPEC 1.2).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use breeze_authz::access::{
    AccessContext, Actor, LISTING_ORGS_MAX, MembershipState, Memberships, OrgAccess, OrgMembership,
    OrgRecord, PartnerMembership, Principal, ResolveError, SESSION_SETTING_NAMES, Scope,
    SiteAccess, SystemMembership, resolve,
};
use breeze_authz::api_key::{ApiKeyRecord, ApiKeyScopes, ApiKeyStatus};
use breeze_core::tenancy::{
    ApiKeyId, DeviceId, OrgId, OrgStatus, PartnerId, RoleId, SiteId, UserId,
};
use time::OffsetDateTime;

mod common;
use common::org_record as org;

/// A partner with one org of every kind, plus an org of another partner.
struct World {
    partner: PartnerId,
    active: OrgRecord,
    trial: OrgRecord,
    suspended: OrgRecord,
    offboarding: OrgRecord,
    deleted: OrgRecord,
    foreign: OrgRecord,
}

impl World {
    fn new() -> Self {
        let partner = PartnerId::new_random();
        Self {
            partner,
            active: org(partner, OrgStatus::Active, false),
            trial: org(partner, OrgStatus::Trial, false),
            suspended: org(partner, OrgStatus::Suspended, false),
            offboarding: org(partner, OrgStatus::Offboarding, false),
            deleted: org(partner, OrgStatus::Active, true),
            foreign: org(PartnerId::new_random(), OrgStatus::Active, false),
        }
    }
    fn all(&self) -> Vec<OrgRecord> {
        vec![
            self.active,
            self.trial,
            self.suspended,
            self.offboarding,
            self.deleted,
            self.foreign,
        ]
    }
    fn every_id(&self) -> Vec<OrgId> {
        self.all().iter().map(|o| o.id).collect()
    }
}

fn partner_user(partner: PartnerId, access: OrgAccess) -> Principal {
    common::partner_principal(UserId::new_random(), partner, access)
}

fn org_membership(org: OrgId, sites: SiteAccess) -> OrgMembership {
    OrgMembership {
        org_id: org,
        role_id: RoleId::new_random(),
        sites,
        state: MembershipState::Active,
    }
}

fn reachable(ctx: &AccessContext, w: &World) -> Vec<OrgId> {
    w.every_id()
        .into_iter()
        .filter(|id| ctx.can_access_org(*id))
        .collect()
}

#[test]
fn partner_all_reaches_only_active_and_trial_orgs_of_the_partner() {
    let w = World::new();
    let ctx = resolve(&partner_user(w.partner, OrgAccess::All), &w.all()).unwrap();
    assert_eq!(ctx.scope(), Scope::Partner);
    let mut want = vec![w.active.id, w.trial.id];
    want.sort();
    assert_eq!(ctx.accessible_org_ids().ids().unwrap(), want.as_slice());
    assert_eq!(ctx.listing_orgs(), Some(want.clone()));
    assert!(ctx.can_write_partner_wide());
    assert!(ctx.can_access_partner(w.partner));
    assert!(!ctx.can_access_partner(w.foreign.partner_id));
    assert_eq!(ctx.current_partner_id(), Some(w.partner));
    assert!(ctx.allowed_site_ids().is_all());
}

#[test]
fn partner_selected_never_reaches_unselected_suspended_deleted_or_foreign_orgs() {
    let w = World::new();
    // Select everything except `trial`, including orgs that must still be filtered out.
    let selected = vec![
        w.active.id,
        w.suspended.id,
        w.offboarding.id,
        w.deleted.id,
        w.foreign.id,
    ];
    let ctx = resolve(
        &partner_user(w.partner, OrgAccess::Selected(selected)),
        &w.all(),
    )
    .unwrap();
    assert_eq!(reachable(&ctx, &w), vec![w.active.id]);
    assert_eq!(
        ctx.sole_org(),
        None,
        "partner scope is never narrowed to one organization"
    );
    assert_eq!(
        ctx.listing_orgs(),
        Some(vec![w.active.id]),
        "partner listings are narrowed to what it reaches, not what it selected"
    );
    assert!(
        !ctx.can_write_partner_wide(),
        "partner-wide writes need org_access = all"
    );
    // An empty selection reaches nothing.
    let ctx = resolve(
        &partner_user(w.partner, OrgAccess::Selected(vec![])),
        &w.all(),
    )
    .unwrap();
    assert!(ctx.accessible_org_ids().is_none());
    assert_eq!(ctx.listing_orgs(), Some(vec![]), "a listing of nothing");
}

#[test]
fn listings_name_at_most_listing_orgs_max_organizations() {
    let partner = PartnerId::new_random();
    let orgs: Vec<OrgRecord> = (0..=LISTING_ORGS_MAX)
        .map(|_| org(partner, OrgStatus::Active, false))
        .collect();
    let ctx = resolve(&partner_user(partner, OrgAccess::All), &orgs).unwrap();
    assert_eq!(
        ctx.accessible_org_ids().ids().unwrap().len(),
        LISTING_ORGS_MAX + 1
    );
    assert_eq!(
        ctx.listing_orgs(),
        None,
        "one more than the bound: not named"
    );
    let ctx = resolve(&partner_user(partner, OrgAccess::All), &orgs[1..]).unwrap();
    let named = ctx.listing_orgs().unwrap();
    assert_eq!(named.len(), LISTING_ORGS_MAX, "exactly the bound: named");
    assert_eq!(named, ctx.accessible_org_ids().ids().unwrap());
}

#[test]
fn partner_none_resolves_nothing() {
    let w = World::new();
    let ctx = resolve(&partner_user(w.partner, OrgAccess::None), &w.all()).unwrap();
    assert!(reachable(&ctx, &w).is_empty());
    assert!(ctx.accessible_org_ids().is_none());
    assert_eq!(ctx.session_settings()[2].1, "");
    assert!(!ctx.can_write_partner_wide());
    assert!(!ctx.can_access_site(w.active.id, SiteId::new_random()));
}

#[test]
fn organization_scope_never_reaches_another_org() {
    let w = World::new();
    let site = SiteId::new_random();
    let user = UserId::new_random();
    let principal = Principal::User {
        user_id: user,
        memberships: Memberships {
            organization: Some(org_membership(w.active.id, SiteAccess::Only(vec![site]))),
            // A partner membership with full access is present but the org membership wins.
            partner: Some(PartnerMembership {
                partner_id: w.partner,
                role_id: RoleId::new_random(),
                org_access: OrgAccess::All,
                state: MembershipState::Active,
            }),
            system: None,
        },
    };
    let ctx = resolve(&principal, &w.all()).unwrap();
    assert_eq!(ctx.scope(), Scope::Organization);
    assert_eq!(reachable(&ctx, &w), vec![w.active.id]);
    assert_eq!(ctx.org_id(), Some(w.active.id));
    assert_eq!(ctx.sole_org(), Some(w.active.id), "listings narrow to it");
    assert_eq!(ctx.listing_orgs(), Some(vec![w.active.id]));
    assert!(ctx.accessible_partner_ids().is_none());
    assert!(!ctx.can_access_partner(w.partner));
    assert!(!ctx.can_write_partner_wide());
    assert!(ctx.can_access_site(w.active.id, site));
    assert!(!ctx.can_access_site(w.active.id, SiteId::new_random()));
    assert!(
        !ctx.can_access_site(w.trial.id, site),
        "the site check never widens the org check"
    );
    assert_eq!(ctx.user_id(), Some(user));
    assert_eq!(ctx.actor(), &Actor::User(user));
    assert_eq!(ctx.current_partner_id(), Some(w.partner));
}

#[test]
fn empty_site_list_reaches_no_site() {
    let w = World::new();
    let principal = Principal::User {
        user_id: UserId::new_random(),
        memberships: Memberships {
            organization: Some(org_membership(w.active.id, SiteAccess::Only(vec![]))),
            ..Memberships::default()
        },
    };
    let ctx = resolve(&principal, &w.all()).unwrap();
    assert!(ctx.can_access_org(w.active.id));
    assert!(!ctx.can_access_site(w.active.id, SiteId::new_random()));
    assert_eq!(
        ctx.session_settings()[6],
        ("breeze.allowed_site_ids", String::new())
    );
}

#[test]
fn unusable_org_membership_falls_back_to_partner_or_fails() {
    let w = World::new();
    for (record, state) in [
        (w.suspended, MembershipState::Active),
        (w.deleted, MembershipState::Active),
        (w.active, MembershipState::Inactive),
    ] {
        let mut m = org_membership(record.id, SiteAccess::All);
        m.state = state;
        let alone = Principal::User {
            user_id: UserId::new_random(),
            memberships: Memberships {
                organization: Some(m.clone()),
                ..Memberships::default()
            },
        };
        assert_eq!(
            resolve(&alone, &w.all()).unwrap_err(),
            ResolveError::NoLiveMembership
        );
        let with_partner = Principal::User {
            user_id: UserId::new_random(),
            memberships: Memberships {
                organization: Some(m),
                partner: Some(PartnerMembership {
                    partner_id: w.partner,
                    role_id: RoleId::new_random(),
                    org_access: OrgAccess::Selected(vec![w.trial.id]),
                    state: MembershipState::Active,
                }),
                system: None,
            },
        };
        let ctx = resolve(&with_partner, &w.all()).unwrap();
        assert_eq!(ctx.scope(), Scope::Partner);
        assert_eq!(reachable(&ctx, &w), vec![w.trial.id]);
    }
    // The org record missing from the input fails closed too.
    let missing = Principal::User {
        user_id: UserId::new_random(),
        memberships: Memberships {
            organization: Some(org_membership(OrgId::new_random(), SiteAccess::All)),
            ..Memberships::default()
        },
    };
    assert_eq!(
        resolve(&missing, &w.all()).unwrap_err(),
        ResolveError::NoLiveMembership
    );
}

#[test]
fn no_live_membership_is_401() {
    let w = World::new();
    let nobody = Principal::User {
        user_id: UserId::new_random(),
        memberships: Memberships::default(),
    };
    let err = resolve(&nobody, &w.all()).unwrap_err();
    assert_eq!(err, ResolveError::NoLiveMembership);
    assert_eq!(err.http_status(), 401);
    assert_eq!(err.code(), "no_live_membership");
    let inactive = Principal::User {
        user_id: UserId::new_random(),
        memberships: Memberships {
            partner: Some(PartnerMembership {
                partner_id: w.partner,
                role_id: RoleId::new_random(),
                org_access: OrgAccess::All,
                state: MembershipState::Inactive,
            }),
            system: Some(SystemMembership {
                role_id: RoleId::new_random(),
                state: MembershipState::Inactive,
            }),
            organization: None,
        },
    };
    assert_eq!(
        resolve(&inactive, &w.all()).unwrap_err(),
        ResolveError::NoLiveMembership
    );
}

#[test]
fn system_membership_and_precedence() {
    let w = World::new();
    let system = SystemMembership {
        role_id: RoleId::new_random(),
        state: MembershipState::Active,
    };
    let admin = Principal::User {
        user_id: UserId::new_random(),
        memberships: Memberships {
            system: Some(system.clone()),
            ..Memberships::default()
        },
    };
    let ctx = resolve(&admin, &[]).unwrap();
    assert_eq!(ctx.scope(), Scope::System);
    assert!(ctx.can_access_org(w.foreign.id));
    assert_eq!(ctx.listing_orgs(), None, "system listings are not narrowed");
    assert!(ctx.can_write_partner_wide());
    let s = ctx.session_settings();
    assert_eq!(s[0].1, "system");
    assert_eq!(s[2].1, "*");
    assert_eq!(s[3].1, "*");
    // A partner membership is narrower and wins over the system one.
    let both = Principal::User {
        user_id: UserId::new_random(),
        memberships: Memberships {
            system: Some(system),
            partner: Some(PartnerMembership {
                partner_id: w.partner,
                role_id: RoleId::new_random(),
                org_access: OrgAccess::None,
                state: MembershipState::Active,
            }),
            organization: None,
        },
    };
    assert_eq!(resolve(&both, &w.all()).unwrap().scope(), Scope::Partner);
}

#[test]
fn api_keys_resolve_to_their_org_only() {
    let w = World::new();
    let now = OffsetDateTime::now_utc();
    let key = |org_id| ApiKeyRecord {
        id: ApiKeyId::new_random(),
        org_id,
        status: ApiKeyStatus::Active,
        expires_at: None,
        scopes: ApiKeyScopes::parse(["*"]).unwrap(),
    };
    let record = key(w.active.id);
    let ctx = resolve(&Principal::ApiKey(record.check(now).unwrap()), &w.all()).unwrap();
    assert_eq!(ctx.scope(), Scope::Organization);
    assert_eq!(reachable(&ctx, &w), vec![w.active.id]);
    assert_eq!(ctx.actor(), &Actor::ApiKey(record.id));
    assert_eq!(ctx.user_id(), None);
    for dead in [
        w.suspended.id,
        w.deleted.id,
        w.offboarding.id,
        OrgId::new_random(),
    ] {
        let principal = Principal::ApiKey(key(dead).check(now).unwrap());
        assert_eq!(
            resolve(&principal, &w.all()).unwrap_err(),
            ResolveError::OrganizationUnavailable
        );
    }
}

#[test]
fn agents_reach_their_site_and_keep_serving_offboarding_orgs() {
    let w = World::new();
    let site = SiteId::new_random();
    let device = DeviceId::new_random();
    let agent = |org_id| Principal::Agent {
        device_id: device,
        org_id,
        site_id: site,
    };
    let ctx = resolve(&agent(w.active.id), &w.all()).unwrap();
    assert_eq!(reachable(&ctx, &w), vec![w.active.id]);
    assert!(ctx.can_access_site(w.active.id, site));
    assert!(!ctx.can_access_site(w.active.id, SiteId::new_random()));
    assert!(!ctx.org_offboarding());
    let off = resolve(&agent(w.offboarding.id), &w.all()).unwrap();
    assert!(off.org_offboarding());
    for dead in [w.suspended.id, w.deleted.id, OrgId::new_random()] {
        assert_eq!(
            resolve(&agent(dead), &w.all()).unwrap_err(),
            ResolveError::OrganizationUnavailable
        );
    }
}

#[test]
fn session_settings_render_spec_1_2() {
    let w = World::new();
    let user = UserId::new_random();
    let site_a = SiteId::new_random();
    let site_b = SiteId::new_random();
    let principal = Principal::User {
        user_id: user,
        memberships: Memberships {
            organization: Some(org_membership(
                w.active.id,
                SiteAccess::Only(vec![site_b, site_a, site_a]),
            )),
            ..Memberships::default()
        },
    };
    let ctx = resolve(&principal, &w.all()).unwrap();
    let s = ctx.session_settings();
    let names: Vec<&str> = s.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, SESSION_SETTING_NAMES);
    assert_eq!(s[0].1, "organization");
    assert_eq!(s[1].1, w.active.id.to_string());
    assert_eq!(s[2].1, w.active.id.to_string());
    assert_eq!(s[3].1, "");
    assert_eq!(s[4].1, user.to_string());
    assert_eq!(s[5].1, w.partner.to_string());
    let mut sites = [site_a.to_string(), site_b.to_string()];
    sites.sort();
    assert_eq!(s[6].1, sites.join(","));
    assert_eq!(s[7], ("breeze.partner_wide_write", String::new()));
    for (_, value) in &s {
        assert_eq!(value, &value.to_lowercase());
        assert!(!value.contains(' '));
    }
    // Partner scope with several orgs: comma-joined, sorted, no org_id.
    let ctx = resolve(&partner_user(w.partner, OrgAccess::All), &w.all()).unwrap();
    let s = ctx.session_settings();
    assert_eq!(s[1].1, "");
    assert_eq!(s[2].1.split(',').count(), 2);
    assert_eq!(s[3].1, w.partner.to_string());
    assert_eq!(s[6].1, "*");
    assert_eq!(s[7].1, "true");
}

#[test]
fn partner_wide_write_right_is_carried_to_postgres() {
    let w = World::new();
    let now = OffsetDateTime::UNIX_EPOCH;
    let write = |ctx: &AccessContext| {
        let s = ctx.session_settings();
        assert_eq!(s[7].0, "breeze.partner_wide_write");
        assert_eq!(s[7].1 == "true", ctx.can_write_partner_wide());
        assert!(s[7].1.is_empty() || s[7].1 == "true", "{:?}", s[7]);
        s[7].1.clone()
    };
    let all = resolve(&partner_user(w.partner, OrgAccess::All), &w.all()).unwrap();
    assert_eq!(write(&all), "true");
    let selected = resolve(
        &partner_user(w.partner, OrgAccess::Selected(vec![w.active.id])),
        &w.all(),
    )
    .unwrap();
    assert_eq!(write(&selected), "");
    let none = resolve(&partner_user(w.partner, OrgAccess::None), &w.all()).unwrap();
    assert_eq!(write(&none), "");
    let org = resolve(
        &Principal::User {
            user_id: UserId::new_random(),
            memberships: Memberships {
                organization: Some(org_membership(w.active.id, SiteAccess::All)),
                ..Memberships::default()
            },
        },
        &w.all(),
    )
    .unwrap();
    assert_eq!(write(&org), "");
    let (system, _) = AccessContext::system("job", now).unwrap();
    assert_eq!(write(&system), "true");
    let (narrowed, _) = AccessContext::system_within("beats", now, [w.active.id], []).unwrap();
    assert_eq!(write(&narrowed), "");
}

#[test]
fn system_context_needs_a_reason_and_yields_a_record() {
    let now = OffsetDateTime::UNIX_EPOCH;
    for bad in ["", "   ", "line\nbreak", &"x".repeat(501)] {
        assert!(AccessContext::system(bad, now).is_err(), "{bad:?}");
    }
    let (ctx, record) = AccessContext::system("  audit retention job ", now).unwrap();
    assert_eq!(record.reason, "audit retention job");
    assert_eq!(record.issued_at, now);
    assert_eq!(ctx.actor(), &Actor::System("audit retention job".into()));
    assert_eq!(ctx.scope(), Scope::System);
    assert_eq!(ctx.user_id(), None);
    assert_eq!(ctx.session_settings()[4].1, "");
}

#[test]
fn narrowed_system_context_reaches_only_its_orgs_and_sites() {
    let now = OffsetDateTime::UNIX_EPOCH;
    assert!(AccessContext::system_within(" ", now, [], []).is_err());
    let (a, b, other) = (
        OrgId::new_random(),
        OrgId::new_random(),
        OrgId::new_random(),
    );
    let (sa, sb) = (SiteId::new_random(), SiteId::new_random());
    let (ctx, record) =
        AccessContext::system_within("agent heartbeats", now, [b, a, a], [sa, sb]).unwrap();
    assert_eq!(record.reason, "agent heartbeats");
    assert_eq!(ctx.scope(), Scope::System);
    assert!(ctx.can_access_org(a) && ctx.can_access_org(b));
    assert!(!ctx.can_access_org(other));
    assert!(ctx.can_access_site(a, sa));
    assert!(!ctx.can_access_site(a, SiteId::new_random()));
    assert!(!ctx.can_access_site(other, sa));
    assert!(!ctx.can_access_partner(PartnerId::new_random()));
    assert!(!ctx.can_write_partner_wide());
    let settings = ctx.session_settings();
    assert_eq!(settings[0].1, "system");
    let mut orgs = [a.to_string(), b.to_string()];
    orgs.sort();
    assert_eq!(settings[2].1, orgs.join(","));
    assert_eq!(settings[3].1, "");
    assert_ne!(settings[6].1, "*");
    // an empty narrowing reaches nothing
    let (none, _) = AccessContext::system_within("nothing", now, [], []).unwrap();
    assert!(!none.can_access_org(a));
    assert_eq!(none.session_settings()[2].1, "");
    // the unnarrowed system context still writes partner-wide
    assert!(
        AccessContext::system("job", now)
            .unwrap()
            .0
            .can_write_partner_wide()
    );
}

#[test]
fn duplicate_org_records_do_not_duplicate_access() {
    let w = World::new();
    let mut orgs = w.all();
    orgs.push(w.active);
    let ctx = resolve(&partner_user(w.partner, OrgAccess::All), &orgs).unwrap();
    assert_eq!(ctx.accessible_org_ids().ids().unwrap().len(), 2);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn status() -> impl Strategy<Value = OrgStatus> {
        prop_oneof![
            Just(OrgStatus::Active),
            Just(OrgStatus::Trial),
            Just(OrgStatus::Suspended),
            Just(OrgStatus::Offboarding),
        ]
    }

    proptest! {
        /// Whatever the orgs and the selection, a partner user reaches exactly the
        /// serviceable orgs of its own partner that were selected (all of them for `all`,
        /// none for `none`), and never anything else.
        #[test]
        fn partner_resolution_is_exactly_selected_and_serviceable(
            orgs in proptest::collection::vec((status(), any::<bool>(), any::<bool>(), any::<bool>()), 0..40),
            mode in 0u8..3,
        ) {
            let partner = PartnerId::new_random();
            let other = PartnerId::new_random();
            let records: Vec<(OrgRecord, bool)> = orgs
                .iter()
                .map(|(st, deleted, ours, selected)| {
                    (org(if *ours { partner } else { other }, *st, *deleted), *selected)
                })
                .collect();
            let access = match mode {
                0 => OrgAccess::All,
                1 => OrgAccess::Selected(records.iter().filter(|(_, s)| *s).map(|(o, _)| o.id).collect()),
                _ => OrgAccess::None,
            };
            let all: Vec<OrgRecord> = records.iter().map(|(o, _)| *o).collect();
            let ctx = resolve(&partner_user(partner, access.clone()), &all).unwrap();
            for (o, selected) in &records {
                let expected = o.partner_id == partner
                    && o.status.is_active()
                    && !o.deleted
                    && match access {
                        OrgAccess::All => true,
                        OrgAccess::Selected(_) => *selected,
                        OrgAccess::None => false,
                    };
                prop_assert_eq!(ctx.can_access_org(o.id), expected);
            }
            prop_assert!(!ctx.can_access_org(OrgId::new_random()));
            prop_assert!(!ctx.can_access_partner(other));
        }
    }
}
