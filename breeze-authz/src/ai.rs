//! What an API key may do through the MCP endpoint (SPEC 14): the `ai:*` scopes, the tools
//! the reference server exposes, and the rule that joins them to the key creator's current
//! permissions.
//!
//! - **The `ai:*` scopes are named, never implied.** A key reaches the AI tools only with
//!   `ai:read` (read tools), `ai:write` (tools that change state without running code) or
//!   `ai:execute` (tools that run code on a device) written out exactly. `*`, `*:*`,
//!   `ai:*`, `*:read` or `*:execute` grant none of them ([`AiScope::named_by`]), so a key
//!   made for a PSA integration years ago does not quietly become an AI key.
//! - **The creator's current permissions cap the key.** Each tool names the permission its
//!   REST twin needs (`devices:read`, `audit:read`, `devices:execute`, ...). The call is
//!   allowed only when the key names the tool's AI scope **and** the user who created the
//!   key holds that permission *now* ([`authorize_tool`]); the server reads the creator's
//!   role on every call, so a creator who loses `devices:execute` takes it from every key
//!   they made at once. A key without a creator (made by the bootstrap, or whose creator
//!   was deleted) reaches no tool.
//! - **Tenancy is the intersection too**: [`delegated_context`] narrows the creator's
//!   access context to the key's organization (and the creator's sites in it), with the key
//!   as the actor.
//!
//! The risk tier of each tool comes from [`crate::risk::ToolCatalogue`]; this module only
//! decides whether the key may ask at all.
//!
//! ```
//! use breeze_authz::ai::{AiScope, tool_spec};
//! use breeze_authz::api_key::ApiKeyScopes;
//!
//! let key = ApiKeyScopes::parse(["ai:read", "devices:*"])?;
//! assert!(AiScope::Read.named_by(&key));
//! assert!(!AiScope::Execute.named_by(&ApiKeyScopes::parse(["*"])?));
//! assert_eq!(tool_spec("queue_script").map(|t| t.scope), Some(AiScope::Execute));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::Serialize;

use crate::access::{AccessContext, OrgRecord, ResolveError, Scope};
use crate::api_key::{ApiKeyScope, ApiKeyScopes, UsableApiKey};
use crate::permission::{Pattern, Permission};
use crate::registry::{PermissionSet, Registry};

/// One of the three AI scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AiScope {
    /// `ai:read`: tools that only read.
    Read,
    /// `ai:write`: tools that change state without running code on a device.
    Write,
    /// `ai:execute`: tools that run code on a device.
    Execute,
}

impl AiScope {
    /// The scope string (`ai:read`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Read => "ai:read",
            Self::Write => "ai:write",
            Self::Execute => "ai:execute",
        }
    }

    const fn action(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Execute => "execute",
        }
    }

    /// Whether `scopes` names this scope exactly (no wildcard grants it).
    #[must_use]
    pub fn named_by(self, scopes: &ApiKeyScopes) -> bool {
        scopes.scopes().iter().any(|s| Self::of(s) == Some(self))
    }

    /// The AI scope one key scope names exactly (`ai:read`), if any; `None` for every
    /// other scope, wildcards included. Key creation uses it: an `ai:*` scope is not a
    /// registry permission, and needs no escalation check because every call is capped by
    /// the creator's permissions at the time of the call.
    #[must_use]
    pub fn of(scope: &ApiKeyScope) -> Option<Self> {
        let ApiKeyScope::Pattern(grant) = scope else {
            return None;
        };
        if !matches!(grant.resource(), Pattern::Exact(r) if &**r == "ai") {
            return None;
        }
        [Self::Read, Self::Write, Self::Execute]
            .into_iter()
            .find(|s| matches!(grant.action(), Pattern::Exact(a) if &**a == s.action()))
    }
}

/// One tool of the reference server's MCP endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ToolSpec {
    /// The tool's name (also its entry in the risk catalogue).
    pub name: &'static str,
    /// The AI scope the key must name.
    pub scope: AiScope,
    /// The permission the key's creator must hold now (`resource:action`).
    pub permission: &'static str,
}

/// The tools of the reference server, sorted by name.
pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "get_command_result",
        scope: AiScope::Read,
        permission: "devices:read",
    },
    ToolSpec {
        name: "get_device",
        scope: AiScope::Read,
        permission: "devices:read",
    },
    ToolSpec {
        name: "list_commands",
        scope: AiScope::Read,
        permission: "devices:read",
    },
    ToolSpec {
        name: "list_devices",
        scope: AiScope::Read,
        permission: "devices:read",
    },
    ToolSpec {
        name: "quarantine_device",
        scope: AiScope::Write,
        permission: "devices:write",
    },
    ToolSpec {
        name: "query_audit_log",
        scope: AiScope::Read,
        permission: "audit:read",
    },
    ToolSpec {
        name: "queue_script",
        scope: AiScope::Execute,
        permission: "devices:execute",
    },
    ToolSpec {
        name: "verify_audit_chain",
        scope: AiScope::Read,
        permission: "audit:read",
    },
];

