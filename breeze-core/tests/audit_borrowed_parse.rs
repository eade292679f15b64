//! Differential tests of the bundle reader's borrowed parse against the owned one.
//!
//! `verify_bundle` reads entry lines into a borrowed view and hashes canonical bytes written
//! from it; `verify_bundle_owned` (hidden, the reference) parses every line into an owned
//! `Entry` as before. For many generated and mutated lines (valid entries, escapes, unicode,
//! wrong types, unknown and repeated fields and keys, oversize and deep details, bad hashes,
//! truncations, random byte edits) both must give the same report, and whenever the
//! borrowed parse takes a line, the owned parse must take it with the same fields and the
//! same canonical bytes (`check_against_owned`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

#[path = "vectors_gen/mod.rs"]
mod fixtures;

use std::io::BufReader;
use std::net::IpAddr;

use breeze_core::audit::export::verify_bundle_owned;
use breeze_core::audit::*;
use breeze_core::tenancy::UserId;
use serde_json::{Value, json};

/// Deterministic xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap()).unwrap()
    }
}

fn line_of(e: &Entry) -> String {
    format!("{{\"entry\":{}}}", serde_json::to_string(e).unwrap())
}

/// Events beyond the fixtures': escapes, unicode, numbers, nesting, every optional field.
fn varied_events() -> Vec<AuditEvent> {
    let ts = fixtures::ts(42);
    let user = Actor::User(UserId::from_uuid(uuid::Uuid::from_bytes([7; 16])));
    let details = [
        json!({}),
        json!({"a": "quote \" backslash \\ slash / tab \t nl \n cr \r bs \u{8} ff \u{c} ctl \u{1} \u{1f} del \u{7f}"}),
        json!({"ünïcødé": "日本語 😀 \u{2028}\u{2029}", "A": 1, "a": -1, "b": [1.5, -0.0, 1e21, 1e-7, 0.1]}),
        json!({"n": u64::MAX, "m": i64::MIN, "f": 123_456.789, "z": 0, "t": true, "u": null}),
        json!({"nested": {"x": [[], {}, [{"y": [null]}]], "w": {"v": {"u": {"t": 1}}}}}),
        json!({"list": (0..40).map(|i| json!({"i": i, "s": format!("s{i}")})).collect::<Vec<_>>()}),
        json!({"big": "x".repeat(60_000)}),
        json!({"": "", " ": " ", "~": "~"}),
    ];
    let mut out = Vec::new();
    for (i, d) in details.iter().enumerate() {
        let mut b = AuditEvent::builder(
            if i % 2 == 0 { user } else { Actor::System },
            Action::new("device.command.execute").unwrap(),
            AuditResult::Failure,
            InitiatedBy::Ai,
            ts,
        )
        .resource_type("device")
        .details(d);
        if i % 3 != 0 {
            b = b
                .resource_id("ré-source\u{e9}/😀")
                .ip("2001:db8::1".parse::<IpAddr>().unwrap())
                .user_agent("agent \"quoted\" \\ é")
                .error_message("line1\nline2\t😀");
        }
        out.push(b.build().unwrap());
    }
    out
}

/// Sealed lines at sequence 0 of org A's chain (each verifies alone).
fn base_lines() -> Vec<String> {
    let mut events: Vec<AuditEvent> = (0..12).map(fixtures::event).collect();
    events.extend(varied_events());
    events
        .into_iter()
        .map(|ev| {
            let mut head = ChainHead::genesis(fixtures::org_a());
            line_of(&head.append_event(ev).unwrap())
        })
        .collect()
}

/// Replaces `field`'s value inside the object at `path` of the line (or removes it).
fn with_field(line: &str, path: &[&str], field: &str, value: Option<Value>) -> String {
    let mut v: Value = serde_json::from_str(line).unwrap();
    let mut at = &mut v;
    for p in path {
        at = &mut at[*p];
    }
    if let Value::Object(m) = at {
        match value {
            Some(x) => {
                m.insert(field.to_owned(), x);
            }
            None => {
                m.remove(field);
            }
        }
    }
    serde_json::to_string(&v).unwrap()
}

const ENTRY: &[&str] = &["entry"];
const EVENT: &[&str] = &["entry", "event"];
const DETAILS: &[&str] = &["entry", "event", "details"];

