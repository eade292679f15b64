//! `breeze-agent run`: the heartbeat loop and the WebSocket loop over one shared context.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use breeze_agent_proto::{
    Command, CommandResult, CommandStatus, HeartbeatRequest, HeartbeatResponse,
};
use breeze_crypto::credentials::AgentToken;
use tokio::sync::{Mutex, RwLock, Semaphore, watch};

use crate::backoff::{Backoff, jitter};
use crate::client::{ApiClient, ClientError};
use crate::config::{AgentFile, ConfigDir, ConfigError};
use crate::exec::{self, ExecLimits};
use crate::files::FileOps;
use crate::files::command::FileCommand;
use crate::rotation::{self, RotationOutcome};
use crate::telemetry::Collector;
use crate::terminal::Terminals;
use crate::{paths, ws};

/// Longest wait between failed heartbeats.
pub const MAX_HEARTBEAT_BACKOFF: Duration = Duration::from_secs(300);
/// Command ids remembered to never run a command twice (heartbeat and WebSocket overlap).
const REMEMBERED_COMMANDS: usize = 4096;
/// Commands executed at the same time; more wait for a slot.
pub const MAX_CONCURRENT_COMMANDS: usize = 8;
/// Tries to upload one result over HTTP.
const RESULT_UPLOAD_ATTEMPTS: u32 = 6;

/// Startup failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The host files are missing or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Remembers recently seen command ids.
#[derive(Debug, Default)]
struct Seen {
    order: VecDeque<breeze_core::tenancy::CommandId>,
    set: HashSet<breeze_core::tenancy::CommandId>,
}

impl Seen {
    /// `true` if the id is new (and records it).
    fn insert(&mut self, id: breeze_core::tenancy::CommandId) -> bool {
        if !self.set.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > REMEMBERED_COMMANDS
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        true
    }
}

/// State shared by the heartbeat and WebSocket loops.
#[derive(Debug)]
pub struct Context {
    /// The config directory.
    pub dir: ConfigDir,
    /// `agent.yaml` as last read or written.
    pub agent: RwLock<AgentFile>,
    /// The HTTP client.
    pub client: ApiClient,
    /// The current agent-role token (replaced after a rotation).
    token: RwLock<Arc<AgentToken>>,
    /// Serializes rotations.
    rotation: Mutex<()>,
    seen: Mutex<Seen>,
    slots: Semaphore,
    /// Execution limits.
    pub limits: ExecLimits,
    /// Remote terminal sessions (SPEC 12); stopped whenever the socket goes.
    pub terminals: Terminals,
    /// Remote file operations (SPEC 12).
    pub files: Arc<FileOps>,
}

impl Context {
    /// Loads `agent.yaml` and `secrets.yaml` from `dir`.
    ///
    /// # Errors
    /// [`AgentError`].
    pub fn load(dir: ConfigDir, limits: ExecLimits) -> Result<Self, AgentError> {
        let agent = dir.read_agent()?;
        let secrets = dir.read_secrets()?;
        let mut client = agent.api_client()?;
        if let Some(key) = &secrets.signing_key {
            client = client.signing(Arc::clone(key), agent.agent_id.as_str());
        }
        let terminals = Terminals::new(agent.terminal_config());
        let files = Arc::new(FileOps::new(&agent.file_config(dir.path())));
        Ok(Self {
            dir,
            agent: RwLock::new(agent),
            client,
            token: RwLock::new(Arc::new(secrets.current.auth)),
            rotation: Mutex::new(()),
            seen: Mutex::new(Seen::default()),
            slots: Semaphore::new(MAX_CONCURRENT_COMMANDS),
            limits,
            terminals,
            files,
        })
    }

    /// The current agent-role token.
    pub async fn token(&self) -> Arc<AgentToken> {
        Arc::clone(&*self.token.read().await)
    }

    /// The agent id.
    pub async fn agent_id(&self) -> breeze_agent_proto::AgentId {
        self.agent.read().await.agent_id.clone()
    }

    async fn reload_token(&self) -> Result<(), ConfigError> {
        let secrets = self.dir.read_secrets()?;
        *self.token.write().await = Arc::new(secrets.current.auth);
        Ok(())
    }

