//! Every seeded role against every registry permission (table-driven), and wildcard
//! properties.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use breeze_authz::permission::{Grant, Permission};
use breeze_authz::registry::Registry;
use breeze_authz::role::{Role, RoleScope};
use breeze_authz::seeded::SeededRole;
use proptest::prelude::*;

/// The expected answer for every (role, permission). `Y` = allowed. Columns follow
/// `SeededRole::ALL`: Platform Admin, Partner Admin, Partner Technician, Partner Viewer,
/// Org Admin, Org Technician, Org Viewer, Security Approver.
const EXPECTED: &[(&str, &str)] = &[
    //                        PA PtA PtT PtV OA OT OV SA
    ("devices:read", "YYYYYYYY"),
    ("devices:write", "YYY.YY.."),
    ("devices:delete", "YY..Y..."),
    ("devices:execute", "YYY.YY.."),
    ("scripts:read", "YYYYYYYY"),
    ("scripts:write", "YYY.Y..."),
    ("scripts:delete", "YY..Y..."),
    ("scripts:execute", "YYY.YY.."),
    ("alerts:read", "YYYYYYYY"),
    ("alerts:write", "YYY.YY.."),
    ("alerts:acknowledge", "YYY.YY.."),
    ("users:read", "YYY.YY.."),
    ("users:write", "YY..Y..."),
    ("users:delete", "YY..Y..."),
    ("users:invite", "YY..Y..."),
    ("organizations:read", "YYYYYYYY"),
    ("organizations:write", "YY..Y..."),
    ("organizations:delete", "YY......"),
    ("sites:read", "YYYYYYYY"),
    ("sites:write", "YY..Y..."),
    ("sites:delete", "YY..Y..."),
    ("automations:read", "YYYYYYYY"),
    ("automations:write", "YYY.Y..."),
    ("automations:delete", "YY..Y..."),
    ("remote:access", "YYY.YY.."),
    ("audit:read", "YY..Y..Y"),
    ("audit:export", "YY..Y..."),
    ("reports:read", "YYYYYYY."),
    ("reports:write", "YYY.Y..."),
    ("reports:delete", "YY..Y..."),
    ("reports:export", "YY..Y..."),
    ("billing:manage", "YY......"),
    ("sso:admin", "YY......"),
    ("approvals:decide", "YY..Y..Y"),
    ("variables:read", "YYY.YY.."),
    ("variables:manage", "YY..Y..."),
    ("webhooks:read", "YY..Y..."),
    ("webhooks:write", "YY..Y..."),
];

#[test]
fn every_seeded_role_against_the_registry() {
    let registry = Registry::spec();
    assert_eq!(
        EXPECTED.len(),
        registry.len(),
        "the table must list every registry permission"
    );
    let sets: Vec<_> = SeededRole::ALL
        .iter()
        .map(|r| r.role().compile(&registry).unwrap())
        .collect();
    for (permission, row) in EXPECTED {
        let p: Permission = permission.parse().unwrap();
        let id = registry.id_of(&p).expect("table permission is registered");
        assert_eq!(row.len(), SeededRole::ALL.len());
        for ((role, set), want) in SeededRole::ALL.iter().zip(&sets).zip(row.chars()) {
            let want = want == 'Y';
            assert_eq!(set.allows(id), want, "{} / {permission}", role.name());
            // The compiled set and the grant rule agree.
            let by_grants = role.role().grants().iter().any(|g| g.matches(&p));
            assert_eq!(by_grants, want, "{} / {permission} (grants)", role.name());
        }
    }
}

#[test]
fn seeded_scopes_and_mfa() {
    use SeededRole::*;
    assert_eq!(PlatformAdmin.scope(), RoleScope::System);
    for r in [
        PartnerAdmin,
        PartnerTechnician,
        PartnerViewer,
        SecurityApprover,
    ] {
        assert_eq!(r.scope(), RoleScope::Partner, "{r:?}");
    }
    for r in [OrgAdmin, OrgTechnician, OrgViewer] {
        assert_eq!(r.scope(), RoleScope::Organization, "{r:?}");
    }
    for r in SeededRole::ALL {
        let viewer = matches!(r, PartnerViewer | OrgViewer);
        assert_eq!(r.force_mfa(), !viewer, "{r:?}");
        // Only the system role holds `*:*`.
        let full = r.role().grants().iter().any(Grant::is_full_wildcard);
        assert_eq!(full, r.scope() == RoleScope::System, "{r:?}");
    }
}

#[test]
fn a_role_naming_a_missing_permission_fails_to_compile() {
    let registry = Registry::spec();
    let role = Role::new(
        "Typo",
        RoleScope::Organization,
        vec!["devices:reed".parse().unwrap()],
        false,
    )
    .unwrap();
    assert_eq!(
        role.compile(&registry).unwrap_err().code(),
        "unknown_permission"
    );
}

#[test]
fn an_application_permission_is_granted_to_nobody_until_assigned() {
    let mut registry = Registry::spec();
    let tickets = registry.register("tickets:read".parse().unwrap()).unwrap();
    for role in SeededRole::ALL {
        let set = role.role().compile(&registry).unwrap();
        // Only `*:*` (system) reaches a permission nobody assigned.
        assert_eq!(
            set.allows(tickets),
            role.scope() == RoleScope::System,
            "{role:?}"
        );
    }
}

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_.-]{0,12}"
}

fn pattern() -> impl Strategy<Value = String> {
    prop_oneof![Just("*".to_owned()), name()]
}

proptest! {
    /// A grant never matches outside its resource or its action.
    #[test]
    fn wildcard_never_grants_outside_its_resource_or_action(
        gr in pattern(), ga in pattern(), r in name(), a in name()
    ) {
        let grant: Grant = format!("{gr}:{ga}").parse().unwrap();
        let wanted = Permission::new(&r, &a).unwrap();
        let matches = grant.matches(&wanted);
        if gr != "*" && gr != r {
            prop_assert!(!matches, "{grant} matched {wanted} outside its resource");
        }
        if ga != "*" && ga != a {
            prop_assert!(!matches, "{grant} matched {wanted} outside its action");
        }
        let expected = (gr == "*" || gr == r) && (ga == "*" || ga == a);
        prop_assert_eq!(matches, expected);
    }

    /// Compiling through the registry agrees with the grant rule.
    #[test]
    fn compiled_sets_agree_with_matching(gr in pattern(), ga in pattern(), extra in name()) {
        let mut registry = Registry::spec();
        registry.register(Permission::new(&extra, "read").unwrap()).unwrap();
        let grant: Grant = format!("{gr}:{ga}").parse().unwrap();
        match registry.compile(std::slice::from_ref(&grant)) {
            Ok(set) => {
                for p in registry.iter() {
                    prop_assert_eq!(set.allows_permission(&registry, p), grant.matches(p));
                }
            }
            Err(_) => prop_assert!(registry.iter().all(|p| !grant.matches(p))),
        }
    }

    /// Parsing never panics and accepts only the `resource:action` form.
    #[test]
    fn parsing_arbitrary_strings_is_total(s in ".{0,80}") {
        if let Ok(p) = s.parse::<Permission>() {
            prop_assert_eq!(p.to_string(), s.clone());
        }
        if let Ok(g) = s.parse::<Grant>() {
            prop_assert_eq!(g.to_string(), s);
        }
    }
}
