//! Every HTTP path and the WebSocket path the agent calls, in one place so the server can
//! match them (SPEC 8.1-8.6).
//!
//! Agent routes live under `/api/v1/agents/:agentId`; the stage and confirm suffixes come from
//! `breeze_agent_proto::rotation`, the enrollment path from `breeze_agent_proto::http`.

use breeze_agent_proto::AgentId;
use breeze_core::tenancy::CommandId;

/// `POST`: enrollment (unauthenticated).
pub const ENROLL: &str = breeze_agent_proto::http::ENROLL_PATH;
/// Prefix of every authenticated agent route; the agent id follows.
pub const AGENTS_PREFIX: &str = "/api/v1/agents/";
/// `POST /api/v1/agents/:agentId/heartbeat`.
pub const HEARTBEAT_SUFFIX: &str = "/heartbeat";
/// `POST /api/v1/agents/:agentId/rotate-token` (current token).
pub const ROTATE_TOKEN_SUFFIX: &str = breeze_agent_proto::rotation::ROTATE_TOKEN_PATH;
/// `POST /api/v1/agents/:agentId/rotate-token/confirm` (pending token).
pub const CONFIRM_ROTATION_SUFFIX: &str = breeze_agent_proto::rotation::CONFIRM_ROTATION_PATH;
/// `POST /api/v1/agents/:agentId/commands/:commandId/result`: this segment, the command id,
/// then [`COMMAND_RESULT_SUFFIX`].
pub const COMMANDS_SEGMENT: &str = "/commands/";
/// Last segment of the command result path.
pub const COMMAND_RESULT_SUFFIX: &str = "/result";
/// `GET /api/v1/agent-ws/:agentId/ws` (WebSocket upgrade, `Authorization: Bearer`).
pub const WS_PREFIX: &str = "/api/v1/agent-ws/";
/// Last segment of the WebSocket path.
pub const WS_SUFFIX: &str = "/ws";

/// `/api/v1/agents/:agentId/heartbeat`.
#[must_use]
pub fn heartbeat(agent: &AgentId) -> String {
    format!("{AGENTS_PREFIX}{}{HEARTBEAT_SUFFIX}", agent.as_str())
}

/// `/api/v1/agents/:agentId/rotate-token`.
#[must_use]
pub fn rotate_token(agent: &AgentId) -> String {
    format!("{AGENTS_PREFIX}{}{ROTATE_TOKEN_SUFFIX}", agent.as_str())
}

/// `/api/v1/agents/:agentId/rotate-token/confirm`.
#[must_use]
pub fn confirm_rotation(agent: &AgentId) -> String {
    format!("{AGENTS_PREFIX}{}{CONFIRM_ROTATION_SUFFIX}", agent.as_str())
}

/// `/api/v1/agents/:agentId/commands/:commandId/result`.
#[must_use]
pub fn command_result(agent: &AgentId, command: CommandId) -> String {
    format!(
        "{AGENTS_PREFIX}{}{COMMANDS_SEGMENT}{command}{COMMAND_RESULT_SUFFIX}",
        agent.as_str()
    )
}

/// `/api/v1/agent-ws/:agentId/ws`.
#[must_use]
pub fn websocket(agent: &AgentId) -> String {
    format!("{WS_PREFIX}{}{WS_SUFFIX}", agent.as_str())
}

/// `/api/v1/agents/:agentId/key` (one-time key registration, SPEC 17).
#[must_use]
pub fn register_key(agent: &AgentId) -> String {
    format!(
        "{AGENTS_PREFIX}{}{}",
        agent.as_str(),
        breeze_agent_proto::signing::REGISTER_KEY_PATH
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_the_spec() {
        let agent = AgentId::parse(&"a".repeat(64)).unwrap();
        let id = "0f0e0d0c-0b0a-4908-8706-050403020100"
            .parse::<CommandId>()
            .unwrap();
        let a = "a".repeat(64);
        assert_eq!(ENROLL, "/api/v1/agents/enroll");
        assert_eq!(heartbeat(&agent), format!("/api/v1/agents/{a}/heartbeat"));
        assert_eq!(
            rotate_token(&agent),
            format!("/api/v1/agents/{a}/rotate-token")
        );
        assert_eq!(
            confirm_rotation(&agent),
            format!("/api/v1/agents/{a}/rotate-token/confirm")
        );
        assert_eq!(
            command_result(&agent, id),
            format!("/api/v1/agents/{a}/commands/{id}/result")
        );
        assert_eq!(websocket(&agent), format!("/api/v1/agent-ws/{a}/ws"));
    }
}
