//! The rule that turns a sealed audit entry into webhook events: every event entry of an
//! organization's chain becomes `audit.appended`, and the entries of a few actions also
//! become a domain event (`device.enrolled`, `command.completed`, ...).
//!
//! | action | result | resource type | event | from the resource id | from the actor |
//! |---|---|---|---|---|---|
//! | `agent.enroll` | success | `device` | `device.enrolled` | `deviceId` | |
//! | `device.offline` | success | `device` | `device.offline` | `deviceId` | |
//! | `device.quarantine` | success | `device` | `device.quarantined` | `deviceId` | |
//! | `device.command.result` | any | `device_command` | `command.completed` | `commandId` | |
//! | `remote.session.ended` | success | `remote_session` | `remote.session.ended` | `sessionId` | `userId` (a user actor only) |
//! | `approval.requested` | success | any | `approval.requested` | `approvalId` | `requestedBy` (any actor with an id) |
//! | `approval.approved` | success | any | `approval.decided` | `approvalId` | `decidedBy` (any actor with an id) |
//! | `approval.denied` | success | any | `approval.decided` | `approvalId` | `decidedBy` (any actor with an id) |
//!
//! The other fields of a domain event come from the entry's (sanitized) details, by the same
//! key, and only those: a documented field that is missing, or whose value is not a JSON
//! scalar (string, number, boolean), is `null`, and every other key of the details is dropped.
//! So a domain event never carries what the documented fields do not name: no command output
//! (`stderr`), no client IP, no user agent, no error message. (`audit.appended` carries the
//! whole entry, as the chain holds it, so the receiver can check its hashes.)
//!
//! Nothing comes from the system chain or from unsealed entries; a retention record gives
//! `audit.appended` only. A
//! failed or denied attempt produces no domain event (except `command.completed`, which
//! reports failures too) but is still streamed as `audit.appended`.

use serde_json::{Map, Value};

use super::catalogue::EventType;
use crate::audit::{Actor, AuditEvent, AuditResult, ChainId, Entry, EntryBody};

