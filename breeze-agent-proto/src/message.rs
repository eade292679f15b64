//! The [`Message`] trait (HTTP bodies) and [`MessageKind`], the by-name dispatch the bindings
//! and the golden vectors use.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::command::Command;
use crate::decode::{Decoded, check_size, encode_checked, finish, parse_slice};
use crate::enrollment::{EnrollRequest, EnrollResponse};
use crate::error::{DecodeError, EncodeError};
use crate::frame::{AgentFrame, ServerFrame};
use crate::heartbeat::{HeartbeatRequest, HeartbeatResponse};
use crate::http::HttpErrorBody;
use crate::issue::DroppedField;
use crate::limits::{
    MAX_COMMAND_RESULT_BODY_BYTES, MAX_ENROLL_BODY_BYTES, MAX_HEARTBEAT_BODY_BYTES,
    MAX_ROTATION_BODY_BYTES, MAX_SERVER_MESSAGE_BYTES,
};
use crate::result::CommandResult;
use crate::rotation::{
    ConfirmRotationRequest, ConfirmRotationResponse, RotateTokenRequest, RotateTokenResponse,
};
use crate::signing::{AgentKeyRequest, AgentKeyResponse};
use crate::validate::Validate;
use crate::viewer::{ViewerEvent, ViewerFrame};

/// A JSON message with a size limit, strict decoding and validation.
///
/// The trait is sealed: only this crate's messages implement it.
pub trait Message: Sized + Serialize + DeserializeOwned + JsonSchema + Validate {
    /// Largest accepted encoding, checked before parsing.
    const MAX_BYTES: usize;

    /// Decodes and validates a message.
    ///
    /// # Errors
    /// [`DecodeError::TooLarge`] before parsing; [`DecodeError::Invalid`] with at most 10
    /// issues, each with its field path.
    fn decode(bytes: &[u8]) -> Result<Decoded<Self>, DecodeError> {
        check_size(bytes.len(), Self::MAX_BYTES)?;
        finish(parse_slice(bytes)?)
    }

    /// Encodes the message, refusing one the peer would reject.
    ///
    /// # Errors
    /// See [`EncodeError`].
    fn encode(&self) -> Result<String, EncodeError> {
        encode_checked(self, Self::MAX_BYTES, |text| {
            Self::decode(text.as_bytes()).map(|d| d.dropped.len())
        })
    }
}

macro_rules! message {
    ($($ty:ty => $max:expr),* $(,)?) => {
        $(impl Message for $ty { const MAX_BYTES: usize = $max; })*
    };
}

message! {
    EnrollRequest => MAX_ENROLL_BODY_BYTES,
    EnrollResponse => MAX_ENROLL_BODY_BYTES,
    HeartbeatRequest => MAX_HEARTBEAT_BODY_BYTES,
    HeartbeatResponse => MAX_SERVER_MESSAGE_BYTES,
    Command => MAX_SERVER_MESSAGE_BYTES,
    CommandResult => MAX_COMMAND_RESULT_BODY_BYTES,
    RotateTokenRequest => MAX_ROTATION_BODY_BYTES,
    RotateTokenResponse => MAX_ROTATION_BODY_BYTES,
    ConfirmRotationRequest => MAX_ROTATION_BODY_BYTES,
    ConfirmRotationResponse => MAX_ROTATION_BODY_BYTES,
    HttpErrorBody => MAX_ENROLL_BODY_BYTES,
    AgentKeyRequest => MAX_ROTATION_BODY_BYTES,
    AgentKeyResponse => MAX_ROTATION_BODY_BYTES,
}

/// Every message and frame family, by name (for bindings, schemas and golden vectors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MessageKind {
    /// [`EnrollRequest`].
    EnrollRequest,
    /// [`EnrollResponse`].
    EnrollResponse,
    /// [`HeartbeatRequest`].
    HeartbeatRequest,
    /// [`HeartbeatResponse`].
    HeartbeatResponse,
    /// [`Command`].
    Command,
    /// [`CommandResult`].
    CommandResult,
    /// [`RotateTokenRequest`].
    RotateTokenRequest,
    /// [`RotateTokenResponse`].
    RotateTokenResponse,
    /// [`ConfirmRotationRequest`].
    ConfirmRotationRequest,
    /// [`ConfirmRotationResponse`].
    ConfirmRotationResponse,
    /// [`HttpErrorBody`].
    HttpError,
    /// [`AgentFrame`] (agent -> server text frames).
    AgentFrame,
    /// [`ServerFrame`] (server -> agent text frames).
    ServerFrame,
    /// [`ViewerFrame`] (browser -> server frames of a terminal session, SPEC 12).
    ViewerFrame,
    /// [`ViewerEvent`] (server -> browser frames of a terminal session, SPEC 12).
    ViewerEvent,
}

/// A decoded message as canonical JSON (what the bindings return).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecodedJson {
    /// The message re-encoded canonically (dropped fields removed).
    pub message: serde_json::Value,
    /// Dropped informational fields.
    pub dropped: Vec<DroppedField>,
}

