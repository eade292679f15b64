//! First-run administration from the command line: the first platform admin and enrollment
//! keys. Both run through the runtime role with a system access context and are audited on
//! the chain they belong to, in the transaction of the change.

use breeze_authz::seeded::SeededRole;
use breeze_core::audit::{Action, Actor, AuditEvent, AuditResult, InitiatedBy, Timestamp};
use breeze_core::tenancy::{OrgId, SiteId, UserId};
use breeze_crypto::credentials::EnrollmentKey;
use breeze_crypto::password::{PasswordPolicy, hash_password};
use secrecy::{ExposeSecret, SecretString};
use time::Duration;
use uuid::Uuid;

use crate::state::AppState;
use crate::store::{StoreError, admin, audit, enrollment_keys, ops};

/// A bootstrap step that failed. Messages never contain a password or key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootstrapError {
    /// A platform admin exists already: nothing was changed.
    #[error("a platform admin already exists; nothing was changed")]
    AdminExists,
    /// Input refused (names the field and the rule).
    #[error("invalid `{0}`: {1}")]
    Invalid(&'static str, String),
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Password hashing or key generation failed.
    #[error("{0}")]
    Crypto(String),
    /// The audit event could not be built.
    #[error("audit: {0}")]
    Audit(String),
}

/// The normalized e-mail (trimmed, lower-cased) or why it is refused.
///
/// # Errors
/// [`BootstrapError::Invalid`] for anything that is not `local@domain.tld`-shaped, 3 to 254
/// characters, without spaces or control characters.
pub fn normalize_email(email: &str) -> Result<String, BootstrapError> {
    let email = email.trim().to_lowercase();
    let bad = || BootstrapError::Invalid("email", "expected an e-mail address".into());
    if email.len() < 3 || email.len() > 254 {
        return Err(bad());
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return Err(bad());
    }
    Ok(email)
}

/// A random password satisfying the SPEC 2.1 policy: 24 characters from an unambiguous
/// alphabet with at least one lowercase letter, uppercase letter and digit.
///
/// # Errors
/// [`BootstrapError::Crypto`] when the random source fails.
pub fn generate_password() -> Result<SecretString, BootstrapError> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let policy = PasswordPolicy::default();
    for _ in 0..16 {
        let mut bytes = zeroize::Zeroizing::new([0u8; 64]);
        breeze_crypto::random::fill(bytes.as_mut_slice())
            .map_err(|_| BootstrapError::Crypto("the random source failed".into()))?;
        // rejection sampling: bytes past the largest multiple of the alphabet size would bias
        let cutoff = 256 - 256 % ALPHABET.len();
        let password: zeroize::Zeroizing<String> = zeroize::Zeroizing::new(
            bytes
                .iter()
                .filter(|b| usize::from(**b) < cutoff)
                .filter_map(|b| {
                    ALPHABET
                        .get(usize::from(*b) % ALPHABET.len())
                        .map(|c| char::from(*c))
                })
                .take(24)
                .collect(),
        );
        if password.len() == 24 && policy.check(&password).is_ok() {
            return Ok(SecretString::from(password.as_str().to_owned()));
        }
    }
    Err(BootstrapError::Crypto(
        "could not generate a policy-conforming password".into(),
    ))
}

fn now(state: &AppState) -> Result<Timestamp, BootstrapError> {
    Timestamp::from_datetime_truncated(state.clock.now())
        .map_err(|e| BootstrapError::Audit(e.to_string()))
}

fn action(name: &str) -> Result<Action, BootstrapError> {
    Action::new(name).map_err(|e| BootstrapError::Audit(e.to_string()))
}

/// Creates the first platform admin (`user.bootstrap_admin` on the system chain). Refuses,
/// changing nothing, when an active platform admin exists.
///
/// # Errors
/// [`BootstrapError::AdminExists`], [`BootstrapError::Invalid`] for a bad e-mail or a
/// password that breaks the policy, [`BootstrapError::Store`] (an e-mail already taken is
/// `Conflict`).
pub async fn bootstrap_admin(
    state: &AppState,
    email: &str,
    password: &SecretString,
) -> Result<UserId, BootstrapError> {
    create_admin(state, email, password, false)
        .await
        .map(|(id, _)| id)
}

/// The TOTP second factor enrolled with the first admin: shown once, never stored in clear
/// (the secret is kept encrypted under the MFA key, the recovery codes as peppered hashes).
pub struct TotpEnrollment {
    /// The `otpauth://totp/...` URI an authenticator app takes (QR code or paste).
    pub otpauth_uri: SecretString,
    /// The same secret in base32, for manual entry.
    pub secret: SecretString,
    /// Ten single-use recovery codes.
    pub recovery_codes: Vec<breeze_crypto::recovery::RecoveryCode>,
}

