//! Enrollment (SPEC 8.1): exchange an enrollment key for an agent id and three tokens.

use std::path::PathBuf;
use std::sync::Arc;

use breeze_crypto::httpsig::DeviceSigningKey;
use std::time::Duration;

use breeze_agent_proto::version::ProtocolVersion;
use breeze_agent_proto::{EnrollRequest, EnrollResponse, EnrollmentKey, EnrollmentSecret};
use breeze_crypto::credentials::CredentialError;

use crate::backoff::Backoff;
use crate::client::{ApiClient, ClientError};
use crate::config::{AgentFile, ConfigDir, ConfigError, Secrets, Tokens};
use crate::{paths, telemetry};

/// Enrollment failed; nothing was written unless the server answered 201.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnrollError {
    /// The config directory refused the operation.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The server refused or could not be reached.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A token from the server did not parse.
    #[error("token from the server is malformed: {0}")]
    Credential(#[from] CredentialError),
}

/// What `breeze-agent enroll` needs.
#[derive(Debug)]
pub struct EnrollOptions {
    /// Server base URL.
    pub server_url: String,
    /// Allow plain HTTP to a non-loopback host.
    pub insecure_http: bool,
    /// The CA file the server's certificate chains to (absolute), instead of the web PKI.
    pub ca_file: Option<PathBuf>,
    /// The enrollment key.
    pub key: EnrollmentKey,
    /// The enrollment secret, if the key or server requires one.
    pub secret: Option<EnrollmentSecret>,
    /// Enroll again even though `agent.yaml` exists.
    pub force: bool,
}

/// The enrollment request for this host.
#[must_use]
pub fn request(
    key: EnrollmentKey,
    secret: Option<EnrollmentSecret>,
    public_key: Option<String>,
) -> EnrollRequest {
    EnrollRequest {
        public_key,
        enrollment_key: key,
        enrollment_secret: secret,
        hostname: telemetry::hostname(),
        os_type: telemetry::os_type(),
        os_version: telemetry::os_version(),
        architecture: telemetry::architecture(),
        agent_version: telemetry::AGENT_VERSION.to_owned(),
        protocol_version: Some(ProtocolVersion::CURRENT),
        min_protocol_version: None,
        hardware_info: Some(telemetry::hardware_info()),
        network_info: None,
    }
}

/// Enrolls and writes `secrets.yaml` (0600) then `agent.yaml` (0640).
///
/// `agent.yaml` is written last: it marks the agent as enrolled, so a crash in between
/// leaves a state that a new `enroll` simply overwrites.
///
/// # Errors
/// [`EnrollError`]; retryable failures (network, 429, 5xx) are retried a few times first.
pub async fn enroll(dir: &ConfigDir, options: EnrollOptions) -> Result<AgentFile, EnrollError> {
    if dir.is_enrolled() && !options.force {
        return Err(ConfigError::AlreadyEnrolled {
            path: dir.agent_path(),
        }
        .into());
    }
    dir.ensure()?;
    // A forced re-enrollment keeps the host settings of the file it replaces (an unreadable
    // old file is simply replaced).
    let previous = if dir.is_enrolled() {
        dir.read_agent().ok()
    } else {
        None
    };
    if let Some(ca) = options.ca_file.as_ref().filter(|ca| !ca.is_absolute()) {
        return Err(ConfigError::Invalid {
            path: ca.clone(),
            message: "the CA file path must be absolute (agent.yaml keeps it)".into(),
        }
        .into());
    }
    let client = ApiClient::new(
        &options.server_url,
        options.insecure_http,
        options.ca_file.as_deref(),
    )?;
    // the device key (SPEC 17): generated here, never leaves secrets.yaml
    let signing_key = Arc::new(
        DeviceSigningKey::generate().map_err(|e| ConfigError::Invalid {
            path: dir.secrets_path(),
            message: e.to_string(),
        })?,
    );
    let body = request(
        options.key,
        options.secret,
        Some(signing_key.public_key().to_base64url()),
    );
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
    let reply = client
        .post_with_retry::<EnrollRequest, EnrollResponse>(
            paths::ENROLL,
            None,
            &body,
            &[],
            &mut backoff,
            4,
        )
        .await?;
    let response = reply.message;
    let secrets = Secrets {
        current: Tokens::from_wire(
            &response.auth_token,
            &response.watchdog_auth_token,
            &response.helper_auth_token,
        )?,
        pending: None,
        signing_key: Some(signing_key),
    };
    dir.write_secrets_verified(&secrets)?;
    let file = AgentFile {
        server_url: client.base().as_str().trim_end_matches('/').to_owned(),
        insecure_http: options.insecure_http,
        ca_file: options.ca_file,
        agent_id: response.agent_id,
        device_id: response.device_id,
        org_id: response.org_id,
        site_id: response.site_id,
        heartbeat_interval_seconds: response.config.heartbeat_interval_seconds,
        metrics_collection_interval_seconds: response.config.metrics_collection_interval_seconds,
        // Host settings an administrator put in `agent.yaml` survive a re-enrollment.
        terminal_shell: previous.as_ref().and_then(|p| p.terminal_shell.clone()),
        file_roots: previous.as_ref().and_then(|p| p.file_roots.clone()),
        file_max_bytes: previous.as_ref().and_then(|p| p.file_max_bytes),
        key_bound: true,
    };
    dir.write_agent(&file)?;
    Ok(file)
}
