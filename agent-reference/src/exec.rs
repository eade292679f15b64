//! Command execution (SPEC 8.5). Only `run_script`, `list_processes` and
//! `collect_inventory` run here (`file_read`, `file_list` and `file_write` are taken by
//! [`crate::files`] before this); every other type, known or not, gets a `failed` result
//! saying it is unsupported. Nothing is ever run for a type the agent does not know.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use breeze_agent_proto::command::{Command, CommandBody};
use breeze_agent_proto::frame::AgentFrame;
use breeze_agent_proto::ids::Timestamp;
use breeze_agent_proto::limits::{MAX_OUTPUT_CHARS, MAX_RESULT_JSON_BYTES};
use breeze_agent_proto::payload::{RunAs, RunScriptPayload, ScriptLanguage};
use breeze_agent_proto::{CommandResult, CommandStatus, EncodeError};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// Timeout of a script whose payload names none.
pub const DEFAULT_SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);
/// How long to keep draining output after the process group was killed.
const DRAIN_AFTER_KILL: Duration = Duration::from_secs(2);
/// The only environment a script sees (the agent's own environment may hold secrets, such as
/// `BREEZE_ENROLLMENT_SECRET`, and is never inherited).
pub(crate) const SCRIPT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Most processes listed by `list_processes` (keeps the result under the JSON limit).
const MAX_LISTED_PROCESSES: usize = 10_000;

/// Execution limits (the protocol's by default; tests lower them).
#[derive(Debug, Clone, Copy)]
pub struct ExecLimits {
    /// Most bytes kept of stdout and of stderr (each); the rest is drained and discarded.
    pub max_output_bytes: usize,
    /// Timeout when the payload names none.
    pub default_timeout: Duration,
}

impl Default for ExecLimits {
    fn default() -> Self {
        Self {
            max_output_bytes: MAX_OUTPUT_CHARS,
            default_timeout: DEFAULT_SCRIPT_TIMEOUT,
        }
    }
}

/// Runs `command` and returns its result (never an error: failures are `failed` results).
pub async fn execute(command: &Command, limits: ExecLimits) -> CommandResult {
    let started = OffsetDateTime::now_utc();
    let clock = Instant::now();
    let mut result = match &command.body {
        CommandBody::RunScript(payload) => run_script(command, payload, limits).await,
        CommandBody::ListProcesses(_) => json_result(command, list_processes()),
        CommandBody::CollectInventory(_) => json_result(command, collect_inventory()),
        CommandBody::Unknown(_) => command
            .unsupported_result()
            .unwrap_or_else(|| CommandResult::new(command.id, CommandStatus::Failed)),
        other => {
            let mut r = CommandResult::new(command.id, CommandStatus::Failed);
            r.error = Some(format!(
                "command type `{}` is not supported by this agent",
                other.type_name()
            ));
            r
        }
    };
    if result.started_at.is_none() {
        result.started_at = Some(Timestamp::new(started));
    }
    if result.duration_ms.is_none() {
        result.duration_ms = Some(millis(clock.elapsed()));
    }
    result.truncate_to_limits();
    fit_to_wire(&mut result);
    result
}

/// Shrinks a result until it encodes as a `command_result` frame (and so as an HTTP result
/// body: both share the same limit). Output that JSON-escapes badly (NUL bytes become six
/// characters each) can exceed the byte limit even within the character limits.
pub fn fit_to_wire(result: &mut CommandResult) {
    const NOTE: &str = "output truncated to fit the result size limit";
    for _ in 0..16 {
        match AgentFrame::CommandResult(result.clone()).encode() {
            Ok(_) => return,
            Err(EncodeError::TooLarge { .. }) => {
                for text in [&mut result.stdout, &mut result.stderr]
                    .into_iter()
                    .flatten()
                {
                    let keep = text.chars().count() / 2;
                    *text = text.chars().take(keep).collect();
                }
                let error = match result.error.take() {
                    Some(e) if e.contains(NOTE) => e,
                    Some(e) => format!("{e}; {NOTE}"),
                    None => NOTE.to_owned(),
                };
                result.error = Some(error);
                result.truncate_to_limits();
            }
            Err(_) => {
                // Anything else invalid: keep only the status and a fixed explanation.
                result.result = None;
                result.stdout = None;
                result.stderr = None;
                result.error = Some("result could not be encoded".to_owned());
            }
        }
    }
    result.stdout = None;
    result.stderr = None;
    result.result = None;
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn json_result(command: &Command, value: Value) -> CommandResult {
    let mut result = CommandResult::new(command.id, CommandStatus::Completed);
    match serde_json::to_vec(&value) {
        Ok(bytes) if bytes.len() <= MAX_RESULT_JSON_BYTES => result.result = Some(value),
        _ => {
            result.status = CommandStatus::Failed;
            result.error = Some("result larger than the protocol allows".to_owned());
        }
    }
    result
}

/// The interpreter argv for a language; the script is fed on stdin (no argument-length
/// limit, nothing in the process list).
fn interpreter(language: ScriptLanguage) -> Option<&'static [&'static str]> {
    match language {
        ScriptLanguage::Sh => Some(&["/bin/sh", "-s"]),
        ScriptLanguage::Bash => Some(&["bash", "-s"]),
        ScriptLanguage::Zsh => Some(&["zsh", "-s"]),
        ScriptLanguage::Python => Some(&["python3", "-"]),
        ScriptLanguage::Powershell => {
            Some(&["pwsh", "-NoProfile", "-NonInteractive", "-Command", "-"])
        }
        ScriptLanguage::Cmd => None,
    }
}