fn nested(depth: usize) -> Value {
    let mut v = json!(1);
    for _ in 0..depth {
        v = json!({ "d": v });
    }
    v
}

/// Structural mutations of one line: every field removed, retyped, or given edge values.
fn structural(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let odd = [
        json!(null),
        json!(0),
        json!(-1),
        json!(1.5),
        json!("x"),
        json!(true),
        json!([]),
        json!({}),
    ];
    let entry_fields = [
        "chain",
        "sequence",
        "prev_hash",
        "event",
        "retention",
        "content_hash",
        "chain_hash",
    ];
    let event_fields = [
        "actor_type",
        "actor_id",
        "action",
        "resource_type",
        "resource_id",
        "result",
        "ip",
        "user_agent",
        "details",
        "error_message",
        "initiated_by",
        "timestamp",
    ];
    for (path, fields) in [(ENTRY, &entry_fields[..]), (EVENT, &event_fields[..])] {
        for f in fields {
            out.push(with_field(line, path, f, None));
            for o in &odd {
                out.push(with_field(line, path, f, Some(o.clone())));
            }
        }
        out.push(with_field(line, path, "unknown", Some(json!(1))));
    }
    let edge: &[(&[&str], &str, Value)] = &[
        (ENTRY, "chain", json!("system")),
        (ENTRY, "chain", json!(fixtures::ORG_B)),
        (ENTRY, "chain", json!(fixtures::ORG_A.to_uppercase())),
        (ENTRY, "sequence", json!(u64::MAX)),
        (ENTRY, "sequence", json!(1.0)),
        (ENTRY, "sequence", json!("0")),
        (ENTRY, "prev_hash", json!("0".repeat(63))),
        (ENTRY, "prev_hash", json!("0".repeat(65))),
        (ENTRY, "prev_hash", json!(format!("0x{}", "0".repeat(62)))),
        (ENTRY, "prev_hash", json!("G".repeat(64))),
        (ENTRY, "content_hash", json!("A".repeat(64))),
        (ENTRY, "chain_hash", json!("ab".repeat(32))),
        (ENTRY, "retention", json!(null)),
        (EVENT, "actor_type", json!("system")),
        (EVENT, "actor_type", json!("user")),
        (EVENT, "actor_type", json!("agent")),
        (EVENT, "actor_type", json!("User")),
        (
            EVENT,
            "actor_id",
            json!("{07070707-0707-0707-0707-070707070707}"),
        ),
        (EVENT, "actor_id", json!("07070707070707070707070707070707")),
        (
            EVENT,
            "actor_id",
            json!("urn:uuid:07070707-0707-0707-0707-070707070707"),
        ),
        (
            EVENT,
            "actor_id",
            json!("07070707-0707-0707-0707-07070707070G"),
        ),
        (EVENT, "action", json!("device")),
        (EVENT, "action", json!("Device.run")),
        (EVENT, "action", json!("a.b")),
        (EVENT, "action", json!(format!("a.{}", "b".repeat(126)))),
        (EVENT, "action", json!(format!("a.{}", "b".repeat(127)))),
        (EVENT, "resource_type", json!("")),
        (EVENT, "resource_type", json!("a".repeat(64))),
        (EVENT, "resource_type", json!("a".repeat(65))),
        (EVENT, "resource_type", json!("dé")),
        (EVENT, "resource_id", json!("")),
        (EVENT, "resource_id", json!("é".repeat(256))),
        (EVENT, "resource_id", json!("é".repeat(257))),
        (EVENT, "resource_id", json!("a\u{85}b")),
        (EVENT, "resource_id", json!("a\u{7f}b")),
        (EVENT, "result", json!("denied")),
        (EVENT, "result", json!("ok")),
        (EVENT, "ip", json!("192.0.2.1")),
        (EVENT, "ip", json!("::ffff:192.0.2.1")),
        (EVENT, "ip", json!("192.0.2.256")),
        (EVENT, "ip", json!("fe80::1%eth0")),
        (EVENT, "user_agent", json!("é".repeat(512))),
        (EVENT, "user_agent", json!("é".repeat(513))),
        (EVENT, "error_message", json!("😀".repeat(2048))),
        (EVENT, "error_message", json!("😀".repeat(2049))),
        (EVENT, "initiated_by", json!("integration")),
        (EVENT, "initiated_by", json!("cron")),
        (EVENT, "timestamp", json!("2026-01-01T00:00:00Z")),
        (
            EVENT,
            "timestamp",
            json!("2026-01-01T01:00:00.000001+01:00"),
        ),
        (EVENT, "timestamp", json!("2026-01-01T00:00:00.0000001Z")),
        (EVENT, "timestamp", json!("2026-01-01t00:00:00.000000z")),
        (EVENT, "timestamp", json!("2026-01-01 00:00:00.000000Z")),
        (EVENT, "timestamp", json!("10000-01-01T00:00:00.000000Z")),
        (
            EVENT,
            "details",
            json!({"a": {"b": 1}, "c": [1, {"d": null}]}),
        ),
        (EVENT, "details", nested(31)),
        (EVENT, "details", nested(32)),
        (EVENT, "details", nested(33)),
        (EVENT, "details", nested(120)),
        (EVENT, "details", json!({"s": "x".repeat(65_536 - 8)})),
        (EVENT, "details", json!({"s": "x".repeat(65_536 - 7)})),
        (EVENT, "details", json!({"s": "\u{1}".repeat(11_000)})),
        (
            EVENT,
            "details",
            json!({"$serde_json::private::Number": "1"}),
        ),
        (
            EVENT,
            "details",
            json!({"$serde_json::private::RawValue": "{}"}),
        ),
        (
            EVENT,
            "details",
            json!({"f": [1e300, -1e-300, 5e-324, 1.7976931348623157e308]}),
        ),
        (DETAILS, "zz", json!({"y": [1, 2, {"x": "é"}]})),
        (DETAILS, "", json!(null)),
    ];
    for (path, f, v) in edge {
        out.push(with_field(line, path, f, Some(v.clone())));
    }
    // The event as an array (serde accepts a struct as a sequence of its fields in order).
    let v: Value = serde_json::from_str(line).unwrap();
    let ev = &v["entry"]["event"];
    let seq: Vec<Value> = event_fields.iter().map(|f| ev[*f].clone()).collect();
    out.push(with_field(line, ENTRY, "event", Some(Value::Array(seq))));
    out
}