/// The spec of a tool of [`TOOLS`].
#[must_use]
pub fn tool_spec(name: &str) -> Option<&'static ToolSpec> {
    TOOLS.iter().find(|t| t.name == name)
}

/// Why a key may not call a tool.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ToolDenial {
    /// The key does not name the tool's AI scope.
    #[error("the api key does not name the `{scope}` scope")]
    MissingAiScope {
        /// The scope it needs (`ai:execute`).
        scope: &'static str,
    },
    /// The key has no creator whose permissions could cap it.
    #[error("the api key has no creator")]
    NoCreator,
    /// The key's creator no longer holds the tool's permission.
    #[error("the key's creator does not hold `{permission}`")]
    CreatorLacksPermission {
        /// The permission (`devices:execute`).
        permission: &'static str,
    },
}

impl ToolDenial {
    /// A stable machine code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::MissingAiScope { .. } => "missing_ai_scope",
            Self::NoCreator => "key_without_creator",
            Self::CreatorLacksPermission { .. } => "creator_lacks_permission",
        }
    }
}

/// Whether a key with `scopes`, created by a user now holding `creator` (compiled against
/// `registry`; `None` when the key has no live creator), may call `tool`. The scope is
/// checked first, so a key that could never call the tool learns nothing about its creator.
///
/// # Errors
/// [`ToolDenial`].
pub fn authorize_tool(
    tool: &ToolSpec,
    scopes: &ApiKeyScopes,
    creator: Option<&PermissionSet>,
    registry: &Registry,
) -> Result<(), ToolDenial> {
    if !tool.scope.named_by(scopes) {
        return Err(ToolDenial::MissingAiScope {
            scope: tool.scope.as_str(),
        });
    }
    let creator = creator.ok_or(ToolDenial::NoCreator)?;
    let holds = tool
        .permission
        .parse::<Permission>()
        .is_ok_and(|p| creator.allows_permission(registry, &p));
    if holds {
        Ok(())
    } else {
        Err(ToolDenial::CreatorLacksPermission {
            permission: tool.permission,
        })
    }
}

/// The access context a key's tool calls run in: the creator's context narrowed to the key's
/// organization (and, for a creator limited to some sites of it, to those sites), acting as
/// the key.
///
/// # Errors
/// [`ResolveError::OrganizationUnavailable`] when the key's organization is not in `orgs`,
/// not serviceable, or outside the creator's reach.
pub fn delegated_context(
    key: &UsableApiKey,
    creator: &AccessContext,
    orgs: &[OrgRecord],
) -> Result<AccessContext, ResolveError> {
    let org = orgs
        .iter()
        .find(|o| o.id == key.org_id())
        .filter(|o| o.is_serviceable())
        .ok_or(ResolveError::OrganizationUnavailable)?;
    if !creator.can_access_org(org.id) {
        return Err(ResolveError::OrganizationUnavailable);
    }
    let sites = if creator.scope() == Scope::Organization {
        creator.allowed_site_ids().clone()
    } else {
        crate::idset::IdSet::all()
    };
    Ok(AccessContext::delegated(key.id(), org, sites))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    fn scopes(list: &[&str]) -> ApiKeyScopes {
        ApiKeyScopes::parse(list).unwrap()
    }

    #[test]
    fn wildcards_never_grant_ai_scopes() {
        for wild in ["*", "*:*", "ai:*", "*:read", "*:write", "*:execute"] {
            let s = scopes(&[wild]);
            for scope in [AiScope::Read, AiScope::Write, AiScope::Execute] {
                assert!(!scope.named_by(&s), "{wild} granted {scope:?}");
            }
        }
        let s = scopes(&["ai:read", "ai:execute"]);
        assert!(AiScope::Read.named_by(&s));
        assert!(!AiScope::Write.named_by(&s));
        assert!(AiScope::Execute.named_by(&s));
    }

    #[test]
    fn tools_are_sorted_and_in_the_catalogue() {
        let catalogue = crate::risk::ToolCatalogue::default_catalogue();
        for pair in TOOLS.windows(2) {
            assert!(pair[0].name < pair[1].name);
        }
        let registry = Registry::spec();
        for tool in TOOLS {
            assert!(catalogue.level(tool.name).is_some(), "{}", tool.name);
            let p: Permission = tool.permission.parse().unwrap();
            assert!(registry.contains(&p), "{}", tool.permission);
        }
    }
}
