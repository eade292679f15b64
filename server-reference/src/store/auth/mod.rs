//! Authentication storage (SPEC 2.1 to 2.4, 3), one module per group of auth routes
//! (`http::routes::auth::{session, sessions, password, mfa, me}`), and the one-time tokens they share.
//!
//! Every function runs inside a [`ScopedTx`](super::ScopedTx); the auth flows open a
//! system-scope one (`begin_system`) because no user is authenticated yet (or the tables
//! are auth-internal). Single-use credentials (refresh `jti`, recovery code, reset token, MFA
//! challenge) and the TOTP step are consumed with one conditional `UPDATE`, so two concurrent
//! requests cannot both succeed. Times that tests move with the server clock are bound as
//! parameters (`now`) instead of reading PostgreSQL's `now()`.

pub mod me;
pub mod mfa;
pub mod one_time;
pub mod password;
pub mod session;
pub mod sessions;

pub use me::*;
pub use mfa::*;
pub use one_time::OneTimeRow;
pub use password::*;
pub use session::*;
pub use sessions::*;