/// Textual mutations that a `Value` cannot express: escapes, repeated keys, key order,
/// whitespace, numbers as written, trailing bytes.
fn textual(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let swaps: &[(&str, &str)] = &[
        ("\"action\":\"", "\"\\u0061ction\":\""),
        ("\"entry\":", "\"\\u0065ntry\":"),
        ("\"details\":{", "\"details\":{\"command\":\"dup\","),
        ("\"details\":{", "\"details\":{\"zzz\":1,"),
        ("\"details\":{", "\"details\":{\"\\u0061\":1,"),
        ("\"details\":{", "\"details\":{\"a\":1,\"a\":2,"),
        ("\"details\":{", "\"details\":{\"a\":{\"x\":1,\"x\":2},"),
        (
            "\"details\":{",
            "\"details\":{\"a\":[1.0,1e2,-0,1E+2,0.5e-1,18446744073709551616,-9223372036854775809],",
        ),
        (
            "\"details\":{",
            "\"details\":{\"a\":\"\\ud83d\\ude00 \\u00e9 \\/ \\b\\f\",\"b\":\"\\u0000\",",
        ),
        ("\"details\":{", "\"details\":{\"a\":\"\\ud83d\","),
        ("\"details\":{", "\"details\":{ \"a\" : [ 1 , 2 ] ,"),
        ("\"event\":{", "\"event\":{\"action\":\"a.b\","),
        ("\"event\":{", "\"event\":{\"actor_id\":null,"),
        ("\"entry\":{", "\"entry\":{\"sequence\":0,"),
        ("\"entry\":{", "\"entry\":{\"retention\":null,"),
        ("{\"entry\":", "{\"entry\":{},\"entry\":"),
        ("{\"entry\":", "{\"checkpoint\":1,\"entry\":"),
        ("device", "d\\u0065vice"),
        ("device", "devic\\u00e9"),
        ("\"resource_type\"", "\"resource_typ\\u0065\""),
        ("\"sequence\":0", "\"sequence\":0.0"),
        ("\"sequence\":0", "\"sequence\":-0"),
        ("\"sequence\":0", "\"sequence\":00"),
        ("\"sequence\":0", "\"sequence\":0e0"),
        (":", " : "),
        (",", " ,\t"),
        ("null", "nul"),
    ];
    for (from, to) in swaps {
        if line.contains(from) {
            out.push(line.replacen(from, to, 1));
        }
    }
    out.push(format!("  {line}  "));
    out.push(format!("{line} x"));
    out.push(format!("{line},"));
    out.push(format!("[{line}]"));
    out.push(line.replace(',', ",\n"));
    out
}

