//! `secrets rekey` (SPEC 4): re-encrypt every key-ringed column under the active key.
//!
//! The walk visits each column of [`ENCRYPTED_COLUMNS`] in id order (keyset pagination), one
//! transaction per batch. Each value is handed to [`breeze_crypto::envelope::KeyRing::reencrypt`]:
//! a value already v3 under the active key is authenticated and left alone ("already
//! current"), a value under another readable key (v1, v2 or v3) is rewritten as v3 under the
//! active key with the column's associated data, and a value no configured key opens is
//! counted as failed and left untouched. A run can be interrupted and restarted: finished
//! rows are simply "already current" the next time. Afterwards an old key can be dropped
//! once a run reports no failures.
//!
//! The walk runs in a system-scope transaction (every organization and site), so row-level
//! security shows it every row of every tenant.
//!
//! The TOTP secrets (`users.mfa_secret`, `users.mfa_pending_secret`, [`MFA_COLUMNS`]) are
//! `mfa:v1` under the MFA key, not key-ringed: they are walked too, with
//! [`breeze_crypto::envelope::MfaCipher::reencrypt`], which rewrites under the current MFA key
//! a value only a staged or previous key opens (`secrets rotate mfa`).

use breeze_core::audit::{Actor, AuditEvent, AuditResult, InitiatedBy, Timestamp};
use breeze_crypto::envelope::Field;
use serde::Serialize;
use uuid::Uuid;

use crate::state::AppState;
use crate::store::{StoreError, audit, ops};

/// One key-ringed column: where it lives and the associated data it is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncryptedColumn {
    /// The table, id column and column.
    pub column: ops::ColumnRef,
    /// The field whose `table.column` is the associated data.
    pub field_table: &'static str,
    /// See `field_table`.
    pub field_column: &'static str,
}

/// Every key-ringed encrypted column. A column that stores `enc:` envelopes and is missing
/// here would keep needing its old key after a "complete" rekey:
/// `tests/ops_rekey.rs::finding_07_every_encrypted_column_in_the_database_is_rekeyed`
/// exercises the server, walks every text column of the schema for envelopes and fails on
/// any column not listed here.
pub const ENCRYPTED_COLUMNS: &[EncryptedColumn] = &[
    EncryptedColumn {
        column: ops::ColumnRef {
            table: "sso_providers",
            id_column: "id",
            column: "client_secret",
        },
        field_table: "sso_providers",
        field_column: "client_secret",
    },
    EncryptedColumn {
        column: ops::ColumnRef {
            table: "sso_login_attempts",
            id_column: "id",
            column: "code_verifier",
        },
        field_table: "sso_login_attempts",
        field_column: "code_verifier",
    },
    EncryptedColumn {
        column: ops::ColumnRef {
            table: "device_commands",
            id_column: "id",
            column: "payload",
        },
        field_table: "device_commands",
        field_column: "payload",
    },
    EncryptedColumn {
        column: ops::ColumnRef {
            table: "device_commands",
            id_column: "id",
            column: "file_outcome",
        },
        field_table: "device_commands",
        field_column: "file_outcome",
    },
    EncryptedColumn {
        column: ops::ColumnRef {
            table: "remote_session_transcripts",
            id_column: "id",
            column: "chunk",
        },
        field_table: "remote_sessions",
        field_column: "transcript",
    },
    EncryptedColumn {
        column: ops::ColumnRef {
            table: "webhook_subscriptions",
            id_column: "id",
            column: "url",
        },
        field_table: "webhook_subscriptions",
        field_column: "url",
    },
    EncryptedColumn {
        column: ops::ColumnRef {
            table: "webhook_subscriptions",
            id_column: "id",
            column: "secret",
        },
        field_table: "webhook_subscriptions",
        field_column: "secret",
    },
    EncryptedColumn {
        column: ops::ColumnRef {
            table: "webhook_subscriptions",
            id_column: "id",
            column: "previous_secret",
        },
        field_table: "webhook_subscriptions",
        field_column: "previous_secret",
    },
    EncryptedColumn {
        column: ops::ColumnRef {
            table: "notification_outbox",
            id_column: "id",
            column: "body",
        },
        field_table: "notification_outbox",
        field_column: "body",
    },
];

/// The TOTP secret columns (`mfa:v1` under the MFA key).
pub const MFA_COLUMNS: &[ops::ColumnRef] = &[
    ops::ColumnRef {
        table: "users",
        id_column: "id",
        column: "mfa_secret",
    },
    ops::ColumnRef {
        table: "users",
        id_column: "id",
        column: "mfa_pending_secret",
    },
];

/// Default rows per batch.
pub const DEFAULT_BATCH: u32 = 500;

/// Counts of one column.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ColumnReport {
    /// `table.column`.
    pub column: String,
    /// Values read.
    pub scanned: u64,
    /// Values rewritten under the active key.
    pub reencrypted: u64,
    /// Values already v3 under the active key.
    pub already_current: u64,
    /// Values no configured key opens (left untouched).
    pub failed: u64,
}

/// Counts of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RekeyReport {
    /// The active key id values were rewritten under.
    pub active_key_id: String,
    /// Per column.
    pub columns: Vec<ColumnReport>,
}

impl RekeyReport {
    /// Sum over the columns: (scanned, reencrypted, already current, failed).
    #[must_use]
    pub fn totals(&self) -> (u64, u64, u64, u64) {
        self.columns.iter().fold((0, 0, 0, 0), |acc, c| {
            (
                acc.0.saturating_add(c.scanned),
                acc.1.saturating_add(c.reencrypted),
                acc.2.saturating_add(c.already_current),
                acc.3.saturating_add(c.failed),
            )
        })
    }
}

