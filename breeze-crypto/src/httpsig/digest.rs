//! `Content-Digest` (RFC 9530) with `sha-256`, the only algorithm Breeze sends or accepts.
//!
//! ```
//! use breeze_crypto::httpsig::digest;
//! // RFC 9530 appendix B.1
//! assert_eq!(
//!     digest::content_digest(b"{\"hello\": \"world\"}"),
//!     "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
//! );
//! ```

use sfv::{BareItem, Dictionary, ListEntry, Parser};
use sha2::{Digest as _, Sha256};

use super::SignatureError;
use crate::ct::constant_time_eq;

/// The algorithm key of the dictionary.
pub const ALGORITHM: &str = "sha-256";

/// The `Content-Digest` field value of `body`: `sha-256=:<base64>:`.
#[must_use]
pub fn content_digest(body: &[u8]) -> String {
    use base64::Engine as _;
    let sum = Sha256::digest(body);
    format!(
        "{ALGORITHM}=:{}:",
        base64::engine::general_purpose::STANDARD.encode(sum)
    )
}

/// Checks a received `Content-Digest` field value against `body`. The field must be a
/// dictionary holding exactly one member, `sha-256`, a 32-byte byte sequence without
/// parameters.
///
/// # Errors
/// [`SignatureError::Malformed`] for another shape; [`SignatureError::DigestMismatch`]
/// when the digest is not the body's.
pub fn check(field: &str, body: &[u8]) -> Result<(), SignatureError> {
    let dict: Dictionary = Parser::new(field)
        .parse()
        .map_err(|_| SignatureError::Malformed("content-digest"))?;
    let mut members = dict.iter();
    let (Some((name, entry)), None) = (members.next(), members.next()) else {
        return Err(SignatureError::Malformed("content-digest"));
    };
    let ListEntry::Item(item) = entry else {
        return Err(SignatureError::Malformed("content-digest"));
    };
    let (true, true, BareItem::ByteSequence(sum)) = (
        name.as_str() == ALGORITHM,
        item.params.is_empty(),
        &item.bare_item,
    ) else {
        return Err(SignatureError::Malformed("content-digest"));
    };
    if sum.len() != 32 {
        return Err(SignatureError::Malformed("content-digest"));
    }
    if constant_time_eq(sum, &Sha256::digest(body)) {
        Ok(())
    } else {
        Err(SignatureError::DigestMismatch)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn rfc9530_vector_and_round_trip() {
        let body = b"{\"hello\": \"world\"}";
        let field = content_digest(body);
        assert_eq!(
            field,
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
        );
        check(&field, body).unwrap();
        assert_eq!(check(&field, b"{}"), Err(SignatureError::DigestMismatch));
    }

    #[test]
    fn refuses_other_shapes() {
        let body = b"x";
        let good = content_digest(body);
        for bad in [
            "",
            "sha-256",
            "sha-512=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
            "sha-256=:AAAA:",
            "sha-256=\"abc\"",
            &format!("{good};p=1"),
            &format!("{good}, sha-512=:AAAA:"),
            "sha-256=(:AAAA:)",
            "sha-256=:not base64:",
        ] {
            assert_eq!(
                check(bad, body),
                Err(SignatureError::Malformed("content-digest")),
                "{bad}"
            );
        }
    }
}