/// Random byte edits and truncations.
fn random_edits(line: &str, rng: &mut Rng, n: usize) -> Vec<Vec<u8>> {
    const BYTES: &[u8] = b"\"\\{}[],: 0aez\x00\x7f\xc3\xa9\xff\n";
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    for _ in 0..n {
        let mut b = bytes.to_vec();
        for _ in 0..=rng.below(3) {
            let at = rng.below(b.len());
            match rng.below(5) {
                0 => b[at] = BYTES[rng.below(BYTES.len())],
                1 => drop(b.remove(at)),
                2 => b.insert(at, BYTES[rng.below(BYTES.len())]),
                3 => b.truncate(at),
                _ => {
                    // repeat a slice (often a `"key":value,` member)
                    let len = rng.below(40).min(b.len() - at);
                    let chunk = b[at..at + len].to_vec();
                    let to = rng.below(b.len());
                    b.splice(to..to, chunk);
                }
            }
            if b.is_empty() {
                break;
            }
        }
        out.push(b);
    }
    out
}

/// The line with its seal recomputed, when the owned parse takes it (so it can verify).
fn resealed(line: &[u8]) -> Option<Vec<u8>> {
    #[derive(serde::Deserialize)]
    struct Wire {
        entry: Entry,
    }
    let text = std::str::from_utf8(line).ok()?;
    let w: Wire = serde_json::from_str(text).ok()?;
    let (content, chain) = w.entry.compute_hashes();
    let mut out = text.to_owned();
    if let Some(old) = w.entry.content_hash {
        out = out.replace(&old.to_hex(), &content.to_hex());
    }
    if let Some(old) = w.entry.chain_hash {
        out = out.replace(&old.to_hex(), &chain.to_hex());
    }
    Some(out.into_bytes())
}

struct Harness {
    header: String,
    options: BundleOptions,
    lines: usize,
    borrowed: usize,
    verified: usize,
}

impl Harness {
    fn new() -> Self {
        let signer = fixtures::signer(1);
        let keys = fixtures::ring(&[&signer]);
        let empty = fixtures::bundle(fixtures::org_a(), &keys, None, &[]);
        Self {
            header: empty.lines().next().unwrap().to_owned(),
            options: BundleOptions {
                trusted_keys: Some(keys),
                ..BundleOptions::default()
            },
            lines: 0,
            borrowed: 0,
            verified: 0,
        }
    }

    /// One line both ways, alone in a bundle after the header, before a trailer.
    fn check(&mut self, line: &[u8]) {
        self.lines += 1;
        match check_against_owned(line) {
            Ok(true) => self.borrowed += 1,
            Ok(false) => {}
            Err(e) => panic!("{e}\nline: {}", String::from_utf8_lossy(line)),
        }
        let mut bundle = self.header.clone().into_bytes();
        bundle.push(b'\n');
        bundle.extend_from_slice(line);
        bundle.extend_from_slice(b"\n{\"end\":{\"entries\":1,\"checkpoints\":0}}\n");
        let fast = verify_bundle_bytes(&bundle, &self.options);
        let reference = verify_bundle_owned(&bundle[..], &self.options);
        assert_eq!(fast, reference, "line: {}", String::from_utf8_lossy(line));
        if fast.ok {
            self.verified += 1;
        }
    }

    fn check_with_reseal(&mut self, line: &[u8]) {
        self.check(line);
        if let Some(r) = resealed(line).filter(|r| r != line) {
            self.check(&r);
        }
    }
}

