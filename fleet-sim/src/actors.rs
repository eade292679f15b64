//! `actors`: the callers of the scale run, created through the API by a platform
//! administrator: a partner-wide reader (a user with a partner membership reaching every
//! organization of the partner, through a partner-scope `*:read` role), a selected-
//! organizations reader (the same role, a partner membership with `selected` access to the
//! API key's organization; the scale script moves its selection after seeding) and an
//! organization API key (`*:read`) on one organization. Their secrets go to 0600 files.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use serde_json::{Value, json};

use crate::SimError;
use crate::admin::{Admin, AdminLogin, id_of};
use crate::target::Target;

/// What to create.
#[derive(Debug, Clone)]
pub struct ActorsPlan {
    /// The partner whose organizations the reader reaches.
    pub partner_id: uuid::Uuid,
    /// The organization the API key belongs to.
    pub key_org_id: uuid::Uuid,
    /// The reader's e-mail.
    pub reader_email: String,
    /// The selected-organizations reader's e-mail.
    pub selected_reader_email: String,
}

/// Where the secrets go (each 0600).
#[derive(Debug, Clone, Copy)]
pub struct ActorSecrets<'a> {
    /// The partner-wide reader's password.
    pub reader_password: &'a Path,
    /// The selected-organizations reader's password.
    pub selected_reader_password: &'a Path,
    /// The raw API key.
    pub api_key: &'a Path,
}

fn write_secret(path: &Path, text: &str) -> Result<(), SimError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| SimError::file(path, e))?;
    writeln!(f, "{text}").map_err(|e| SimError::file(path, e))
}

fn random_password() -> Result<String, SimError> {
    let mut buf = [0u8; 18];
    getrandom::fill(&mut buf).map_err(|e| SimError::Local(format!("random: {e}")))?;
    // hex plus fixed classes: long and meets any composition rule
    Ok(format!(
        "{}Aa7!",
        buf.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// Creates the readers and the key; writes their secrets where `out` says.
///
/// # Errors
/// [`SimError::Server`] when a step is refused, [`SimError::File`] for the output files.
pub async fn create(
    target: &Target,
    login: &AdminLogin,
    plan: &ActorsPlan,
    out: ActorSecrets<'_>,
) -> Result<(), SimError> {
    let admin = Admin::login(target, login).await?;
    let role = admin
        .post(
            "/api/v1/roles",
            &json!({
                "name": "scale partner reader",
                "scope": "partner",
                "permissions": ["*:read"],
                "partnerId": plan.partner_id,
            }),
        )
        .await?;
    let role_id = id_of(&role, "role")?;
    let password = random_password()?;
    admin
        .post(
            "/api/v1/users",
            &json!({
                "email": plan.reader_email,
                "name": "Scale partner reader",
                "password": password,
                "partnerId": plan.partner_id,
                "membership": {"kind": "partner", "roleId": role_id, "orgAccess": "all"},
            }),
        )
        .await?;
    write_secret(out.reader_password, &password)?;
    let password = random_password()?;
    admin
        .post(
            "/api/v1/users",
            &json!({
                "email": plan.selected_reader_email,
                "name": "Scale selected-organizations reader",
                "password": password,
                "partnerId": plan.partner_id,
                "membership": {"kind": "partner", "roleId": role_id, "orgAccess": "selected",
                               "orgIds": [plan.key_org_id]},
            }),
        )
        .await?;
    write_secret(out.selected_reader_password, &password)?;
    let key = admin
        .post(
            &format!("/api/v1/orgs/{}/api-keys", plan.key_org_id),
            &json!({"name": "scale reader key", "scopes": ["*:read"], "rateLimitPerHour": 1_000_000}),
        )
        .await?;
    let raw = key
        .get("key")
        .and_then(Value::as_str)
        .ok_or_else(|| SimError::Server("api key: no key in the answer".into()))?;
    write_secret(out.api_key, raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_random_and_long() {
        let a = random_password().unwrap();
        let b = random_password().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 40);
    }
}
