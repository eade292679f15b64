//! Replays `vectors/authz/*.json` against the library, and fails when the checked-in files
//! are stale.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

mod vectors_gen;

use breeze_authz::access::OrgRecord;
use breeze_authz::api_key::{ApiKeyRecord, ApiKeyScopes, ApiKeyStatus};
use breeze_authz::mfa::{MFA_ENROLLMENT_REQUIRED_BODY, MfaGate, MfaPolicy};
use breeze_authz::permission::{Grant, Permission};
use breeze_authz::registry::Registry;
use breeze_authz::risk::{PolicyScope, RiskEngine, RiskLevel, ToolCatalogue, ToolTarget};
use breeze_authz::role::{Role, RoleScope};
use breeze_authz::seeded::SeededRole;
use breeze_authz::session::{
    SessionInvalid, TokenFacts, UserFacts, check_password_and_mfa, check_user_and_epochs,
};
use breeze_core::tenancy::{ApiKeyId, OrgId};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = vectors_gen::dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "read vectors/{}/{name}: {e}; run `{}`",
            vectors_gen::DIR,
            vectors_gen::COMMAND
        )
    });
    serde_json::from_str(&text).unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

fn arr(v: &Value) -> &Vec<Value> {
    v.as_array().unwrap()
}

#[test]
fn checked_in_vectors_are_fresh() {
    vectors_gen::support::assert_fresh(
        &vectors_gen::dir(),
        vectors_gen::DIR,
        vectors_gen::COMMAND,
        vectors_gen::all(),
    );
}

#[test]
fn permissions_replay() {
    let v = load("permissions.json");
    let mut registry = Registry::empty();
    for p in arr(&v["registry"]) {
        registry.register(s(p).parse().unwrap()).unwrap();
    }
    assert_eq!(registry.len(), Registry::spec().len());
    let mut sets = std::collections::HashMap::new();
    for role in arr(&v["roles"]) {
        let scope: RoleScope = serde_json::from_value(role["scope"].clone()).unwrap();
        let grants: Vec<Grant> = arr(&role["grants"])
            .iter()
            .map(|g| s(g).parse().unwrap())
            .collect();
        let built = Role::new(
            s(&role["name"]),
            scope,
            grants,
            role["force_mfa"].as_bool().unwrap(),
        )
        .unwrap();
        let seeded = SeededRole::from_name(s(&role["name"])).unwrap();
        assert_eq!(built, seeded.role());
        sets.insert(
            s(&role["name"]).to_owned(),
            built.compile(&registry).unwrap(),
        );
    }
    assert_eq!(sets.len(), SeededRole::ALL.len());
    for check in arr(&v["checks"]) {
        let p: Permission = s(&check["permission"]).parse().unwrap();
        let set = &sets[s(&check["role"])];
        assert_eq!(
            set.allows_permission(&registry, &p),
            check["allowed"].as_bool().unwrap(),
            "{check}"
        );
    }
    for case in arr(&v["grant_matches"]) {
        let g: Grant = s(&case["grant"]).parse().unwrap();
        let p: Permission = s(&case["permission"]).parse().unwrap();
        assert_eq!(g.matches(&p), case["matches"].as_bool().unwrap(), "{case}");
    }
    for case in arr(&v["invalid_grants"]) {
        let err = s(&case["input"]).parse::<Grant>().unwrap_err();
        assert_eq!(err.code(), s(&case["error_code"]));
    }
    for case in arr(&v["full_wildcard_by_scope"]) {
        let scope: RoleScope = serde_json::from_value(case["scope"].clone()).unwrap();
        let built = Role::new("r", scope, vec![s(&case["grant"]).parse().unwrap()], false);
        assert_eq!(built.is_ok(), case["allowed"].as_bool().unwrap());
    }
}

#[test]
fn scopes_replay() {
    let v = load("scopes.json");
    for case in arr(&v["matches"]) {
        let scopes = ApiKeyScopes::parse(arr(&case["scopes"]).iter().map(s)).unwrap();
        let p: Permission = s(&case["permission"]).parse().unwrap();
        assert_eq!(
            scopes.allows(&p),
            case["allowed"].as_bool().unwrap(),
            "{case}"
        );
    }
    for case in arr(&v["invalid"]) {
        let err = ApiKeyScopes::parse(arr(&case["scopes"]).iter().map(s)).unwrap_err();
        assert_eq!(err.code(), s(&case["error_code"]));
    }
    for case in arr(&v["key_status"]) {
        let status: ApiKeyStatus = serde_json::from_value(case["status"].clone()).unwrap();
        let record = ApiKeyRecord {
            id: ApiKeyId::new_random(),
            org_id: OrgId::new_random(),
            status,
            expires_at: case["expires_at"].as_str().map(vectors_gen::parse_time),
            scopes: ApiKeyScopes::default(),
        };
        let got = match record.check(vectors_gen::parse_time(s(&case["now"]))) {
            Ok(_) => "usable",
            Err(e) => e.code(),
        };
        assert_eq!(got, s(&case["outcome"]), "{case}");
    }
}