#[test]
fn borrowed_parse_agrees_with_owned_on_generated_and_mutated_lines() {
    let mut h = Harness::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for line in base_lines() {
        h.check(line.as_bytes());
        for m in structural(&line).into_iter().chain(textual(&line)) {
            h.check_with_reseal(m.as_bytes());
            for t in random_edits(&m, &mut rng, 3) {
                h.check_with_reseal(&t);
            }
        }
        for t in random_edits(&line, &mut rng, 200) {
            h.check_with_reseal(&t);
        }
        let b = line.as_bytes();
        for cut in (0..b.len()).step_by(7) {
            h.check(&b[..cut]);
        }
    }
    eprintln!(
        "{} lines: {} taken by the borrowed parse, {} verified",
        h.lines, h.borrowed, h.verified
    );
    // The fast path must actually be exercised, valid and resealed lines included.
    assert!(h.borrowed > 1_000, "{}", h.borrowed);
    assert!(h.verified > 500, "{}", h.verified);
}

#[test]
fn borrowed_parse_agrees_with_owned_on_fixture_and_tampered_bundles() {
    let keys = fixtures::ring(&[&fixtures::signer(1), &fixtures::signer(2)]);
    let mut bundles = Vec::new();
    for c in [fixtures::full_chain(), fixtures::pruned_chain()] {
        let bytes = c.export(Vec::new(), &keys, fixtures::ts(0)).unwrap();
        bundles.push((String::from_utf8(bytes).unwrap(), BundleOptions::default()));
    }
    for t in fixtures::tampered_cases() {
        let options = BundleOptions {
            trusted_keys: t.trusted_keys.then(|| keys.clone()),
            trusted_checkpoints: t.trusted_checkpoints.clone(),
        };
        bundles.push((t.bundle, options));
    }
    let mut rng = Rng(7);
    for (bundle, options) in &bundles {
        let bytes = bundle.as_bytes();
        let reference = verify_bundle_owned(bytes, options);
        assert_eq!(verify_bundle_bytes(bytes, options), reference);
        // lines crossing the reader's buffer take the copying path
        for cap in [16, 300, 1000] {
            let r = verify_bundle(BufReader::with_capacity(cap, bytes), options);
            assert_eq!(r, reference);
        }
        // whole lines dropped, swapped, truncated, edited
        let lines: Vec<&str> = bundle.lines().collect();
        for _ in 0..60 {
            let mut ls: Vec<Vec<u8>> = lines.iter().map(|l| l.as_bytes().to_vec()).collect();
            let i = 1 + rng.below(ls.len() - 1);
            match rng.below(4) {
                0 => drop(ls.remove(i)),
                1 => {
                    let j = 1 + rng.below(ls.len() - 1);
                    ls.swap(i, j);
                }
                2 => {
                    let cut = rng.below(ls[i].len());
                    ls[i].truncate(cut);
                }
                _ => {
                    let edited = random_edits(lines[i], &mut rng, 1).remove(0);
                    ls[i] = edited;
                }
            }
            let joined = ls.join(&b'\n');
            assert_eq!(
                verify_bundle_bytes(&joined, options),
                verify_bundle_owned(&joined[..], options),
                "{}",
                String::from_utf8_lossy(&joined)
            );
        }
    }
}

#[test]
fn borrowed_parse_agrees_on_a_long_chain_with_checkpoints() {
    let signer = fixtures::signer(1);
    let keys = fixtures::ring(&[&signer]);
    let mut head = ChainHead::genesis(fixtures::org_a());
    let mut w = BundleWriter::new(Vec::new(), head.chain(), &keys, None, fixtures::ts(0)).unwrap();
    for i in 0..3_000 {
        w.write_entry(&head.append_event(fixtures::event(i)).unwrap())
            .unwrap();
        if (i + 1) % 1_000 == 0 {
            w.write_checkpoint(&signer.sign_head(&head, fixtures::ts(0)).unwrap())
                .unwrap();
        }
    }
    let bundle = w.finish().unwrap();
    let options = BundleOptions {
        trusted_keys: Some(keys),
        ..BundleOptions::default()
    };
    let reference = verify_bundle_owned(&bundle[..], &options);
    assert!(reference.ok, "{reference:?}");
    assert_eq!(verify_bundle_bytes(&bundle, &options), reference);
    assert_eq!(
        verify_bundle(BufReader::with_capacity(4096, &bundle[..]), &options),
        reference
    );
    let text = String::from_utf8(bundle).unwrap();
    for line in text.lines().skip(1) {
        if line.starts_with("{\"entry\"") {
            assert_eq!(check_against_owned(line.as_bytes()), Ok(true), "{line}");
        }
    }
}
