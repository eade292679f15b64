//! The audit API on bad inputs: validation, keys, checkpoints, retention, bundles.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

#[path = "vectors_gen/mod.rs"]
mod fixtures;

use breeze_core::audit::*;
use breeze_core::tenancy::UserId;
use serde_json::json;
use zeroize::Zeroizing;

fn base() -> AuditEventBuilder {
    AuditEvent::builder(
        Actor::User(UserId::new_random()),
        Action::new("auth.login.failure").unwrap(),
        AuditResult::Failure,
        InitiatedBy::Manual,
        fixtures::ts(0),
    )
    .resource_type("user")
}

#[test]
fn actions_are_dotted_lowercase() {
    for good in [
        "device.command.execute",
        "agent.token.rotate.staged",
        "a.b",
        "api_key.v2_scope.check",
    ] {
        assert!(Action::new(good).is_ok(), "{good}");
    }
    let long = format!("a.{}", "b".repeat(127));
    for bad in [
        "",
        "device",
        "Device.command",
        "device..x",
        ".a.b",
        "a.b.",
        "a-b.c",
        "1a.b",
        "a.é",
        "a. b",
        "a.b\n",
        long.as_str(),
    ] {
        let e = Action::new(bad).unwrap_err();
        assert_eq!(e.code(), "action_syntax", "{bad:?}");
    }
    let msg = Action::new("Bad.Action").unwrap_err().to_string();
    assert!(msg.starts_with("invalid action `Bad.Action`"), "{msg}");
}

#[test]
fn builder_validates_and_caps() {
    let e = AuditEvent::builder(
        Actor::System,
        Action::new("a.b").unwrap(),
        AuditResult::Success,
        InitiatedBy::Policy,
        fixtures::ts(0),
    )
    .build()
    .unwrap_err();
    assert_eq!(e.code(), "resource_type_syntax");
    assert_eq!(
        base().resource_type("Device").build().unwrap_err().code(),
        "resource_type_syntax"
    );
    assert_eq!(
        base().resource_id("a\u{0}b").build().unwrap_err(),
        EventError::ResourceId
    );
    assert_eq!(
        base().resource_id("").build().unwrap_err(),
        EventError::ResourceId
    );
    assert_eq!(
        base().resource_id("x".repeat(257)).build().unwrap_err(),
        EventError::ResourceId
    );
    assert!(base().resource_id("é".repeat(256)).build().is_ok());
    assert_eq!(
        base().details(&json!([1, 2])).build().unwrap_err(),
        EventError::DetailsNotObject
    );
    assert_eq!(
        base().details(&json!("x")).build().unwrap_err(),
        EventError::DetailsNotObject
    );

    let ev = base()
        .user_agent(&"u".repeat(600))
        .error_message(&"é".repeat(3000))
        .details(&json!(null))
        .build()
        .unwrap();
    assert_eq!(ev.user_agent().unwrap().chars().count(), 512);
    assert_eq!(ev.error_message().unwrap().chars().count(), 2048);
    assert_eq!(ev.details(), &json!({}));

    // Oversized details become a digest of themselves.
    let big: serde_json::Map<String, serde_json::Value> = (0..100)
        .map(|i| (format!("k{i}"), json!("x".repeat(2000))))
        .collect();
    let ev = base()
        .details(&serde_json::Value::Object(big))
        .build()
        .unwrap();
    assert_eq!(ev.details()["redacted"], true);
    assert!(ev.details()["length"].as_u64().unwrap() > 65536);
}

#[test]
fn actor_ids_match_actor_types() {
    let id = uuid::Uuid::from_bytes([1; 16]);
    assert!(Actor::from_parts(ActorType::User, Some(id)).is_ok());
    assert_eq!(
        Actor::from_parts(ActorType::Agent, None)
            .unwrap_err()
            .code(),
        "actor_id"
    );
    assert_eq!(
        Actor::from_parts(ActorType::System, Some(id))
            .unwrap_err()
            .code(),
        "actor_id"
    );
    assert_eq!(
        Actor::from_parts(ActorType::System, None).unwrap(),
        Actor::System
    );
}