#[test]
fn risk_replay() {
    let v = load("risk.json");
    let catalogue = ToolCatalogue::default_catalogue();
    let listed: Vec<(String, RiskLevel)> = arr(&v["catalogue"])
        .iter()
        .map(|c| {
            (
                s(&c["tool"]).to_owned(),
                serde_json::from_value(c["level"].clone()).unwrap(),
            )
        })
        .collect();
    let ours: Vec<(String, RiskLevel)> = catalogue
        .tools()
        .into_iter()
        .map(|(t, l)| (t.to_string(), l))
        .collect();
    assert_eq!(listed, ours);
    let mut engine = RiskEngine::new(catalogue);
    for p in arr(&v["policies"]) {
        let scope: PolicyScope = serde_json::from_value(p["scope"].clone()).unwrap();
        let level: RiskLevel = serde_json::from_value(p["level"].clone()).unwrap();
        engine.set_override(scope, s(&p["tool"]), level).unwrap();
    }
    for case in arr(&v["decisions"]) {
        let target: ToolTarget = serde_json::from_value(case["target"].clone()).unwrap();
        let d = engine.decide(s(&case["tool"]), &target);
        assert_eq!(
            serde_json::to_value(d.level).unwrap(),
            case["level"],
            "{case}"
        );
        assert_eq!(
            serde_json::to_value(d.outcome).unwrap(),
            case["outcome"],
            "{case}"
        );
        assert_eq!(
            serde_json::to_value(d.source).unwrap(),
            case["source"],
            "{case}"
        );
        assert_eq!(
            serde_json::to_value(d.ignored_override).unwrap(),
            case["ignored_override"],
            "{case}"
        );
    }
    for case in arr(&v["refused_policies"]) {
        let scope: PolicyScope = serde_json::from_value(case["scope"].clone()).unwrap();
        let level: RiskLevel = serde_json::from_value(case["level"].clone()).unwrap();
        let mut e = RiskEngine::new(ToolCatalogue::default_catalogue());
        let err = e.set_override(scope, s(&case["tool"]), level).unwrap_err();
        assert_eq!(err.code(), s(&case["error_code"]));
    }
}

#[test]
fn access_replay() {
    let v = load("access.json");
    let orgs: Vec<OrgRecord> = serde_json::from_value(v["orgs"].clone()).unwrap();
    assert_eq!(orgs, vectors_gen::access_orgs());
    for case in arr(&v["cases"]) {
        let principal = vectors_gen::principal_from(&case["principal"]);
        let got = vectors_gen::resolution(&principal, &orgs);
        assert_eq!(got, case["expected"], "{}", case["name"]);
    }
}

#[test]
fn mfa_replay() {
    let v = load("mfa.json");
    assert_eq!(s(&v["body"]), MFA_ENROLLMENT_REQUIRED_BODY);
    assert_eq!(v["status"], 428);
    let policy = MfaPolicy::default();
    for case in arr(&v["cases"]) {
        let gate = policy.decide(
            case["role_requires_mfa"].as_bool().unwrap(),
            case["mfa_enrolled"].as_bool().unwrap(),
            s(&case["path"]),
        );
        assert_eq!(
            gate == MfaGate::EnrollmentRequired,
            case["enrollment_required"].as_bool().unwrap(),
            "{case}"
        );
    }
}

#[test]
fn session_replay() {
    let v = load("session.json");
    let codes: Vec<&str> = SessionInvalid::ALL.iter().map(|e| e.code()).collect();
    assert_eq!(arr(&v["checks"]).iter().map(s).collect::<Vec<_>>(), codes);
    let cases = arr(&v["cases"]);
    assert!(cases.len() >= 96, "expected the full matrix");
    let mut seen = std::collections::HashSet::new();
    for case in cases {
        let user: UserFacts = serde_json::from_value(case["user"].clone()).unwrap();
        let token: TokenFacts = serde_json::from_value(case["token"].clone()).unwrap();
        let expected = s(&case["outcome"]);
        assert_eq!(
            vectors_gen::session_outcome(&user, &token),
            expected,
            "{}",
            case["name"]
        );
        // The two halves give the same answer as the whole.
        let halves = check_user_and_epochs(&user, &token)
            .and_then(|()| check_password_and_mfa(&user, &token))
            .map_or_else(|e| e.code(), |()| "valid");
        assert_eq!(halves, expected, "{}", case["name"]);
        seen.insert(expected.to_owned());
    }
    // Every outcome appears.
    assert_eq!(seen.len(), codes.len() + 1, "{seen:?}");
}

