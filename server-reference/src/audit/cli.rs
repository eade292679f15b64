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
        /// Output file, written with mode 0600 (replacing any file there); default:
        /// standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the checkpoint signing public keys this server holds (ids, algorithm, public
    /// key, which one signs): what a verifier of an export needs to check its origin. No
    /// database access; never prints a private key.
    Keys {
        /// Print JSON: `trusted_keys` is the list `[{"key_id", "public_key"}]` the bundle
        /// verifiers take (`--keys`), `keys` adds the algorithm, the active flag and aliases.
        #[arg(long)]
        json: bool,
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

/// Writes `bytes` to `path` readable by its owner only (0600), also when `path` exists: a
/// new 0600 file next to it (never following a link), synced, then renamed over `path`. An
/// existing file keeps nothing of its old mode or content, and a reader never sees a part.
///
/// # Errors
/// The I/O error of any step (the temporary file is removed on failure).
pub fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        uuid::Uuid::new_v4().simple()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let written = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// One public key of the checkpoint ring, under every id it verifies.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RingKey {
    /// The id checkpoints are signed under now (derived from the public key).
    pub key_id: String,
    /// `ed25519`.
    pub algorithm: &'static str,
    /// The 32-byte Ed25519 public key, lowercase hex (the bundles' `public_key`).
    pub public_key: String,
    /// Whether this key signs new checkpoints.
    pub active: bool,
    /// Other ids of the same key (the configured `BREEZE_AUDIT_SIGNING_KEY_<id>`), under which
    /// older checkpoints may be signed.
    pub aliases: Vec<String>,
}

/// The checkpoint keys of `ring` grouped by public key, the active one first (its id is
/// `active`).
#[must_use]
pub fn ring_keys(ring: &breeze_core::audit::KeyRing, active: &str) -> Vec<RingKey> {
    let mut keys: Vec<RingKey> = Vec::new();
    for (id, key) in ring.iter() {
        let public_key = hex::encode(key.as_bytes());
        let derived = crate::audit::checkpoint_keys::derived_key_id(key.as_bytes())
            .map(|k| k.as_str().to_owned())
            .unwrap_or_else(|_| id.as_str().to_owned());
        match keys.iter_mut().find(|k| k.public_key == public_key) {
            Some(k) => {
                if id.as_str() != k.key_id && !k.aliases.iter().any(|a| a == id.as_str()) {
                    k.aliases.push(id.as_str().to_owned());
                }
            }
            None => keys.push(RingKey {
                active: derived == active,
                aliases: if id.as_str() == derived {
                    Vec::new()
                } else {
                    vec![id.as_str().to_owned()]
                },
                key_id: derived,
                algorithm: "ed25519",
                public_key,
            }),
        }
    }
    keys.sort_by(|a, b| b.active.cmp(&a.active).then(a.key_id.cmp(&b.key_id)));
    keys
}

/// The `audit keys --json` document: the rich list and the verifiers' `trusted_keys` (every
/// id of every key, so checkpoints signed under an alias verify too).
#[must_use]
pub fn keys_document(keys: &[RingKey]) -> serde_json::Value {
    let trusted: Vec<serde_json::Value> = keys
        .iter()
        .flat_map(|k| {
            std::iter::once(&k.key_id)
                .chain(k.aliases.iter())
                .map(|id| serde_json::json!({"key_id": id, "public_key": k.public_key}))
        })
        .collect();
    serde_json::json!({
        "algorithm": "ed25519",
        "active_key_id": keys.iter().find(|k| k.active).map(|k| k.key_id.clone()),
        "keys": keys,
        "trusted_keys": trusted,
    })
}

fn job_err(e: audit_jobs::AuditJobError) -> AuditCliError {
    AuditCliError::Other(e.to_string())
}

/// Prints `keys` as `audit keys` does.
///
/// # Errors
/// [`AuditCliError::Other`] when the JSON cannot be written.
pub fn print_keys(keys: &[RingKey], json: bool) -> Result<(), AuditCliError> {
    if json {
        let text = serde_json::to_string_pretty(&keys_document(keys))
            .map_err(|e| AuditCliError::Other(e.to_string()))?;
        println!("{text}");
        return Ok(());
    }
    println!(
        "audit checkpoint signing keys (public halves; algorithm ed25519, raw 32-byte keys in hex):"
    );
    for k in keys {
        println!(
            "{} {}  {}{}",
            if k.active {
                "active     "
            } else {
                "verify-only"
            },
            k.key_id,
            k.public_key,
            if k.aliases.is_empty() {
                String::new()
            } else {
                format!("  (also signed as: {})", k.aliases.join(", "))
            }
        );
    }
    println!(
        "validity: the ring has no validity periods; a key verifies every checkpoint signed under its ids until it is removed from the configuration"
    );
    println!(
        "verify an export's origin with these keys: breeze-server audit keys --json > keys.json, then pass keys.json to a verifier (examples/psa-verify-export --keys)"
    );
    Ok(())
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
                Some(path) => write_private(&path, &bytes)?,
                None => std::io::stdout().write_all(&bytes)?,
            }
            Ok(())
        }
        AuditAction::Keys { json } => {
            let keys = ring_keys(&state.audit_keys, state.audit_signer.key_id().as_str());
            print_keys(&keys, json)
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
