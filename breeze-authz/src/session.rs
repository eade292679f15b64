//! Session validity (SPEC 2.2 request checks, 2.3 refresh): whether a verified access or refresh token still
//! belongs to a live session of its user.
//!
//! The signature and expiry of the token are checked first (by `breeze_crypto::jwt`); this
//! module compares what the token says ([`TokenFacts`]: `aep`, `mep`, `iat`, `mfa`) with what
//! the user row says now ([`UserFacts`]). The checks run in a fixed order and the first
//! failure is the answer:
//!
//! | # | check | error | code |
//! |---|---|---|---|
//! | 1 | the user is active | [`SessionInvalid::UserInactive`] | `invalid_token` |
//! | 2 | `aep` = the user's auth epoch and `mep` = the MFA epoch | [`SessionInvalid::EpochChanged`] | `session_revoked` |
//! | 3 | `iat` is not before the last password change (Unix seconds) | [`SessionInvalid::PasswordChanged`] | `password_changed` |
//! | 4 | the token completed MFA if the user has MFA enabled | [`SessionInvalid::MfaRequired`] | `mfa_required` |
//!
//! [`check_session`] runs all four. A caller that has checks of its own between 2 and 3 (the
//! access-token path of SPEC 2.2 checks the family's revocation and that a `system`-scope
//! token still has a live platform admin there) runs [`check_user_and_epochs`] and
//! [`check_password_and_mfa`] around them, which keeps the same order.
//!
//! ```
//! use breeze_authz::session::{check_session, SessionInvalid, TokenFacts, UserFacts};
//!
//! let user = UserFacts {
//!     active: true,
//!     auth_epoch: 3,
//!     mfa_epoch: 1,
//!     password_changed_at: 1_767_225_600,
//!     mfa_enabled: true,
//! };
//! let token = TokenFacts { aep: 3, mep: 1, iat: 1_767_225_700, mfa: true };
//! assert_eq!(check_session(&user, &token), Ok(()));
//!
//! // "Log out everywhere" bumped the auth epoch: every older token is revoked.
//! let bumped = UserFacts { auth_epoch: 4, ..user };
//! let err = check_session(&bumped, &token).unwrap_err();
//! assert_eq!(err, SessionInvalid::EpochChanged);
//! assert_eq!(err.code(), "session_revoked");
//! ```

use serde::{Deserialize, Serialize};

/// What the user row says now, as far as session validity goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserFacts {
    /// Whether the user may sign in at all (status active, not deleted).
    pub active: bool,
    /// The user's auth epoch (bumped by "log out everywhere" and password resets).
    pub auth_epoch: u64,
    /// The user's MFA epoch (bumped when MFA is enabled, disabled or reset).
    pub mfa_epoch: u64,
    /// When the password last changed, in Unix seconds (the server passes
    /// `password_changed_at.unix_timestamp()`).
    pub password_changed_at: i64,
    /// Whether the user has MFA enabled.
    pub mfa_enabled: bool,
}

/// What a verified token says (the `aep`, `mep`, `iat` and `mfa` claims of
/// `breeze_crypto::jwt::Claims`, with the same types).
///
/// Deserializing ignores other fields, so a verified token's claims object (as the bindings'
/// `jwt_verify` returns it) can be passed as is; the four fields are required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenFacts {
    /// The auth epoch the token was issued at.
    pub aep: u64,
    /// The MFA epoch the token was issued at.
    pub mep: u64,
    /// Issued at, in Unix seconds.
    pub iat: i64,
    /// Whether MFA was completed for the session.
    pub mfa: bool,
}

/// Why a verified token no longer belongs to a live session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum SessionInvalid {
    /// The user is not active.
    #[error("the user is not active")]
    UserInactive,
    /// The user's auth or MFA epoch moved on since the token was issued.
    #[error("the session was revoked")]
    EpochChanged,
    /// The password changed after the token was issued.
    #[error("the password changed after the token was issued")]
    PasswordChanged,
    /// The user has MFA enabled and the session did not complete it.
    #[error("the session did not complete mfa")]
    MfaRequired,
}

impl SessionInvalid {
    /// Every variant, in check order.
    pub const ALL: [Self; 4] = [
        Self::UserInactive,
        Self::EpochChanged,
        Self::PasswordChanged,
        Self::MfaRequired,
    ];

    /// The stable machine code: the 401 reason the server answers with.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::UserInactive => "invalid_token",
            Self::EpochChanged => "session_revoked",
            Self::PasswordChanged => "password_changed",
            Self::MfaRequired => "mfa_required",
        }
    }
}

/// Checks 1 and 2: the user is active and the token's epochs are the user's current ones.
///
/// # Errors
/// [`SessionInvalid::UserInactive`], then [`SessionInvalid::EpochChanged`].
pub const fn check_user_and_epochs(
    user: &UserFacts,
    token: &TokenFacts,
) -> Result<(), SessionInvalid> {
    if !user.active {
        return Err(SessionInvalid::UserInactive);
    }
    if user.auth_epoch != token.aep || user.mfa_epoch != token.mep {
        return Err(SessionInvalid::EpochChanged);
    }
    Ok(())
}

