#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]
//! Command execution with real processes: exit codes, output caps, timeouts that kill the
//! whole process group, a scrubbed environment, and unsupported types.

use std::time::Duration;

use breeze_agent::exec::{ExecLimits, execute};
use breeze_agent_proto::limits::MAX_OUTPUT_CHARS;
use breeze_agent_proto::{Command, CommandStatus, Message};
use serde_json::json;

const ID: &str = "0f0e0d0c-0b0a-4908-8706-050403020100";

fn command(kind: &str, payload: serde_json::Value) -> Command {
    let text = json!({"id": ID, "type": kind, "payload": payload}).to_string();
    Command::decode(text.as_bytes()).unwrap().message
}

fn script(content: &str, timeout: Option<u32>) -> Command {
    let mut payload = json!({"content": content, "language": "sh"});
    if let Some(t) = timeout {
        payload["timeoutSeconds"] = json!(t);
    }
    command("run_script", payload)
}

fn limits() -> ExecLimits {
    ExecLimits {
        max_output_bytes: 1000,
        default_timeout: Duration::from_secs(60),
    }
}

#[tokio::test]
async fn a_script_reports_output_exit_code_and_timing() {
    let r = execute(&script("echo out; echo err >&2; exit 0", None), limits()).await;
    assert_eq!(r.status, CommandStatus::Completed);
    assert_eq!(r.exit_code, Some(0));
    assert_eq!(r.stdout.as_deref(), Some("out\n"));
    assert_eq!(r.stderr.as_deref(), Some("err\n"));
    assert!(r.duration_ms.is_some() && r.started_at.is_some());
    assert_eq!(r.command_id.to_string(), ID);
    // The result is a valid protocol message.
    r.encode().unwrap();
}

#[tokio::test]
async fn a_non_zero_exit_is_a_failed_result_with_its_code() {
    let r = execute(&script("echo partial; exit 3", None), limits()).await;
    assert_eq!(r.status, CommandStatus::Failed);
    assert_eq!(r.exit_code, Some(3));
    assert_eq!(r.stdout.as_deref(), Some("partial\n"));
}

#[tokio::test]
async fn a_signal_death_is_failed_without_exit_code() {
    let r = execute(&script("kill -9 $$", None), limits()).await;
    assert_eq!(r.status, CommandStatus::Failed);
    assert_eq!(r.exit_code, None);
    assert!(r.error.unwrap().contains("signal 9"));
}

#[tokio::test]
async fn output_is_capped_and_the_cap_is_reported() {
    let r = execute(
        &script(
            "head -c 5000 /dev/zero | tr '\\0' a; head -c 3000 /dev/zero | tr '\\0' b >&2",
            None,
        ),
        limits(),
    )
    .await;
    assert_eq!(r.status, CommandStatus::Completed);
    assert_eq!(r.stdout.as_deref().unwrap(), "a".repeat(1000));
    assert_eq!(r.stderr.as_deref().unwrap(), "b".repeat(1000));
    assert_eq!(
        r.result.unwrap(),
        json!({"stdoutTruncated": true, "stderrTruncated": true})
    );
}

#[tokio::test]
async fn output_is_capped_at_the_protocol_limit_by_default() {
    let r = execute(
        &script("head -c 6000000 /dev/zero | tr '\\0' x", None),
        ExecLimits::default(),
    )
    .await;
    assert_eq!(r.status, CommandStatus::Completed);
    assert_eq!(r.stdout.as_ref().unwrap().len(), MAX_OUTPUT_CHARS);
    r.encode().unwrap();
}

