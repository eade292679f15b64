//! Bearer credentials (SPEC 3.1): generated once, shown once, stored only as a SHA-256 hash;
//! and peppered hashes (SPEC 3.2) for enrollment keys.
//!
//! Every credential kind is its own type, so an agent token cannot be passed where an API key
//! is wanted. Parsing checks the exact shape before any lookup, and verification compares the
//! hash in constant time.
//!
//! ```
//! use breeze_crypto::credentials::{AgentToken, ApiKey, TokenHash};
//!
//! let token = AgentToken::generate()?;
//! let stored: TokenHash = token.hash();            // what the database keeps
//! let presented = AgentToken::parse(token.expose_secret())?;
//! assert!(presented.verify(&stored));
//! assert!(ApiKey::parse(token.expose_secret()).is_err()); // wrong kind
//! assert_eq!(format!("{token:?}"), "AgentToken([REDACTED])");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::str::FromStr;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::ct::constant_time_eq;
use crate::random::{self, NANOID_ALPHABET, RngError};

/// Longest string any parser here looks at; anything longer is refused before other work.
pub const MAX_CREDENTIAL_LEN: usize = 128;

/// A credential string that is not of the expected kind or shape. The message names the kind
/// and the rule, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// Longer than [`MAX_CREDENTIAL_LEN`].
    #[error("{kind} is too long")]
    TooLong {
        /// Credential kind.
        kind: &'static str,
    },
    /// Missing or different prefix.
    #[error("{kind} must start with `{expected}`")]
    WrongPrefix {
        /// Credential kind.
        kind: &'static str,
        /// Prefix required.
        expected: &'static str,
    },
    /// Wrong length or characters after the prefix.
    #[error("{kind} is malformed")]
    Malformed {
        /// Credential kind.
        kind: &'static str,
    },
    /// The random generator failed.
    #[error("the system random number generator failed")]
    Rng,
}

impl CredentialError {
    /// Stable machine code for bindings.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::TooLong { .. } => "credential_too_long",
            Self::WrongPrefix { .. } => "credential_wrong_prefix",
            Self::Malformed { .. } => "credential_malformed",
            Self::Rng => "rng_failure",
        }
    }
}

impl From<RngError> for CredentialError {
    fn from(_: RngError) -> Self {
        Self::Rng
    }
}

/// A SHA-256 digest of a credential, as stored (64 lowercase hex characters).
/// Hashes are not secret, but comparisons are still constant time.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// SHA-256 of `data`.
    #[must_use]
    pub fn of(data: &[u8]) -> Self {
        Self(Sha256::digest(data).into())
    }

    /// The raw digest.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, the stored form.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Constant-time equality.
    #[must_use]
    pub fn ct_eq(&self, other: &Self) -> bool {
        constant_time_eq(&self.0, &other.0)
    }
}

impl fmt::Display for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({})", self.to_hex())
    }
}

impl FromStr for TokenHash {
    type Err = CredentialError;
    /// Parses 64 lowercase hex characters.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const KIND: &str = "token hash";
        if s.len() != 64 || !is_lower_hex(s) {
            return Err(CredentialError::Malformed { kind: KIND });
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| CredentialError::Malformed { kind: KIND })?;
        Ok(Self(out))
    }
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn random_lower_hex(bytes: usize) -> Result<String, RngError> {
    let mut buf = zeroize::Zeroizing::new(vec![0u8; bytes]);
    random::fill(&mut buf)?;
    Ok(hex::encode(&*buf))
}

fn check_len(kind: &'static str, s: &str) -> Result<(), CredentialError> {
    if s.len() > MAX_CREDENTIAL_LEN {
        Err(CredentialError::TooLong { kind })
    } else {
        Ok(())
    }
}

fn parse_prefixed_hex(
    kind: &'static str,
    s: &str,
    prefix: &'static str,
    hex_len: usize,
) -> Result<(), CredentialError> {
    check_len(kind, s)?;
    let rest = s.strip_prefix(prefix).ok_or(CredentialError::WrongPrefix {
        kind,
        expected: prefix,
    })?;
    if rest.len() == hex_len && is_lower_hex(rest) {
        Ok(())
    } else {
        Err(CredentialError::Malformed { kind })
    }
}