fn to_json<T: Serialize>(decoded: Decoded<T>) -> Result<DecodedJson, DecodeError> {
    let message = serde_json::to_value(&decoded.message).map_err(|_| {
        DecodeError::single(
            "",
            crate::issue::IssueCode::InvalidValue,
            "message cannot be re-encoded",
        )
    })?;
    Ok(DecodedJson {
        message,
        dropped: decoded.dropped,
    })
}

impl MessageKind {
    /// Every kind.
    pub const ALL: &'static [Self] = &[
        Self::EnrollRequest,
        Self::EnrollResponse,
        Self::HeartbeatRequest,
        Self::HeartbeatResponse,
        Self::Command,
        Self::CommandResult,
        Self::RotateTokenRequest,
        Self::RotateTokenResponse,
        Self::ConfirmRotationRequest,
        Self::ConfirmRotationResponse,
        Self::HttpError,
        Self::AgentFrame,
        Self::ServerFrame,
        Self::ViewerFrame,
        Self::ViewerEvent,
    ];

    /// The snake_case name (also the schema file stem).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::EnrollRequest => "enroll_request",
            Self::EnrollResponse => "enroll_response",
            Self::HeartbeatRequest => "heartbeat_request",
            Self::HeartbeatResponse => "heartbeat_response",
            Self::Command => "command",
            Self::CommandResult => "command_result",
            Self::RotateTokenRequest => "rotate_token_request",
            Self::RotateTokenResponse => "rotate_token_response",
            Self::ConfirmRotationRequest => "confirm_rotation_request",
            Self::ConfirmRotationResponse => "confirm_rotation_response",
            Self::HttpError => "http_error",
            Self::AgentFrame => "agent_frame",
            Self::ServerFrame => "server_frame",
            Self::ViewerFrame => "viewer_frame",
            Self::ViewerEvent => "viewer_event",
        }
    }

    /// The kind with this name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// Decodes `bytes` as this kind and returns canonical JSON.
    ///
    /// # Errors
    /// As the kind's own decoder.
    pub fn decode_to_json(self, bytes: &[u8]) -> Result<DecodedJson, DecodeError> {
        match self {
            Self::EnrollRequest => to_json(EnrollRequest::decode(bytes)?),
            Self::EnrollResponse => to_json(EnrollResponse::decode(bytes)?),
            Self::HeartbeatRequest => to_json(HeartbeatRequest::decode(bytes)?),
            Self::HeartbeatResponse => to_json(HeartbeatResponse::decode(bytes)?),
            Self::Command => to_json(Command::decode(bytes)?),
            Self::CommandResult => to_json(CommandResult::decode(bytes)?),
            Self::RotateTokenRequest => to_json(RotateTokenRequest::decode(bytes)?),
            Self::RotateTokenResponse => to_json(RotateTokenResponse::decode(bytes)?),
            Self::ConfirmRotationRequest => to_json(ConfirmRotationRequest::decode(bytes)?),
            Self::ConfirmRotationResponse => to_json(ConfirmRotationResponse::decode(bytes)?),
            Self::HttpError => to_json(HttpErrorBody::decode(bytes)?),
            Self::AgentFrame => to_json(AgentFrame::decode(bytes)?),
            Self::ServerFrame => to_json(ServerFrame::decode(bytes)?),
            Self::ViewerFrame => to_json(ViewerFrame::decode(bytes)?),
            Self::ViewerEvent => to_json(ViewerEvent::decode(bytes)?),
        }
    }

    /// The JSON Schema (draft 2020-12) of this kind.
    #[must_use]
    pub fn schema(self) -> schemars::Schema {
        match self {
            Self::EnrollRequest => schemars::schema_for!(EnrollRequest),
            Self::EnrollResponse => schemars::schema_for!(EnrollResponse),
            Self::HeartbeatRequest => schemars::schema_for!(HeartbeatRequest),
            Self::HeartbeatResponse => schemars::schema_for!(HeartbeatResponse),
            Self::Command => schemars::schema_for!(Command),
            Self::CommandResult => schemars::schema_for!(CommandResult),
            Self::RotateTokenRequest => schemars::schema_for!(RotateTokenRequest),
            Self::RotateTokenResponse => schemars::schema_for!(RotateTokenResponse),
            Self::ConfirmRotationRequest => schemars::schema_for!(ConfirmRotationRequest),
            Self::ConfirmRotationResponse => schemars::schema_for!(ConfirmRotationResponse),
            Self::HttpError => schemars::schema_for!(HttpErrorBody),
            Self::AgentFrame => schemars::schema_for!(AgentFrame),
            Self::ServerFrame => schemars::schema_for!(ServerFrame),
            Self::ViewerFrame => schemars::schema_for!(ViewerFrame),
            Self::ViewerEvent => schemars::schema_for!(ViewerEvent),
        }
    }
}
