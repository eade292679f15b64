//! Stored recordings (SPEC 12): the sealed chunks a live session writes as its recording
//! fills, and replay, which recomputes the SHA-256 over the decrypted chunks and compares it
//! with the digest `remote.session.ended` sealed in the organization's audit chain.

use secrecy::ExposeSecret as _;
use serde_json::Value;
use uuid::Uuid;

use crate::error::ApiError;
use crate::http::authn::Authed;
use crate::remote::recording;
use crate::remote::sessions::{Opened, transcript_field};
use crate::state::AppState;
use crate::store::audit;
use crate::store::remote as store;

/// Seals and stores one recording chunk.
///
/// # Errors
/// [`ApiError`] on encryption or database failure.
pub async fn store_chunk(
    state: &AppState,
    opened: &Opened,
    chunk: &recording::Chunk,
) -> Result<(), ApiError> {
    let envelope = state
        .secrets
        .encrypt(&chunk.text, &transcript_field()?)
        .map_err(ApiError::internal)?;
    let mut tx = opened.authed.begin(state).await?;
    store::append_chunk(&mut tx, &opened.session, chunk.seq, &envelope).await?;
    tx.commit().await?;
    Ok(())
}

/// A verified recording.
#[derive(Debug)]
pub struct Replay {
    /// The asciicast text.
    pub transcript: String,
    /// Its SHA-256, equal to the one sealed in the audit chain.
    pub sha256: String,
    /// Whether recording stopped at the cap.
    pub truncated: bool,
}

/// The recording of an ended session, after checking that the SHA-256 of the decrypted
/// chunks equals the digest sealed in the organization's audit chain by
/// `remote.session.ended` (`audit:read`, any session of the caller's reach).
///
/// # Errors
/// 404; 409 `session_not_ended`; 409 `recording_digest_mismatch` when the stored recording
/// is not the one that was sealed.
pub async fn replay(state: &AppState, authed: &Authed, id: Uuid) -> Result<Replay, ApiError> {
    let mut tx = authed.begin(state).await?;
    let session = store::get(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    if !authed.ctx.can_access_site(session.org_id, session.site_id) {
        return Err(ApiError::NotFound);
    }
    if session.status != "ended" {
        return Err(ApiError::Conflict("session_not_ended"));
    }
    let sealed = audit::session_ended_details(&mut tx, session.org_id, &id.to_string())
        .await?
        .and_then(|d| {
            d.get("transcriptSha256")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .ok_or(ApiError::Conflict("recording_not_sealed"))?;
    let chunks = store::chunks(&mut tx, id).await?;
    drop(tx);
    let field = transcript_field()?;
    let mut transcript = String::new();
    for c in &chunks {
        let plain = state
            .secrets
            .decrypt(c, &field)
            .map_err(|_| ApiError::Conflict("recording_digest_mismatch"))?;
        transcript.push_str(plain.expose_secret());
    }
    let sha = recording::digest_of([transcript.as_str()]);
    if sha != sealed || session.transcript_sha256.as_deref() != Some(sealed.as_str()) {
        return Err(ApiError::Conflict("recording_digest_mismatch"));
    }
    Ok(Replay {
        transcript,
        sha256: sha,
        truncated: session.truncated,
    })
}
