//! Force-MFA (SPEC 2.4): a user whose role requires MFA and who has not enrolled gets HTTP
//! 428 with [`MFA_ENROLLMENT_REQUIRED_BODY`] on every route except logout, `users/me` and
//! the MFA enrollment endpoints.
//!
//! The path is matched exactly (after dropping a query string and one trailing slash)
//! against the exempt list under the API base path. Anything unusual in the path
//! (`..`, `//`, `%`, a backslash) is not exempt: an odd-looking path gets the 428, never a
//! pass.
//!
//! ```
//! use breeze_authz::mfa::{MfaGate, MfaPolicy};
//! let policy = MfaPolicy::default();
//! assert_eq!(policy.decide(true, false, "/api/v1/devices"), MfaGate::EnrollmentRequired);
//! assert_eq!(policy.decide(true, false, "/api/v1/auth/mfa/setup"), MfaGate::Proceed);
//! assert_eq!(policy.decide(true, true, "/api/v1/devices"), MfaGate::Proceed);
//! ```

/// The HTTP status of the refusal.
pub const MFA_ENROLLMENT_REQUIRED_STATUS: u16 = 428;

/// The exact response body of the refusal (COMPAT).
pub const MFA_ENROLLMENT_REQUIRED_BODY: &str =
    r#"{"error":"mfa_enrollment_required","enrollUrl":"/auth/mfa/setup"}"#;

/// The API base path of the reference server.
pub const DEFAULT_BASE_PATH: &str = "/api/v1";

/// The exempt routes under the base path: logout, the current user, and MFA enrollment
/// (setup, confirming the first code, and the enrollment status).
pub const DEFAULT_EXEMPT_PATHS: &[&str] = &[
    "/auth/logout",
    "/users/me",
    "/auth/mfa/setup",
    "/auth/mfa/confirm",
    "/auth/mfa/status",
];

/// The decision for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MfaGate {
    /// Serve the request.
    Proceed,
    /// Answer 428 with [`MFA_ENROLLMENT_REQUIRED_BODY`].
    EnrollmentRequired,
}

/// Which routes stay open to a user who must still enroll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaPolicy {
    exempt: Vec<String>,
}

impl Default for MfaPolicy {
    fn default() -> Self {
        Self::new(DEFAULT_BASE_PATH, DEFAULT_EXEMPT_PATHS)
    }
}

impl MfaPolicy {
    /// A policy exempting `paths` (each starting with `/`) under `base` (e.g. `/api/v1`).
    #[must_use]
    pub fn new(base: &str, paths: &[&str]) -> Self {
        let base = base.trim_end_matches('/');
        Self {
            exempt: paths.iter().map(|p| format!("{base}{p}")).collect(),
        }
    }

    /// The exempt full paths.
    #[must_use]
    pub fn exempt_paths(&self) -> &[String] {
        &self.exempt
    }

    /// Whether `path` (as received, possibly with a query string) is exempt.
    #[must_use]
    pub fn is_exempt(&self, path: &str) -> bool {
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        if path.contains("..") || path.contains("//") || path.contains('%') || path.contains('\\') {
            return false;
        }
        let path = path.strip_suffix('/').unwrap_or(path);
        self.exempt.iter().any(|e| e == path)
    }

    /// The decision: `role_requires_mfa` is true when any role of the user forces MFA.
    #[must_use]
    pub fn decide(&self, role_requires_mfa: bool, mfa_enrolled: bool, path: &str) -> MfaGate {
        if !role_requires_mfa || mfa_enrolled || self.is_exempt(path) {
            MfaGate::Proceed
        } else {
            MfaGate::EnrollmentRequired
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_exact() {
        assert_eq!(
            MFA_ENROLLMENT_REQUIRED_BODY,
            "{\"error\":\"mfa_enrollment_required\",\"enrollUrl\":\"/auth/mfa/setup\"}"
        );
    }

    #[test]
    fn exemptions() {
        let p = MfaPolicy::default();
        for ok in [
            "/api/v1/auth/logout",
            "/api/v1/users/me",
            "/api/v1/users/me/",
            "/api/v1/users/me?fields=id",
            "/api/v1/auth/mfa/setup",
            "/api/v1/auth/mfa/confirm",
        ] {
            assert_eq!(p.decide(true, false, ok), MfaGate::Proceed, "{ok}");
        }
        for blocked in [
            "/api/v1/users/me/../other",
            "/api/v1/users/me/sessions",
            "/api/v1/users/mex",
            "/api/v1/users",
            "/api/v1//users/me",
            "/api/v1/users/%6de",
            "/api/v1/auth/mfa/setup/../../devices",
            "/users/me",
            "/api/v1/devices",
            "",
            "/",
        ] {
            assert_eq!(
                p.decide(true, false, blocked),
                MfaGate::EnrollmentRequired,
                "{blocked}"
            );
            assert_eq!(p.decide(false, false, blocked), MfaGate::Proceed);
            assert_eq!(p.decide(true, true, blocked), MfaGate::Proceed);
        }
    }

    #[test]
    fn custom_base() {
        let p = MfaPolicy::new("/api/", &["/users/me"]);
        assert_eq!(p.exempt_paths(), ["/api/users/me"]);
        assert!(p.is_exempt("/api/users/me"));
    }
}
