//! The audit event of SPEC 6: who did what to which resource, with what result.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::canonical_json;
use super::sanitize;
use super::timestamp::Timestamp;
use crate::tenancy::{ApiKeyId, DeviceId, UserId};

/// Longest action, in bytes.
pub const MAX_ACTION_LEN: usize = 128;
/// Longest resource type, in bytes.
pub const MAX_RESOURCE_TYPE_LEN: usize = 64;
/// Longest resource id, in characters.
pub const MAX_RESOURCE_ID_CHARS: usize = 256;
/// Longest user agent, in characters (the builder truncates longer ones).
pub const MAX_USER_AGENT_CHARS: usize = 512;
/// Longest error message, in characters (the builder truncates longer ones).
pub const MAX_ERROR_MESSAGE_CHARS: usize = 2048;
/// Largest details object, in bytes of canonical JSON (the builder replaces larger ones by
/// their length and SHA-256).
pub const MAX_DETAILS_BYTES: usize = 64 * 1024;
/// Deepest nesting of details accepted when an event is read back (the sanitizer itself
/// cuts at 8).
pub const MAX_DETAILS_DEPTH: usize = 32;

/// An audit event that does not satisfy SPEC 6.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventError {
    /// The action is not dotted lowercase.
    #[error(
        "invalid action `{action}`: expected two or more dot-separated lowercase segments such as `device.command.execute`"
    )]
    ActionSyntax {
        /// The rejected action (cut to 128 bytes).
        action: String,
    },
    /// The resource type is not a lowercase identifier.
    #[error(
        "invalid resource type `{resource_type}`: expected a lowercase identifier such as `device`"
    )]
    ResourceTypeSyntax {
        /// The rejected resource type (cut to 64 bytes).
        resource_type: String,
    },
    /// The resource id is empty, too long or has control characters.
    #[error("invalid resource id: expected 1 to 256 characters without control characters")]
    ResourceId,
    /// A user, API key or agent actor without its id, or a system actor with one.
    #[error("actor type `{actor_type}` {problem}")]
    ActorId {
        /// The actor type.
        actor_type: ActorType,
        /// What is wrong (`needs an actor id` or `takes no actor id`).
        problem: &'static str,
    },
    /// The user agent is longer than 512 characters.
    #[error("user agent longer than 512 characters")]
    UserAgentTooLong,
    /// The error message is longer than 2048 characters.
    #[error("error message longer than 2048 characters")]
    ErrorMessageTooLong,
    /// The details are not a JSON object.
    #[error("details must be a JSON object")]
    DetailsNotObject,
    /// The details are larger than 64 KiB of canonical JSON.
    #[error("details larger than 65536 bytes")]
    DetailsTooLarge,
    /// The details nest deeper than 32 levels.
    #[error("details nested deeper than 32 levels")]
    DetailsTooDeep,
}

impl EventError {
    /// A stable machine code (snake_case) for the bindings.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::ActionSyntax { .. } => "action_syntax",
            Self::ResourceTypeSyntax { .. } => "resource_type_syntax",
            Self::ResourceId => "resource_id",
            Self::ActorId { .. } => "actor_id",
            Self::UserAgentTooLong => "user_agent_too_long",
            Self::ErrorMessageTooLong => "error_message_too_long",
            Self::DetailsNotObject => "details_not_object",
            Self::DetailsTooLarge => "details_too_large",
            Self::DetailsTooDeep => "details_too_deep",
        }
    }
}

fn cut(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    s.get(..end).unwrap_or_default().to_owned()
}

/// Truncates to at most `max` characters.
pub(crate) fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((idx, _)) => s.get(..idx).unwrap_or(s),
        None => s,
    }
}

macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $code:literal, $text:literal;)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every variant, in canonical-code order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// The byte that encodes this variant in the canonical form.
            #[must_use]
            pub const fn code(self) -> u8 {
                match self { $(Self::$variant => $code,)+ }
            }

            /// The wire name (`snake_case`).
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text,)+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// Who acted.
    ActorType {
        /// A signed-in user.
        User = 1, "user";
        /// An API key.
        ApiKey = 2, "api_key";
        /// A device agent.
        Agent = 3, "agent";
        /// The platform itself (jobs, maintenance).
        System = 4, "system";
    }
);

