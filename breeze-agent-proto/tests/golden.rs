//! Golden vectors and schemas: the checked-in files are current, and replaying every vector
//! gives its recorded outcome.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

mod vectors_gen;

use breeze_agent_proto::golden::{
    expected_binary_outcome, expected_content_outcome, expected_outcome, expected_path_outcome,
    schema_files,
};
use breeze_agent_proto::{MessageKind, RemotePath, redact_secrets};
use serde_json::Value;

fn read(name: &str) -> String {
    let path = vectors_gen::dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "read vectors/{}/{name}: {e}; run `{}`",
            vectors_gen::DIR,
            vectors_gen::COMMAND
        )
    })
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
fn no_stray_schema_files() {
    // No schema files for messages that no longer exist.
    let listed: Vec<String> = schema_files().into_iter().map(|(n, _)| n).collect();
    for entry in std::fs::read_dir(vectors_gen::dir().join("schemas")).unwrap() {
        let name = format!("schemas/{}", entry.unwrap().file_name().to_string_lossy());
        assert!(
            listed.contains(&name),
            "{name} is not generated any more: delete it"
        );
    }
}

#[test]
fn text_vectors_replay() {
    let file: Value = serde_json::from_str(&read("text.json")).unwrap();
    let vectors = file["vectors"].as_array().unwrap();
    assert!(vectors.len() > 100, "expected the full vector set");
    let mut kinds_seen = std::collections::HashSet::new();
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let kind = MessageKind::from_name(v["kind"].as_str().unwrap()).unwrap();
        kinds_seen.insert(kind);
        let input = v["input"].as_str().unwrap();
        let actual = expected_outcome(kind, input.as_bytes());
        assert_eq!(actual, v["expect"], "vector {name}");
        // A valid vector's canonical form decodes to itself (round trip through the wire).
        if v["expect"]["valid"] == Value::Bool(true) {
            let canonical = v["expect"]["message"].to_string();
            let again = kind.decode_to_json(canonical.as_bytes()).unwrap();
            assert_eq!(
                again.message, v["expect"]["message"],
                "canonical form of {name}"
            );
            assert!(
                again.dropped.is_empty(),
                "canonical form of {name} drops nothing"
            );
        } else {
            let issues = v["expect"]["issues"].as_array().unwrap();
            assert!(
                !issues.is_empty() && issues.len() <= 10,
                "vector {name}: 1 to 10 issues"
            );
        }
    }
    for kind in MessageKind::ALL {
        assert!(kinds_seen.contains(kind), "no vector for {}", kind.name());
    }
}

#[test]
fn binary_vectors_replay() {
    let file: Value = serde_json::from_str(&read("binary.json")).unwrap();
    for v in file["vectors"].as_array().unwrap() {
        let hex = v["inputHex"].as_str().unwrap();
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        assert_eq!(
            expected_binary_outcome(&bytes),
            v["expect"],
            "vector {}",
            v["name"]
        );
    }
}

#[test]
fn every_command_type_has_a_vector() {
    let file: Value = serde_json::from_str(&read("text.json")).unwrap();
    let names: Vec<&str> = file["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    for ty in breeze_agent_proto::CommandType::ALL {
        assert!(
            names.contains(&format!("command/{}", ty.as_str()).as_str()),
            "{}",
            ty.as_str()
        );
    }
    for frame in [
        "pong",
        "heartbeat",
        "command_result",
        "terminal_output",
        "update_status",
        "patch_progress",
        "verification_progress",
        "terminal_exit",
    ] {
        assert!(
            names.contains(&format!("agent_frame/{frame}").as_str()),
            "{frame}"
        );
    }
    for frame in [
        "connected",
        "ping",
        "ack",
        "heartbeat_ack",
        "error",
        "command_run_script",
        "terminal_start",
        "terminal_input",
        "terminal_resize",
        "terminal_stop",
    ] {
        assert!(
            names.contains(&format!("server_frame/{frame}").as_str()),
            "{frame}"
        );
    }
    for frame in ["input", "resize", "stop"] {
        assert!(
            names.contains(&format!("viewer_frame/{frame}").as_str()),
            "{frame}"
        );
    }
    for event in ["output", "exit", "notice"] {
        assert!(
            names.contains(&format!("viewer_event/{event}").as_str()),
            "{event}"
        );
    }
    for outcome in [
        "file_content",
        "file_listing",
        "file_written",
        "file_refused",
    ] {
        assert!(
            names.contains(&format!("command_result/{outcome}").as_str()),
            "{outcome}"
        );
    }
    // The removed command types have no vector of their own (only one showing they are unknown).
    for removed in [
        "terminal_start",
        "terminal_data",
        "terminal_resize",
        "terminal_stop",
    ] {
        assert!(
            !names.contains(&format!("command/{removed}").as_str()),
            "{removed}"
        );
    }
}

#[test]
fn remote_path_vectors_replay() {
    let file: Value = serde_json::from_str(&read("remote_path.json")).unwrap();
    let vectors = file["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 25, "expected the full vector set");
    let mut codes = std::collections::HashSet::new();
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let input = v["input"].as_str().unwrap();
        let code = v["code"].as_str();
        assert_eq!(expected_path_outcome(input), code, "vector {name}");
        assert_eq!(
            RemotePath::parse(input).err().map(|e| e.code()),
            code,
            "vector {name}"
        );
        codes.insert(code);
    }
    // Every rule is covered, and so is an allowed path.
    for code in [
        None,
        Some("path_empty"),
        Some("path_too_long"),
        Some("path_nul"),
        Some("path_relative"),
        Some("path_dot_dot"),
    ] {
        assert!(codes.contains(&code), "{code:?}");
    }
}

#[test]
fn file_content_vectors_replay() {
    let file: Value = serde_json::from_str(&read("file_content.json")).unwrap();
    let vectors = file["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 15, "expected the full vector set");
    let mut codes = std::collections::HashSet::new();
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let mut input = String::new();
        if let Some(r) = v.get("contentBase64Repeat") {
            input = r["unit"]
                .as_str()
                .unwrap()
                .repeat(usize::try_from(r["times"].as_u64().unwrap()).unwrap());
        }
        input.push_str(v["contentBase64"].as_str().unwrap());
        let outcome =
            expected_content_outcome(&input, v["sha256"].as_str().unwrap(), v["size"].as_u64());
        assert_eq!(outcome, v["expect"], "vector {name}");
        codes.insert(v["expect"]["code"].as_str().map(str::to_owned));
    }
    for code in [
        None,
        Some("content_invalid"),
        Some("file_too_large"),
        Some("digest_mismatch"),
    ] {
        assert!(codes.contains(&code.map(str::to_owned)), "{code:?}");
    }
}

#[test]
fn redact_vectors_replay() {
    let file: Value = serde_json::from_str(&read("redact.json")).unwrap();
    let vectors = file["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 30, "expected the full vector set");
    let mut changed = 0;
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let input = v["input"].as_str().unwrap();
        let output = v["output"].as_str().unwrap();
        assert_eq!(redact_secrets(input), output, "vector {name}");
        changed += usize::from(input != output);
    }
    // Both kinds of case are there: secrets replaced and near misses kept.
    assert!(changed >= 15 && changed + 10 <= vectors.len(), "{changed}");
}
