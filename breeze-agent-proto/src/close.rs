//! WebSocket close codes the server uses (SPEC 8.6).

/// Why the server closed an agent socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseCode {
    /// 4001: the device is no longer authorized (token revoked, device decommissioned).
    DeviceNotAuthorized,
    /// 4002: a newer socket for the same agent replaced this one.
    Superseded,
    /// 4008: no pong within 40 seconds.
    PongTimeout,
    /// 4040: reconnect required (organization moved, device decommissioned).
    ReconnectRequired,
}

impl CloseCode {
    /// Every code.
    pub const ALL: &'static [Self] = &[
        Self::DeviceNotAuthorized,
        Self::Superseded,
        Self::PongTimeout,
        Self::ReconnectRequired,
    ];

    /// The numeric code.
    #[must_use]
    pub const fn as_u16(self) -> u16 {
        match self {
            Self::DeviceNotAuthorized => 4001,
            Self::Superseded => 4002,
            Self::PongTimeout => 4008,
            Self::ReconnectRequired => 4040,
        }
    }

    /// The code for a number, if it is one of ours.
    #[must_use]
    pub const fn from_u16(code: u16) -> Option<Self> {
        match code {
            4001 => Some(Self::DeviceNotAuthorized),
            4002 => Some(Self::Superseded),
            4008 => Some(Self::PongTimeout),
            4040 => Some(Self::ReconnectRequired),
            _ => None,
        }
    }

    /// The close reason text sent with the code (short, ASCII, no details).
    #[must_use]
    pub const fn reason(self) -> &'static str {
        match self {
            Self::DeviceNotAuthorized => "device no longer authorized",
            Self::Superseded => "superseded by a newer connection",
            Self::PongTimeout => "pong timeout",
            Self::ReconnectRequired => "reconnect required",
        }
    }

    /// Whether the agent should reconnect (with backoff) after this close. A 4001 means the
    /// credentials are gone: reconnecting would only hammer the server.
    #[must_use]
    pub const fn should_reconnect(self) -> bool {
        !matches!(self, Self::DeviceNotAuthorized | Self::Superseded)
    }
}
