//! The closed catalogue of webhook event types (SPEC 13) and the documented `data` fields of
//! each. A subscription names event types from [`EventType::SUBSCRIBABLE`]; a payload's
//! `data` holds only the fields [`EventType::data_fields`] lists.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::{WebhookError, echo};

/// A webhook event type. Serializes as its wire name (`device.enrolled`, ...).
///
/// Each variant lists the keys of its payload's `data` object; a field whose value is not
/// known is `null`. Ids are the UUID strings of the tenancy ids unless said otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EventType {
    /// `device.enrolled`: an agent enrolled a device.
    ///
    /// - `deviceId`: the device
    /// - `siteId`: its site
    /// - `hostname`: the hostname the agent reported (string)
    /// - `reenrolledInPlace`: `true` when an existing device record was taken over (boolean)
    DeviceEnrolled,
    /// `device.offline`: a device stopped sending heartbeats.
    ///
    /// - `deviceId`: the device
    /// - `lastSeenAt`: its last heartbeat (RFC 3339)
    DeviceOffline,
    /// `device.quarantined`: a device was quarantined.
    ///
    /// - `deviceId`: the device
    DeviceQuarantined,
    /// `command.completed`: a device reported the result of a command.
    ///
    /// - `commandId`: the command
    /// - `deviceId`: the device that ran it
    /// - `type`: the command type (for example `script`)
    /// - `status`: its final status (for example `completed`, `failed`, `timeout`)
    /// - `exitCode`: the process exit code (integer)
    /// - `durationMs`: how long it ran (integer milliseconds)
    ///
    /// Never the command's output.
    CommandCompleted,
    /// `remote.session.ended`: a remote terminal session ended (SPEC 12).
    ///
    /// - `sessionId`: the session
    /// - `deviceId`: its device
    /// - `userId`: the user who ended it (`null` when the platform ended it)
    /// - `bytesIn`, `bytesOut`: bytes relayed to and from the device (integers)
    /// - `durationMs`: how long it lasted (integer milliseconds)
    /// - `transcriptSha256`: SHA-256 of the recording, as sealed in the audit chain (hex)
    /// - `transcriptBytes`: size of the recording (integer)
    /// - `truncated`: whether recording stopped at its cap (boolean)
    /// - `reason`: why it ended
    ///
    /// Never the recording itself.
    RemoteSessionEnded,
    /// `approval.requested`: an AI tool call waits for a human approval (SPEC 14).
    ///
    /// - `approvalId`: the approval
    /// - `tool`: the tool name
    /// - `requestedBy`: the id of the user or API key that made the call
    /// - `argumentsDigest`: SHA-256 of the call's arguments (never the arguments)
    /// - `expiresAt`: when the request lapses (RFC 3339)
    ApprovalRequested,
    /// `approval.decided`: a human approved or refused a tool call.
    ///
    /// - `approvalId`: the approval
    /// - `tool`: the tool name
    /// - `decision`: the decision (for example `approved`, `denied`)
    /// - `decidedBy`: the id of the user who decided
    ApprovalDecided,
    /// `audit.appended`: an entry was sealed in the organization's audit chain (audit
    /// streaming to a SIEM; the receiver checks continuity with `verify_segment`).
    ///
    /// - `chain`: the chain id (the organization's UUID)
    /// - `sequence`: the entry's sequence number (integer)
    /// - `prevHash`: the previous entry's chain hash (64 hex digits)
    /// - `hash`: the entry's chain hash (64 hex digits)
    /// - `entry`: the entry in its JSON form (as exported), sanitized details included
    AuditAppended,
    /// `webhook.test`: sent by `POST /webhooks/:id/test`; carries no data (`{}`) and cannot be
    /// subscribed to.
    WebhookTest,
}