#[test]
fn parsing_an_event_revalidates() {
    let ev = base().build().unwrap();
    let good = serde_json::to_value(&ev).unwrap();
    let back: AuditEvent = serde_json::from_value(good.clone()).unwrap();
    assert_eq!(back, ev);
    let mut bad = good.clone();
    bad["action"] = json!("NOT VALID");
    assert!(serde_json::from_value::<AuditEvent>(bad).is_err());
    let mut bad = good.clone();
    bad["user_agent"] = json!("u".repeat(513));
    assert!(
        serde_json::from_value::<AuditEvent>(bad)
            .unwrap_err()
            .to_string()
            .contains("user agent")
    );
    let mut bad = good.clone();
    bad["surprise"] = json!(1);
    assert!(serde_json::from_value::<AuditEvent>(bad).is_err());
    let mut bad = good.clone();
    bad["actor_type"] = json!("root");
    assert!(serde_json::from_value::<AuditEvent>(bad).is_err());
    let mut bad = good.clone();
    let mut deep = json!(1);
    for _ in 0..40 {
        deep = json!({ "d": deep });
    }
    bad["details"] = deep;
    assert!(
        serde_json::from_value::<AuditEvent>(bad)
            .unwrap_err()
            .to_string()
            .contains("deeper")
    );
    let mut bad = good;
    bad["timestamp"] = json!("2026-01-01T00:00:00.0000001Z");
    assert!(serde_json::from_value::<AuditEvent>(bad).is_err());
}

#[test]
fn timestamps_are_utc_microseconds() {
    let t: Timestamp = "2026-01-01T02:00:00.5+02:00".parse().unwrap();
    assert_eq!(t.to_string(), "2026-01-01T00:00:00.500000Z");
    assert_eq!(t.unix_micros(), fixtures::T0 + 500_000);
    assert_eq!(
        "2026-01-01T00:00:00.0000005Z"
            .parse::<Timestamp>()
            .unwrap_err(),
        TimestampError::SubMicrosecond
    );
    assert_eq!(
        "yesterday".parse::<Timestamp>().unwrap_err(),
        TimestampError::Syntax
    );
    assert_eq!(
        Timestamp::from_unix_micros(i64::MAX).unwrap_err(),
        TimestampError::OutOfRange
    );
    assert_eq!(
        Timestamp::from_unix_micros(-1).unwrap().to_string(),
        "1969-12-31T23:59:59.999999Z"
    );
    let max = Timestamp::from_unix_micros(253_402_300_799_999_999).unwrap();
    assert_eq!(max.to_string().parse::<Timestamp>().unwrap(), max);
}

#[test]
fn key_ids_rings_and_signers() {
    for bad in ["", "has space", "ü", &"k".repeat(65)] {
        assert_eq!(
            KeyId::new(bad).unwrap_err(),
            CheckpointError::KeyIdSyntax,
            "{bad:?}"
        );
    }
    let s1 = fixtures::signer(1);
    let s2 = fixtures::signer(2);
    let mut ring = KeyRing::new();
    ring.insert(s1.key_id().clone(), s1.verifying_key())
        .unwrap();
    ring.insert(s1.key_id().clone(), s1.verifying_key())
        .unwrap();
    assert_eq!(
        ring.insert(s1.key_id().clone(), s2.verifying_key())
            .unwrap_err()
            .code(),
        "key_id_conflict"
    );
    assert_eq!(
        ring.insert_bytes(KeyId::new("weak").unwrap(), &[0; 32])
            .unwrap_err(),
        CheckpointError::PublicKey
    );
    assert_eq!(ring.len(), 1);

    let dbg = format!("{s1:?}");
    assert!(dbg.contains("[REDACTED]") && dbg.contains("k1"), "{dbg}");
    assert!(
        !dbg.contains(&hex::encode([1u8; 32])) && !dbg.contains("1, 1, 1"),
        "{dbg}"
    );
}

