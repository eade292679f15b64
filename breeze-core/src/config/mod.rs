//! Startup configuration validation (SPEC 4 and 9): a typed report of errors (refuse to
//! start) and warnings (log and go on).
//!
//! The secret rules themselves (placeholder list, key length and entropy, JWT secret rules)
//! live in [`breeze_crypto::keys`]; this module applies them to a whole configuration and adds
//! the cross-field rules: distinct keys, CORS, proxy networks, Redis, metrics token, the
//! SSRF allow-list. No message ever contains a secret value.
//!
//! ```
//! use breeze_core::config::{Environment, NamedSecret, SecurityConfig, validate};
//!
//! let mut config = SecurityConfig::new(Environment::Production);
//! config.app_encryption_keys.push(NamedSecret::new("k1", "changeme"));
//! config.cors_origins.push("*".to_owned());
//! let report = validate(&config);
//! assert!(!report.is_ok());
//! assert!(report.errors.iter().any(|e| e.code == "placeholder"));
//! assert!(report.errors.iter().any(|e| e.code == "cors_wildcard"));
//! // The report never contains the secret.
//! assert!(!format!("{report:?}").contains("changeme"));
//! ```

pub mod doctor;
mod input;
mod report;
pub mod rotation;
mod rules;

pub use input::{Environment, NamedSecret, SecurityConfig};
pub use report::{ConfigIssue, ConfigReport, Severity};
pub use rules::validate;
