//! The one API every Breeze binding forwards to (Cedar's `ffi` module, biscuit's shared
//! vectors): plain functions over strings, numbers and JSON values, each a thin call into
//! `breeze-crypto`, `breeze-authz`, `breeze-core` or `breeze-agent-proto`, with errors that carry the crate error's stable
//! `code()` and its family. The Python (pyo3), Node (napi-rs) and WASM (wasm-bindgen)
//! packages are one-line forwards to these functions, so the three expose the same API and
//! raise the same codes, and one conformance suite per language replays `vectors/`.
//!
//! | module | holds |
//! |---|---|
//! | [`password`] | Argon2id hash / verify / needs-rehash, the password policy |
//! | [`credentials`] | generate / hash / verify for every credential kind, peppered hashes, recovery codes |
//! | [`secrets`] | `enc:v3` envelopes with a key ring and table/column binding, re-encryption, `mfa:v1` |
//! | [`jwt`] | HS256 sign / verify with a `kid` key ring |
//! | [`totp`] | TOTP secrets, codes, verification, `otpauth://` URIs |
//! | [`audit`] | audit entry canonical form and hashes, chain / stream segment / bundle / checkpoint verification, sanitizer |
//! | [`agent`] | agent-protocol decode and validation (typed message or issue list), JSON Schemas, redaction of command output, the remote path rule and file-content digests |
//! | [`webhooks`] | Standard Webhooks sign / verify (several secrets during a roll), secret generation, the event catalogue, delivery bodies |
//! | [`httpsig`] | HTTP message signatures of agent requests (RFC 9421, `ed25519`, SPEC 17): device keys, `Content-Digest` (RFC 9530), sign / verify |
//! | [`authz`] | permission checks, grants, API-key scopes and status, session validity, force-MFA, AI risk decisions, `ai:*` scopes and MCP tools, approval argument digests |
//! | [`error`] | [`FfiError`]: family, code, message |
//!
//! ```
//! use breeze_ffi::{credentials, error::Family, password};
//!
//! let generated = credentials::credential_generate("agent_token")?;
//! let hash = generated.hash.clone().ok_or("agent tokens have a hash")?;
//! assert!(credentials::credential_verify("agent_token", &generated.value, &hash)?);
//!
//! // Errors carry the crate's stable code and their family.
//! let err = credentials::credential_hash("agent_token", "not-a-token").unwrap_err();
//! assert_eq!((err.family, err.code), (Family::Credential, "credential_wrong_prefix"));
//! assert_eq!(password::password_policy_check("short"), [
//!     "password_too_short", "password_missing_uppercase", "password_missing_digit",
//! ]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod agent;
pub mod audit;
pub mod authz;
pub mod credentials;
pub mod error;
pub mod httpsig;
pub mod jwt;
pub mod password;
pub mod secrets;
pub mod totp;
pub mod webhooks;

pub use error::{Family, FfiError, FfiResult};
