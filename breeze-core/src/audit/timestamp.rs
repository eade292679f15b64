//! UTC timestamps with microsecond precision, the only time form the chain knows.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// Microseconds since the Unix epoch, UTC. Renders as RFC 3339 with exactly six fractional
/// digits and a `Z` suffix (`2026-01-02T03:04:05.000006Z`); years 0000 to 9999 only.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(i64);

/// Smallest representable instant: `0000-01-01T00:00:00.000000Z`.
const MIN_MICROS: i64 = -62_167_219_200_000_000;
/// Largest representable instant: `9999-12-31T23:59:59.999999Z`.
const MAX_MICROS: i64 = 253_402_300_799_999_999;

/// A timestamp that cannot be represented or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// Outside years 0000 to 9999.
    #[error("timestamp out of range: years 0000 to 9999 only")]
    OutOfRange,
    /// Not RFC 3339.
    #[error("invalid timestamp: expected RFC 3339 such as `2026-01-02T03:04:05.000006Z`")]
    Syntax,
    /// Finer than a microsecond: the chain would silently lose it.
    #[error("timestamp has sub-microsecond precision")]
    SubMicrosecond,
}

impl Timestamp {
    /// From microseconds since the Unix epoch (UTC).
    ///
    /// # Errors
    /// [`TimestampError::OutOfRange`] outside years 0000 to 9999.
    pub const fn from_unix_micros(micros: i64) -> Result<Self, TimestampError> {
        if micros < MIN_MICROS || micros > MAX_MICROS {
            return Err(TimestampError::OutOfRange);
        }
        Ok(Self(micros))
    }

    /// Microseconds since the Unix epoch (UTC).
    #[must_use]
    pub const fn unix_micros(self) -> i64 {
        self.0
    }

    /// From a date-time in any offset, converted to UTC.
    ///
    /// # Errors
    /// [`TimestampError::SubMicrosecond`] when it has nanoseconds that are not whole
    /// microseconds (use [`Timestamp::from_datetime_truncated`] to drop them),
    /// [`TimestampError::OutOfRange`] outside years 0000 to 9999.
    pub fn from_datetime(dt: OffsetDateTime) -> Result<Self, TimestampError> {
        if !dt.nanosecond().is_multiple_of(1000) {
            return Err(TimestampError::SubMicrosecond);
        }
        Self::from_datetime_truncated(dt)
    }

    /// From a date-time, dropping anything finer than a microsecond.
    ///
    /// # Errors
    /// [`TimestampError::OutOfRange`] outside years 0000 to 9999.
    pub fn from_datetime_truncated(dt: OffsetDateTime) -> Result<Self, TimestampError> {
        let micros = dt.unix_timestamp_nanos().div_euclid(1000);
        let micros = i64::try_from(micros).map_err(|_| TimestampError::OutOfRange)?;
        Self::from_unix_micros(micros)
    }

    /// The current time, truncated to microseconds (native targets; on
    /// `wasm32-unknown-unknown` pass the time in with [`Timestamp::from_unix_micros`]).
    ///
    /// # Errors
    /// [`TimestampError::OutOfRange`] if the system clock is beyond year 9999.
    pub fn now() -> Result<Self, TimestampError> {
        Self::from_datetime_truncated(OffsetDateTime::now_utc())
    }

    /// As a UTC date-time.
    #[must_use]
    pub fn to_datetime(self) -> OffsetDateTime {
        let nanos = i128::from(self.0) * 1000;
        // In range by construction (years 0000-9999), so this cannot fail; fall back to
        // the epoch rather than panic.
        OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
            .to_offset(UtcOffset::UTC)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dt = self.to_datetime();
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            dt.year(),
            u8::from(dt.month()),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second(),
            dt.microsecond()
        )
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let dt = OffsetDateTime::parse(s, &Rfc3339).map_err(|_| TimestampError::Syntax)?;
        Self::from_datetime(dt)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::strvisit::parse_str(d, "an RFC 3339 timestamp")
    }
}