fn parse_nanoid(kind: &'static str, s: &str, len: usize) -> Result<(), CredentialError> {
    check_len(kind, s)?;
    // The nanoid alphabet is exactly `A-Za-z0-9_-` (checked by a test in `random`).
    let is_symbol = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    if s.len() == len && s.bytes().all(is_symbol) {
        Ok(())
    } else {
        Err(CredentialError::Malformed { kind })
    }
}

macro_rules! secret_credential {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        pub struct $name(SecretString);

        impl $name {
            /// The raw credential. Show it to its owner once; never log or store it.
            #[must_use]
            pub fn expose_secret(&self) -> &str {
                self.0.expose_secret()
            }

            /// SHA-256 of the raw credential: the only form that is stored.
            #[must_use]
            pub fn hash(&self) -> TokenHash {
                TokenHash::of(self.0.expose_secret().as_bytes())
            }

            /// Whether this credential hashes to `stored`, compared in constant time.
            #[must_use]
            pub fn verify(&self, stored: &TokenHash) -> bool {
                self.hash().ct_eq(stored)
            }

            /// Checks the shape of a presented credential, as `parse` does, and hashes it
            /// where it lies: the request path's form, which neither copies the secret nor
            /// allocates.
            ///
            /// # Errors
            /// As `parse`.
            pub fn hash_presented(s: &str) -> Result<TokenHash, CredentialError> {
                Self::check_shape(s)?;
                Ok(TokenHash::of(s.as_bytes()))
            }

            /// The credential kind, as named in error messages.
            pub const KIND: &'static str = $kind;
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([REDACTED])"))
            }
        }
    };
}

secret_credential!(
    /// An agent bearer token (agent, watchdog and helper roles): `brz_` + 64 lowercase hex.
    AgentToken,
    "agent token"
);
secret_credential!(
    /// An API key: `brzk_` + 48 lowercase hex. Legacy `brz_` + 48 hex keys still parse.
    ApiKey,
    "api key"
);
secret_credential!(
    /// A session token: 48 characters of the nanoid alphabet.
    SessionToken,
    "session token"
);
secret_credential!(
    /// A password-reset token: 48 characters of the nanoid alphabet.
    PasswordResetToken,
    "password reset token"
);
secret_credential!(
    /// An enrollment key: 64 lowercase hex, stored as a peppered hash (SPEC 3.2).
    EnrollmentKey,
    "enrollment key"
);

/// Prefix of agent tokens.
pub const AGENT_TOKEN_PREFIX: &str = "brz_";
/// Prefix of API keys.
pub const API_KEY_PREFIX: &str = "brzk_";
/// Prefix of legacy (upstream) API keys.
pub const LEGACY_API_KEY_PREFIX: &str = "brz_";

impl AgentToken {
    /// A fresh token from 32 random bytes.
    ///
    /// # Errors
    /// [`CredentialError::Rng`].
    pub fn generate() -> Result<Self, CredentialError> {
        Ok(Self(SecretString::from(format!(
            "{AGENT_TOKEN_PREFIX}{}",
            random_lower_hex(32)?
        ))))
    }

    /// Checks the shape of a presented token before any lookup.
    ///
    /// # Errors
    /// [`CredentialError`] naming the broken rule.
    pub fn parse(s: &str) -> Result<Self, CredentialError> {
        Self::check_shape(s)?;
        Ok(Self(SecretString::from(s)))
    }

    fn check_shape(s: &str) -> Result<(), CredentialError> {
        parse_prefixed_hex(Self::KIND, s, AGENT_TOKEN_PREFIX, 64)
    }
}

impl ApiKey {
    /// A fresh `brzk_` key from 24 random bytes.
    ///
    /// # Errors
    /// [`CredentialError::Rng`].
    pub fn generate() -> Result<Self, CredentialError> {
        Ok(Self(SecretString::from(format!(
            "{API_KEY_PREFIX}{}",
            random_lower_hex(24)?
        ))))
    }

    /// Checks the shape of a presented key (`brzk_` + 48 hex, or legacy `brz_` + 48 hex).
    ///
    /// # Errors
    /// [`CredentialError`] naming the broken rule.
    pub fn parse(s: &str) -> Result<Self, CredentialError> {
        Self::check_shape(s)?;
        Ok(Self(SecretString::from(s)))
    }