wire_enum!(
    /// The outcome.
    AuditResult {
        /// The operation happened.
        Success = 1, "success";
        /// The operation was attempted and failed.
        Failure = 2, "failure";
        /// The operation was refused (authentication, authorization, policy).
        Denied = 3, "denied";
    }
);

wire_enum!(
    /// What set the operation in motion.
    InitiatedBy {
        /// A person, directly.
        Manual = 1, "manual";
        /// An AI tool call.
        Ai = 2, "ai";
        /// An automation.
        Automation = 3, "automation";
        /// A policy.
        Policy = 4, "policy";
        /// A schedule.
        Schedule = 5, "schedule";
        /// A device agent.
        Agent = 6, "agent";
        /// An integration (PSA, webhook, ...).
        Integration = 7, "integration";
    }
);

/// The actor of an event, with its typed id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    /// A user.
    User(UserId),
    /// An API key.
    ApiKey(ApiKeyId),
    /// A device agent.
    Agent(DeviceId),
    /// The platform itself.
    System,
}

impl Actor {
    /// The actor type.
    #[must_use]
    pub const fn actor_type(&self) -> ActorType {
        match self {
            Self::User(_) => ActorType::User,
            Self::ApiKey(_) => ActorType::ApiKey,
            Self::Agent(_) => ActorType::Agent,
            Self::System => ActorType::System,
        }
    }

    /// The actor id (none for the system actor).
    #[must_use]
    pub const fn id(&self) -> Option<&Uuid> {
        match self {
            Self::User(id) => Some(id.as_uuid()),
            Self::ApiKey(id) => Some(id.as_uuid()),
            Self::Agent(id) => Some(id.as_uuid()),
            Self::System => None,
        }
    }

    /// Builds an actor from its type and id.
    ///
    /// # Errors
    /// [`EventError::ActorId`] when a user, API key or agent has no id, or the system has one.
    pub fn from_parts(actor_type: ActorType, id: Option<Uuid>) -> Result<Self, EventError> {
        match (actor_type, id) {
            (ActorType::User, Some(id)) => Ok(Self::User(UserId::from_uuid(id))),
            (ActorType::ApiKey, Some(id)) => Ok(Self::ApiKey(ApiKeyId::from_uuid(id))),
            (ActorType::Agent, Some(id)) => Ok(Self::Agent(DeviceId::from_uuid(id))),
            (ActorType::System, None) => Ok(Self::System),
            (ActorType::System, Some(_)) => Err(EventError::ActorId {
                actor_type,
                problem: "takes no actor id",
            }),
            (_, None) => Err(EventError::ActorId {
                actor_type,
                problem: "needs an actor id",
            }),
        }
    }
}

fn is_ident_segment(seg: &str) -> bool {
    let mut bytes = seg.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}

/// An action: two or more dot-separated segments, each a lowercase letter followed by
/// lowercase letters, digits or `_`; at most 128 bytes. Example: `device.command.execute`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Action(String);

impl Action {
    /// Validates an action.
    ///
    /// # Errors
    /// [`EventError::ActionSyntax`].
    pub fn new(action: &str) -> Result<Self, EventError> {
        check_action(action)?;
        Ok(Self(action.to_owned()))
    }

    /// The action text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Action {
    type Err = EventError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Action({})", self.0)
    }
}

/// The rule of [`Action::new`], without keeping the action.
pub(crate) fn check_action(action: &str) -> Result<(), EventError> {
    let ok = action.len() <= MAX_ACTION_LEN
        && action.split('.').count() >= 2
        && action.split('.').all(is_ident_segment);
    if ok {
        Ok(())
    } else {
        Err(EventError::ActionSyntax {
            action: cut(action, MAX_ACTION_LEN),
        })
    }
}

/// The checks of an event's text fields, shared by the owned event and the borrowed view of
/// a bundle line (`entry_view`).
pub(crate) fn check_text_fields(
    resource_type: &str,
    resource_id: Option<&str>,
    user_agent: Option<&str>,
    error_message: Option<&str>,
) -> Result<(), EventError> {
    check_resource_type(resource_type)?;
    if let Some(id) = resource_id {
        check_resource_id(id)?;
    }
    if user_agent.is_some_and(|ua| ua.chars().count() > MAX_USER_AGENT_CHARS) {
        return Err(EventError::UserAgentTooLong);
    }
    if error_message.is_some_and(|m| m.chars().count() > MAX_ERROR_MESSAGE_CHARS) {
        return Err(EventError::ErrorMessageTooLong);
    }
    Ok(())
}

