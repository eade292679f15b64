//! The bodies the authentication routes answer (typed, so the OpenAPI document is generated
//! from the same types the handlers write).

use serde::Serialize;
use uuid::Uuid;

/// A token scope as the API names it.
#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScopeName {
    /// Platform administration.
    System,
    /// A partner (MSP) user.
    Partner,
    /// An organization user.
    Organization,
}

impl From<breeze_crypto::jwt::TokenScope> for ScopeName {
    fn from(s: breeze_crypto::jwt::TokenScope) -> Self {
        use breeze_crypto::jwt::TokenScope;
        match s {
            TokenScope::System => Self::System,
            TokenScope::Partner => Self::Partner,
            TokenScope::Organization => Self::Organization,
        }
    }
}

/// The user of a session answer.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionUser {
    /// User id.
    pub id: Uuid,
    /// E-mail address.
    pub email: String,
    /// Scope of the user's tokens.
    pub scope: ScopeName,
    /// Role, when the user has one.
    pub role_id: Option<Uuid>,
    /// Organization of an organization user.
    pub org_id: Option<Uuid>,
    /// Partner of a partner user.
    pub partner_id: Option<Uuid>,
    /// Whether the user has enrolled TOTP.
    pub mfa_enabled: bool,
}

/// A new session: the access token (the refresh token is an HttpOnly cookie).
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionAnswer {
    /// The access token (`Authorization: Bearer`).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Whether this session passed MFA.
    pub mfa: bool,
    /// The user.
    pub user: SessionUser,
}

/// The password was right and a second factor is due: `POST /auth/mfa/verify` with this
/// token and a TOTP or recovery code.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaChallenge {
    /// Always `true`.
    pub mfa_required: bool,
    /// The one-time challenge token.
    pub mfa_token: String,
    /// Seconds the challenge stays valid.
    pub expires_in: i64,
}

/// The answer of `POST /auth/login`: a session, or an MFA challenge.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum LoginAnswer {
    /// A session (no MFA enrolled).
    Session(SessionAnswer),
    /// A second factor is due.
    Challenge(MfaChallenge),
}

/// A status word, and for some answers a generic message.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct StatusAnswer {
    /// `logged_out`, `accepted`, `password_reset`.
    pub status: &'static str,
    /// What it means.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'static str>,
}

/// `POST /auth/mfa/setup`: a pending TOTP secret to confirm with a code.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaSetupAnswer {
    /// The base32 secret (shown this once).
    pub secret: String,
    /// The `otpauth://` URI for an authenticator app.
    pub otpauth_uri: String,
    /// The issuer name.
    pub issuer: &'static str,
}

/// `POST /auth/mfa/confirm`: TOTP is on; every session ends and the user logs in again.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaConfirmAnswer {
    /// Always `true`.
    pub mfa_enabled: bool,
    /// One-time recovery codes (shown this once).
    pub recovery_codes: Vec<String>,
    /// Always `true`: the token used is revoked; log in with password and a code.
    pub relogin_required: bool,
}

/// The MFA state of the current user.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaStatus {
    /// TOTP enrolled.
    pub enabled: bool,
    /// A setup waits for its confirmation.
    pub pending: bool,
    /// The user's role requires MFA.
    pub required: bool,
    /// This session passed MFA.
    pub session_verified: bool,
    /// Unused recovery codes.
    pub recovery_codes_remaining: i64,
}

impl MfaStatus {
    /// The MFA state of `session`'s user, as stored in `mfa`.
    #[must_use]
    pub fn of(
        mfa: &crate::store::auth::MfaState,
        session: &crate::http::authn::UserSession,
    ) -> Self {
        Self {
            enabled: mfa.enabled,
            pending: mfa.pending_secret.is_some(),
            required: session.role.as_ref().is_some_and(|r| r.requires_mfa),
            session_verified: session.claims.mfa,
            recovery_codes_remaining: if mfa.enabled {
                mfa.recovery_codes_left
            } else {
                0
            },
        }
    }
}

/// The role of the current user.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeRole {
    /// Role id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Whether the role requires MFA.
    pub requires_mfa: bool,
}

/// Which organizations a partner membership reaches.
#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrgAccessName {
    /// Every organization of the partner.
    All,
    /// Those of `orgIds`.
    Selected,
    /// None.
    None,
}

/// A partner membership.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MePartner {
    /// Partner.
    pub partner_id: Uuid,
    /// Role.
    pub role_id: Uuid,
    /// Reach.
    pub org_access: OrgAccessName,
    /// The organizations of a `selected` reach.
    pub org_ids: Vec<String>,
    /// Active (not suspended).
    pub active: bool,
}

/// The sites of an organization membership: `"all"` or a list of site ids.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum MeSites {
    /// `"all"`.
    All(&'static str),
    /// The listed sites.
    Only(Vec<String>),
}

/// An organization membership.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeOrganization {
    /// Organization.
    pub org_id: Uuid,
    /// Role.
    pub role_id: Uuid,
    /// Sites reached.
    pub site_ids: MeSites,
    /// Active (not suspended).
    pub active: bool,
}

/// The memberships of the current user.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeMemberships {
    /// A live platform admin.
    pub platform_admin: bool,
    /// The partner membership.
    pub partner: Option<MePartner>,
    /// The organization membership.
    pub organization: Option<MeOrganization>,
}

/// `GET /users/me`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeAnswer {
    /// User id.
    pub id: Uuid,
    /// E-mail address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// `active` or `disabled`.
    pub status: &'static str,
    /// Partner of a partner user.
    pub partner_id: Option<Uuid>,
    /// Organization of an organization user.
    pub org_id: Option<Uuid>,
    /// Scope of this session.
    pub scope: ScopeName,
    /// The role.
    pub role: Option<MeRole>,
    /// The role's permissions, sorted.
    pub permissions: Vec<String>,
    /// Memberships.
    pub memberships: MeMemberships,
    /// MFA state.
    pub mfa: MfaStatus,
    /// Unix seconds of the last login.
    pub last_login_at: Option<i64>,
    /// Unix seconds of the account's creation.
    pub created_at: i64,
}
