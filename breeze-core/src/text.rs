//! Text hygiene for names and hostnames that reach logs, audit entries and terminals.
//!
//! A name chosen by a user (partner, organization, site, group, device display name, user,
//! role, API key, enrollment key) or reported by an agent (hostname, OS facts) must not
//! carry control characters: a newline forges log lines, an ANSI escape sequence
//! (`ESC [`) rewrites a terminal. The rule is the same for both sides, so it lives here and
//! the server and the agent protocol both call it:
//!
//! - **refused**: C0 controls (U+0000 to U+001F, tab and newlines included), DEL (U+007F)
//!   and C1 controls (U+0080 to U+009F, NEL and CSI included), anywhere in the value,
//!   leading and trailing positions included (they are refused, not trimmed away);
//! - everything else is allowed (letters of every script, punctuation, emoji).
//!
//! ```
//! use breeze_core::text::{NameError, check_name, has_control};
//! assert!(check_name("Site 1 - Zürich", 200).is_ok());
//! assert_eq!(check_name("host\n", 200), Err(NameError::ControlCharacter));
//! assert!(has_control("\u{1b}[31mred"));
//! ```

/// Why a name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Empty, or only whitespace.
    #[error("must not be empty")]
    Empty,
    /// More characters than allowed (after trimming surrounding spaces).
    #[error("is too long")]
    TooLong,
    /// A C0 or C1 control character or DEL.
    #[error("must not contain control characters")]
    ControlCharacter,
}

impl NameError {
    /// A stable machine code.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::TooLong => "too_long",
            Self::ControlCharacter => "control_character",
        }
    }
}

/// Whether `c` is a C0 control, DEL or a C1 control (Unicode general category Cc).
#[must_use]
pub const fn is_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
}

/// Whether `s` contains a control character anywhere.
#[must_use]
pub fn has_control(s: &str) -> bool {
    s.chars().any(is_control)
}

/// Checks a name: no control character anywhere, and 1 to `max` characters once the
/// surrounding spaces are trimmed (callers store the trimmed value).
///
/// # Errors
/// The first rule broken, controls first (a name of only a newline is a control problem).
pub fn check_name(name: &str, max: usize) -> Result<(), NameError> {
    if has_control(name) {
        return Err(NameError::ControlCharacter);
    }
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(NameError::Empty);
    }
    // counting stops past `max` (a huge value costs no more than `max` characters)
    if trimmed.chars().nth(max).is_some() {
        return Err(NameError::TooLong);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_c0_del_and_c1_only() {
        for c in [
            '\0', '\t', '\n', '\r', '\u{1b}', '\u{1f}', '\u{7f}', '\u{80}', '\u{85}', '\u{9b}',
            '\u{9f}',
        ] {
            assert!(is_control(c), "{c:?}");
            assert_eq!(c.is_control(), is_control(c), "agrees with Cc: {c:?}");
        }
        for c in [' ', 'a', '~', '\u{a0}', 'é', 'Ж', '中', '\u{200b}', '😀'] {
            assert!(!is_control(c), "{c:?}");
        }
        // the whole Cc category, nothing more
        for c in (0u32..0x3000).filter_map(char::from_u32) {
            assert_eq!(c.is_control(), is_control(c), "{c:?}");
        }
    }

    #[test]
    fn names_with_newlines_or_escape_sequences_are_refused() {
        for bad in [
            "host\nINFO forged",
            "\nleading",
            "trailing\n",
            "cr\r",
            "tab\tinside",
            "\u{1b}[31mred",
            "a\u{1b}[2Jb",
            "csi\u{9b}31m",
            "nel\u{85}",
            "del\u{7f}",
            "nul\0",
        ] {
            assert_eq!(
                check_name(bad, 200),
                Err(NameError::ControlCharacter),
                "{bad:?}"
            );
            assert!(has_control(bad));
        }
    }

    #[test]
    fn length_is_counted_in_characters_after_trimming() {
        assert_eq!(check_name("", 10), Err(NameError::Empty));
        assert_eq!(check_name("   ", 10), Err(NameError::Empty));
        assert_eq!(check_name("  ok  ", 2), Ok(()));
        assert_eq!(check_name("ééé", 3), Ok(()));
        assert_eq!(check_name("éééé", 3), Err(NameError::TooLong));
        assert_eq!(
            check_name(&"x".repeat(10_000), 200),
            Err(NameError::TooLong)
        );
        assert_eq!(NameError::ControlCharacter.code(), "control_character");
    }
}
