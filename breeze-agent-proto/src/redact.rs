//! Redaction of secrets in command output before it is stored or shown (SPEC 8.5).
//!
//! [`redact_secrets`] replaces two kinds of secret in a command's stdout, stderr, error and
//! result text:
//!
//! - **PEM private keys**: a block from `-----BEGIN ` whose header (up to the next `-----`)
//!   contains `PRIVATE KEY`, through the first `-----END ` after the header and the `-----`
//!   that closes it, becomes [`REDACTED_PRIVATE_KEY`]. A block with no `-----END ` (or an END
//!   line with no closing `-----`) is redacted to the end of the text. Public material
//!   (`CERTIFICATE`, `PUBLIC KEY`) and a `-----BEGIN ` whose header never closes are kept.
//! - **Agent tokens**: `brz_` followed by at least 32 ASCII hex digits (either case) becomes
//!   [`REDACTED_AGENT_TOKEN`]; the whole hex run is consumed. A shorter run is kept.
//!
//! One left-to-right scan handles both, in linear time. The output is byte for byte what the
//! server produced before this function moved here (a pass over PEM blocks followed by a pass
//! over tokens), but for the fix below: a redacted block can neither create nor split a
//! token, because the block starts with `-` and its replacement with `[`, and neither is a
//! hex digit or part of `brz_`.
//!
//! A `brz_` inside a redacted block disappears with the block. Two tokens written back to
//! back are two tokens: a hex run stops before a `b` that starts the next `brz_`. (The
//! server's scanners read the second token's `b` as a hex digit of the first and left its
//! `rz_...` visible; fixed when the rule moved here, issue 16.)
//!
//! ```
//! use breeze_agent_proto::redact::redact_secrets;
//!
//! let out = "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\ndone";
//! assert_eq!(redact_secrets(out), "key:\n[REDACTED PRIVATE KEY]\ndone");
//! let token = format!("BREEZE_TOKEN=brz_{}", "0f".repeat(32));
//! assert_eq!(redact_secrets(&token), "BREEZE_TOKEN=brz_[REDACTED]");
//! ```

/// What a PEM private-key block is replaced with.
pub const REDACTED_PRIVATE_KEY: &str = "[REDACTED PRIVATE KEY]";
/// What an agent token is replaced with.
pub const REDACTED_AGENT_TOKEN: &str = "brz_[REDACTED]";
/// The fewest hex digits after `brz_` that make an agent token.
pub const MIN_TOKEN_HEX_DIGITS: usize = 32;

const PEM_BEGIN: &str = "-----BEGIN ";
const PEM_END: &str = "-----END ";
const PEM_DASHES: &str = "-----";
const PRIVATE_KEY: &str = "PRIVATE KEY";
const TOKEN_PREFIX: &str = "brz_";

/// Replaces PEM private-key blocks and agent tokens in `text` (see the [module](self) docs
/// for the exact rules). Text without either comes back unchanged.
#[must_use]
pub fn redact_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Byte offset of the first byte of `text` not yet copied or replaced.
    let mut pos = 0;
    // The next occurrence of each marker at or after `pos` (found lazily, so the scan
    // stays linear: each search starts past the previous match).
    let mut next_pem = find_from(text, 0, PEM_BEGIN);
    let mut next_token = find_from(text, 0, TOKEN_PREFIX);
    loop {
        if next_pem.is_some_and(|at| at < pos) {
            next_pem = find_from(text, pos, PEM_BEGIN);
        }
        if next_token.is_some_and(|at| at < pos) {
            next_token = find_from(text, pos, TOKEN_PREFIX);
        }
        // The two markers start with different bytes, so they never start at one offset.
        let (at, is_pem) = match (next_pem, next_token) {
            (None, None) => break,
            (Some(p), Some(t)) if p < t => (p, true),
            (Some(p), None) => (p, true),
            (_, Some(t)) => (t, false),
        };
        out.push_str(text.get(pos..at).unwrap_or(""));
        let from = text.get(at..).unwrap_or("");
        let consumed = if is_pem {
            pem_block(from, &mut out)
        } else {
            agent_token(from, &mut out)
        };
        pos = at.saturating_add(consumed);
    }
    out.push_str(text.get(pos..).unwrap_or(""));
    out
}

