//! `provision`: the tenancy a run enrolls into. One partner, `orgs` organizations with one
//! site each, and one enrollment key per organization with its own random secret, written
//! to a 0600 keys file.

use serde_json::json;

use crate::SimError;
use crate::admin::{Admin, AdminLogin, id_of};
use crate::creds::KeyRecord;
use crate::target::Target;

/// Most organizations one provisioning creates.
pub const MAX_ORGS: usize = 1_000;

/// What to create.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Organizations (each with one site and one key).
    pub orgs: usize,
    /// Uses allowed per key (1..=100,000).
    pub max_usage: u32,
    /// Minutes each key stays valid.
    pub expires_minutes: u32,
    /// Name prefix of everything created.
    pub name: String,
}

fn random_hex(bytes: usize) -> Result<String, SimError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| SimError::Local(format!("random: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Creates the tenancy of `plan` and returns its keys.
///
/// # Errors
/// [`SimError::Argument`] for a plan out of range, [`SimError::Server`] when a step is
/// refused (what was created before stays: the names say which run made it).
pub async fn provision(
    target: &Target,
    login: &AdminLogin,
    plan: &Plan,
) -> Result<Vec<KeyRecord>, SimError> {
    if plan.orgs == 0 || plan.orgs > MAX_ORGS {
        return Err(SimError::Argument(
            "--orgs",
            format!("must be 1 to {MAX_ORGS}"),
        ));
    }
    if !(1..=100_000).contains(&plan.max_usage) {
        return Err(SimError::Argument(
            "--max-usage",
            "must be 1 to 100000".into(),
        ));
    }
    let admin = Admin::login(target, login).await?;
    let partner = admin
        .post(
            "/api/v1/partners",
            &json!({"name": format!("{} partner", plan.name)}),
        )
        .await?;
    let partner_id = id_of(&partner, "partner")?;
    let mut keys = Vec::with_capacity(plan.orgs);
    for n in 0..plan.orgs {
        let org = admin
            .post(
                "/api/v1/orgs",
                &json!({"name": format!("{} org {n}", plan.name), "partnerId": partner_id}),
            )
            .await?;
        let org_id = id_of(&org, "organization")?;
        let site = admin
            .post(
                &format!("/api/v1/orgs/{org_id}/sites"),
                &json!({"name": format!("{} site {n}", plan.name)}),
            )
            .await?;
        let site_id = id_of(&site, "site")?;
        let secret = format!("sim-{}", random_hex(24)?);
        let key = admin
            .post(
                &format!("/api/v1/orgs/{org_id}/enrollment-keys"),
                &json!({
                    "siteId": site_id,
                    "name": format!("{} key {n}", plan.name),
                    "maxUsage": plan.max_usage,
                    "expiresInMinutes": plan.expires_minutes,
                    "secret": secret,
                }),
            )
            .await?;
        let raw = key
            .get("key")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| SimError::Server("enrollment key: no key in the answer".into()))?;
        keys.push(KeyRecord {
            enrollment_key: breeze_agent_proto::EnrollmentKey::parse(raw)
                .map_err(|e| SimError::Server(format!("enrollment key: {e}")))?,
            enrollment_secret: breeze_agent_proto::EnrollmentSecret::parse(&secret)
                .map_err(|e| SimError::Local(format!("enrollment secret: {e}")))?,
            org_id,
            site_id,
        });
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_long_enough() {
        let a = random_hex(24).unwrap_or_default();
        let b = random_hex(24).unwrap_or_default();
        assert_eq!(a.len(), 48);
        assert_ne!(a, b);
    }
}
