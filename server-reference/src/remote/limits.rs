//! Browser input limits of a terminal (SPEC 12): a frame is at most 16 KiB, and a session
//! takes at most 200 frames and 1 MiB of input per minute; past either the socket closes
//! with 1008 (policy violation). A fixed one-minute window per session, kept by the socket's
//! own task (a session has exactly one socket, on the replica holding its lease).

use std::time::{Duration, Instant};

use breeze_agent_proto::limits::{
    MAX_TERMINAL_INPUT_BYTES_PER_MINUTE, MAX_TERMINAL_INPUT_FRAMES_PER_MINUTE,
};

/// The window.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Input charged in the current window.
#[derive(Debug)]
pub struct InputBudget {
    window_start: Instant,
    frames: u32,
    bytes: usize,
}

/// Which limit a frame broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flood {
    /// More than 200 frames in the minute.
    Frames,
    /// More than 1 MiB in the minute.
    Bytes,
}

impl Default for InputBudget {
    fn default() -> Self {
        Self::new(Instant::now())
    }
}

impl InputBudget {
    /// A budget whose window starts at `now`.
    #[must_use]
    pub const fn new(now: Instant) -> Self {
        Self {
            window_start: now,
            frames: 0,
            bytes: 0,
        }
    }

    /// Charges one frame of `bytes` at `now`.
    ///
    /// # Errors
    /// [`Flood`] when the frame passes a limit (the socket closes with 1008).
    pub fn charge(&mut self, now: Instant, bytes: usize) -> Result<(), Flood> {
        if now.duration_since(self.window_start) >= WINDOW {
            *self = Self::new(now);
        }
        self.frames += 1;
        self.bytes = self.bytes.saturating_add(bytes);
        if self.frames > MAX_TERMINAL_INPUT_FRAMES_PER_MINUTE {
            return Err(Flood::Frames);
        }
        if self.bytes > MAX_TERMINAL_INPUT_BYTES_PER_MINUTE {
            return Err(Flood::Bytes);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_201st_frame_in_a_minute_is_a_flood_and_the_next_minute_is_fresh() {
        let t0 = Instant::now();
        let mut b = InputBudget::new(t0);
        for _ in 0..200 {
            assert_eq!(b.charge(t0, 1), Ok(()));
        }
        assert_eq!(b.charge(t0, 1), Err(Flood::Frames));
        assert_eq!(b.charge(t0 + WINDOW, 1), Ok(()));
    }

    #[test]
    fn a_mebibyte_a_minute() {
        let t0 = Instant::now();
        let mut b = InputBudget::new(t0);
        for _ in 0..64 {
            assert_eq!(b.charge(t0, 16 * 1024), Ok(()));
        }
        assert_eq!(b.charge(t0, 1), Err(Flood::Bytes));
    }
}
