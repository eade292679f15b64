//! Breeze credential hashing and crypto: the rules of SPEC sections 2, 3 and 4 as a library.
//!
//! | module | holds |
//! |---|---|
//! | [`password`] | Argon2id hashing (m = 64 MiB, t = 3, p = 4), verify, needs-rehash, dummy verify, the password policy |
//! | [`credentials`] | agent tokens, API keys, session and reset tokens, enrollment keys, agent ids; SHA-256 and peppered hashes |
//! | [`envelope`] | AES-256-GCM envelopes `enc:v1/v2/v3` and `mfa:v1`, key rings, re-encryption |
//! | [`jwt`] | HS256 access and refresh tokens with a `kid` key ring and a legacy secret |
//! | [`totp`] | RFC 6238 codes, secrets and `otpauth://` URIs |
//! | [`recovery`] | MFA recovery codes |
//! | `oidc` (feature `oidc`) | OpenID Connect relying party: discovery, PKCE, login state, JWKS, ID-token verification |
//! | [`keys`] | validation of configured keys and secrets, the placeholder list |
//! | [`ct`], [`random`] | constant-time comparison, CSPRNG helpers |
//!
//! Every secret is wrapped (`secrecy`, or a zeroizing newtype) and its `Debug` prints
//! `[REDACTED]`. Every error is a typed enum with a stable `code()` for the bindings.
//!
//! ```
//! use breeze_crypto::{credentials::AgentToken, envelope::{Field, KeyRing}};
//! use secrecy::{ExposeSecret, SecretString};
//!
//! // An agent token: shown once, stored as a hash.
//! let token = AgentToken::generate()?;
//! let stored = token.hash().to_hex();
//! assert_eq!(stored.len(), 64);
//!
//! // A secret at rest, bound to its column.
//! let ring = KeyRing::builder()
//!     .key("k1", SecretString::from("4f2a9c1be07d3865a1f0c2e94b7d5a3861e0f9c2b4a7d3e5f1c8b2a6e9d4f0c7"))?
//!     .active("k1")?;
//! let field = Field::new("webhooks", "secret")?;
//! let sealed = ring.encrypt("hook-secret", &field)?;
//! assert_eq!(ring.decrypt(&sealed, &field)?.expose_secret(), "hook-secret");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod credentials;
pub mod ct;
pub mod envelope;
pub mod httpsig;
pub mod jwt;
pub mod keys;
#[cfg(feature = "oidc")]
pub mod oidc;
pub mod password;
pub mod random;
pub mod recovery;
pub mod totp;

pub use secrecy;
