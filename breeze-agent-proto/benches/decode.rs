//! Decoding cost of the hot messages: a typical heartbeat (target < 5 µs), a command result
//! carrying 1 MiB of output, the terminal relay frames (SPEC 12: a full 64 KiB output frame,
//! a keystroke from the browser) and checking 4 MiB of file content against its SHA-256.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use std::hint::black_box;

use breeze_agent_proto::file::decode_checked;
use breeze_agent_proto::limits::{MAX_FILE_TRANSFER_BYTES, MAX_TERMINAL_FRAME_BYTES};
use breeze_agent_proto::{
    AgentFrame, CommandResult, FileContent, HeartbeatRequest, Message, ViewerFrame,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;

fn typical_heartbeat() -> serde_json::Value {
    json!({
        "status": "ok", "agentVersion": "2.4.1", "protocolVersion": 1,
        "metrics": { "cpuPercent": 12.5, "ramPercent": 61.0, "ramUsedMb": 9984, "diskPercent": 48.2,
            "diskUsedGb": 231.7, "processCount": 312, "networkInBytes": 18446744073u64,
            "networkOutBytes": 9223372036u64 },
        "uptime": 86400, "hostname": "ws-accounting-07", "osVersion": "Windows 11 Pro 23H2",
        "lastUser": "CONTOSO\\jdoe", "pendingReboot": false,
        "ipHistoryUpdate": { "currentIPs": [
            { "interfaceName": "Ethernet", "ipAddress": "10.20.30.40", "ipType": "ipv4", "macAddress": "00:1a:2b:3c:4d:5e" },
            { "interfaceName": "Ethernet", "ipAddress": "fe80::1%12", "ipType": "ipv6" } ],
            "detectedAt": "2026-11-22T14:05:29Z" }
    })
}

fn one_mib_result() -> serde_json::Value {
    let line = "drwxr-xr-x  2 root root 4096 Nov 22 14:05 some-directory-name\n";
    let stdout: String = line
        .repeat(1024 * 1024 / line.len() + 1)
        .chars()
        .take(1024 * 1024)
        .collect();
    json!({ "commandId": "8c3e4a6b-9d0f-4e2c-b3d4-e5f6a7b8c9d0", "status": "completed", "exitCode": 0,
        "stdout": stdout, "stderr": "", "durationMs": 1250, "startedAt": "2026-11-22T14:05:29Z" })
}

fn bench(c: &mut Criterion) {
    let heartbeat = typical_heartbeat().to_string();
    let mut frame = typical_heartbeat();
    frame["type"] = json!("heartbeat");
    let heartbeat_frame = frame.to_string();
    assert!(
        HeartbeatRequest::decode(heartbeat.as_bytes())
            .unwrap()
            .dropped
            .is_empty()
    );

    let mut group = c.benchmark_group("heartbeat");
    group.throughput(Throughput::Bytes(heartbeat.len() as u64));
    group.bench_function("decode_http_body", |b| {
        b.iter(|| HeartbeatRequest::decode(black_box(heartbeat.as_bytes())).unwrap());
    });
    group.bench_function("decode_ws_frame", |b| {
        b.iter(|| AgentFrame::decode(black_box(heartbeat_frame.as_bytes())).unwrap());
    });
    group.finish();

    let result = one_mib_result().to_string();
    let mut frame = one_mib_result();
    frame["type"] = json!("command_result");
    let result_frame = frame.to_string();
    let mut group = c.benchmark_group("command_result_1mib");
    group.throughput(Throughput::Bytes(result.len() as u64));
    group.sample_size(30);
    group.bench_function("decode_http_body", |b| {
        b.iter(|| CommandResult::decode(black_box(result.as_bytes())).unwrap());
    });
    group.bench_function("decode_ws_frame", |b| {
        b.iter(|| AgentFrame::decode(black_box(result_frame.as_bytes())).unwrap());
    });
    group.finish();

    let session = "9d4f5b7c-0e1a-4f3d-84e5-f6a7b8c9d0e1";
    let head = json!({ "type": "terminal_output", "sessionId": session, "data": "" }).to_string();
    let output = json!({ "type": "terminal_output", "sessionId": session,
        "data": "x".repeat(MAX_TERMINAL_FRAME_BYTES - head.len()) })
    .to_string();
    let keystroke = json!({ "type": "input", "data": "l" }).to_string();
    let mut group = c.benchmark_group("terminal");
    group.bench_function("decode_output_64kib", |b| {
        b.iter(|| AgentFrame::decode(black_box(output.as_bytes())).unwrap());
    });
    group.bench_function("decode_browser_keystroke", |b| {
        b.iter(|| ViewerFrame::decode(black_box(keystroke.as_bytes())).unwrap());
    });
    group.finish();

    let bytes: Vec<u8> = (0..=255u8).cycle().take(MAX_FILE_TRANSFER_BYTES).collect();
    let content = FileContent::new(&bytes).unwrap();
    let mut group = c.benchmark_group("file_content_4mib");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.sample_size(10);
    group.bench_function("decode_and_verify", |b| {
        b.iter(|| {
            decode_checked(
                black_box(&content.content_base64),
                &content.sha256,
                Some(content.size),
            )
            .unwrap()
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