/// Checks 3 and 4: the token is not older than the last password change (a token issued in
/// the same second as the change is still valid), and it completed MFA if the user has MFA.
///
/// # Errors
/// [`SessionInvalid::PasswordChanged`], then [`SessionInvalid::MfaRequired`].
pub const fn check_password_and_mfa(
    user: &UserFacts,
    token: &TokenFacts,
) -> Result<(), SessionInvalid> {
    if token.iat < user.password_changed_at {
        return Err(SessionInvalid::PasswordChanged);
    }
    if user.mfa_enabled && !token.mfa {
        return Err(SessionInvalid::MfaRequired);
    }
    Ok(())
}

/// All four checks, in order (see the [module](self) docs): `Ok` when the token still
/// belongs to a live session of `user`.
///
/// # Errors
/// The first failing check's [`SessionInvalid`].
pub const fn check_session(user: &UserFacts, token: &TokenFacts) -> Result<(), SessionInvalid> {
    match check_user_and_epochs(user, token) {
        Ok(()) => check_password_and_mfa(user, token),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHANGED: i64 = 1_767_225_600;

    const USER: UserFacts = UserFacts {
        active: true,
        auth_epoch: 7,
        mfa_epoch: 2,
        password_changed_at: CHANGED,
        mfa_enabled: true,
    };

    const TOKEN: TokenFacts = TokenFacts {
        aep: 7,
        mep: 2,
        iat: CHANGED + 60,
        mfa: true,
    };

    #[test]
    fn a_current_token_is_valid() {
        assert_eq!(check_session(&USER, &TOKEN), Ok(()));
        let no_mfa_user = UserFacts {
            mfa_enabled: false,
            ..USER
        };
        let no_mfa_token = TokenFacts {
            mfa: false,
            ..TOKEN
        };
        assert_eq!(check_session(&no_mfa_user, &no_mfa_token), Ok(()));
        // MFA completed although the user has none (MFA disabled since) is fine.
        assert_eq!(check_session(&no_mfa_user, &TOKEN), Ok(()));
    }

    #[test]
    fn inactive_user() {
        let user = UserFacts {
            active: false,
            ..USER
        };
        assert_eq!(
            check_session(&user, &TOKEN),
            Err(SessionInvalid::UserInactive)
        );
    }

    #[test]
    fn epochs() {
        for (aep, mep) in [(6, 2), (8, 2), (7, 1), (7, 3), (0, 0)] {
            let token = TokenFacts { aep, mep, ..TOKEN };
            assert_eq!(
                check_session(&USER, &token),
                Err(SessionInvalid::EpochChanged),
                "{aep} {mep}"
            );
        }
    }

    #[test]
    fn password_change_is_compared_in_seconds() {
        let at = |iat| TokenFacts { iat, ..TOKEN };
        assert_eq!(
            check_session(&USER, &at(CHANGED - 1)),
            Err(SessionInvalid::PasswordChanged)
        );
        assert_eq!(check_session(&USER, &at(CHANGED)), Ok(()));
        assert_eq!(
            check_session(&USER, &at(i64::MIN)),
            Err(SessionInvalid::PasswordChanged)
        );
        let never = UserFacts {
            password_changed_at: i64::MIN,
            ..USER
        };
        assert_eq!(check_session(&never, &at(i64::MIN)), Ok(()));
    }

    #[test]
    fn mfa_required() {
        let token = TokenFacts {
            mfa: false,
            ..TOKEN
        };
        assert_eq!(
            check_session(&USER, &token),
            Err(SessionInvalid::MfaRequired)
        );
    }

    #[test]
    fn checks_run_in_order() {
        // Everything wrong at once: each fix reveals the next check.
        let mut user = UserFacts {
            active: false,
            ..USER
        };
        let mut token = TokenFacts {
            aep: 1,
            mep: 1,
            iat: CHANGED - 10,
            mfa: false,
        };
        let mut seen = Vec::new();
        while let Err(e) = check_session(&user, &token) {
            seen.push(e);
            match e {
                SessionInvalid::UserInactive => user.active = true,
                SessionInvalid::EpochChanged => (token.aep, token.mep) = (7, 2),
                SessionInvalid::PasswordChanged => token.iat = CHANGED,
                SessionInvalid::MfaRequired => token.mfa = true,
            }
        }
        assert_eq!(seen, SessionInvalid::ALL);
    }

    #[test]
    fn the_halves_compose_to_the_whole() {
        for active in [false, true] {
            for aep in [6, 7] {
                for mep in [1, 2] {
                    for iat in [CHANGED - 1, CHANGED] {
                        for (mfa_enabled, mfa) in [(false, false), (true, false), (true, true)] {
                            let user = UserFacts {
                                active,
                                mfa_enabled,
                                ..USER
                            };
                            let token = TokenFacts { aep, mep, iat, mfa };
                            let halves = check_user_and_epochs(&user, &token)
                                .and_then(|()| check_password_and_mfa(&user, &token));
                            assert_eq!(check_session(&user, &token), halves);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn codes_are_stable() {
        let codes: Vec<&str> = SessionInvalid::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(
            codes,
            [
                "invalid_token",
                "session_revoked",
                "password_changed",
                "mfa_required"
            ]
        );
    }
}