#[test]
fn checkpoints_bind_every_field() {
    let s1 = fixtures::signer(1);
    let keys = fixtures::ring(&[&s1]);
    assert_eq!(
        s1.sign_head(&ChainHead::genesis(fixtures::org_a()), fixtures::ts(0))
            .unwrap_err(),
        CheckpointError::EmptyChain
    );
    let chain = fixtures::full_chain();
    let cp = s1.sign_head(chain.head(), fixtures::ts(5)).unwrap();
    keys.verify(&cp).unwrap();
    let mutants: Vec<fn(&mut Checkpoint)> = vec![
        |c| c.chain = fixtures::org_b(),
        |c| {
            c.sequence -= 1;
            c.entry_count -= 1;
        },
        |c| c.head_hash = Digest32::ZERO,
        |c| c.timestamp = fixtures::ts(6),
        |c| c.signature.0[63] ^= 0x80,
    ];
    for m in mutants {
        let mut bad = cp.clone();
        m(&mut bad);
        assert_eq!(
            keys.verify(&bad).unwrap_err(),
            CheckpointError::BadSignature
        );
    }
    let mut bad = cp.clone();
    bad.entry_count += 1;
    assert_eq!(
        keys.verify(&bad).unwrap_err(),
        CheckpointError::CountMismatch
    );
    let mut bad = cp.clone();
    bad.key_id = KeyId::new("k9").unwrap();
    assert_eq!(keys.verify(&bad).unwrap_err().code(), "unknown_key");
    // Rotation: k1 checkpoints still verify once k2 is added.
    let both = fixtures::ring(&[&s1, &fixtures::signer(2)]);
    both.verify(&cp).unwrap();
}

#[test]
fn head_after_refuses_a_tampered_row() {
    let chain = fixtures::full_chain();
    let mut last = chain.entries().last().unwrap().clone();
    assert_eq!(ChainHead::after(&last).unwrap(), *chain.head());
    last.prev_hash = Digest32::ZERO;
    assert_eq!(ChainHead::after(&last).unwrap_err().code(), "bad_head");
    last.chain_hash = None;
    assert!(ChainHead::after(&last).is_err());
}

#[test]
fn pruning_only_at_a_checkpoint() {
    let keys = fixtures::ring(&[&fixtures::signer(1), &fixtures::signer(2)]);
    let mut chain = fixtures::full_chain();
    let before = chain.entries().to_vec();
    for through in [0, 2, 4, 8] {
        assert_eq!(
            chain
                .prune_through(through, &keys, fixtures::ts(0))
                .unwrap_err(),
            RetentionError::NoCheckpoint { requested: through }
        );
    }
    assert_eq!(chain.entries(), before.as_slice());

    let cp3 = chain.checkpoints()[0].clone();
    let e3 = &before[3];
    let head = *chain.head();
    let plan = |through, cp: &Checkpoint, anchor: &Entry, keys: &KeyRing| {
        RetentionRecord::plan(&head, anchor, cp, keys, 0, through, fixtures::ts(0))
    };
    assert_eq!(
        plan(4, &cp3, e3, &keys).unwrap_err(),
        RetentionError::NotAtCheckpoint {
            requested: 4,
            checkpoint: 3
        }
    );
    assert_eq!(
        plan(3, &cp3, &before[2], &keys).unwrap_err(),
        RetentionError::AnchorMismatch { sequence: 3 }
    );
    assert_eq!(
        plan(3, &cp3, e3, &KeyRing::new()).unwrap_err().code(),
        "checkpoint"
    );
    let mut foreign = cp3.clone();
    foreign.chain = fixtures::org_b();
    assert_eq!(
        plan(3, &foreign, e3, &keys).unwrap_err(),
        RetentionError::WrongChain
    );
    let mut altered = e3.clone();
    altered.body = before[4].body.clone();
    assert_eq!(
        plan(3, &cp3, &altered, &keys).unwrap_err(),
        RetentionError::AnchorMismatch { sequence: 3 }
    );
    assert!(plan(3, &cp3, e3, &keys).is_ok());

    // Prune twice; the chain verifies end to end from the newest anchor each time.
    chain
        .prune_through(3, &keys, fixtures::ts(10_000_000))
        .unwrap();
    assert_eq!(chain.entries().first().unwrap().sequence, 4);
    let s = chain.verify(keys.clone()).unwrap();
    assert_eq!((s.first_sequence, s.pruned_through), (4, Some(3)));
    chain
        .prune_through(7, &keys, fixtures::ts(11_000_000))
        .unwrap();
    let s = chain.verify(keys.clone()).unwrap();
    assert_eq!(
        (s.first_sequence, s.last_sequence, s.pruned_through),
        (8, Some(11), Some(7))
    );
    let bundle = chain.export(Vec::new(), &keys, fixtures::ts(0)).unwrap();
    let r = verify_bundle_bytes(
        &bundle,
        &BundleOptions {
            trusted_keys: Some(keys),
            ..BundleOptions::default()
        },
    );
    assert!(r.ok, "{r:?}");
    assert_eq!(r.pruned_through, Some(7));
}