fn is_gone(pid: u32) -> bool {
    // Killed processes may linger as zombies when nothing reaps them (container PID 1).
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[tokio::test]
async fn a_timeout_kills_the_whole_process_group() {
    // The script starts a background child, prints its pid, then blocks.
    let r = execute(
        &script("sleep 1000 & echo $!; sleep 1000", Some(1)),
        limits(),
    )
    .await;
    assert_eq!(r.status, CommandStatus::Timeout);
    assert_eq!(r.exit_code, None);
    assert!(r.error.as_deref().unwrap().contains("timed out"));
    let child: u32 = r.stdout.as_deref().unwrap().trim().parse().unwrap();
    // SIGKILL delivery is asynchronous; wait for the kernel to finish it (hang guard only).
    let start = std::time::Instant::now();
    while !is_gone(child) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "background child {child} survived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn scripts_do_not_inherit_the_agent_environment() {
    let mut payload =
        json!({"content": "env", "language": "sh", "parameters": {"site-name": "x y"}});
    payload["timeoutSeconds"] = json!(30);
    let r = execute(&command("run_script", payload), limits()).await;
    let out = r.stdout.unwrap();
    // cargo sets CARGO_* in the test process; none of it may reach the script.
    assert!(!out.contains("CARGO"), "{out}");
    assert!(out.contains("BREEZE_PARAM_site_name=x y"), "{out}");
    assert!(out.contains(&format!("BREEZE_COMMAND_ID={ID}")), "{out}");
}

#[tokio::test]
async fn the_script_goes_through_stdin_not_argv() {
    // 200 KB exceeds the kernel's single-argument limit (128 KiB): only stdin can carry it.
    let body = format!("# {}\necho big", "x".repeat(200_000));
    let r = execute(&script(&body, None), limits()).await;
    assert_eq!(r.stdout.as_deref(), Some("big\n"));
}

#[tokio::test]
async fn run_as_user_is_refused_not_run_as_root() {
    let payload =
        json!({"content": "touch /tmp/should-not-exist-breeze", "language": "sh", "runAs": "user"});
    let r = execute(&command("run_script", payload), limits()).await;
    assert_eq!(r.status, CommandStatus::Failed);
    assert!(r.stdout.is_none());
}

#[tokio::test]
async fn an_unknown_command_type_is_a_failed_result() {
    let r = execute(
        &command("format_disk", json!({"disk": "/dev/sda"})),
        limits(),
    )
    .await;
    assert_eq!(r.status, CommandStatus::Failed);
    assert!(
        r.error
            .as_deref()
            .unwrap()
            .contains("unsupported command type `format_disk`")
    );
    assert!(r.stdout.is_none() && r.exit_code.is_none());
    r.encode().unwrap();
}

#[tokio::test]
async fn a_known_but_unimplemented_type_is_refused() {
    let r = execute(&command("reboot", json!({})), limits()).await;
    assert_eq!(r.status, CommandStatus::Failed);
    assert!(
        r.error
            .as_deref()
            .unwrap()
            .contains("`reboot` is not supported")
    );
    let r = execute(&command("file_delete", json!({"path": "/tmp/x"})), limits()).await;
    assert_eq!(r.status, CommandStatus::Failed);
}

#[tokio::test]
async fn list_processes_includes_this_process() {
    let r = execute(&command("list_processes", json!({})), limits()).await;
    assert_eq!(r.status, CommandStatus::Completed);
    let me = u64::from(std::process::id());
    let list = r.result.as_ref().unwrap()["processes"].as_array().unwrap();
    assert!(list.iter().any(|p| p["pid"].as_u64() == Some(me)));
    r.encode().unwrap();
}

#[tokio::test]
async fn collect_inventory_reports_the_host() {
    let r = execute(&command("collect_inventory", json!({})), limits()).await;
    assert_eq!(r.status, CommandStatus::Completed);
    let inv = r.result.as_ref().unwrap();
    assert!(inv["hostname"].is_string());
    assert!(inv["memoryTotalBytes"].as_u64().unwrap() > 0);
    assert!(inv["disks"].is_array());
    r.encode().unwrap();
}

#[tokio::test]
async fn output_that_escapes_badly_is_shrunk_to_fit_the_wire() {
    // 5,000,000 NUL characters are within the character limit but escape to 30 MB of JSON,
    // above the 24 MiB result limit: the result must still be deliverable.
    let r = execute(
        &script(
            "head -c 5000000 /dev/zero; head -c 5000000 /dev/zero >&2",
            None,
        ),
        ExecLimits::default(),
    )
    .await;
    assert_eq!(r.status, CommandStatus::Completed);
    assert!(r.error.as_deref().unwrap().contains("truncated to fit"));
    let out = r.stdout.as_deref().unwrap();
    assert!(!out.is_empty() && out.len() < 5_000_000);
    r.encode().unwrap();
    breeze_agent_proto::AgentFrame::CommandResult(r)
        .encode()
        .unwrap();
}
