//! The claims in exactly the layout [`JwtKeyRing::sign`](super::JwtKeyRing::sign) writes them,
//! read without serde: the verifier's fast path. `serde_json` stays the reference and the
//! fallback.
//!
//! `sign` serialises [`Claims`] with `serde_json`: the fields in declaration order, no
//! whitespace, `null` for an absent `roleId`/`orgId`/`partnerId`, `sid`/`fam`/`jti` left out
//! when absent, UUIDs hyphenated and lowercase, strings escaped only where JSON requires it.
//! [`parse`] reads that layout and nothing else: any other byte where the layout has a fixed
//! one, an escape or control character in a string, a number in any form but plain digits
//! without a leading zero that fits its type, a `-` anywhere, whitespace, a UUID of another
//! length, an unknown enum name: it answers `None` and the caller parses with `serde_json`,
//! which gives the verdict and the error text.
//!
//! The contract, checked by `tests/jwt_claims_layout.rs` and the `jwt_verify` fuzz target:
//! whenever [`parse`] returns `Some(claims)`, `serde_json::from_str::<Claims>` on the same
//! input returns `Ok` with equal claims. Each piece reads a subset of what the serde
//! deserializer for the same field accepts and gives the same value:
//! - keys: fixed literals in a fixed order, so no unknown, repeated or missing field;
//! - strings: the bytes between the quotes (the input is `&str`, so UTF-8), which is what
//!   `serde_json` yields for a string without escapes or control characters;
//! - UUIDs: a 36-byte string given to `Uuid::try_parse_ascii`, the parser `Uuid::from_str`
//!   (uuid's serde visitor) runs on the same bytes;
//! - `u64`: `0` or `[1-9][0-9]*` below 2^64; `i64`: the same below 2^63 (never negative:
//!   `serde_json` reads `-0` as a float and `sign` never writes a negative time);
//! - `true`, `false`, `null`, and the enums' lowercase names.

use uuid::Uuid;

use super::{Claims, TokenScope, TokenType};