    fn check_shape(s: &str) -> Result<(), CredentialError> {
        if s.starts_with(API_KEY_PREFIX) {
            parse_prefixed_hex(Self::KIND, s, API_KEY_PREFIX, 48)
        } else {
            parse_prefixed_hex(Self::KIND, s, LEGACY_API_KEY_PREFIX, 48).map_err(|e| match e {
                CredentialError::WrongPrefix { kind, .. } => CredentialError::WrongPrefix {
                    kind,
                    expected: API_KEY_PREFIX,
                },
                other => other,
            })
        }
    }

    /// Whether this is a legacy `brz_` key.
    #[must_use]
    pub fn is_legacy(&self) -> bool {
        !self.expose_secret().starts_with(API_KEY_PREFIX)
    }

    /// The first 8 characters, kept for display so users can tell keys apart.
    #[must_use]
    pub fn display_prefix(&self) -> String {
        self.expose_secret().chars().take(8).collect()
    }
}

macro_rules! nanoid_credential {
    ($name:ident) => {
        impl $name {
            /// A fresh 48-character token.
            ///
            /// # Errors
            /// [`CredentialError::Rng`].
            pub fn generate() -> Result<Self, CredentialError> {
                let s = random::string_from_alphabet(NANOID_ALPHABET, 48)?;
                Ok(Self(SecretString::from(s.as_str())))
            }

            /// Checks the shape of a presented token.
            ///
            /// # Errors
            /// [`CredentialError::Malformed`] or [`CredentialError::TooLong`].
            pub fn parse(s: &str) -> Result<Self, CredentialError> {
                Self::check_shape(s)?;
                Ok(Self(SecretString::from(s)))
            }

            fn check_shape(s: &str) -> Result<(), CredentialError> {
                parse_nanoid(Self::KIND, s, 48)
            }
        }
    };
}

nanoid_credential!(SessionToken);
nanoid_credential!(PasswordResetToken);

impl EnrollmentKey {
    /// A fresh key from 32 random bytes.
    ///
    /// # Errors
    /// [`CredentialError::Rng`].
    pub fn generate() -> Result<Self, CredentialError> {
        Ok(Self(SecretString::from(random_lower_hex(32)?)))
    }

    /// Checks the shape of a presented key (64 lowercase hex).
    ///
    /// # Errors
    /// [`CredentialError::Malformed`] or [`CredentialError::TooLong`].
    pub fn parse(s: &str) -> Result<Self, CredentialError> {
        Self::check_shape(s)?;
        Ok(Self(SecretString::from(s)))
    }

    fn check_shape(s: &str) -> Result<(), CredentialError> {
        parse_prefixed_hex(Self::KIND, s, "", 64)
    }

    /// Checks the shape of a presented key and returns its stored form under `pepper`,
    /// without copying the key or allocating.
    ///
    /// # Errors
    /// As [`EnrollmentKey::parse`].
    pub fn peppered_hash_presented(s: &str, pepper: &Pepper) -> Result<TokenHash, CredentialError> {
        Self::check_shape(s)?;
        Ok(pepper.hash(s))
    }

    /// The stored form: `sha256_hex(PEPPER + ":" + key)`.
    #[must_use]
    pub fn peppered_hash(&self, pepper: &Pepper) -> TokenHash {
        pepper.hash(self.expose_secret())
    }

    /// The key's hashes under every pepper of `ring`, the current one first: what the store
    /// looks a presented key up by while a pepper is rolled.
    #[must_use]
    pub fn peppered_hashes(&self, ring: &PepperRing) -> Vec<TokenHash> {
        ring.hashes(self.expose_secret())
    }

    /// Whether this key matches a stored peppered hash, in constant time.
    #[must_use]
    pub fn verify_peppered(&self, pepper: &Pepper, stored: &TokenHash) -> bool {
        self.peppered_hash(pepper).ct_eq(stored)
    }
}

/// A server-side pepper (SPEC 3.2). Rotating it invalidates every hash made with it.
pub struct Pepper(SecretString);

impl Pepper {
    /// Wraps a configured pepper. Validate it first with [`crate::keys::validate_pepper`].
    #[must_use]
    pub fn new(value: SecretString) -> Self {
        Self(value)
    }

    /// `sha256_hex(PEPPER + ":" + value)`, byte-compatible with upstream Breeze.
    #[must_use]
    pub fn hash(&self, value: &str) -> TokenHash {
        let mut h = Sha256::new();
        h.update(self.0.expose_secret().as_bytes());
        h.update(b":");
        h.update(value.as_bytes());
        TokenHash(h.finalize().into())
    }
}

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pepper([REDACTED])")
    }
}