const DEVICE_ENROLLED: &[&str] = &["deviceId", "siteId", "hostname", "reenrolledInPlace"];
const DEVICE_OFFLINE: &[&str] = &["deviceId", "lastSeenAt"];
const DEVICE_QUARANTINED: &[&str] = &["deviceId"];
const COMMAND_COMPLETED: &[&str] = &[
    "commandId",
    "deviceId",
    "type",
    "status",
    "exitCode",
    "durationMs",
];
const REMOTE_SESSION_ENDED: &[&str] = &[
    "sessionId",
    "deviceId",
    "userId",
    "bytesIn",
    "bytesOut",
    "durationMs",
    "transcriptSha256",
    "transcriptBytes",
    "truncated",
    "reason",
];
const APPROVAL_REQUESTED: &[&str] = &[
    "approvalId",
    "tool",
    "requestedBy",
    "argumentsDigest",
    "expiresAt",
];
const APPROVAL_DECIDED: &[&str] = &["approvalId", "tool", "decision", "decidedBy"];
const AUDIT_APPENDED: &[&str] = &["chain", "sequence", "prevHash", "hash", "entry"];

impl EventType {
    /// Every event type, in catalogue order.
    pub const ALL: [Self; 9] = [
        Self::DeviceEnrolled,
        Self::DeviceOffline,
        Self::DeviceQuarantined,
        Self::CommandCompleted,
        Self::RemoteSessionEnded,
        Self::ApprovalRequested,
        Self::ApprovalDecided,
        Self::AuditAppended,
        Self::WebhookTest,
    ];