fn check_resource_type(rt: &str) -> Result<(), EventError> {
    if rt.len() <= MAX_RESOURCE_TYPE_LEN && is_ident_segment(rt) {
        Ok(())
    } else {
        Err(EventError::ResourceTypeSyntax {
            resource_type: cut(rt, MAX_RESOURCE_TYPE_LEN),
        })
    }
}

fn check_resource_id(id: &str) -> Result<(), EventError> {
    let n = id.chars().count();
    if (1..=MAX_RESOURCE_ID_CHARS).contains(&n) && !id.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(EventError::ResourceId)
    }
}

fn check_details(details: &Value) -> Result<(), EventError> {
    if !details.is_object() {
        return Err(EventError::DetailsNotObject);
    }
    if canonical_json::depth(details, MAX_DETAILS_DEPTH) > MAX_DETAILS_DEPTH {
        return Err(EventError::DetailsTooDeep);
    }
    if canonical_json::encoded_len(details) > MAX_DETAILS_BYTES {
        return Err(EventError::DetailsTooLarge);
    }
    Ok(())
}

/// One audit event (SPEC 6). Build it with [`AuditEvent::builder`]; every value inside is
/// valid by construction, and details have been through the sanitizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    actor: Actor,
    action: Action,
    resource_type: String,
    resource_id: Option<String>,
    result: AuditResult,
    ip: Option<IpAddr>,
    user_agent: Option<String>,
    details: Value,
    error_message: Option<String>,
    initiated_by: InitiatedBy,
    timestamp: Timestamp,
}

impl AuditEvent {
    /// Starts an event with its required fields. Details default to `{}`.
    pub fn builder(
        actor: Actor,
        action: Action,
        result: AuditResult,
        initiated_by: InitiatedBy,
        timestamp: Timestamp,
    ) -> AuditEventBuilder {
        AuditEventBuilder {
            event: Self {
                actor,
                action,
                resource_type: String::new(),
                resource_id: None,
                result,
                ip: None,
                user_agent: None,
                details: Value::Object(serde_json::Map::new()),
                error_message: None,
                initiated_by,
                timestamp,
            },
        }
    }

    /// The actor.
    #[must_use]
    pub const fn actor(&self) -> &Actor {
        &self.actor
    }
    /// The action.
    #[must_use]
    pub const fn action(&self) -> &Action {
        &self.action
    }
    /// The resource type (for example `device`).
    #[must_use]
    pub fn resource_type(&self) -> &str {
        &self.resource_type
    }
    /// The resource id, if any.
    #[must_use]
    pub fn resource_id(&self) -> Option<&str> {
        self.resource_id.as_deref()
    }
    /// The result.
    #[must_use]
    pub const fn result(&self) -> AuditResult {
        self.result
    }
    /// The client IP address, if any.
    #[must_use]
    pub const fn ip(&self) -> Option<IpAddr> {
        self.ip
    }
    /// The client user agent, if any.
    #[must_use]
    pub fn user_agent(&self) -> Option<&str> {
        self.user_agent.as_deref()
    }
    /// The (sanitized) details object.
    #[must_use]
    pub const fn details(&self) -> &Value {
        &self.details
    }
    /// The error message, if any.
    #[must_use]
    pub fn error_message(&self) -> Option<&str> {
        self.error_message.as_deref()
    }
    /// What initiated the operation.
    #[must_use]
    pub const fn initiated_by(&self) -> InitiatedBy {
        self.initiated_by
    }
    /// When it happened (UTC, microseconds).
    #[must_use]
    pub const fn timestamp(&self) -> Timestamp {
        self.timestamp
    }

    fn validate(&self) -> Result<(), EventError> {
        check_text_fields(
            &self.resource_type,
            self.resource_id.as_deref(),
            self.user_agent.as_deref(),
            self.error_message.as_deref(),
        )?;
        check_details(&self.details)
    }
}

/// Builds an [`AuditEvent`]; [`AuditEventBuilder::build`] validates.
#[derive(Debug, Clone)]
#[must_use]
pub struct AuditEventBuilder {
    event: AuditEvent,
}