impl std::fmt::Debug for TotpEnrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpEnrollment([REDACTED])")
    }
}

/// [`bootstrap_admin`] with a TOTP second factor enrolled in the same transaction
/// (`auth.mfa.enrolled` on the system chain): the admin's first login asks for a code and
/// never meets the 428 `mfa_enrollment_required` of a role that requires MFA.
///
/// # Errors
/// As [`bootstrap_admin`]; [`BootstrapError::Crypto`] when the secret cannot be made.
pub async fn bootstrap_admin_with_totp(
    state: &AppState,
    email: &str,
    password: &SecretString,
) -> Result<(UserId, TotpEnrollment), BootstrapError> {
    let (id, totp) = create_admin(state, email, password, true).await?;
    let totp = totp.ok_or_else(|| BootstrapError::Crypto("no totp enrollment".into()))?;
    Ok((id, totp))
}

/// A new TOTP secret: the enrollment shown once, the encrypted envelope and the peppered
/// hashes of the recovery codes to store.
fn new_totp(
    state: &AppState,
    email: &str,
) -> Result<(TotpEnrollment, String, Vec<String>), BootstrapError> {
    use breeze_crypto::totp;
    let crypto = |e: &dyn std::fmt::Display| BootstrapError::Crypto(e.to_string());
    let secret = totp::TotpSecret::generate().map_err(|e| crypto(&e))?;
    let base32 = secret.to_base32();
    let envelope = state
        .mfa
        .encrypt(base32.expose_secret())
        .map_err(|e| crypto(&e))?;
    let otpauth_uri = totp::otpauth_uri(&secret, email).map_err(|e| crypto(&e))?;
    let recovery_codes = breeze_crypto::recovery::generate_codes().map_err(|e| crypto(&e))?;
    let hashes = recovery_codes
        .iter()
        .map(|c| c.peppered_hash(state.pepper.current()).to_hex())
        .collect();
    Ok((
        TotpEnrollment {
            otpauth_uri,
            secret: base32,
            recovery_codes,
        },
        envelope,
        hashes,
    ))
}

async fn create_admin(
    state: &AppState,
    email: &str,
    password: &SecretString,
    with_totp: bool,
) -> Result<(UserId, Option<TotpEnrollment>), BootstrapError> {
    let email = normalize_email(email)?;
    PasswordPolicy::default()
        .check(password.expose_secret())
        .map_err(|e| {
            let rules: Vec<String> = e.violations().iter().map(ToString::to_string).collect();
            BootstrapError::Invalid("password", rules.join(", "))
        })?;
    // cheap early refusal before paying for Argon2 (checked again under the lock)
    {
        let mut tx = state.store.begin_system("bootstrap admin check").await?;
        if ops::platform_admin_exists(&mut tx).await? {
            return Err(BootstrapError::AdminExists);
        }
    }
    let to_hash = password.clone();
    let hash = state
        .hash_work(move || hash_password(&to_hash))
        .await
        .ok_or_else(|| BootstrapError::Crypto("password hashing did not run".into()))?
        .map_err(|e| BootstrapError::Crypto(e.to_string()))?;

    let id = UserId::from_uuid(Uuid::new_v4());
    let event = AuditEvent::builder(
        Actor::System,
        action("user.bootstrap_admin")?,
        AuditResult::Success,
        InitiatedBy::Manual,
        now(state)?,
    )
    .resource_type("user")
    .resource_id(id.to_string())
    .details(&serde_json::json!({"role": SeededRole::PlatformAdmin.name(), "via": "cli"}))
    .build()
    .map_err(|e| BootstrapError::Audit(e.to_string()))?;

    let mut tx = state.store.begin_system("bootstrap admin").await?;
    ops::lock_bootstrap(&mut tx).await?;
    if ops::platform_admin_exists(&mut tx).await? {
        return Err(BootstrapError::AdminExists);
    }
    ops::insert_platform_admin(
        &mut tx,
        id,
        &email,
        "Platform Admin",
        hash.as_str(),
        admin::seeded_role_id(SeededRole::PlatformAdmin),
    )
    .await?;
    audit::append(&mut tx, None, event).await?;
    let totp = if with_totp {
        let (enrollment, envelope, hashes) = new_totp(state, &email)?;
        crate::store::auth::set_pending_secret(&mut tx, id, &envelope).await?;
        crate::store::auth::enable_mfa(&mut tx, id, &envelope, 0, &hashes).await?;
        let enrolled = AuditEvent::builder(
            Actor::System,
            action("auth.mfa.enrolled")?,
            AuditResult::Success,
            InitiatedBy::Manual,
            now(state)?,
        )
        .resource_type("user")
        .resource_id(id.to_string())
        .details(&serde_json::json!({"via": "cli", "recoveryCodes": hashes.len()}))
        .build()
        .map_err(|e| BootstrapError::Audit(e.to_string()))?;
        audit::append(&mut tx, None, enrolled).await?;
        Some(enrollment)
    } else {
        None
    };
    tx.commit().await?;
    Ok((id, totp))
}