/// The byte offset of the first `needle` in `text` at or after `from`.
fn find_from(text: &str, from: usize, needle: &str) -> Option<usize> {
    text.get(from..)?
        .find(needle)
        .map(|i| i.saturating_add(from))
}

/// Handles the `-----BEGIN ` at the start of `from`: writes the replacement (or the marker
/// itself when the block is not a private key) and returns how many bytes it consumed.
fn pem_block(from: &str, out: &mut String) -> usize {
    let header_len = from
        .get(PEM_BEGIN.len()..)
        .and_then(|h| h.find(PEM_DASHES))
        .map(|i| i.saturating_add(PEM_BEGIN.len() + PEM_DASHES.len()));
    let header = header_len.and_then(|e| from.get(..e)).unwrap_or("");
    if !header.contains(PRIVATE_KEY) {
        out.push_str(PEM_BEGIN);
        return PEM_BEGIN.len();
    }
    out.push_str(REDACTED_PRIVATE_KEY);
    let body = from.get(header.len()..).unwrap_or("");
    let end_line = body.find(PEM_END).and_then(|end| {
        let after_end = end.saturating_add(PEM_END.len());
        body.get(after_end..)?.find(PEM_DASHES).map(|close| {
            after_end
                .saturating_add(close)
                .saturating_add(PEM_DASHES.len())
        })
    });
    // No END line, or one that never closes: the rest of the text goes.
    header.len().saturating_add(end_line.unwrap_or(body.len()))
}

/// Handles the `brz_` at the start of `from`: writes the replacement (or the prefix itself
/// when too few hex digits follow) and returns how many bytes it consumed.
fn agent_token(from: &str, out: &mut String) -> usize {
    let hex_len = from.get(TOKEN_PREFIX.len()..).map_or(0, token_hex_len);
    if hex_len >= MIN_TOKEN_HEX_DIGITS {
        out.push_str(REDACTED_AGENT_TOKEN);
        TOKEN_PREFIX.len().saturating_add(hex_len)
    } else {
        out.push_str(TOKEN_PREFIX);
        TOKEN_PREFIX.len()
    }
}

