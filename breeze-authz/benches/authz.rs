//! Criterion benchmarks: permission check, access resolution for a partner with 1,000
//! organizations, and an AI tool risk decision. Figures go to `docs/BENCHMARKS.md`.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "bench code"
)]

use std::hint::black_box;

use breeze_authz::access::{OrgAccess, OrgRecord, Principal, resolve};
use breeze_authz::permission::Permission;
use breeze_authz::registry::Registry;
use breeze_authz::risk::{PolicyScope, RiskEngine, RiskLevel, ToolCatalogue, ToolTarget};
use breeze_authz::seeded::SeededRole;
use breeze_core::tenancy::{DeviceGroupId, OrgId, OrgStatus, PartnerId, SiteId, UserId};
use criterion::{Criterion, criterion_group, criterion_main};

#[path = "../tests/common/mod.rs"]
mod common;

fn permission_check(c: &mut Criterion) {
    let registry = Registry::spec();
    let set = SeededRole::PartnerTechnician
        .role()
        .compile(&registry)
        .unwrap();
    let wanted: Permission = "scripts:execute".parse().unwrap();
    let id = registry.id_of(&wanted).unwrap();
    let mut group = c.benchmark_group("permission_check");
    group.bench_function("by_id", |b| {
        b.iter(|| black_box(&set).allows(black_box(id)))
    });
    group.bench_function("by_permission", |b| {
        b.iter(|| black_box(&set).allows_permission(&registry, black_box(&wanted)));
    });
    let role = SeededRole::PartnerTechnician.role();
    let denied: Permission = "billing:manage".parse().unwrap();
    group.bench_function("grant_scan_miss", |b| {
        b.iter(|| role.grants().iter().any(|g| g.matches(black_box(&denied))));
    });
    group.finish();
}

fn partner_with_orgs(n: usize) -> (PartnerId, Vec<OrgRecord>) {
    let partner = PartnerId::new_random();
    let orgs = (0..n)
        .map(|i| OrgRecord {
            id: OrgId::new_random(),
            partner_id: partner,
            status: if i % 10 == 0 {
                OrgStatus::Suspended
            } else {
                OrgStatus::Active
            },
            deleted: i % 25 == 0,
        })
        .collect();
    (partner, orgs)
}

fn principal(partner: PartnerId, org_access: OrgAccess) -> Principal {
    common::partner_principal(UserId::new_random(), partner, org_access)
}

fn access_resolution(c: &mut Criterion) {
    let (partner, orgs) = partner_with_orgs(1_000);
    let all = principal(partner, OrgAccess::All);
    let selected = principal(
        partner,
        OrgAccess::Selected(orgs.iter().step_by(2).map(|o| o.id).collect()),
    );
    let mut group = c.benchmark_group("access_resolution_1000_orgs");
    group.bench_function("org_access_all", |b| {
        b.iter(|| resolve(black_box(&all), black_box(&orgs)).unwrap());
    });
    group.bench_function("org_access_selected_500", |b| {
        b.iter(|| resolve(black_box(&selected), black_box(&orgs)).unwrap());
    });
    let ctx = resolve(&all, &orgs).unwrap();
    let probe = orgs[501].id;
    group.bench_function("can_access_org", |b| {
        b.iter(|| black_box(&ctx).can_access_org(black_box(probe)));
    });
    group.bench_function("session_settings", |b| {
        b.iter(|| black_box(&ctx).session_settings())
    });
    group.finish();
}

fn risk_decision(c: &mut Criterion) {
    let target = ToolTarget {
        partner_id: PartnerId::new_random(),
        org_id: OrgId::new_random(),
        site_id: Some(SiteId::new_random()),
        device_group_id: Some(DeviceGroupId::new_random()),
    };
    let mut engine = RiskEngine::new(ToolCatalogue::default_catalogue());
    // Overrides at every level for the target, plus 1,000 unrelated org overrides.
    engine
        .set_override(
            PolicyScope::Partner(target.partner_id),
            "run_script",
            RiskLevel::Medium,
        )
        .unwrap();
    engine
        .set_override(
            PolicyScope::Organization(target.org_id),
            "run_script",
            RiskLevel::High,
        )
        .unwrap();
    engine
        .set_override(
            PolicyScope::Site(target.site_id.unwrap()),
            "run_script",
            RiskLevel::Low,
        )
        .unwrap();
    engine
        .set_override(
            PolicyScope::DeviceGroup(target.device_group_id.unwrap()),
            "run_script",
            RiskLevel::High,
        )
        .unwrap();
    for _ in 0..1_000 {
        engine
            .set_override(
                PolicyScope::Organization(OrgId::new_random()),
                "run_script",
                RiskLevel::Low,
            )
            .unwrap();
    }
    let mut group = c.benchmark_group("risk_decision");
    group.bench_function("four_level_overrides", |b| {
        b.iter(|| engine.decide(black_box("run_script"), black_box(&target)));
    });
    group.bench_function("catalogue_only", |b| {
        b.iter(|| engine.decide(black_box("query_devices"), black_box(&target)));
    });
    group.finish();
}

criterion_group!(benches, permission_check, access_resolution, risk_decision);
criterion_main!(benches);