/// Options of `enrollment-key create`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentKeyOptions {
    /// Organization.
    pub org_id: OrgId,
    /// Site.
    pub site_id: SiteId,
    /// Uses allowed (1..=100000).
    pub max_usage: u32,
    /// Minutes until expiry (1..=525600, one year).
    pub expires_minutes: u32,
    /// Display name (1..=200 characters).
    pub name: String,
}

/// A created enrollment key: the raw key is shown once and never stored.
#[derive(Debug)]
pub struct CreatedEnrollmentKey {
    /// Row id.
    pub id: breeze_core::tenancy::EnrollmentKeyId,
    /// The raw key (print once).
    pub key: EnrollmentKey,
    /// Expiry.
    pub expires_at: time::OffsetDateTime,
}

/// Creates an enrollment key for a site (`enrollment_key.create` on the organization's
/// chain); only its peppered hash is stored.
///
/// # Errors
/// [`BootstrapError::Invalid`] for out-of-range options or a site outside the organization.
pub async fn create_enrollment_key(
    state: &AppState,
    options: &EnrollmentKeyOptions,
) -> Result<CreatedEnrollmentKey, BootstrapError> {
    if !(1..=100_000).contains(&options.max_usage) {
        return Err(BootstrapError::Invalid(
            "max-usage",
            "expected 1 to 100000".into(),
        ));
    }
    if !(1..=525_600).contains(&options.expires_minutes) {
        return Err(BootstrapError::Invalid(
            "expires-minutes",
            "expected 1 to 525600".into(),
        ));
    }
    let name = options.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(BootstrapError::Invalid(
            "name",
            "expected 1 to 200 printable characters".into(),
        ));
    }
    let expires_at = state.clock.now() + Duration::minutes(i64::from(options.expires_minutes));
    let new = enrollment_keys::NewEnrollmentKey {
        org_id: options.org_id,
        site_id: options.site_id,
        name,
        max_usage: i32::try_from(options.max_usage).unwrap_or(i32::MAX),
        expires_at,
        created_by: None,
    };
    let mut tx = state.store.begin_system("enrollment key create").await?;
    let created =
        enrollment_keys::create_enrollment_key(&mut tx, state.pepper.current(), &new, None)
            .await
            .map_err(|e| match e {
                // the (site, org) foreign key: the site is not one of this organization's
                StoreError::Invalid {
                    path: "reference", ..
                } => BootstrapError::Invalid("site", "no such site in this organization".into()),
                other => other.into(),
            })?;
    let id = created.view.id;
    let event = AuditEvent::builder(
        Actor::System,
        action("enrollment_key.create")?,
        AuditResult::Success,
        InitiatedBy::Manual,
        now(state)?,
    )
    .resource_type("enrollment_key")
    .resource_id(id.to_string())
    .details(&serde_json::json!({
        "siteId": options.site_id.to_string(),
        "maxUsage": options.max_usage,
        "expiresMinutes": options.expires_minutes,
        "via": "cli",
    }))
    .build()
    .map_err(|e| BootstrapError::Audit(e.to_string()))?;
    audit::append(&mut tx, Some(options.org_id), event).await?;
    tx.commit().await?;
    Ok(CreatedEnrollmentKey {
        id,
        key: created.key,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            normalize_email(" Admin@Example.COM ").unwrap(),
            "admin@example.com"
        );
        for bad in [
            "",
            "a",
            "no-at.example",
            "a@b",
            "a b@c.d",
            "@c.d",
            "a@@c.d",
            "a@.c",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn generated_passwords_pass_the_policy_and_differ() {
        let a = generate_password().unwrap();
        let b = generate_password().unwrap();
        assert!(PasswordPolicy::default().check(a.expose_secret()).is_ok());
        assert_eq!(a.expose_secret().len(), 24);
        assert_ne!(a.expose_secret(), b.expose_secret());
    }
}
