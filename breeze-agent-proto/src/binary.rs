//! Binary WebSocket frames (SPEC 8.6): one kind byte, a 36-byte session id, then data.
//!
//! `0x02` carries desktop data (at most 5 MB), `0x03` tunnel data (at most 1 MB). The session
//! id is a lowercase hyphenated UUID ([`SessionId`]).

use crate::ids::SessionId;
use crate::limits::{
    BINARY_SESSION_ID_BYTES, MAX_DESKTOP_FRAME_DATA_BYTES, MAX_TUNNEL_FRAME_DATA_BYTES,
};

/// What a binary frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryKind {
    /// `0x02`: remote desktop data.
    Desktop,
    /// `0x03`: tunnel data.
    Tunnel,
}

impl BinaryKind {
    /// The leading byte.
    #[must_use]
    pub const fn byte(self) -> u8 {
        match self {
            Self::Desktop => 0x02,
            Self::Tunnel => 0x03,
        }
    }

    /// The kind for a leading byte.
    #[must_use]
    pub const fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0x02 => Some(Self::Desktop),
            0x03 => Some(Self::Tunnel),
            _ => None,
        }
    }

    /// Maximum data bytes after the header.
    #[must_use]
    pub const fn max_data(self) -> usize {
        match self {
            Self::Desktop => MAX_DESKTOP_FRAME_DATA_BYTES,
            Self::Tunnel => MAX_TUNNEL_FRAME_DATA_BYTES,
        }
    }

    /// Maximum whole frame size (header included).
    #[must_use]
    pub const fn max_frame(self) -> usize {
        self.max_data().saturating_add(HEADER_BYTES)
    }
}

/// Header size: kind byte plus session id.
pub const HEADER_BYTES: usize = 1 + BINARY_SESSION_ID_BYTES;

/// A decoded binary frame, borrowing its data from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryFrame<'a> {
    /// Desktop or tunnel.
    pub kind: BinaryKind,
    /// The session the data belongs to (check that the agent owns it).
    pub session_id: SessionId,
    /// The data.
    pub data: &'a [u8],
}

/// Why a binary frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BinaryFrameError {
    /// Zero bytes.
    #[error("empty binary frame")]
    Empty,
    /// The first byte is not `0x02` or `0x03`.
    #[error("unknown binary frame kind {0:#04x}")]
    UnknownKind(u8),
    /// Shorter than the 37-byte header.
    #[error("binary frame of {len} bytes is shorter than the {HEADER_BYTES} byte header")]
    Truncated {
        /// Frame length.
        len: usize,
    },
    /// The 36 bytes are not a lowercase hyphenated UUID.
    #[error("binary frame session id is not a lowercase hyphenated uuid")]
    InvalidSessionId,
    /// More data than the kind allows.
    #[error("binary frame carries {size} data bytes, above the {max} byte limit")]
    TooLarge {
        /// Data bytes.
        size: usize,
        /// Limit.
        max: usize,
    },
}

impl BinaryFrameError {
    /// Stable machine code for bindings.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::UnknownKind(_) => "unknown_kind",
            Self::Truncated { .. } => "truncated",
            Self::InvalidSessionId => "invalid_session_id",
            Self::TooLarge { .. } => "too_large",
        }
    }
}

impl<'a> BinaryFrame<'a> {
    /// Decodes a binary frame: kind, then length, then session id.
    ///
    /// # Errors
    /// See [`BinaryFrameError`].
    pub fn decode(bytes: &'a [u8]) -> Result<Self, BinaryFrameError> {
        let (&first, _) = bytes.split_first().ok_or(BinaryFrameError::Empty)?;
        let kind = BinaryKind::from_byte(first).ok_or(BinaryFrameError::UnknownKind(first))?;
        // Size before anything else is looked at.
        let data_len = bytes.len().saturating_sub(HEADER_BYTES);
        if data_len > kind.max_data() {
            return Err(BinaryFrameError::TooLarge {
                size: data_len,
                max: kind.max_data(),
            });
        }
        let (header, data) = bytes
            .split_at_checked(HEADER_BYTES)
            .ok_or(BinaryFrameError::Truncated { len: bytes.len() })?;
        let id_bytes = header
            .get(1..)
            .ok_or(BinaryFrameError::Truncated { len: bytes.len() })?;
        let id_text =
            std::str::from_utf8(id_bytes).map_err(|_| BinaryFrameError::InvalidSessionId)?;
        let session_id =
            SessionId::parse(id_text).map_err(|_| BinaryFrameError::InvalidSessionId)?;
        Ok(Self {
            kind,
            session_id,
            data,
        })
    }

    /// Encodes the frame.
    ///
    /// # Errors
    /// [`BinaryFrameError::TooLarge`] when the data is above the kind's limit.
    pub fn encode(&self) -> Result<Vec<u8>, BinaryFrameError> {
        encode(self.kind, &self.session_id, self.data)
    }
}

/// Encodes a binary frame from its parts.
///
/// # Errors
/// [`BinaryFrameError::TooLarge`] when `data` is above the kind's limit.
pub fn encode(
    kind: BinaryKind,
    session_id: &SessionId,
    data: &[u8],
) -> Result<Vec<u8>, BinaryFrameError> {
    if data.len() > kind.max_data() {
        return Err(BinaryFrameError::TooLarge {
            size: data.len(),
            max: kind.max_data(),
        });
    }
    let id = session_id.as_str().as_bytes();
    if id.len() != BINARY_SESSION_ID_BYTES {
        return Err(BinaryFrameError::InvalidSessionId);
    }
    let mut out = Vec::with_capacity(HEADER_BYTES.saturating_add(data.len()));
    out.push(kind.byte());
    out.extend_from_slice(id);
    out.extend_from_slice(data);
    Ok(out)
}