/// The peppers of a server during a pepper roll (SPEC 3.2): the current one hashes every new
/// value; a value hashed under any accepted pepper (the one staged next, or the previous one
/// until it is retired) still verifies. Outside a roll it holds the current pepper alone and
/// behaves exactly like it.
///
/// ```
/// use breeze_crypto::credentials::{Pepper, PepperRing};
/// use breeze_crypto::secrecy::SecretString;
///
/// let old = Pepper::new(SecretString::from("old-pepper"));
/// let stored = old.hash("value"); // written before the roll
/// let ring = PepperRing::new(Pepper::new(SecretString::from("new-pepper")))
///     .accept(Pepper::new(SecretString::from("old-pepper")));
/// assert!(ring.verify("value", &stored));
/// assert!(ring.hashes("value").iter().any(|h| h.ct_eq(&stored)));
/// assert!(!ring.current().hash("value").ct_eq(&stored)); // new writes use the new pepper
/// ```
pub struct PepperRing {
    current: Pepper,
    accepted: Vec<Pepper>,
}

impl PepperRing {
    /// A ring of the current pepper alone.
    #[must_use]
    pub fn new(current: Pepper) -> Self {
        Self {
            current,
            accepted: Vec::new(),
        }
    }

    /// Also accepts values hashed under `pepper` (verification and lookups only).
    #[must_use]
    pub fn accept(mut self, pepper: Pepper) -> Self {
        self.accepted.push(pepper);
        self
    }

    /// The pepper every new hash is made with.
    #[must_use]
    pub const fn current(&self) -> &Pepper {
        &self.current
    }

    /// How many peppers verify (the current one and the accepted ones).
    #[must_use]
    pub fn len(&self) -> usize {
        self.accepted.len().saturating_add(1)
    }

    /// Always false: the current pepper is always there.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        false
    }

    /// The hash of `value` under every pepper, the current one first: what a lookup by hash
    /// searches for.
    #[must_use]
    pub fn hashes(&self, value: &str) -> Vec<TokenHash> {
        std::iter::once(&self.current)
            .chain(&self.accepted)
            .map(|p| p.hash(value))
            .collect()
    }

    /// Whether `value` hashed under any pepper of the ring is `stored`; every pepper is
    /// tried, each comparison in constant time.
    #[must_use]
    pub fn verify(&self, value: &str, stored: &TokenHash) -> bool {
        let mut found = false;
        for hash in self.hashes(value) {
            found |= hash.ct_eq(stored);
        }
        found
    }
}

impl fmt::Debug for PepperRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PepperRing([REDACTED] x {})", self.len())
    }
}

/// A public agent id: 64 lowercase hex characters (not a secret).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgentId(String);