#[test]
fn verifier_refuses_bad_anchors_and_trusted_checkpoints() {
    let keys = fixtures::ring(&[&fixtures::signer(1), &fixtures::signer(2)]);
    let chain = fixtures::full_chain();
    let mut cp = chain.checkpoints()[0].clone();
    cp.signature.0[0] ^= 1;
    assert_eq!(
        ChainVerifier::from_anchor(&cp, keys.clone())
            .unwrap_err()
            .kind,
        BreakKind::CheckpointInvalid
    );
    let v = ChainVerifier::new(fixtures::org_a(), keys.clone());
    assert_eq!(
        v.with_trusted_checkpoints([cp]).unwrap_err().kind,
        BreakKind::CheckpointInvalid
    );
    let foreign = fixtures::signer(1)
        .sign_head(
            &ChainHead::after(&chain.entries()[0])
                .map(|_| {
                    let mut h = ChainHead::genesis(fixtures::org_b());
                    h.append_event(fixtures::event(0)).unwrap();
                    h
                })
                .unwrap(),
            fixtures::ts(0),
        )
        .unwrap();
    let v = ChainVerifier::new(fixtures::org_a(), keys.clone());
    assert_eq!(
        v.with_trusted_checkpoints([foreign]).unwrap_err().kind,
        BreakKind::CheckpointInvalid
    );
    // A break is sticky.
    let mut v = ChainVerifier::new(fixtures::org_a(), keys);
    let mut e = chain.entries()[0].clone();
    e.content_hash = None;
    let b = v.push_entry(&e).unwrap_err();
    assert_eq!(v.push_entry(&chain.entries()[0]).unwrap_err(), b);
    assert_eq!(v.first_break(), Some(&b));
    assert_eq!(v.finish().unwrap_err(), b);
}

