//! `breeze-server audit ...`: verify, export, checkpoint and retention from the command line.
//!
//! Verify, export and checkpoint connect as the runtime role (`DATABASE_URL`) with a system
//! context, which sees every chain; retention connects as the maintenance role
//! (`DATABASE_MAINT_URL`). `verify` prints one line per chain and exits 1 when any chain is
//! broken, naming the chain, the first untrusted sequence and the break kind.

use std::io::Write as _;
use std::path::PathBuf;

use breeze_core::audit::{Action, Actor, AuditEvent, AuditResult, InitiatedBy, Timestamp};
use breeze_core::tenancy::OrgId;
use clap::Subcommand;

use crate::audit::jobs::{self as audit_jobs, MAX_EXPORT_BYTES};
use crate::state::AppState;
use crate::store::PgStore;

/// What an `audit` subcommand can fail with (the command line wraps it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditCliError {
    /// Store.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// I/O.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// Anything else, with a message.
    #[error("{0}")]
    Other(String),
}

/// `audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditAction {
    /// Verify every chain (or one organization's); exit 1 if any is broken.
    Verify {
        /// Only this organization's chain (`system` for the system chain).
        #[arg(long)]
        org: Option<String>,
    },
    /// Write a chain's self-contained export bundle (audited as `audit.export`).
    Export {
        /// The organization (`system` for the system chain).
        #[arg(long)]
        org: String,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Sign a checkpoint of every chain with entries since its last checkpoint.
    Checkpoint,
    /// Prune every organization's entries older than its retention period (through the
    /// last checkpoint before the cut-off), as the maintenance role.
    Retention,
}

fn parse_chain(s: &str) -> Result<Option<OrgId>, AuditCliError> {
    if s == "system" {
        return Ok(None);
    }
    s.parse::<uuid::Uuid>()
        .map(|u| Some(OrgId::from_uuid(u)))
        .map_err(|_| AuditCliError::Other("--org must be an organization UUID or `system`".into()))
}

fn job_err(e: audit_jobs::AuditJobError) -> AuditCliError {
    AuditCliError::Other(e.to_string())
}

/// Runs an `audit` subcommand on a connected `state` (the command line loads the
/// configuration and connects).
///
/// # Errors
/// [`AuditCliError`]; a broken chain makes `verify` fail.
pub async fn run(state: &AppState, action: AuditAction) -> Result<(), AuditCliError> {
    let maint_url = state.config.database_maint_url.clone();
    match action {
        AuditAction::Verify { org } => {
            let only = org.as_deref().map(parse_chain).transpose()?;
            let mut tx = state.store.begin_system("audit verify (cli)").await?;
            let report = audit_jobs::verify_visible(&mut tx, &state.audit_keys, only)
                .await
                .map_err(job_err)?;
            drop(tx);
            let mut broken = 0usize;
            for c in &report.chains {
                match &c.first_break {
                    None => println!(
                        "ok      chain {} entries {} (from {}) checkpoints {}",
                        c.chain, c.entries, c.first_sequence, c.checkpoints
                    ),
                    Some(b) => {
                        broken = broken.saturating_add(1);
                        println!(
                            "BROKEN  chain {} seq {} kind {}: {}",
                            c.chain, b.sequence, b.kind, b.detail
                        );
                    }
                }
            }
            if broken > 0 {
                return Err(AuditCliError::Other(format!(
                    "audit verification failed: {broken} of {} chains broken",
                    report.chains.len()
                )));
            }
            println!("all {} chains verified", report.chains.len());
            Ok(())
        }
        AuditAction::Export { org, out } => {
            let org = parse_chain(&org)?;
            let mut tx = state.store.begin_system("audit export (cli)").await?;
            let bytes = audit_jobs::export_chain(
                &mut tx,
                &state.audit_keys,
                org,
                None,
                None,
                MAX_EXPORT_BYTES,
                state.clock.now(),
            )
            .await
            .map_err(job_err)?;
            // the export itself is audited, in the exported chain
            let event = AuditEvent::builder(
                Actor::System,
                Action::new("audit.export").map_err(|e| AuditCliError::Other(e.to_string()))?,
                AuditResult::Success,
                InitiatedBy::Manual,
                Timestamp::from_datetime_truncated(state.clock.now())
                    .map_err(|e| AuditCliError::Other(e.to_string()))?,
            )
            .resource_type("audit_chain")
            .resource_id(crate::store::audit::chain_key(org))
            .details(&serde_json::json!({"via": "cli", "bytes": bytes.len()}))
            .build()
            .map_err(|e| AuditCliError::Other(e.to_string()))?;
            crate::store::audit::append(&mut tx, org, event).await?;
            tx.commit().await?;
            match out {
                Some(path) => std::fs::write(&path, &bytes)?,
                None => std::io::stdout().write_all(&bytes)?,
            }
            Ok(())
        }
        AuditAction::Checkpoint => {
            let made =
                audit_jobs::checkpoint_all(&state.store, &state.audit_signer, state.clock.now())
                    .await
                    .map_err(job_err)?;
            for cp in &made {
                println!("checkpoint chain {} seq {}", cp.chain, cp.sequence);
            }
            println!("{} checkpoints signed", made.len());
            Ok(())
        }
        AuditAction::Retention => {
            let url = maint_url
                .ok_or_else(|| AuditCliError::Other("DATABASE_MAINT_URL is required".into()))?;
            let maint = PgStore::connect(&url, 2).await?;
            let policy = audit_jobs::RetentionPolicy::from_config(&state.config);
            let done = audit_jobs::retention_run_with(
                &maint,
                &state.audit_keys,
                state.clock.now(),
                policy,
            )
            .await
            .map_err(job_err)?;
            for o in &done.pruned {
                println!(
                    "pruned chain {} seq {}..={} ({} rows), record at {}",
                    o.chain, o.pruned_from, o.pruned_through, o.deleted, o.record_sequence
                );
            }
            for (chain, error) in &done.failed {
                println!("FAILED chain {chain}: {error}");
            }
            println!("{} chains pruned", done.pruned.len());
            if done.failed.is_empty() {
                Ok(())
            } else {
                Err(AuditCliError::Other(format!(
                    "audit retention refused for {} chains",
                    done.failed.len()
                )))
            }
        }
    }
}
