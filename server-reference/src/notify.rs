//! Outbound notifications to users (password-reset links, ...).
//!
//! The auth flows hand messages to a [`Notifier`] trait object. The default,
//! [`OutboxNotifier`], writes each message to the `notification_outbox` table encrypted at
//! rest (envelope v3 with associated data `notification_outbox.body`): a reset token is a
//! bearer secret, so it must never reach a log or a plaintext column. A mail relay drains
//! the outbox with the server's key ring. Deployments plug another notifier (SMTP, a
//! webhook through the SSRF guard) by implementing the trait.

use std::future::Future;
use std::pin::Pin;

use breeze_core::tenancy::UserId;
use breeze_crypto::envelope::Field;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::state::AppState;
use crate::store::auth as store;

/// The table and column that hold encrypted message bodies.
pub const OUTBOX_TABLE: &str = "notification_outbox";
/// See [`OUTBOX_TABLE`].
pub const OUTBOX_BODY_COLUMN: &str = "body";
/// The outbox `kind` of password-reset messages.
pub const KIND_PASSWORD_RESET: &str = "password_reset";

/// A message could not be handed over. Never carries the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    /// Encryption failed.
    #[error("notification could not be encrypted")]
    Encrypt,
    /// The outbox (or transport) refused it.
    #[error("notification could not be stored: {0}")]
    Store(String),
}

/// A message for one user.
pub enum Notification {
    /// A password-reset token (raw: the only copy besides the user's).
    PasswordReset {
        /// Recipient user.
        user: UserId,
        /// Recipient address.
        email: String,
        /// The raw token.
        token: SecretString,
        /// When it stops working (RFC 3339).
        expires_at: String,
    },
}

impl std::fmt::Debug for Notification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PasswordReset { user, .. } => f
                .debug_struct("PasswordReset")
                .field("user", user)
                .field("token", &"[REDACTED]")
                .finish_non_exhaustive(),
        }
    }
}

/// The boxed future a [`Notifier`] returns.
pub type NotifyFuture<'a> = Pin<Box<dyn Future<Output = Result<(), NotifyError>> + Send + 'a>>;

/// Delivers [`Notification`]s. Implementations must never log the message content.
pub trait Notifier: Send + Sync + std::fmt::Debug {
    /// Hands `message` over for delivery.
    fn send<'a>(&'a self, state: &'a AppState, message: Notification) -> NotifyFuture<'a>;
}

/// The default notifier: the encrypted `notification_outbox` table.
#[derive(Debug, Default, Clone, Copy)]
pub struct OutboxNotifier;

impl OutboxNotifier {
    /// The outbox body field (`notification_outbox.body`).
    ///
    /// # Errors
    /// [`NotifyError::Encrypt`] (cannot happen for the constant names).
    pub fn field() -> Result<Field, NotifyError> {
        Field::new(OUTBOX_TABLE, OUTBOX_BODY_COLUMN).map_err(|_| NotifyError::Encrypt)
    }

    async fn write(state: &AppState, message: Notification) -> Result<(), NotifyError> {
        let (user, kind, recipient, body) = match message {
            Notification::PasswordReset {
                user,
                email,
                token,
                expires_at,
            } => {
                let body = json!({
                    "subject": "Reset your Breeze password",
                    "text": "Someone asked to reset the password of your Breeze account. \
                             If it was you, use the reset token below within one hour. \
                             If it was not, ignore this message.",
                    "resetToken": token.expose_secret(),
                    "expiresAt": expires_at,
                });
                (user, KIND_PASSWORD_RESET, email, body.to_string())
            }
        };
        let envelope = state
            .secrets
            .encrypt(&body, &Self::field()?)
            .map_err(|_| NotifyError::Encrypt)?;
        let mut tx = state
            .store
            .begin_system("notification outbox")
            .await
            .map_err(|e| NotifyError::Store(e.to_string()))?;
        store::insert_notification(&mut tx, Some(user), kind, &recipient, &envelope)
            .await
            .map_err(|e| NotifyError::Store(e.to_string()))?;
        tx.commit()
            .await
            .map_err(|e| NotifyError::Store(e.to_string()))
    }
}

impl Notifier for OutboxNotifier {
    fn send<'a>(&'a self, state: &'a AppState, message: Notification) -> NotifyFuture<'a> {
        Box::pin(Self::write(state, message))
    }
}