#[test]
fn bundles_reject_bad_framing() {
    let keys = fixtures::ring(&[&fixtures::signer(1), &fixtures::signer(2)]);
    let good = String::from_utf8(
        fixtures::full_chain()
            .export(Vec::new(), &keys, fixtures::ts(0))
            .unwrap(),
    )
    .unwrap();
    let opts = BundleOptions::default();
    let kind = |text: &str| {
        let r = verify_bundle_bytes(text.as_bytes(), &opts);
        assert!(!r.ok);
        let b = r.first_break.unwrap();
        (b.kind, b.line)
    };
    assert_eq!(kind(""), (BreakKind::Malformed, 1));
    assert_eq!(kind("{}\n"), (BreakKind::Malformed, 1));
    assert_eq!(
        kind(&good.replacen("\"version\":1", "\"version\":2", 1)),
        (BreakKind::Malformed, 1)
    );
    assert_eq!(
        kind(&good.replacen("breeze-audit-bundle", "other-bundle", 1)),
        (BreakKind::Malformed, 1)
    );
    assert_eq!(
        kind(&good.replacen("\"public_key\":\"8a", "\"public_key\":\"zz", 1)),
        (BreakKind::Malformed, 1)
    );
    let after_end = format!("{good}{}\n", good.lines().nth(1).unwrap());
    assert_eq!(kind(&after_end).0, BreakKind::Malformed);
    let huge = format!(
        "{}\n{}\n",
        good.lines().next().unwrap(),
        "x".repeat(2 << 20)
    );
    assert_eq!(kind(&huge), (BreakKind::Malformed, 2));
    let both = good.replacen("\"event\":{", "\"retention\":null,\"event\":{", 1);
    assert!(
        verify_bundle_bytes(both.as_bytes(), &opts).ok,
        "explicit null is absent"
    );
    let neither = good.replacen("\"event\":{", "\"evnt\":{", 1);
    assert_eq!(kind(&neither), (BreakKind::Malformed, 2));
    // Report JSON shape for the bindings.
    let r = verify_bundle_bytes(b"", &opts);
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["break"]["kind"], "malformed");
}

#[test]
fn error_messages_are_lowercase_and_coded() {
    let errs: Vec<(String, serde_json::Value)> = vec![
        (
            EventError::DetailsTooLarge.to_string(),
            serde_json::to_value(EventError::DetailsTooLarge).unwrap(),
        ),
        (
            CheckpointError::BadSignature.to_string(),
            serde_json::to_value(CheckpointError::BadSignature).unwrap(),
        ),
        (
            RetentionError::NoCheckpoint { requested: 3 }.to_string(),
            serde_json::to_value(RetentionError::NoCheckpoint { requested: 3 }).unwrap(),
        ),
    ];
    for (msg, json) in errs {
        assert!(
            msg.chars().next().unwrap().is_lowercase() && !msg.ends_with('.'),
            "{msg}"
        );
        assert!(json["code"].is_string(), "{json}");
    }
    let seed = Zeroizing::new([9u8; 32]);
    let s = CheckpointSigner::from_seed(KeyId::new("k9").unwrap(), &seed);
    assert!(!format!("{s:?}").contains("9, 9"));
}

#[test]
fn bundle_options_from_json() {
    let o = BundleOptions::from_json(b"{}").unwrap();
    assert!(o.trusted_keys.is_none() && o.trusted_checkpoints.is_empty());
    assert_eq!(BundleOptions::from_json(b"[]").unwrap_err().code(), "json");
    assert_eq!(
        BundleOptions::from_json(br#"{"trusted_key": []}"#)
            .unwrap_err()
            .code(),
        "json"
    );
    let bad_key = br#"{"trusted_keys": [{"key_id": "k1", "public_key": "00"}]}"#;
    assert_eq!(BundleOptions::from_json(bad_key).unwrap_err().code(), "key");
    let s1 = fixtures::signer(1);
    let pk = hex::encode(s1.verifying_key().as_bytes());
    let dup = format!(
        r#"{{"trusted_keys": [{{"key_id": "k1", "public_key": "{pk}"}}, {{"key_id": "k1", "public_key": "{}"}}]}}"#,
        hex::encode(fixtures::signer(2).verifying_key().as_bytes())
    );
    assert_eq!(
        BundleOptions::from_json(dup.as_bytes()).unwrap_err().code(),
        "key"
    );
    let ok = format!(r#"{{"trusted_keys": [{{"key_id": "k1", "public_key": "{pk}"}}]}}"#);
    assert_eq!(
        BundleOptions::from_json(ok.as_bytes())
            .unwrap()
            .trusted_keys
            .unwrap()
            .len(),
        1
    );
}
