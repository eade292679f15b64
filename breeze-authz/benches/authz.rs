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

use breeze_authz::access::{OrgAccess, resolve};
use breeze_authz::permission::Permission;
use breeze_authz::seeded::SeededRole;
use criterion::{Criterion, criterion_group, criterion_main};

mod fixtures;

fn permission_check(c: &mut Criterion) {
    let (registry, set, wanted, id) = fixtures::permission();
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

fn access_resolution(c: &mut Criterion) {
    let (partner, orgs) = fixtures::partner_with_orgs(1_000);
    let mut sorted = orgs.clone();
    sorted.sort_by_key(|o| o.id);
    let all = fixtures::partner_user(partner, OrgAccess::All);
    let selected = fixtures::partner_user(partner, fixtures::half(&orgs));
    let mut group = c.benchmark_group("access_resolution_1000_orgs");
    group.bench_function("org_access_all", |b| {
        b.iter(|| resolve(black_box(&all), black_box(&orgs)).unwrap());
    });
    group.bench_function("org_access_all_sorted_input", |b| {
        b.iter(|| resolve(black_box(&all), black_box(&sorted)).unwrap());
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
    let (engine, target) = fixtures::risk();
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