/// Whose id fills the actor field of a rule.
#[derive(Clone, Copy)]
enum ActorField {
    /// A user actor's id; `null` for any other actor.
    User(&'static str),
    /// The id of any actor that has one (user, API key, agent); `null` for the system.
    Any(&'static str),
}

struct Rule {
    action: &'static str,
    success_only: bool,
    resource_type: Option<&'static str>,
    event: EventType,
    resource_id_field: &'static str,
    actor_field: Option<ActorField>,
}

const RULES: &[Rule] = &[
    Rule {
        action: "agent.enroll",
        success_only: true,
        resource_type: Some("device"),
        event: EventType::DeviceEnrolled,
        resource_id_field: "deviceId",
        actor_field: None,
    },
    Rule {
        action: "device.offline",
        success_only: true,
        resource_type: Some("device"),
        event: EventType::DeviceOffline,
        resource_id_field: "deviceId",
        actor_field: None,
    },
    Rule {
        action: "device.quarantine",
        success_only: true,
        resource_type: Some("device"),
        event: EventType::DeviceQuarantined,
        resource_id_field: "deviceId",
        actor_field: None,
    },
    Rule {
        action: "device.command.result",
        success_only: false,
        resource_type: Some("device_command"),
        event: EventType::CommandCompleted,
        resource_id_field: "commandId",
        actor_field: None,
    },
    Rule {
        action: "remote.session.ended",
        success_only: true,
        resource_type: Some("remote_session"),
        event: EventType::RemoteSessionEnded,
        resource_id_field: "sessionId",
        actor_field: Some(ActorField::User("userId")),
    },
    Rule {
        action: "approval.requested",
        success_only: true,
        resource_type: None,
        event: EventType::ApprovalRequested,
        resource_id_field: "approvalId",
        actor_field: Some(ActorField::Any("requestedBy")),
    },
    Rule {
        action: "approval.approved",
        success_only: true,
        resource_type: None,
        event: EventType::ApprovalDecided,
        resource_id_field: "approvalId",
        actor_field: Some(ActorField::Any("decidedBy")),
    },
    Rule {
        action: "approval.denied",
        success_only: true,
        resource_type: None,
        event: EventType::ApprovalDecided,
        resource_id_field: "approvalId",
        actor_field: Some(ActorField::Any("decidedBy")),
    },
];

/// The webhook events of one sealed audit entry, as `(event type, data)` pairs ready for
/// [`payload`](super::payload::payload): `audit.appended` first, then the domain event if
/// the entry's action has one (see the [module docs](self)). A retention record gives
/// `audit.appended` only (a SIEM's stream must not have a hole where the chain has an
/// entry). Empty for an entry of the system chain or an unsealed entry.
///
/// The entry's seal is not recomputed: pass entries just sealed or already verified.
#[must_use]
pub fn events_from_audit(entry: &Entry) -> Vec<(EventType, Value)> {
    let ChainId::Org(_) = entry.chain else {
        return Vec::new();
    };
    let (Some(_), Some(hash)) = (entry.content_hash, entry.chain_hash) else {
        return Vec::new();
    };
    // An entry always serializes (string keys, no non-finite floats); should it ever not,
    // nothing is sent rather than an event without its entry.
    let Ok(wire) = serde_json::to_value(entry) else {
        return Vec::new();
    };
    let mut data = Map::new();
    data.insert("chain".to_owned(), entry.chain.to_string().into());
    data.insert("sequence".to_owned(), entry.sequence.into());
    data.insert("prevHash".to_owned(), entry.prev_hash.to_hex().into());
    data.insert("hash".to_owned(), hash.to_hex().into());
    data.insert("entry".to_owned(), wire);
    let mut out = vec![(EventType::AuditAppended, Value::Object(data))];
    if let EntryBody::Event(event) = &entry.body {
        out.extend(domain_event(event));
    }
    out
}

fn domain_event(event: &AuditEvent) -> Option<(EventType, Value)> {
    let rule = RULES.iter().find(|r| r.action == event.action().as_str())?;
    if rule.success_only && event.result() != AuditResult::Success {
        return None;
    }
    if rule
        .resource_type
        .is_some_and(|rt| rt != event.resource_type())
    {
        return None;
    }
    let details = event.details();
    let mut data = Map::new();
    for field in rule.event.data_fields() {
        let value = if *field == rule.resource_id_field {
            event.resource_id().map_or(Value::Null, Value::from)
        } else if let Some(actor) = rule.actor_field.and_then(|a| actor_value(a, field, event)) {
            actor
        } else {
            details.get(*field).map_or(Value::Null, scalar)
        };
        data.insert((*field).to_owned(), value);
    }
    Some((rule.event, Value::Object(data)))
}

/// The actor's id when `field` is the rule's actor field (`Some(Null)` when the actor does
/// not qualify), `None` when `field` is another field.
fn actor_value(a: ActorField, field: &str, event: &AuditEvent) -> Option<Value> {
    let id = match (a, event.actor()) {
        (ActorField::User(name), Actor::User(user)) if name == field => Some(user.to_string()),
        (ActorField::User(name), _) if name == field => None,
        (ActorField::Any(name), actor) if name == field => actor.id().map(ToString::to_string),
        _ => return None,
    };
    Some(id.map_or(Value::Null, Value::from))
}

/// A JSON scalar as it is; `null` for an array or an object.
fn scalar(v: &Value) -> Value {
    match v {
        Value::Array(_) | Value::Object(_) => Value::Null,
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use serde_json::json;

    use super::*;
    use crate::audit::{
        Action, ChainHead, CheckpointSigner, InitiatedBy, KeyId, RetentionRecord, Timestamp,
    };
    use crate::tenancy::{ApiKeyId, DeviceId, OrgId, UserId};

    const ORG: &str = "6f1c2a4e-7d8b-4c3a-9e2f-1a2b3c4d5e6f";
    const USER: &str = "0b9e5c1a-2f3d-4e5f-8a9b-0c1d2e3f4a5b";
    const DEVICE: &str = "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f";

    fn org() -> ChainId {
        ChainId::Org(ORG.parse::<OrgId>().unwrap())
    }

    fn ev(
        actor: Actor,
        action: &str,
        result: AuditResult,
        rt: &str,
        rid: Option<&str>,
        details: &Value,
    ) -> AuditEvent {
        let mut b = AuditEvent::builder(
            actor,
            Action::new(action).unwrap(),
            result,
            InitiatedBy::Manual,
            Timestamp::from_unix_micros(1_767_225_600_000_000).unwrap(),
        )
        .resource_type(rt)
        .ip(IpAddr::from([192, 0, 2, 7]))
        .user_agent("curl/8.0")
        .error_message("boom")
        .details(details);
        if let Some(id) = rid {
            b = b.resource_id(id);
        }
        b.build().unwrap()
    }

    fn seal(chain: ChainId, event: AuditEvent) -> Entry {
        ChainHead::genesis(chain).append_event(event).unwrap()
    }

    fn user() -> Actor {
        Actor::User(USER.parse::<UserId>().unwrap())
    }

    fn domain(entry: &Entry) -> Option<(EventType, Value)> {
        let mut events = events_from_audit(entry);
        assert_eq!(events.first().map(|e| e.0), Some(EventType::AuditAppended));
        assert!(events.len() <= 2);
        (events.len() == 2).then(|| events.remove(1))
    }

    fn assert_only_documented(event: EventType, data: &Value) {
        let keys: Vec<&str> = data
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut want: Vec<&str> = event.data_fields().to_vec();
        want.sort_unstable();
        assert_eq!(keys, want, "{event}");
        let text = data.to_string();
        for leak in ["192.0.2.7", "curl/8.0", "boom", "do-not-leak", "REDACTED"] {
            assert!(!text.contains(leak), "{event}: {leak} in {text}");
        }
    }

    #[test]
    fn audit_appended_carries_the_entry_and_its_hashes() {
        let e = seal(
            org(),
            ev(
                user(),
                "auth.login.success",
                AuditResult::Success,
                "user",
                Some(USER),
                &json!({}),
            ),
        );
        let events = events_from_audit(&e);
        assert_eq!(events.len(), 1);
        let (kind, data) = &events[0];
        assert_eq!(*kind, EventType::AuditAppended);
        assert_eq!(data["chain"], ORG);
        assert_eq!(data["sequence"], 0);
        assert_eq!(data["prevHash"], "0".repeat(64));
        assert_eq!(data["hash"], e.chain_hash.unwrap().to_hex());
        assert_eq!(data["entry"], serde_json::to_value(&e).unwrap());
        // The receiver can rebuild the entry from the payload and check its seal.
        let back: Entry = serde_json::from_value(data["entry"].clone()).unwrap();
        assert!(back.seal_is_valid());
        assert_eq!(back, e);
    }

    #[test]
    fn nothing_from_the_system_chain_or_unsealed_entries_and_retention_only_streamed() {
        let event = ev(
            Actor::System,
            "device.quarantine",
            AuditResult::Success,
            "device",
            Some(DEVICE),
            &json!({}),
        );
        assert!(events_from_audit(&seal(ChainId::System, event.clone())).is_empty());

        let mut unsealed = seal(org(), event.clone());
        unsealed.chain_hash = None;
        assert!(events_from_audit(&unsealed).is_empty());
        let mut unsealed = seal(org(), event);
        unsealed.content_hash = None;
        assert!(events_from_audit(&unsealed).is_empty());

        let signer = CheckpointSigner::from_seed(
            KeyId::new("k1").unwrap(),
            &zeroize::Zeroizing::new([1u8; 32]),
        );
        let mut head = ChainHead::genesis(org());
        let first = head
            .append_event(ev(
                user(),
                "auth.login.success",
                AuditResult::Success,
                "user",
                None,
                &json!({}),
            ))
            .unwrap();
        let t = first.timestamp();
        let cp = signer.sign_head(&head, t).unwrap();
        let record = RetentionRecord {
            pruned_from: 0,
            pruned_through: 0,
            checkpoint: cp,
            timestamp: t,
        };
        let retention = head.seal(EntryBody::Retention(record)).unwrap();
        // streamed (a SIEM's stream has no hole), with no domain event
        let events = events_from_audit(&retention);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].0, EventType::AuditAppended);
        assert_eq!(events[0].1["sequence"], retention.sequence);
    }

    #[test]
    fn device_enrolled() {
        let details = json!({
            "enrollmentKeyId": "k-1",
            "siteId": "s-1",
            "hostname": "web-01",
            "reenrolledInPlace": false,
            "possibleReplacementOf": "do-not-leak",
            "token": "do-not-leak",
        });
        let agent = Actor::Agent(DEVICE.parse::<DeviceId>().unwrap());
        let e = seal(
            org(),
            ev(
                agent,
                "agent.enroll",
                AuditResult::Success,
                "device",
                Some(DEVICE),
                &details,
            ),
        );
        let (kind, data) = domain(&e).unwrap();
        assert_eq!(kind, EventType::DeviceEnrolled);
        assert_eq!(
            data,
            json!({"deviceId": DEVICE, "siteId": "s-1", "hostname": "web-01", "reenrolledInPlace": false})
        );
        assert_only_documented(kind, &data);
        // Denials and other resource types make no domain event.
        for (result, rt) in [
            (AuditResult::Denied, "device"),
            (AuditResult::Failure, "device"),
            (AuditResult::Success, "enrollment_key"),
        ] {
            let e = seal(
                org(),
                ev(agent, "agent.enroll", result, rt, Some(DEVICE), &details),
            );
            assert_eq!(domain(&e), None, "{result:?} {rt}");
        }
    }

    #[test]
    fn device_quarantined_and_offline() {
        let e = seal(
            org(),
            ev(
                user(),
                "device.quarantine",
                AuditResult::Success,
                "device",
                Some(DEVICE),
                &json!({"from": "online", "to": "quarantined"}),
            ),
        );
        let (kind, data) = domain(&e).unwrap();
        assert_eq!(kind, EventType::DeviceQuarantined);
        assert_eq!(data, json!({"deviceId": DEVICE}));
        let denied = seal(
            org(),
            ev(
                user(),
                "device.quarantine",
                AuditResult::Denied,
                "device",
                Some(DEVICE),
                &json!({}),
            ),
        );
        assert_eq!(domain(&denied), None);

        let e = seal(
            org(),
            ev(
                Actor::System,
                "device.offline",
                AuditResult::Success,
                "device",
                Some(DEVICE),
                &json!({"lastSeenAt": "2026-01-01T00:00:00Z", "ip": "192.0.2.7"}),
            ),
        );
        let (kind, data) = domain(&e).unwrap();
        assert_eq!(kind, EventType::DeviceOffline);
        assert_eq!(
            data,
            json!({"deviceId": DEVICE, "lastSeenAt": "2026-01-01T00:00:00Z"})
        );
        assert_only_documented(kind, &data);
    }

    #[test]
    fn command_completed_reports_failures_and_drops_output() {
        let details = json!({
            "deviceId": DEVICE,
            "type": "script",
            "status": "failed",
            "exitCode": 2,
            "durationMs": 1500,
            "stderr": "do-not-leak",
        });
        for result in [AuditResult::Success, AuditResult::Failure] {
            let agent = Actor::Agent(DEVICE.parse::<DeviceId>().unwrap());
            let e = seal(
                org(),
                ev(
                    agent,
                    "device.command.result",
                    result,
                    "device_command",
                    Some("c-9"),
                    &details,
                ),
            );
            let (kind, data) = domain(&e).unwrap();
            assert_eq!(kind, EventType::CommandCompleted);
            assert_eq!(
                data,
                json!({"commandId": "c-9", "deviceId": DEVICE, "type": "script", "status": "failed", "exitCode": 2, "durationMs": 1500})
            );
            assert_only_documented(kind, &data);
        }
    }

    #[test]
    fn remote_session_ended_user_only_from_a_user_actor() {
        let details = json!({
            "deviceId": DEVICE,
            "ownerId": "do-not-leak",
            "bytesIn": 10,
            "bytesOut": 20,
            "durationMs": 3000,
            "transcriptSha256": "ab".repeat(32),
            "transcriptBytes": 30,
            "truncated": false,
            "reason": "closed",
        });
        let e = seal(
            org(),
            ev(
                user(),
                "remote.session.ended",
                AuditResult::Success,
                "remote_session",
                Some("r-1"),
                &details,
            ),
        );
        let (kind, data) = domain(&e).unwrap();
        assert_eq!(kind, EventType::RemoteSessionEnded);
        assert_eq!(data["sessionId"], "r-1");
        assert_eq!(data["userId"], USER);
        assert_eq!(data["transcriptSha256"], "ab".repeat(32));
        assert_only_documented(kind, &data);
        let e = seal(
            org(),
            ev(
                Actor::System,
                "remote.session.ended",
                AuditResult::Success,
                "remote_session",
                Some("r-1"),
                &details,
            ),
        );
        assert_eq!(domain(&e).unwrap().1["userId"], Value::Null);
        let key = Actor::ApiKey(ApiKeyId::from_uuid(uuid::Uuid::from_bytes([3; 16])));
        let e = seal(
            org(),
            ev(
                key,
                "remote.session.ended",
                AuditResult::Success,
                "remote_session",
                Some("r-1"),
                &details,
            ),
        );
        assert_eq!(domain(&e).unwrap().1["userId"], Value::Null);
    }

    #[test]
    fn approvals_take_the_actor_and_missing_fields_are_null() {
        let e = seal(
            org(),
            ev(
                user(),
                "approval.requested",
                AuditResult::Success,
                "approval",
                Some("a-1"),
                &json!({"tool": "run_script", "arguments": {"script": "do-not-leak"}, "expiresAt": "2026-01-01T00:15:00Z"}),
            ),
        );
        let (kind, data) = domain(&e).unwrap();
        assert_eq!(kind, EventType::ApprovalRequested);
        assert_eq!(
            data,
            json!({"approvalId": "a-1", "tool": "run_script", "requestedBy": USER, "argumentsDigest": null, "expiresAt": "2026-01-01T00:15:00Z"})
        );
        assert_only_documented(kind, &data);

        let e = seal(
            org(),
            ev(
                user(),
                "approval.approved",
                AuditResult::Success,
                "approval",
                None,
                // A caller-supplied decidedBy is not trusted: the actor is.
                &json!({"tool": "run_script", "decision": "approved", "decidedBy": "someone-else"}),
            ),
        );
        let (kind, data) = domain(&e).unwrap();
        assert_eq!(kind, EventType::ApprovalDecided);
        assert_eq!(
            data,
            json!({"approvalId": null, "tool": "run_script", "decision": "approved", "decidedBy": USER})
        );
        let e = seal(
            org(),
            ev(
                Actor::System,
                "approval.approved",
                AuditResult::Success,
                "approval",
                Some("a-1"),
                &json!({}),
            ),
        );
        assert_eq!(domain(&e).unwrap().1["decidedBy"], Value::Null);
        let denied = seal(
            org(),
            ev(
                user(),
                "approval.approved",
                AuditResult::Denied,
                "approval",
                Some("a-1"),
                &json!({}),
            ),
        );
        assert_eq!(domain(&denied), None);
    }

    #[test]
    fn non_scalar_detail_values_become_null() {
        let e = seal(
            org(),
            ev(
                user(),
                "device.offline",
                AuditResult::Success,
                "device",
                Some(DEVICE),
                &json!({"lastSeenAt": {"nested": "do-not-leak"}}),
            ),
        );
        assert_eq!(domain(&e).unwrap().1["lastSeenAt"], Value::Null);
        let e = seal(
            org(),
            ev(
                user(),
                "device.offline",
                AuditResult::Success,
                "device",
                Some(DEVICE),
                &json!({"lastSeenAt": ["do-not-leak"]}),
            ),
        );
        assert_eq!(domain(&e).unwrap().1["lastSeenAt"], Value::Null);
    }

    #[test]
    fn other_actions_only_stream() {
        for action in [
            "device.command.execute",
            "auth.login.success",
            "device.decommission",
        ] {
            let e = seal(
                org(),
                ev(
                    user(),
                    action,
                    AuditResult::Success,
                    "device",
                    Some(DEVICE),
                    &json!({}),
                ),
            );
            assert_eq!(domain(&e), None, "{action}");
        }
    }

    #[test]
    fn every_domain_event_fits_its_payload() {
        let org_id: OrgId = ORG.parse().unwrap();
        let t = time::OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
        for rule in RULES {
            let e = seal(
                org(),
                ev(
                    user(),
                    rule.action,
                    AuditResult::Success,
                    rule.resource_type.unwrap_or("approval"),
                    Some("x-1"),
                    &json!({"extra": 1}),
                ),
            );
            let events = events_from_audit(&e);
            assert_eq!(events.len(), 2, "{}", rule.action);
            for (kind, data) in events {
                super::super::payload::payload(kind, t, org_id, data).unwrap();
            }
        }
    }
}