impl AgentId {
    /// A fresh id from 32 random bytes.
    ///
    /// # Errors
    /// [`CredentialError::Rng`].
    pub fn generate() -> Result<Self, CredentialError> {
        Ok(Self(random_lower_hex(32)?))
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for AgentId {
    type Err = CredentialError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_prefixed_hex("agent id", s, "", 64)?;
        Ok(Self(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allocation_free_hashes_hash_what_was_presented_and_refuse_bad_shapes() {
        let pepper = Pepper::new(SecretString::from("test-pepper-0123456789abcdef0123456789"));
        let agent = format!("brz_{}", "0123456789abcdef".repeat(4));
        let key = format!("brzk_{}", "a1b2c3d4e5f6".repeat(4));
        let nano = "V1StGXR8_Z5jdHi6B-myTV1StGXR8_Z5jdHi6B-myTabcdef";
        let ek = "fe".repeat(32);
        let of = |s: &str| Ok(TokenHash::of(s.as_bytes()));
        assert_eq!(AgentToken::hash_presented(&agent), of(&agent));
        assert_eq!(ApiKey::hash_presented(&key), of(&key));
        assert_eq!(SessionToken::hash_presented(nano), of(nano));
        assert_eq!(PasswordResetToken::hash_presented(nano), of(nano));
        assert_eq!(
            EnrollmentKey::peppered_hash_presented(&ek, &pepper),
            Ok(pepper.hash(&ek))
        );
        let long = "x".repeat(5000);
        for bad in [
            agent.to_uppercase(),
            format!("{key}0"),
            format!("{nano}!"),
            long,
            String::new(),
        ] {
            assert!(AgentToken::hash_presented(&bad).is_err(), "{bad}");
            assert!(ApiKey::hash_presented(&bad).is_err(), "{bad}");
            assert!(SessionToken::hash_presented(&bad).is_err(), "{bad}");
            assert!(PasswordResetToken::hash_presented(&bad).is_err(), "{bad}");
            assert!(
                EnrollmentKey::peppered_hash_presented(&bad, &pepper).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn generated_credentials_have_their_documented_shape() {
        let t = AgentToken::generate().unwrap();
        assert_eq!(t.expose_secret().len(), 4 + 64);
        assert!(AgentToken::parse(t.expose_secret()).is_ok());
        let k = ApiKey::generate().unwrap();
        assert_eq!(k.expose_secret().len(), 5 + 48);
        assert!(!k.is_legacy());
        assert_eq!(k.display_prefix(), &k.expose_secret()[..8]);
        let s = SessionToken::generate().unwrap();
        assert_eq!(s.expose_secret().len(), 48);
        let r = PasswordResetToken::generate().unwrap();
        assert!(PasswordResetToken::parse(r.expose_secret()).is_ok());
        let e = EnrollmentKey::generate().unwrap();
        assert!(EnrollmentKey::parse(e.expose_secret()).is_ok());
        let a = AgentId::generate().unwrap();
        assert_eq!(a.as_str().parse::<AgentId>().unwrap(), a);
        assert_ne!(
            AgentToken::generate().unwrap().expose_secret(),
            t.expose_secret()
        );
    }

    #[test]
    fn kinds_do_not_cross() {
        let t = AgentToken::generate().unwrap();
        let k = ApiKey::generate().unwrap();
        assert_eq!(
            ApiKey::parse(t.expose_secret()).unwrap_err(),
            CredentialError::Malformed { kind: "api key" }
        );
        assert_eq!(
            AgentToken::parse(k.expose_secret()).unwrap_err(),
            CredentialError::WrongPrefix {
                kind: "agent token",
                expected: "brz_"
            }
        );
        let legacy = format!("brz_{}", "a".repeat(48));
        assert!(ApiKey::parse(&legacy).unwrap().is_legacy());
    }

    #[test]
    fn malformed_inputs_are_typed_errors() {
        let upper = format!("brz_{}", "A".repeat(64));
        assert!(matches!(
            AgentToken::parse(&upper),
            Err(CredentialError::Malformed { .. })
        ));
        assert!(matches!(
            AgentToken::parse(&"x".repeat(10_000)),
            Err(CredentialError::TooLong { .. })
        ));
        assert!(matches!(
            AgentToken::parse(""),
            Err(CredentialError::WrongPrefix { .. })
        ));
        assert!(SessionToken::parse(&"a".repeat(47)).is_err());
        assert!(SessionToken::parse(&format!("{}!", "a".repeat(47))).is_err());
        assert!("ABCD".parse::<TokenHash>().is_err());
        assert!("g".repeat(64).parse::<TokenHash>().is_err());
    }

    #[test]
    fn verify_and_peppered_hash() {
        let t = AgentToken::generate().unwrap();
        let stored = t.hash();
        assert_eq!(stored.to_hex().parse::<TokenHash>().unwrap(), stored);
        assert!(t.verify(&stored));
        assert!(!AgentToken::generate().unwrap().verify(&stored));

        let pepper = Pepper::new(SecretString::from("pepper"));
        let key = EnrollmentKey::parse(&"ab".repeat(32)).unwrap();
        // sha256("pepper:abab...ab")
        let expected = TokenHash::of(format!("pepper:{}", "ab".repeat(32)).as_bytes());
        assert_eq!(key.peppered_hash(&pepper), expected);
        assert!(key.verify_peppered(&pepper, &expected));
        assert!(!key.verify_peppered(&Pepper::new(SecretString::from("other")), &expected));
    }

    #[test]
    fn debug_never_prints_secrets() {
        let t = AgentToken::generate().unwrap();
        let dbg = format!("{t:?} {:?}", Pepper::new(SecretString::from("pp")));
        assert!(!dbg.contains(t.expose_secret()));
        assert!(!dbg.contains("pp)"));
    }
}