/// The claims when `payload` is exactly in `sign`'s layout, else `None`.
pub(super) fn parse(payload: &str) -> Option<Claims> {
    let mut c = Cursor(payload);
    c.lit(r#"{"sub":"#)?;
    let sub = c.uuid()?;
    c.lit(r#","email":"#)?;
    let email = c.string()?;
    c.lit(r#","roleId":"#)?;
    let role_id = c.uuid_or_null()?;
    c.lit(r#","orgId":"#)?;
    let org_id = c.uuid_or_null()?;
    c.lit(r#","partnerId":"#)?;
    let partner_id = c.uuid_or_null()?;
    c.lit(r#","scope":"#)?;
    let scope = match c.string()? {
        "system" => TokenScope::System,
        "partner" => TokenScope::Partner,
        "organization" => TokenScope::Organization,
        _ => return None,
    };
    c.lit(r#","type":"#)?;
    let token_type = match c.string()? {
        "access" => TokenType::Access,
        "refresh" => TokenType::Refresh,
        _ => return None,
    };
    c.lit(r#","mfa":"#)?;
    let mfa = c.bool()?;
    c.lit(r#","aep":"#)?;
    let aep = c.u64()?;
    c.lit(r#","mep":"#)?;
    let mep = c.u64()?;
    let sid = c.optional_uuid_field(r#","sid":"#)?;
    let fam = c.optional_uuid_field(r#","fam":"#)?;
    let jti = c.optional_uuid_field(r#","jti":"#)?;
    c.lit(r#","iat":"#)?;
    let iat = c.i64()?;
    c.lit(r#","exp":"#)?;
    let exp = c.i64()?;
    c.lit(r#","iss":"#)?;
    let iss = c.string()?;
    c.lit(r#","aud":"#)?;
    let aud = c.string()?;
    c.lit("}")?;
    if !c.0.is_empty() {
        return None;
    }
    Some(Claims {
        sub,
        email: email.to_owned(),
        role_id,
        org_id,
        partner_id,
        scope,
        token_type,
        mfa,
        aep,
        mep,
        sid,
        fam,
        jti,
        iat,
        exp,
        iss: iss.to_owned(),
        aud: aud.to_owned(),
    })
}

/// The input not read yet. Every method either reads one item and moves past it, or returns
/// `None`, after which the whole parse is abandoned.
struct Cursor<'a>(&'a str);

impl<'a> Cursor<'a> {
    /// Exactly `lit`.
    fn lit(&mut self, lit: &str) -> Option<()> {
        self.0 = self.0.strip_prefix(lit)?;
        Some(())
    }

    /// A string without escapes or control characters: the text between the quotes.
    fn string(&mut self) -> Option<&'a str> {
        let rest = self.0.strip_prefix('"')?;
        let end = rest
            .bytes()
            .position(|b| b == b'"' || b == b'\\' || b < 0x20)?;
        let (value, after) = rest.split_at_checked(end)?;
        self.0 = after.strip_prefix('"')?;
        Some(value)
    }

    /// A hyphenated UUID string: a quote, 36 bytes `Uuid::try_parse_ascii` takes, a quote.
    /// Those 36 bytes are hex digits and hyphens, so they are the whole string as
    /// `serde_json` reads it (no quote, escape or control character among them).
    fn uuid(&mut self) -> Option<Uuid> {
        let rest = self.0.strip_prefix('"')?;
        let (text, after) = rest.split_at_checked(36)?;
        self.0 = after.strip_prefix('"')?;
        Uuid::try_parse_ascii(text.as_bytes()).ok()
    }

    /// `null` or a hyphenated UUID string.
    fn uuid_or_null(&mut self) -> Option<Option<Uuid>> {
        if self.lit("null").is_some() {
            Some(None)
        } else {
            self.uuid().map(Some)
        }
    }

    /// `key` followed by a UUID when the input continues with `key`; `Some(None)` when it does
    /// not (the field is left out).
    fn optional_uuid_field(&mut self, key: &str) -> Option<Option<Uuid>> {
        if self.lit(key).is_some() {
            self.uuid().map(Some)
        } else {
            Some(None)
        }
    }

    fn bool(&mut self) -> Option<bool> {
        if self.lit("true").is_some() {
            Some(true)
        } else {
            self.lit("false").map(|()| false)
        }
    }

    /// `0`, or digits without a leading zero, that fit in a `u64`.
    fn u64(&mut self) -> Option<u64> {
        let bytes = self.0.as_bytes();
        let mut value: u64 = 0;
        let mut len = 0;
        for &b in bytes.iter().take_while(|b| b.is_ascii_digit()) {
            value = value.checked_mul(10)?.checked_add(u64::from(b & 0x0f))?;
            len += 1;
        }
        if len == 0 || (len > 1 && bytes.first() == Some(&b'0')) {
            return None;
        }
        self.0 = self.0.get(len..)?;
        Some(value)
    }

    /// As [`Cursor::u64`], at most `i64::MAX`.
    fn i64(&mut self) -> Option<i64> {
        i64::try_from(self.u64()?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde(payload: &str) -> Option<Claims> {
        serde_json::from_str(payload).ok()
    }

    const SIGNED: &str = r#"{"sub":"00000000-0000-0000-0000-000000000001","email":"ana@example.com","roleId":"00000000-0000-0000-0000-000000000002","orgId":null,"partnerId":null,"scope":"organization","type":"access","mfa":true,"aep":3,"mep":0,"sid":"00000000-0000-0000-0000-000000000004","iat":1800000000,"exp":1800000900,"iss":"breeze","aud":"breeze-api"}"#;

    #[test]
    fn reads_the_signed_layout_as_serde_does() {
        let fast = parse(SIGNED).unwrap();
        assert_eq!(Some(&fast), serde(SIGNED).as_ref());
        assert_eq!(serde_json::to_string(&fast).unwrap(), SIGNED);
    }

    #[test]
    fn declines_what_it_does_not_read_exactly() {
        for (from, to) in [
            (r#""aep":3"#, r#""aep":03"#),
            (r#""aep":3"#, r#""aep":3.0"#),
            (r#""aep":3"#, r#""aep":3e0"#),
            (r#""aep":3"#, r#""aep":-3"#),
            (r#""aep":3"#, r#""aep":18446744073709551616"#),
            (r#""iat":1800000000"#, r#""iat":-0"#),
            (r#""iat":1800000000"#, r#""iat":9223372036854775808"#),
            (r#""mep":0"#, r#""mep":00"#),
            ("ana@", r"an\u0061@"),
            ("ana@", "an\ta@"),
            (r#""orgId":null"#, r#""orgId":nul"#),
            (r#""mfa":true"#, r#""mfa":True"#),
            (r#""scope":"organization""#, r#""scope":"Organization""#),
            ("-000000000001", "000000000001"),
            (r#"{"sub""#, r#" {"sub""#),
            (r#","email""#, r#", "email""#),
        ] {
            let input = SIGNED.replacen(from, to, 1);
            assert_ne!(input, SIGNED, "{to}");
            assert_eq!(parse(&input), None, "{input}");
        }
        assert_eq!(parse(&format!("{SIGNED} ")), None);
        assert_eq!(parse(&format!("{SIGNED}}}")), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn reads_edge_values_as_serde_does() {
        for (from, to) in [
            (r#""aep":3"#, r#""aep":18446744073709551615"#),
            (r#""iat":1800000000"#, r#""iat":9223372036854775807"#),
            (r#""iat":1800000000"#, r#""iat":0"#),
            ("ana@example.com", "\u{7f}é😀"),
            ("ana@example.com", ""),
            (
                "00000000-0000-0000-0000-000000000001",
                "A0000000-0000-0000-0000-00000000000F",
            ),
        ] {
            let input = SIGNED.replacen(from, to, 1);
            assert_ne!(input, SIGNED, "{to}");
            let fast = parse(&input);
            assert!(fast.is_some(), "{input}");
            assert_eq!(fast, serde(&input), "{input}");
        }
    }
}