    /// Resumes a pending rotation (`rotate == false`) or runs a full one.
    pub async fn rotate(&self, full: bool) {
        let _guard = self.rotation.lock().await;
        let agent = self.agent_id().await;
        let outcome = if full {
            rotation::rotate(&self.client, &self.dir, &agent).await
        } else {
            rotation::resume(&self.client, &self.dir, &agent).await
        };
        match outcome {
            Ok(RotationOutcome::NothingPending) => {}
            Ok(outcome) => tracing::info!(?outcome, "token rotation step done"),
            Err(e) => tracing::warn!(error = %e, "token rotation failed; will retry"),
        }
        if let Err(e) = self.reload_token().await {
            tracing::error!(error = %e, "could not re-read secrets after rotation");
        }
    }

    /// Runs `command` unless it was already seen; returns its result.
    pub async fn run_command(&self, command: &Command) -> Option<CommandResult> {
        if !self.seen.lock().await.insert(command.id) {
            tracing::warn!(command = %command.id, "duplicate command ignored");
            return None;
        }
        // The semaphore is never closed; if it were, run anyway rather than drop the command.
        let _slot = self.slots.acquire().await.ok();
        tracing::info!(command = %command.id, kind = command.body.type_name(), "executing command");
        if let Some(operation) = FileCommand::from_body(&command.body) {
            return Some(self.run_file_command(command, operation).await);
        }
        Some(exec::execute(command, self.limits).await)
    }

    /// A file operation, on a blocking thread.
    async fn run_file_command(&self, command: &Command, operation: FileCommand) -> CommandResult {
        let files = Arc::clone(&self.files);
        match tokio::task::spawn_blocking(move || operation.run(&files)).await {
            Ok(outcome) => crate::files::command::result(command, outcome),
            Err(e) => {
                tracing::error!(command = %command.id, error = %e, "file operation panicked");
                let mut result = CommandResult::new(command.id, CommandStatus::Failed);
                result.error = Some("the file operation failed".to_owned());
                result
            }
        }
    }

    /// Uploads a result over HTTP, retrying retryable failures.
    pub async fn post_result(&self, result: &CommandResult) {
        let agent = self.agent_id().await;
        let path = paths::command_result(&agent, result.command_id);
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        for attempt in 1..=RESULT_UPLOAD_ATTEMPTS {
            let token = self.token().await;
            match self
                .client
                .post_ignore_reply(&path, Some(&token), result)
                .await
            {
                Ok(_) => return,
                Err(e) if e.is_retryable() && attempt < RESULT_UPLOAD_ATTEMPTS => {
                    tokio::time::sleep(backoff.next_delay_honouring(e.retry_after())).await;
                }
                Err(e) => {
                    tracing::error!(command = %result.command_id, error = %e, "result upload failed");
                    return;
                }
            }
        }
    }
}

/// Loads the context and runs both loops until `shutdown` turns `true`.
///
/// # Errors
/// [`AgentError`] when the host files or client are unusable.
pub async fn run(
    dir: ConfigDir,
    limits: ExecLimits,
    shutdown: watch::Receiver<bool>,
) -> Result<(), AgentError> {
    bind_key(&dir).await;
    let ctx = Arc::new(Context::load(dir, limits)?);
    // Never stranded: finish a rotation a crash interrupted before anything else.
    ctx.rotate(false).await;
    let ws_task = tokio::spawn(ws::run(Arc::clone(&ctx), shutdown.clone()));
    heartbeat_loop(Arc::clone(&ctx), shutdown).await;
    let _ignored = ws_task.await;
    Ok(())
}

/// Binds an agent enrolled before device-bound credentials to a key, once (SPEC 17): the
/// key is generated and saved in `secrets.yaml` first (never lost to a crash), then
/// registered with a request signed by it. Best effort: on failure the agent keeps working
/// with its token (unless its organization requires binding) and tries again at next start.
pub async fn bind_key(dir: &ConfigDir) {
    let (Ok(mut agent), Ok(mut secrets)) = (dir.read_agent(), dir.read_secrets()) else {
        return;
    };
    if agent.key_bound {
        return;
    }
    let key = match &secrets.signing_key {
        Some(k) => Arc::clone(k),
        None => {
            let Ok(k) = breeze_crypto::httpsig::DeviceSigningKey::generate() else {
                tracing::warn!("no randomness for a device key; staying on the token alone");
                return;
            };
            let k = Arc::new(k);
            secrets.signing_key = Some(Arc::clone(&k));
            if let Err(e) = dir.write_secrets_verified(&secrets) {
                tracing::warn!(error = %e, "could not save the device key");
                return;
            }
            k
        }
    };
    let Ok(client) = agent.api_client() else {
        return;
    };
    let client = client.signing(Arc::clone(&key), agent.agent_id.as_str());
    let body = breeze_agent_proto::signing::AgentKeyRequest {
        public_key: key.public_key().to_base64url(),
    };
    let outcome = client
        .post::<_, breeze_agent_proto::signing::AgentKeyResponse>(
            &crate::paths::register_key(&agent.agent_id),
            Some(&secrets.current.auth),
            &body,
            &[],
        )
        .await;
    match outcome {
        Ok(_) => tracing::info!("device key registered; requests are signed from now on"),
        Err(e)
            if e.reason() == Some(breeze_agent_proto::ErrorReason::AgentKeyAlreadyRegistered) =>
        {
            tracing::warn!("the server already holds a key for this device");
        }
        Err(e) => {
            tracing::warn!(error = %e, "device key registration failed; will retry at next start");
            return;
        }
    }
    agent.key_bound = true;
    if let Err(e) = dir.write_agent(&agent) {
        tracing::warn!(error = %e, "could not record the key registration");
    }
}

