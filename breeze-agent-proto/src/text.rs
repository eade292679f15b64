//! Small text helpers shared by validation and error reporting.

/// The longest prefix of `s` with at most `max` characters (never splits a character).
#[must_use]
pub(crate) fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((end, _)) => s.get(..end).unwrap_or(s),
        None => s,
    }
}

/// Counts characters, stopping once `limit` is exceeded (cheap on huge strings).
#[must_use]
pub(crate) fn chars_exceed(s: &str, limit: usize) -> bool {
    // A string of at most `limit` bytes cannot have more than `limit` characters.
    s.len() > limit && s.chars().nth(limit).is_some()
}

/// True for lowercase hexadecimal text of exactly `len` characters.
#[must_use]
pub(crate) fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// True for a canonical lowercase hyphenated UUID (`8-4-4-4-12`).
#[must_use]
pub(crate) fn is_lower_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}
