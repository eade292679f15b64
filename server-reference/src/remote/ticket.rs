//! One-time tickets of remote sessions (SPEC 12): 32 random bytes shown once as base64url,
//! stored only as their SHA-256, presented by the browser in `Sec-WebSocket-Protocol` as
//! `breeze.ticket.<ticket>` (never in a URL, so never in an access log).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use breeze_agent_proto::viewer::{TICKET_SUBPROTOCOL_PREFIX, VIEWER_SUBPROTOCOL};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

/// Length of a ticket's text (32 bytes, base64url without padding).
pub const TICKET_CHARS: usize = 43;

/// A ticket: its text is shown once; `Debug` never shows it.
pub struct Ticket(Zeroizing<String>);

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ticket([REDACTED])")
    }
}

/// Why a presented ticket could not even be looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TicketFormatError {
    /// No `breeze.ticket.` subprotocol, or not the terminal subprotocol.
    #[error("no ticket presented")]
    Missing,
    /// Not 43 base64url characters.
    #[error("malformed ticket")]
    Malformed,
}

impl Ticket {
    /// A fresh ticket from the operating system's generator.
    ///
    /// # Errors
    /// [`breeze_crypto::random::RngError`].
    pub fn generate() -> Result<Self, breeze_crypto::random::RngError> {
        let raw = breeze_crypto::random::bytes::<32>()?;
        Ok(Self(Zeroizing::new(URL_SAFE_NO_PAD.encode(raw.as_slice()))))
    }

    /// The text to hand to the browser (once).
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the decoded bytes: what is stored and looked up.
    #[must_use]
    pub fn hash(&self) -> [u8; 32] {
        let bytes = URL_SAFE_NO_PAD
            .decode(self.0.as_bytes())
            .unwrap_or_default();
        Sha256::digest(&bytes).into()
    }

    /// The ticket of a `Sec-WebSocket-Protocol` header value: the browser offers the
    /// terminal subprotocol and `breeze.ticket.<ticket>`.
    ///
    /// # Errors
    /// [`TicketFormatError`].
    pub fn from_subprotocols(header: &str) -> Result<Self, TicketFormatError> {
        let offered: Vec<&str> = header.split(',').map(str::trim).collect();
        if !offered.contains(&VIEWER_SUBPROTOCOL) {
            return Err(TicketFormatError::Missing);
        }
        let text = offered
            .iter()
            .find_map(|p| p.strip_prefix(TICKET_SUBPROTOCOL_PREFIX))
            .ok_or(TicketFormatError::Missing)?;
        let valid = text.len() == TICKET_CHARS
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && URL_SAFE_NO_PAD.decode(text).is_ok_and(|b| b.len() == 32);
        if !valid {
            return Err(TicketFormatError::Malformed);
        }
        Ok(Self(Zeroizing::new(text.to_owned())))
    }
}

/// SHA-256 of a User-Agent (absent: of the empty string).
#[must_use]
pub fn user_agent_hash(user_agent: Option<&str>) -> [u8; 32] {
    Sha256::digest(user_agent.unwrap_or_default().as_bytes()).into()
}

/// Constant-time comparison of two hashes.
#[must_use]
pub fn same_hash(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_round_trips_through_the_subprotocol_header() {
        let t = Ticket::generate().unwrap_or_else(|_| Ticket(Zeroizing::new(String::new())));
        assert_eq!(t.expose().len(), TICKET_CHARS);
        let header = format!(
            "{VIEWER_SUBPROTOCOL}, {TICKET_SUBPROTOCOL_PREFIX}{}",
            t.expose()
        );
        let back = Ticket::from_subprotocols(&header);
        assert!(back.as_ref().is_ok_and(|b| b.hash() == t.hash()));
        assert!(!format!("{t:?}").contains(t.expose()));
    }

    #[test]
    fn malformed_or_missing_tickets_are_refused() {
        for (header, want) in [
            ("breeze.terminal.v1", TicketFormatError::Missing),
            ("breeze.ticket.AAAA", TicketFormatError::Missing),
            (
                "breeze.terminal.v1, breeze.ticket.AAAA",
                TicketFormatError::Malformed,
            ),
            (
                "breeze.terminal.v1, breeze.ticket.*AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                TicketFormatError::Malformed,
            ),
        ] {
            assert_eq!(
                Ticket::from_subprotocols(header).unwrap_err(),
                want,
                "{header}"
            );
        }
    }
}