async fn sleep_or_shutdown(wait: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    if *shutdown.borrow() {
        return true;
    }
    tokio::select! {
        () = tokio::time::sleep(wait) => false,
        _ = shutdown.changed() => true,
    }
}

/// The heartbeat loop: random initial jitter, then one heartbeat per interval.
pub async fn heartbeat_loop(ctx: Arc<Context>, mut shutdown: watch::Receiver<bool>) {
    let mut collector = Collector::new();
    let interval =
        Duration::from_secs(u64::from(ctx.agent.read().await.heartbeat_interval_seconds));
    if sleep_or_shutdown(jitter(interval), &mut shutdown).await {
        return;
    }
    let mut backoff = Backoff::new(Duration::from_secs(2), MAX_HEARTBEAT_BACKOFF);
    loop {
        let beat = collector.heartbeat();
        let wait = match heartbeat_once(&ctx, &beat).await {
            Ok(()) => {
                backoff.reset();
                Duration::from_secs(u64::from(ctx.agent.read().await.heartbeat_interval_seconds))
            }
            Err(e) => {
                tracing::warn!(error = %e, "heartbeat failed");
                let wait = backoff.next_delay_honouring(e.retry_after());
                // Credentials refused: no point hammering; wait the longest backoff.
                if matches!(
                    e,
                    ClientError::Status {
                        status: 401 | 403,
                        ..
                    }
                ) {
                    wait.max(MAX_HEARTBEAT_BACKOFF)
                } else {
                    wait
                }
            }
        };
        if sleep_or_shutdown(wait, &mut shutdown).await {
            return;
        }
    }
}

/// One heartbeat and everything its response asks for.
///
/// # Errors
/// [`ClientError`] from the heartbeat call.
pub async fn heartbeat_once(
    ctx: &Arc<Context>,
    beat: &HeartbeatRequest,
) -> Result<(), ClientError> {
    let agent = ctx.agent_id().await;
    let token = ctx.token().await;
    let reply = ctx
        .client
        .post::<HeartbeatRequest, HeartbeatResponse>(
            &paths::heartbeat(&agent),
            Some(&token),
            beat,
            &[],
        )
        .await?;
    let response = reply.message;
    if let Some(update) = response.config_update {
        apply_config(ctx, update).await;
    }
    for command in response.commands {
        let ctx = Arc::clone(ctx);
        tokio::spawn(async move {
            if let Some(result) = ctx.run_command(&command).await {
                ctx.post_result(&result).await;
            }
        });
    }
    if response.rotate_token {
        ctx.rotate(true).await;
    } else if response.confirm_token_rotation || reply.rotation_required {
        // Confirm what is pending; with nothing pending and the grace token in use, rotate.
        let pending = ctx
            .dir
            .read_secrets()
            .map(|s| s.pending.is_some())
            .unwrap_or(false);
        ctx.rotate(!pending && reply.rotation_required).await;
    }
    Ok(())
}

async fn apply_config(ctx: &Context, update: breeze_agent_proto::AgentConfig) {
    let mut agent = ctx.agent.write().await;
    if agent.agent_config() == update {
        return;
    }
    let mut next = agent.clone();
    next.heartbeat_interval_seconds = update.heartbeat_interval_seconds;
    next.metrics_collection_interval_seconds = update.metrics_collection_interval_seconds;
    match ctx.dir.write_agent(&next) {
        Ok(()) => *agent = next,
        Err(e) => tracing::error!(error = %e, "could not save the config update"),
    }
}