/// Environment variable name for a script parameter: `BREEZE_PARAM_` + the name with every
/// character outside `[A-Za-z0-9_]` replaced by `_`.
#[must_use]
pub fn parameter_env_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("BREEZE_PARAM_{clean}")
}

fn failed(command: &Command, error: String) -> CommandResult {
    let mut r = CommandResult::new(command.id, CommandStatus::Failed);
    r.error = Some(error);
    r
}

async fn run_script(
    command: &Command,
    payload: &RunScriptPayload,
    limits: ExecLimits,
) -> CommandResult {
    if payload.run_as == Some(RunAs::User) {
        return failed(
            command,
            "run_as `user` is not supported by this agent".to_owned(),
        );
    }
    let Some((program, args)) = interpreter(payload.language).and_then(|argv| argv.split_first())
    else {
        return failed(
            command,
            "script language is not supported on this platform".to_owned(),
        );
    };
    let timeout = payload.timeout_seconds.map_or(limits.default_timeout, |s| {
        Duration::from_secs(u64::from(s))
    });

    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("PATH", SCRIPT_PATH)
        .env("LANG", "C.UTF-8")
        .env(
            "HOME",
            std::env::var_os("HOME").unwrap_or_else(|| "/root".into()),
        )
        .env("BREEZE_COMMAND_ID", command.id.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Own process group: a timeout kills the script and everything it started.
        .process_group(0)
        .kill_on_drop(true);
    let params: BTreeMap<String, &String> = payload
        .parameters
        .iter()
        .map(|(k, v)| (parameter_env_name(k), v))
        .collect();
    for (k, v) in &params {
        cmd.env(k, v);
    }

    let started_at = Timestamp::new(OffsetDateTime::now_utc());
    let clock = Instant::now();
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return failed(command, format!("could not start the interpreter: {e}")),
    };
    let pgid = child.id();
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let script = payload.content.clone();
    let feed = tokio::spawn(async move {
        if let Some(mut stdin) = stdin {
            // A script that exits without reading all of its input gives EPIPE: not an error.
            let _ignored = stdin.write_all(script.as_bytes()).await;
            let _ignored = stdin.shutdown().await;
        }
    });
    let cap = limits.max_output_bytes;
    let mut out_task = tokio::spawn(read_capped(stdout, cap));
    let mut err_task = tokio::spawn(read_capped(stderr, cap));

    // The timeout covers the process and its output: output is complete once every holder
    // of the pipes (background children in the group included) has closed them.
    let waited = tokio::time::timeout(timeout, async {
        let status = child.wait().await;
        let out = (&mut out_task).await;
        let err = (&mut err_task).await;
        (status, out, err)
    })
    .await;

    let (timed_out, status, (stdout, out_trunc), (stderr, err_trunc)) = match waited {
        Ok((status, Ok(out), Ok(err))) => (false, status.ok(), out, err),
        Ok((status, _, _)) => (false, status.ok(), (Vec::new(), false), (Vec::new(), false)),
        Err(_) => {
            kill_group(pgid);
            let _ignored = child.kill().await;
            let status = child.wait().await.ok();
            // Keep what was read before the kill, with a short grace to drain the pipes.
            let drained = tokio::time::timeout(DRAIN_AFTER_KILL, async {
                ((&mut out_task).await, (&mut err_task).await)
            })
            .await;
            let (out, err) = match drained {
                Ok((Ok(out), Ok(err))) => (out, err),
                _ => {
                    out_task.abort();
                    err_task.abort();
                    ((Vec::new(), false), (Vec::new(), false))
                }
            };
            (true, status, out, err)
        }
    };
    feed.abort();

    let mut result = CommandResult::new(command.id, CommandStatus::Completed);
    result.started_at = Some(started_at);
    result.duration_ms = Some(millis(clock.elapsed()));
    result.stdout = Some(String::from_utf8_lossy(&stdout).into_owned());
    result.stderr = Some(String::from_utf8_lossy(&stderr).into_owned());
    if out_trunc || err_trunc {
        result.result = Some(json!({"stdoutTruncated": out_trunc, "stderrTruncated": err_trunc}));
    }
    if timed_out {
        result.status = CommandStatus::Timeout;
        result.error = Some(format!(
            "timed out after {} s; process group killed",
            timeout.as_secs()
        ));
        return result;
    }
    match status {
        Some(status) => {
            result.exit_code = status.code();
            if status.success() {
                result.status = CommandStatus::Completed;
            } else {
                result.status = CommandStatus::Failed;
                if status.code().is_none() {
                    use std::os::unix::process::ExitStatusExt;
                    result.error = Some(format!(
                        "terminated by signal {}",
                        status.signal().unwrap_or_default()
                    ));
                }
            }
        }
        None => {
            result.status = CommandStatus::Failed;
            result.error = Some("could not wait for the script".to_owned());
        }
    }
    result
}