    /// The event types a subscription may name: all but [`EventType::WebhookTest`].
    pub const SUBSCRIBABLE: [Self; 8] = [
        Self::DeviceEnrolled,
        Self::DeviceOffline,
        Self::DeviceQuarantined,
        Self::CommandCompleted,
        Self::RemoteSessionEnded,
        Self::ApprovalRequested,
        Self::ApprovalDecided,
        Self::AuditAppended,
    ];

    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::DeviceEnrolled => "device.enrolled",
            Self::DeviceOffline => "device.offline",
            Self::DeviceQuarantined => "device.quarantined",
            Self::CommandCompleted => "command.completed",
            Self::RemoteSessionEnded => "remote.session.ended",
            Self::ApprovalRequested => "approval.requested",
            Self::ApprovalDecided => "approval.decided",
            Self::AuditAppended => "audit.appended",
            Self::WebhookTest => "webhook.test",
        }
    }

    /// Whether a subscription may name it.
    #[must_use]
    pub const fn is_subscribable(self) -> bool {
        !matches!(self, Self::WebhookTest)
    }

    /// The closed list of keys of this event's `data` object (see each variant).
    #[must_use]
    pub const fn data_fields(self) -> &'static [&'static str] {
        match self {
            Self::DeviceEnrolled => DEVICE_ENROLLED,
            Self::DeviceOffline => DEVICE_OFFLINE,
            Self::DeviceQuarantined => DEVICE_QUARANTINED,
            Self::CommandCompleted => COMMAND_COMPLETED,
            Self::RemoteSessionEnded => REMOTE_SESSION_ENDED,
            Self::ApprovalRequested => APPROVAL_REQUESTED,
            Self::ApprovalDecided => APPROVAL_DECIDED,
            Self::AuditAppended => AUDIT_APPENDED,
            Self::WebhookTest => &[],
        }
    }

    /// Parses a wire name (exact, case-sensitive).
    ///
    /// # Errors
    /// [`WebhookError::UnknownEvent`] for a name outside the catalogue.
    pub fn parse(name: &str) -> Result<Self, WebhookError> {
        Self::ALL
            .into_iter()
            .find(|e| e.as_str() == name)
            .ok_or_else(|| WebhookError::UnknownEvent { event: echo(name) })
    }

    /// Parses a wire name a subscription may name.
    ///
    /// # Errors
    /// [`WebhookError::UnknownEvent`], or [`WebhookError::EventNotSubscribable`] for
    /// `webhook.test`.
    pub fn parse_subscribable(name: &str) -> Result<Self, WebhookError> {
        let event = Self::parse(name)?;
        if event.is_subscribable() {
            Ok(event)
        } else {
            Err(WebhookError::EventNotSubscribable {
                event: event.as_str().to_owned(),
            })
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = WebhookError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::audit::strvisit::parse_str(d, "a webhook event type such as `device.enrolled`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        let names: Vec<&str> = EventType::ALL.iter().map(|e| e.as_str()).collect();
        assert_eq!(
            names,
            [
                "device.enrolled",
                "device.offline",
                "device.quarantined",
                "command.completed",
                "remote.session.ended",
                "approval.requested",
                "approval.decided",
                "audit.appended",
                "webhook.test",
            ]
        );
        for e in EventType::ALL {
            assert_eq!(EventType::parse(e.as_str()), Ok(e));
            assert_eq!(e.as_str().parse::<EventType>(), Ok(e));
            assert_eq!(e.to_string(), e.as_str());
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(json, format!("\"{}\"", e.as_str()));
            assert_eq!(serde_json::from_str::<EventType>(&json).unwrap(), e);
        }
    }

    #[test]
    fn unknown_names_are_refused() {
        for bad in [
            "",
            "device",
            "Device.Enrolled",
            "device.enrolled ",
            " device.enrolled",
            "device.deleted",
            "webhook.created",
            "audit.appended\0",
        ] {
            let e = EventType::parse(bad).unwrap_err();
            assert_eq!(e.code(), "unknown_event", "{bad:?}");
            assert_eq!(
                EventType::parse_subscribable(bad).unwrap_err().code(),
                "unknown_event"
            );
        }
        assert!(serde_json::from_str::<EventType>("\"device.deleted\"").is_err());
        assert!(serde_json::from_str::<EventType>("3").is_err());
        let long = EventType::parse(&"x".repeat(10_000)).unwrap_err();
        assert!(long.to_string().len() < 200);
    }

    #[test]
    fn subscribable_is_all_but_the_test_event() {
        assert_eq!(
            EventType::parse_subscribable("webhook.test")
                .unwrap_err()
                .code(),
            "event_not_subscribable"
        );
        for e in EventType::SUBSCRIBABLE {
            assert!(e.is_subscribable());
            assert_eq!(EventType::parse_subscribable(e.as_str()), Ok(e));
        }
        let rest: Vec<EventType> = EventType::ALL
            .into_iter()
            .filter(|e| !EventType::SUBSCRIBABLE.contains(e))
            .collect();
        assert_eq!(rest, [EventType::WebhookTest]);
    }

    #[test]
    fn data_fields_are_camel_case_and_distinct() {
        assert!(EventType::WebhookTest.data_fields().is_empty());
        assert_eq!(
            EventType::AuditAppended.data_fields(),
            ["chain", "sequence", "prevHash", "hash", "entry"]
        );
        for e in EventType::ALL {
            let fields = e.data_fields();
            let mut seen = std::collections::BTreeSet::new();
            for f in fields {
                assert!(seen.insert(*f), "{e}: {f} twice");
                assert!(
                    f.chars().next().is_some_and(|c| c.is_ascii_lowercase()),
                    "{f}"
                );
                assert!(f.chars().all(|c| c.is_ascii_alphanumeric()), "{f}");
            }
        }
    }

    #[test]
    fn no_field_is_secret_looking() {
        // Nothing the SPEC 6.1 sanitizer treats as a secret, and no client IP, user agent or
        // command output, is a documented field.
        for e in EventType::ALL {
            for f in e.data_fields() {
                let lower = f.to_ascii_lowercase();
                for word in [
                    "password",
                    "token",
                    "secret",
                    "cookie",
                    "credential",
                    "authorization",
                    "stderr",
                    "stdout",
                    "useragent",
                    "ipaddress",
                ] {
                    assert!(!lower.contains(word), "{e}: {f}");
                }
                assert_ne!(lower, "ip", "{e}");
            }
        }
    }
}