/// A run that could not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RekeyError {
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A column name in the table is not a valid field (a programming error).
    #[error("invalid encrypted column `{0}`")]
    Field(String),
    /// The audit event could not be built.
    #[error("audit: {0}")]
    Audit(String),
    /// The batch size is zero.
    #[error("the batch size must be at least 1")]
    Batch,
}

/// Re-encrypts every column of [`ENCRYPTED_COLUMNS`] under the active key, `batch` rows per
/// transaction, then records `secrets.rekey` on the system audit chain.
///
/// # Errors
/// [`RekeyError`]; batches committed before the error stay committed (the run is resumable).
pub async fn rekey(state: &AppState, batch: u32) -> Result<RekeyReport, RekeyError> {
    rekey_with(state, ENCRYPTED_COLUMNS, MFA_COLUMNS, batch).await
}

/// [`rekey`] over an explicit list of columns.
///
/// # Errors
/// As [`rekey`].
pub async fn rekey_columns(
    state: &AppState,
    columns: &[EncryptedColumn],
    batch: u32,
) -> Result<RekeyReport, RekeyError> {
    rekey_with(state, columns, &[], batch).await
}

async fn rekey_with(
    state: &AppState,
    columns: &[EncryptedColumn],
    mfa_columns: &[ops::ColumnRef],
    batch: u32,
) -> Result<RekeyReport, RekeyError> {
    if batch == 0 {
        return Err(RekeyError::Batch);
    }
    let mut report = RekeyReport {
        active_key_id: state.secrets.active_key_id().to_owned(),
        columns: Vec::with_capacity(columns.len()),
    };
    for col in columns {
        report.columns.push(rekey_column(state, *col, batch).await?);
    }
    for col in mfa_columns {
        report
            .columns
            .push(rekey_mfa_column(state, *col, batch).await?);
    }
    record(state, &report).await?;
    Ok(report)
}

async fn rekey_column(
    state: &AppState,
    col: EncryptedColumn,
    batch: u32,
) -> Result<ColumnReport, RekeyError> {
    let field = Field::new(col.field_table, col.field_column)
        .map_err(|_| RekeyError::Field(format!("{}.{}", col.field_table, col.field_column)))?;
    rekey_rows(state, col.column, batch, "secrets rekey", |value| {
        state.secrets.reencrypt(value, &field)
    })
    .await
}

async fn rekey_mfa_column(
    state: &AppState,
    col: ops::ColumnRef,
    batch: u32,
) -> Result<ColumnReport, RekeyError> {
    rekey_rows(state, col, batch, "secrets rekey (mfa)", |value| {
        state.mfa.reencrypt(value)
    })
    .await
}

/// Walks `col` in batches of `batch` rows (one transaction each, resumable), rewriting every
/// value `reencrypt` changes; a value it cannot open is counted and left untouched.
async fn rekey_rows(
    state: &AppState,
    col: ops::ColumnRef,
    batch: u32,
    reason: &'static str,
    reencrypt: impl Fn(
        &str,
    ) -> Result<
        breeze_crypto::envelope::Reencrypted,
        breeze_crypto::envelope::EnvelopeError,
    >,
) -> Result<ColumnReport, RekeyError> {
    let mut out = ColumnReport {
        column: format!("{}.{}", col.table, col.column),
        ..ColumnReport::default()
    };
    let mut after: Option<Uuid> = None;
    loop {
        let mut tx = state.store.begin_system(reason).await?;
        let rows = ops::encrypted_batch(&mut tx, col, after, i64::from(batch)).await?;
        let Some((last, _)) = rows.last() else {
            break;
        };
        after = Some(*last);
        let full = rows.len() >= usize::try_from(batch).unwrap_or(usize::MAX);
        for (id, value) in &rows {
            out.scanned = out.scanned.saturating_add(1);
            match reencrypt(value) {
                Ok(r) if !r.changed => {
                    out.already_current = out.already_current.saturating_add(1);
                }
                Ok(r) => {
                    if ops::replace_encrypted(&mut tx, col, *id, value, &r.value).await? {
                        out.reencrypted = out.reencrypted.saturating_add(1);
                    } else {
                        out.failed = out.failed.saturating_add(1);
                    }
                }
                Err(e) => {
                    // never the value: only the row id and why
                    tracing::warn!(column = %out.column, id = %id, error = %e, "rekey: value left untouched");
                    out.failed = out.failed.saturating_add(1);
                }
            }
        }
        tx.commit().await?;
        if !full {
            break;
        }
    }
    Ok(out)
}

async fn record(state: &AppState, report: &RekeyReport) -> Result<(), RekeyError> {
    let (scanned, reencrypted, current, failed) = report.totals();
    let details = serde_json::json!({
        "activeKeyId": report.active_key_id,
        "scanned": scanned,
        "reencrypted": reencrypted,
        "alreadyCurrent": current,
        "failed": failed,
        "columns": report.columns,
    });
    let now = Timestamp::from_datetime_truncated(state.clock.now())
        .map_err(|e| RekeyError::Audit(e.to_string()))?;
    let action = breeze_core::audit::Action::new("secrets.rekey")
        .map_err(|e| RekeyError::Audit(e.to_string()))?;
    let result = if failed == 0 {
        AuditResult::Success
    } else {
        AuditResult::Failure
    };
    let event = AuditEvent::builder(Actor::System, action, result, InitiatedBy::Manual, now)
        .resource_type("encryption_key")
        .resource_id(report.active_key_id.clone())
        .details(&details)
        .build()
        .map_err(|e| RekeyError::Audit(e.to_string()))?;
    let mut tx = state.store.begin_system("secrets rekey audit").await?;
    audit::append(&mut tx, None, event).await?;
    tx.commit().await?;
    Ok(())
}
