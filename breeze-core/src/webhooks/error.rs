//! [`WebhookError`]: everything the webhook functions refuse, each with a stable code.

use serde::Serialize;

/// Longest piece of caller input repeated in an error message, in characters.
const MAX_ECHO_CHARS: usize = 64;

/// A refusal of the webhook functions (catalogue, payloads, secrets, signatures).
///
/// Messages are lowercase and never contain secret material: no secret, no signature, no
/// part of either. Event names and field names are echoed (cut to 64 characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum WebhookError {
    /// An event type outside the catalogue.
    #[error("unknown event type `{event}`")]
    UnknownEvent {
        /// The name given (cut to 64 characters).
        event: String,
    },
    /// An event type a subscription cannot name (`webhook.test`).
    #[error("event type `{event}` cannot be subscribed to")]
    EventNotSubscribable {
        /// The event type.
        event: String,
    },
    /// Payload data that is not a JSON object.
    #[error("event data must be a JSON object")]
    DataNotObject,
    /// A data key outside the documented fields of the event.
    #[error("field `{field}` is not documented for event type `{event}`")]
    UndocumentedField {
        /// The event type.
        event: String,
        /// The refused key (cut to 64 characters).
        field: String,
    },
    /// A secret without the `whsec_` prefix, or not standard base64 after it.
    #[error("invalid webhook secret: expected `whsec_` followed by standard base64")]
    SecretFormat,
    /// A secret that decodes to fewer than 24 or more than 64 bytes.
    #[error("invalid webhook secret: expected 24 to 64 bytes after decoding")]
    SecretLength,
    /// Signing or verifying with an empty list of secrets.
    #[error("no webhook secret given")]
    NoSecret,
    /// A message id that is not 1 to 255 characters of `A-Z a-z 0-9 _ -`.
    #[error("invalid message id: expected 1 to 255 characters of `A-Za-z0-9_-`")]
    MessageId,
    /// A timestamp that is not a non-negative integer number of seconds (or, for a
    /// payload, a time that RFC 3339 cannot write).
    #[error("invalid webhook timestamp: expected integer unix seconds")]
    TimestampInvalid,
    /// A timestamp further in the past than the tolerance.
    #[error("webhook timestamp {timestamp} is more than {tolerance_secs} s before now ({now})")]
    TimestampTooOld {
        /// The message's timestamp (unix seconds).
        timestamp: i64,
        /// The verifier's clock (unix seconds).
        now: i64,
        /// The tolerance (seconds).
        tolerance_secs: u64,
    },
    /// A timestamp further in the future than the tolerance.
    #[error("webhook timestamp {timestamp} is more than {tolerance_secs} s after now ({now})")]
    TimestampTooNew {
        /// The message's timestamp (unix seconds).
        timestamp: i64,
        /// The verifier's clock (unix seconds).
        now: i64,
        /// The tolerance (seconds).
        tolerance_secs: u64,
    },
    /// A signature header that is not space-separated `version,signature` pairs.
    #[error("malformed webhook signature header: expected space-separated `v1,<base64>` pairs")]
    SignatureHeader,
    /// No signature of the header matches any of the secrets.
    #[error("no webhook signature matches")]
    NoMatchingSignature,
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    RngFailure,
}

impl WebhookError {
    /// A stable machine code (`snake_case`) for the bindings.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::UnknownEvent { .. } => "unknown_event",
            Self::EventNotSubscribable { .. } => "event_not_subscribable",
            Self::DataNotObject => "data_not_object",
            Self::UndocumentedField { .. } => "undocumented_field",
            Self::SecretFormat => "secret_format",
            Self::SecretLength => "secret_length",
            Self::NoSecret => "no_secret",
            Self::MessageId => "message_id",
            Self::TimestampInvalid => "timestamp_invalid",
            Self::TimestampTooOld { .. } => "timestamp_too_old",
            Self::TimestampTooNew { .. } => "timestamp_too_new",
            Self::SignatureHeader => "signature_header",
            Self::NoMatchingSignature => "no_matching_signature",
            Self::RngFailure => "rng_failure",
        }
    }
}

/// `s` cut to at most 64 characters, for echoing caller input in a message.
pub(crate) fn echo(s: &str) -> String {
    crate::audit::event::truncate_chars(s, MAX_ECHO_CHARS).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_tag_equals_code() {
        let all = [
            WebhookError::UnknownEvent { event: "x".into() },
            WebhookError::EventNotSubscribable { event: "x".into() },
            WebhookError::DataNotObject,
            WebhookError::UndocumentedField {
                event: "x".into(),
                field: "y".into(),
            },
            WebhookError::SecretFormat,
            WebhookError::SecretLength,
            WebhookError::NoSecret,
            WebhookError::MessageId,
            WebhookError::TimestampInvalid,
            WebhookError::TimestampTooOld {
                timestamp: 1,
                now: 2,
                tolerance_secs: 0,
            },
            WebhookError::TimestampTooNew {
                timestamp: 2,
                now: 1,
                tolerance_secs: 0,
            },
            WebhookError::SignatureHeader,
            WebhookError::NoMatchingSignature,
            WebhookError::RngFailure,
        ];
        let mut codes = std::collections::BTreeSet::new();
        for e in all {
            let v = serde_json::to_value(&e).unwrap();
            assert_eq!(v["code"], e.code(), "{e:?}");
            assert!(codes.insert(e.code()), "duplicate code {}", e.code());
            let msg = e.to_string();
            assert!(!msg.ends_with('.'), "{msg}");
            assert_eq!(
                msg.chars().next().map(char::is_lowercase),
                Some(true),
                "{msg}"
            );
        }
    }

    #[test]
    fn echo_is_cut() {
        assert_eq!(echo(&"é".repeat(100)).chars().count(), 64);
        assert_eq!(echo("abc"), "abc");
    }
}