/// The length of the hex run at the start of `h`, stopping before a `b` that starts the
/// next `brz_` (tokens written back to back are two tokens, both redacted).
fn token_hex_len(h: &str) -> usize {
    let bytes = h.as_bytes();
    let mut len = 0;
    while let Some(b) = bytes.get(len) {
        if !b.is_ascii_hexdigit() || bytes.get(len..).is_some_and(|r| r.starts_with(b"brz_")) {
            break;
        }
        len += 1;
    }
    len
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        reason = "test code: the reference scanner is the server's code as it was"
    )]

    use proptest::prelude::*;

    use super::redact_secrets;

    /// The server's two scanners as they were (`server-reference`, routes/agents.rs), kept
    /// as the reference the single scanner must match byte for byte.
    fn reference(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("-----BEGIN ") {
            let (before, from_begin) = rest.split_at(start);
            out.push_str(before);
            let header_end = from_begin
                .get(11..)
                .and_then(|h| h.find("-----"))
                .map(|i| i + 11 + 5);
            let header = header_end.and_then(|e| from_begin.get(..e)).unwrap_or("");
            if !header.contains("PRIVATE KEY") {
                out.push_str("-----BEGIN ");
                rest = from_begin.get(11..).unwrap_or("");
                continue;
            }
            out.push_str("[REDACTED PRIVATE KEY]");
            let after_header = from_begin.get(header.len()..).unwrap_or("");
            rest = match after_header.find("-----END ") {
                Some(end) => {
                    let tail = after_header.get(end + 9..).unwrap_or("");
                    match tail.find("-----") {
                        Some(close) => tail.get(close + 5..).unwrap_or(""),
                        None => "",
                    }
                }
                None => "",
            };
        }
        out.push_str(rest);
        reference_tokens(&out)
    }

    fn reference_tokens(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find("brz_") {
            let (before, from) = rest.split_at(i);
            out.push_str(before);
            // the one deliberate change from the server's scanner: a run stops at the next
            // `brz_` (back-to-back tokens leaked the second one)
            let hex_len = from.get(4..).map_or(0, |h| {
                h.char_indices()
                    .take_while(|(i, c)| {
                        c.is_ascii_hexdigit() && !h.get(*i..).is_some_and(|r| r.starts_with("brz_"))
                    })
                    .count()
            });
            if hex_len >= 32 {
                out.push_str("brz_[REDACTED]");
                rest = from.get(4 + hex_len..).unwrap_or("");
            } else {
                out.push_str("brz_");
                rest = from.get(4..).unwrap_or("");
            }
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn tokens_back_to_back_are_both_redacted() {
        let hex = "b".repeat(64);
        check(
            &format!("brz_{hex}brz_{hex}"),
            "brz_[REDACTED]brz_[REDACTED]",
        );
        // a run that merely ends in `b` before other text is still one token
        check(&format!("brz_{hex}rz"), "brz_[REDACTED]rz");
    }

    fn check(input: &str, expected: &str) {
        assert_eq!(redact_secrets(input), expected, "input {input:?}");
        assert_eq!(reference(input), expected, "reference, input {input:?}");
    }

    // ---- moved from the server (routes/agents.rs)

    #[test]
    fn private_keys_and_agent_tokens_are_redacted() {
        let pem = "a\n-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\nb";
        check(pem, "a\n[REDACTED PRIVATE KEY]\nb");
        let open = "x -----BEGIN OPENSSH PRIVATE KEY-----\nAAAA never ends";
        check(open, "x [REDACTED PRIVATE KEY]");
        let token = format!("t=brz_{} é", "a1".repeat(32));
        check(&token, "t=brz_[REDACTED] é");
    }

    #[test]
    fn public_material_and_plain_text_are_kept() {
        let cert = "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----";
        check(cert, cert);
        for text in ["", "brz_", "brz_short", "-----BEGIN ", "ünïcödé -----BEGIN"] {
            check(text, text);
        }
    }

    // ---- edge cases

    #[test]
    fn unterminated_blocks() {
        // No END line: the rest of the text goes.
        check(
            "a -----BEGIN PRIVATE KEY-----\nMIIE\nbrz_0123",
            "a [REDACTED PRIVATE KEY]",
        );
        // An END line that never closes: the rest goes too.
        check(
            "-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY\ntail",
            "[REDACTED PRIVATE KEY]",
        );
        // A header that never closes is not a block at all.
        check(
            "-----BEGIN PRIVATE KEY\nMIIE\n",
            "-----BEGIN PRIVATE KEY\nMIIE\n",
        );
        // The header is everything up to the next dashes, line breaks included.
        check(
            "-----BEGIN X\nPRIVATE KEY-----\nsecret\n-----END X-----!",
            "[REDACTED PRIVATE KEY]!",
        );
        check(
            "-----BEGIN X-----PRIVATE KEY\n-----END X-----",
            "-----BEGIN X-----PRIVATE KEY\n-----END X-----",
        );
    }

    #[test]
    fn nested_and_repeated_markers() {
        // The first END after the header closes the block; a second END stays.
        check(
            "-----BEGIN PRIVATE KEY-----\n-----BEGIN PRIVATE KEY-----\nA\n-----END PRIVATE KEY-----\nB\n-----END PRIVATE KEY-----\nC",
            "[REDACTED PRIVATE KEY]\nB\n-----END PRIVATE KEY-----\nC",
        );
        // A private key inside a kept certificate block is still redacted.
        check(
            "-----BEGIN CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nA\n-----END PRIVATE KEY-----\n-----END CERTIFICATE-----",
            "-----BEGIN CERTIFICATE-----\n[REDACTED PRIVATE KEY]\n-----END CERTIFICATE-----",
        );
        // Two blocks, text between them kept.
        check(
            "-----BEGIN PRIVATE KEY-----\nA\n-----END PRIVATE KEY----- and -----BEGIN ENCRYPTED PRIVATE KEY-----\nB\n-----END ENCRYPTED PRIVATE KEY-----",
            "[REDACTED PRIVATE KEY] and [REDACTED PRIVATE KEY]",
        );
        // A token inside a block disappears with it; one after it is redacted on its own.
        let hex = "ab".repeat(16);
        check(
            &format!("-----BEGIN PRIVATE KEY-----\nbrz_{hex}\n-----END PRIVATE KEY-----brz_{hex}"),
            "[REDACTED PRIVATE KEY]brz_[REDACTED]",
        );
        // Dashes only: markers that never form a block.
        check("----------BEGIN -----", "----------BEGIN -----");
        check("-----END PRIVATE KEY-----", "-----END PRIVATE KEY-----");
    }

    #[test]
    fn multibyte_utf8_near_markers() {
        check(
            "é-----BEGIN PRIVATE KEY-----ü\n-----END PRIVATE KEY-----😀",
            "é[REDACTED PRIVATE KEY]😀",
        );
        check(
            "-----BEGIN PRÏVATE KEY-----\nx\n-----END PRÏVATE KEY-----",
            "-----BEGIN PRÏVATE KEY-----\nx\n-----END PRÏVATE KEY-----",
        );
        let hex = "9f".repeat(16);
        check(&format!("ü brz_{hex}é"), "ü brz_[REDACTED]é");
        check(&format!("ébrz_{hex}"), "ébrz_[REDACTED]");
        // A multibyte character cuts the hex run.
        let short = "9".repeat(31);
        check(&format!("brz_{short}é9"), &format!("brz_{short}é9"));
        check(
            "-----BEGIN 😀 PRIVATE KEY 😀-----é",
            "[REDACTED PRIVATE KEY]",
        );
    }

    #[test]
    fn token_lengths_and_case() {
        let h31 = "a".repeat(31);
        let h32 = "a".repeat(32);
        check(&format!("brz_{h31}"), &format!("brz_{h31}"));
        check(&format!("brz_{h31}g"), &format!("brz_{h31}g"));
        check(&format!("brz_{h32}"), "brz_[REDACTED]");
        check(&format!("brz_{h32}g"), "brz_[REDACTED]g");
        check(
            &format!("brz_{}", "ABCDEF0123456789".repeat(2)),
            "brz_[REDACTED]",
        );
        check(&format!("brz_{}", "aBcD".repeat(16)), "brz_[REDACTED]");
        // Only the lowercase prefix is a token prefix.
        let upper = format!("BRZ_{h32} Brz_{h32}");
        check(&upper, &upper);
        check(&format!("xbrz_{h32}"), "xbrz_[REDACTED]");
        check(&format!("brz_brz_{h32}"), "brz_brz_[REDACTED]");
    }

    #[test]
    fn adjacent_tokens() {
        let a = "0123456789abcdef".repeat(4);
        check(
            &format!("brz_{a} brz_{a}\nbrz_{a}"),
            "brz_[REDACTED] brz_[REDACTED]\nbrz_[REDACTED]",
        );
        // Back to back: two tokens, both redacted (the server's scanners leaked the second).
        check(&format!("brz_{a}brz_{a}"), "brz_[REDACTED]brz_[REDACTED]");
        check(
            &format!("brz_{a}-----BEGIN PRIVATE KEY-----"),
            "brz_[REDACTED][REDACTED PRIVATE KEY]",
        );
    }

    #[test]
    fn long_inputs_stay_linear() {
        // Many markers that are not secrets: each is looked at once.
        let noise = "brz_x -----BEGIN y ".repeat(50_000);
        assert_eq!(redact_secrets(&noise), noise);
        let keys = "-----BEGIN PRIVATE KEY-----\nA\n-----END PRIVATE KEY-----\n".repeat(20_000);
        assert_eq!(
            redact_secrets(&keys),
            "[REDACTED PRIVATE KEY]\n".repeat(20_000)
        );
    }

    fn fragments() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec![
                "-----BEGIN ",
                "-----END ",
                "-----",
                "PRIVATE KEY",
                "RSA ",
                "CERTIFICATE",
                "brz_",
                "b",
                "rz_",
                "0123456789abcdef",
                "ABCDEF",
                "a",
                "9",
                "é",
                "😀",
                "\n",
                " ",
                "-",
                "x",
            ]),
            0..40,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn matches_the_server_scanners(text in fragments()) {
            prop_assert_eq!(redact_secrets(&text), reference(&text));
        }

        #[test]
        fn matches_the_server_scanners_on_any_text(text in any::<String>()) {
            prop_assert_eq!(redact_secrets(&text), reference(&text));
        }
    }
}