impl AuditEventBuilder {
    /// The resource type (required): a lowercase identifier such as `device`.
    pub fn resource_type(mut self, resource_type: &str) -> Self {
        resource_type.clone_into(&mut self.event.resource_type);
        self
    }
    /// The resource id: 1 to 256 characters, no control characters.
    pub fn resource_id(mut self, id: impl Into<String>) -> Self {
        self.event.resource_id = Some(id.into());
        self
    }
    /// The client IP address.
    pub const fn ip(mut self, ip: IpAddr) -> Self {
        self.event.ip = Some(ip);
        self
    }
    /// The client user agent, truncated to 512 characters.
    pub fn user_agent(mut self, ua: &str) -> Self {
        self.event.user_agent = Some(truncate_chars(ua, MAX_USER_AGENT_CHARS).to_owned());
        self
    }
    /// The details, run through the SPEC 6.1 sanitizer ([`sanitize::sanitize_details`]).
    /// `null` means `{}`; anything else but an object fails at build.
    pub fn details(mut self, details: &Value) -> Self {
        self.event.details = match details {
            Value::Null => Value::Object(serde_json::Map::new()),
            other => sanitize::sanitize_details(other),
        };
        self
    }
    /// The error message, truncated to 2048 characters.
    pub fn error_message(mut self, message: &str) -> Self {
        self.event.error_message =
            Some(truncate_chars(message, MAX_ERROR_MESSAGE_CHARS).to_owned());
        self
    }

    /// Validates and returns the event. Details larger than 64 KiB after sanitizing are
    /// replaced by `{"redacted": true, "length": n, "sha256": "..."}` of their canonical JSON.
    ///
    /// # Errors
    /// Any [`EventError`]: the resource type is missing or malformed, the resource id is
    /// invalid, or the details are not an object.
    pub fn build(mut self) -> Result<AuditEvent, EventError> {
        if self.event.details.is_object()
            && canonical_json::encoded_len(&self.event.details) > MAX_DETAILS_BYTES
        {
            self.event.details = sanitize::digest_object(&self.event.details);
        }
        self.event.validate()?;
        Ok(self.event)
    }
}

/// The JSON form of an event (flat, snake_case), shared by exports and the bindings.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventWire {
    actor_type: ActorType,
    #[serde(default)]
    actor_id: Option<Uuid>,
    action: String,
    resource_type: String,
    #[serde(default)]
    resource_id: Option<String>,
    result: AuditResult,
    #[serde(default)]
    ip: Option<IpAddr>,
    #[serde(default)]
    user_agent: Option<String>,
    details: Value,
    #[serde(default)]
    error_message: Option<String>,
    initiated_by: InitiatedBy,
    timestamp: Timestamp,
}

impl TryFrom<EventWire> for AuditEvent {
    type Error = EventError;
    fn try_from(w: EventWire) -> Result<Self, EventError> {
        let event = Self {
            actor: Actor::from_parts(w.actor_type, w.actor_id)?,
            action: Action::new(&w.action)?,
            resource_type: w.resource_type,
            resource_id: w.resource_id,
            result: w.result,
            ip: w.ip,
            user_agent: w.user_agent,
            details: w.details,
            error_message: w.error_message,
            initiated_by: w.initiated_by,
            timestamp: w.timestamp,
        };
        event.validate()?;
        Ok(event)
    }
}

/// The JSON form written: same fields and order as [`EventWire`], borrowed.
#[derive(Serialize)]
struct EventWireRef<'a> {
    actor_type: ActorType,
    actor_id: Option<&'a Uuid>,
    action: &'a str,
    resource_type: &'a str,
    resource_id: Option<&'a str>,
    result: AuditResult,
    ip: Option<IpAddr>,
    user_agent: Option<&'a str>,
    details: &'a Value,
    error_message: Option<&'a str>,
    initiated_by: InitiatedBy,
    timestamp: Timestamp,
}

impl Serialize for AuditEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        EventWireRef {
            actor_type: self.actor.actor_type(),
            actor_id: self.actor.id(),
            action: self.action.as_str(),
            resource_type: &self.resource_type,
            resource_id: self.resource_id.as_deref(),
            result: self.result,
            ip: self.ip,
            user_agent: self.user_agent.as_deref(),
            details: &self.details,
            error_message: self.error_message.as_deref(),
            initiated_by: self.initiated_by,
            timestamp: self.timestamp,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for AuditEvent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = EventWire::deserialize(d)?;
        Self::try_from(wire).map_err(serde::de::Error::custom)
    }
}
