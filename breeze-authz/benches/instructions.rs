//! Instruction counts per operation, stable on a loaded machine (criterion wall-clock
//! figures are not when other builds share the cores). Run each operation `n` times under
//! cachegrind and subtract the `n = 0` run:
//!
//! ```text
//! cargo bench -p breeze-authz --bench instructions --no-run
//! valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
//!     target/release/deps/instructions-<hash> OP N
//! ```
//!
//! OP is one of `permission_check`, `resolve_all`, `resolve_all_sorted`, `resolve_selected`,
//! `resolve_selected_sorted`, `session_settings`, `risk_decision`; instructions per operation = (I refs at N - I refs at 0) / N.
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

mod fixtures;

fn main() {
    // `cargo bench` passes `--bench`; positional arguments are OP and N.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let (Some(op), Some(n)) = (args.first(), args.get(1)) else {
        println!("usage: instructions OP N (see the file header)");
        return;
    };
    let n: usize = n.parse().unwrap();
    match op.as_str() {
        "permission_check" => {
            let (_registry, set, _wanted, id) = fixtures::permission();
            for _ in 0..n {
                black_box(black_box(&set).allows(black_box(id)));
            }
        }
        "resolve_all" | "resolve_all_sorted" | "resolve_selected" | "resolve_selected_sorted" => {
            let (partner, mut orgs) = fixtures::partner_with_orgs(1_000);
            if op.ends_with("_sorted") {
                orgs.sort_by_key(|o| o.id);
            }
            let access = if op.starts_with("resolve_selected") {
                fixtures::half(&orgs)
            } else {
                OrgAccess::All
            };
            let principal = fixtures::partner_user(partner, access);
            for _ in 0..n {
                black_box(resolve(black_box(&principal), black_box(&orgs)).unwrap());
            }
        }
        "session_settings" => {
            let (partner, orgs) = fixtures::partner_with_orgs(1_000);
            let ctx = resolve(&fixtures::partner_user(partner, OrgAccess::All), &orgs).unwrap();
            for _ in 0..n {
                black_box(black_box(&ctx).session_settings());
            }
        }
        "risk_decision" => {
            let (engine, target) = fixtures::risk();
            for _ in 0..n {
                black_box(engine.decide(black_box("run_script"), black_box(&target)));
            }
        }
        other => panic!("unknown op `{other}`"),
    }
}
