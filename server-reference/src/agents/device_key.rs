//! A device's key (SPEC 17): the one-time registration of an agent enrolled before binding,
//! and the rotation to a new key. Both prove possession of the key they install: the
//! registration is signed with the new key (label `sig1`); a rotation with the current key
//! (`sig1`, checked by the agent guard) and the new one (`sig2`). Both are compare-and-set on
//! the stored key and audited (`agent.key.registered`, `agent.key.rotated`).

use breeze_agent_proto::Message as _;
use breeze_agent_proto::http::ErrorReason;
use breeze_agent_proto::signing::{AgentKeyRequest, AgentKeyResponse};
use breeze_core::audit::AuditResult;
use breeze_crypto::httpsig::DevicePublicKey;
use breeze_crypto::httpsig::profile::{NEW_KEY_LABEL, REQUEST_LABEL};
use serde_json::json;

use crate::agents::auth::AgentAuthed;
use crate::agents::binding::{self, Proof, Refusal, Subject};
use crate::agents::error::AgentError;
use crate::audit::events::event_builder;
use crate::state::AppState;
use crate::store::{agents, audit};

/// Whether the call registers a first key or rotates the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyChange {
    /// `POST .../key`.
    Register,
    /// `POST .../key/rotate`.
    Rotate,
}

impl From<&AgentAuthed> for Subject {
    fn from(a: &AgentAuthed) -> Self {
        Self {
            device_id: a.device_id,
            org_id: a.org_id,
            bound: a.bound,
        }
    }
}

fn new_key(body: &[u8]) -> Result<DevicePublicKey, AgentError> {
    let request = AgentKeyRequest::decode(body)
        .map_err(|e| AgentError::decode(&e))?
        .into_message();
    DevicePublicKey::from_base64url(&request.public_key).map_err(|_| {
        AgentError::Invalid(vec![breeze_agent_proto::issue::Issue::new(
            "publicKey",
            breeze_agent_proto::issue::IssueCode::InvalidValue,
            "not a valid Ed25519 public key",
        )])
    })
}

/// Registers or rotates the device's key (see the module docs).
///
/// # Errors
/// 400 for a bad body, 401 `signature_required` / `signature_invalid` for a missing or
/// refused proof, 409 `agent_key_already_registered` (registration of a bound device) or
/// `refresh_raced` (a concurrent rotation won).
pub async fn change(
    state: &AppState,
    authed: &AgentAuthed,
    proof: &Proof<'_>,
    change: KeyChange,
) -> Result<AgentKeyResponse, AgentError> {
    let key = new_key(proof.body)?;
    let encoded = key.to_base64url();
    let current = match (change, authed.public_key.map(|k| k.to_base64url())) {
        (KeyChange::Register, Some(_)) => {
            return Err(AgentError::Reason(ErrorReason::AgentKeyAlreadyRegistered));
        }
        (KeyChange::Rotate, None) => {
            return Err(AgentError::Reason(ErrorReason::SignatureRequired));
        }
        (_, current) => current,
    };
    if current.as_deref() == Some(encoded.as_str()) {
        return Err(AgentError::Reason(ErrorReason::AgentKeyAlreadyRegistered));
    }
    // possession of the new key: its own signature over this very request
    let label = match change {
        KeyChange::Register => REQUEST_LABEL,
        KeyChange::Rotate => NEW_KEY_LABEL,
    };
    let verified =
        match binding::verify_with(&key, label, &authed.agent_id, proof, state.clock.unix()) {
            Ok(v) => v,
            Err(e) => {
                return Err(binding::refuse(
                    state,
                    authed,
                    &authed.client,
                    proof,
                    Refusal::from(e),
                )
                .await);
            }
        };
    if let Err(refusal) =
        binding::take_nonce(state, &authed.device_id.to_string(), &verified.nonce).await?
    {
        return Err(binding::refuse(state, authed, &authed.client, proof, refusal).await);
    }

    let mut tx = state.store.begin_system("agent key change").await?;
    let done = match current.as_deref() {
        None => agents::register_key(&mut tx, authed.device_id, &encoded).await?,
        Some(old) => agents::rotate_key(&mut tx, authed.device_id, old, &encoded).await?,
    };
    if !done {
        return Err(AgentError::Reason(match change {
            KeyChange::Register => ErrorReason::AgentKeyAlreadyRegistered,
            KeyChange::Rotate => ErrorReason::RefreshRaced,
        }));
    }
    let action = match change {
        KeyChange::Register => "agent.key.registered",
        KeyChange::Rotate => "agent.key.rotated",
    };
    let event = event_builder(
        state,
        authed.actor(),
        &authed.client,
        action,
        AuditResult::Success,
    )?
    .resource_type("device")
    .resource_id(authed.device_id.to_string())
    .details(&json!({"publicKey": encoded, "previousKey": current}))
    .build()
    .map_err(AgentError::internal)?;
    audit::append(&mut tx, Some(authed.org_id), event).await?;
    tx.commit().await?;
    state.agent_cache.invalidate_device(authed.device_id);
    Ok(AgentKeyResponse {
        public_key: encoded,
    })
}