fn kill_group(pgid: Option<u32>) {
    let pid = pgid
        .and_then(|p| i32::try_from(p).ok())
        .and_then(rustix::process::Pid::from_raw);
    if let Some(pid) = pid {
        // ESRCH (already gone) is fine.
        let _ignored = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

/// Reads a pipe to its end, keeping at most `cap` bytes; returns (kept, truncated).
async fn read_capped<R: AsyncRead + Unpin>(reader: Option<R>, cap: usize) -> (Vec<u8>, bool) {
    let Some(mut reader) = reader else {
        return (Vec::new(), false);
    };
    let mut kept = Vec::new();
    let mut truncated = false;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                let chunk = buf.get(..n).unwrap_or_default();
                if n > room {
                    truncated = true;
                }
                kept.extend_from_slice(chunk.get(..n.min(room)).unwrap_or_default());
            }
        }
    }
    (kept, truncated)
}

/// Bounded text for reports.
fn bounded(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn new_system() -> Option<sysinfo::System> {
    sysinfo::System::new().ok()
}

/// `list_processes`: pid, parent, name, cpu %, memory bytes, status, start time.
#[must_use]
pub fn list_processes() -> Value {
    let Some(mut sys) = new_system() else {
        return json!({"processes": [], "error": "process table unavailable"});
    };
    sys.refresh_processes(sysinfo::ProcessesToUpdate::All, true);
    let mut list: Vec<Value> = sys
        .processes()
        .values()
        .take(MAX_LISTED_PROCESSES)
        .map(|p| {
            json!({
                "pid": p.pid().as_u32(),
                "parentPid": p.parent().map(|pp| pp.as_u32()),
                "name": bounded(&p.name().to_string_lossy(), 255),
                "cpuPercent": p.cpu_usage(),
                "memoryBytes": p.memory(),
                "status": p.status().to_string(),
                "startTime": p.start_time(),
                "userId": p.user_id().map(|u| u.to_string()),
            })
        })
        .collect();
    list.sort_by_key(|v| v.get("pid").and_then(Value::as_u64).unwrap_or_default());
    json!({ "processes": list })
}

/// `collect_inventory`: host, OS, CPU, memory, disks and network interfaces.
#[must_use]
pub fn collect_inventory() -> Value {
    let mut inventory = serde_json::Map::new();
    inventory.insert("hostname".into(), json!(sysinfo::System::host_name().ok()));
    inventory.insert("osName".into(), json!(sysinfo::System::name().ok()));
    inventory.insert(
        "osVersion".into(),
        json!(sysinfo::System::long_os_version().ok()),
    );
    inventory.insert(
        "kernelVersion".into(),
        json!(sysinfo::System::kernel_version().ok()),
    );
    inventory.insert("architecture".into(), json!(sysinfo::System::cpu_arch()));
    inventory.insert(
        "uptimeSeconds".into(),
        json!(sysinfo::System::uptime().ok()),
    );
    if let Some(mut sys) = new_system() {
        sys.refresh_memory();
        sys.refresh_cpu_all();
        inventory.insert(
            "cpuModel".into(),
            json!(sys.cpus().first().map(|c| bounded(c.brand(), 255))),
        );
        inventory.insert("cpuThreads".into(), json!(sys.cpus().len()));
        inventory.insert(
            "cpuCores".into(),
            json!(sysinfo::System::physical_core_count().ok()),
        );
        inventory.insert("memoryTotalBytes".into(), json!(sys.total_memory()));
        inventory.insert("memoryUsedBytes".into(), json!(sys.used_memory()));
    }
    if let Ok(disks) = sysinfo::Disks::new_with_refreshed_list() {
        let list: Vec<Value> = disks
            .iter()
            .take(256)
            .map(|d| {
                json!({
                    "mountPoint": bounded(&d.mount_point().to_string_lossy(), 4096),
                    "fileSystem": bounded(&d.file_system().to_string_lossy(), 64),
                    "totalBytes": d.total_space(),
                    "availableBytes": d.available_space(),
                    "removable": d.is_removable(),
                })
            })
            .collect();
        inventory.insert("disks".into(), Value::Array(list));
    }
    if let Ok(networks) = sysinfo::Networks::new_with_refreshed_list() {
        let list: Vec<Value> = networks
            .iter()
            .take(256)
            .map(|(name, data)| {
                json!({
                    "name": bounded(&name.to_string_lossy(), 100),
                    "mac": data.mac_address().to_string(),
                    "ips": data.ip_networks().iter().map(|ip| ip.addr.to_string()).collect::<Vec<_>>(),
                })
            })
            .collect();
        inventory.insert("networkInterfaces".into(), Value::Array(list));
    }
    Value::Object(inventory)
}