#[test]
fn approvals_replay() {
    use breeze_authz::approval::{
        ARGUMENT_DIGEST_DOMAIN, EXECUTION_WINDOW, FRESH_FACTOR_WINDOW, MAX_ARGUMENT_BYTES,
        MAX_ARGUMENT_DEPTH,
    };
    use breeze_authz::risk::APPROVAL_TTL;
    let v = load("approvals.json");
    assert_eq!(s(&v["digest_domain"]).as_bytes(), ARGUMENT_DIGEST_DOMAIN);
    assert_eq!(v["max_argument_depth"], MAX_ARGUMENT_DEPTH);
    assert_eq!(v["max_argument_bytes"], MAX_ARGUMENT_BYTES);
    assert_eq!(v["approval_ttl_seconds"], APPROVAL_TTL.whole_seconds());
    assert_eq!(
        v["execution_window_seconds"],
        EXECUTION_WINDOW.whole_seconds()
    );
    assert_eq!(
        v["fresh_factor_window_seconds"],
        FRESH_FACTOR_WINDOW.whole_seconds()
    );

    let mut codes = std::collections::HashSet::new();
    for case in arr(&v["digests"]) {
        let got = vectors_gen::digest_outcome(s(&case["tool"]), s(&case["arguments_json"]));
        match (&case["hex"], &case["error_code"]) {
            (Value::String(hex), Value::Null) => {
                assert_eq!(got.as_deref(), Ok(hex.as_str()), "{}", case["name"]);
            }
            (Value::Null, Value::String(code)) => {
                assert_eq!(got, Err(code.as_str()), "{}", case["name"]);
                codes.insert(code.clone());
            }
            _ => panic!("a digest case has a hex or an error code: {}", case["name"]),
        }
    }
    assert_eq!(codes.len(), 1, "only invalid_arguments: {codes:?}");
    // The pairs the file documents as equal are equal, and the changed ones differ.
    let hex_of = |name: &str| {
        arr(&v["digests"])
            .iter()
            .find(|c| c["name"].as_str().is_some_and(|n| n.starts_with(name)))
            .and_then(|c| c["hex"].as_str())
            .unwrap()
    };
    assert_eq!(hex_of("canonical text"), hex_of("same arguments, keys"));
    assert_ne!(hex_of("canonical text"), hex_of("one character"));
    assert_ne!(
        hex_of("canonical text"),
        hex_of("same arguments, another tool")
    );
    assert_eq!(hex_of("nested objects"), hex_of("the same, keys"));
    assert_ne!(hex_of("nested objects"), hex_of("array order"));
    assert_ne!(hex_of("integer 1"), hex_of("float 1.0"));
    assert_eq!(hex_of("integer 1"), hex_of("duplicate keys"));

    for case in arr(&v["ai_scopes"]) {
        let list: Vec<&str> = arr(&case["scopes"]).iter().map(s).collect();
        assert_eq!(
            vectors_gen::ai_scope_named(&list, s(&case["scope"])),
            case["named"].as_bool().unwrap(),
            "{case}"
        );
    }
    assert_eq!(v["tools"], vectors_gen::ai_tools());
    assert_eq!(
        arr(&v["tools"]).len(),
        breeze_authz::ai::TOOLS.len(),
        "every tool is listed"
    );

    let lifecycle = &v["lifecycle"];
    let world = vectors_gen::LifecycleWorld::new();
    assert_eq!(
        serde_json::to_value(world.ids()).unwrap(),
        serde_json::json!([
            lifecycle["partner"],
            lifecycle["org"],
            lifecycle["requester"],
            lifecycle["other"]
        ])
    );
    let mut outcomes = std::collections::HashSet::new();
    for case in arr(&lifecycle["cases"]) {
        let got = world.run(s(&lifecycle["tool"]), case);
        let steps = arr(&case["steps"]);
        assert_eq!(got.len(), steps.len());
        for (step, outcome) in steps.iter().zip(got) {
            assert_eq!(outcome, step["expected"], "{}: {step}", case["name"]);
            outcomes.insert(outcome.to_string());
        }
    }
    // Every status and every refusal of decide and execute appears.
    for expected in [
        r#"{"status":"pending"}"#,
        r#"{"status":"approved"}"#,
        r#"{"status":"denied"}"#,
        r#"{"status":"executed"}"#,
        r#"{"status":"expired"}"#,
        r#"{"error":"approval_already_decided"}"#,
        r#"{"error":"approval_expired"}"#,
        r#"{"error":"approver_not_a_user"}"#,
        r#"{"error":"out_of_scope"}"#,
        r#"{"error":"missing_permission"}"#,
        r#"{"error":"self_approval"}"#,
        r#"{"error":"invalid_reason"}"#,
        r#"{"error":"fresh_factor_required"}"#,
        r#"{"error":"approval_not_approved"}"#,
        r#"{"error":"approval_already_executed"}"#,
        r#"{"error":"approval_execution_window_closed"}"#,
        r#"{"error":"arguments_changed"}"#,
    ] {
        assert!(outcomes.contains(expected), "no step yields {expected}");
    }
}
