//! Standard Webhooks signatures: `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`,
//! one per secret, space separated, so a receiver holding either the old or the new secret
//! verifies during a roll.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

use super::error::WebhookError;
use super::secret::WebhookSecret;

type HmacSha256 = Hmac<Sha256>;

/// The header carrying the message id.
pub const HEADER_ID: &str = "webhook-id";
/// The header carrying the timestamp (unix seconds).
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// The header carrying the signatures.
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// How far a timestamp may be from the verifier's clock, either way (Standard Webhooks:
/// five minutes).
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;
/// Longest message id, in characters.
pub const MAX_MESSAGE_ID_LEN: usize = 255;

/// The message id of a delivery: `msg_` + the 32 lowercase hex digits of `id`. The server
/// derives it from the (event, subscription) pair so that every retry carries the same one.
#[must_use]
pub fn message_id(id: uuid::Uuid) -> String {
    format!("msg_{}", id.simple())
}

fn check_message_id(msg_id: &str) -> Result<(), WebhookError> {
    let ok = (1..=MAX_MESSAGE_ID_LEN).contains(&msg_id.len())
        && msg_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(WebhookError::MessageId)
    }
}

/// Unix seconds as the header writes them: ASCII digits, no sign, no leading zero.
fn parse_timestamp(timestamp: &str) -> Result<i64, WebhookError> {
    let canonical = !timestamp.is_empty()
        && timestamp.bytes().all(|b| b.is_ascii_digit())
        && (timestamp == "0" || !timestamp.starts_with('0'));
    if !canonical {
        return Err(WebhookError::TimestampInvalid);
    }
    timestamp
        .parse::<i64>()
        .map_err(|_| WebhookError::TimestampInvalid)
}

fn mac(
    secret: &WebhookSecret,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<[u8; 32], WebhookError> {
    // HMAC takes keys of any length; the error cannot happen for a parsed secret.
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(secret.key())
        .map_err(|_| WebhookError::SecretLength)?;
    m.update(msg_id.as_bytes());
    m.update(b".");
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    Ok(m.finalize().into_bytes().into())
}

/// Signs a delivery with every secret: `v1,<base64>` per secret, in order, space separated
/// (the `webhook-signature` header).
///
/// ```
/// use breeze_core::webhooks::{WebhookSecret, sign};
///
/// let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let header = sign(&[&secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, br#"{"test": 2432232314}"#)?;
/// assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`WebhookError::MessageId`] for an id that is not 1 to 255 characters of
/// `A-Za-z0-9_-`, [`WebhookError::TimestampInvalid`] for a negative timestamp,
/// [`WebhookError::NoSecret`] for an empty list of secrets.
pub fn sign(
    secrets: &[&WebhookSecret],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, WebhookError> {
    check_message_id(msg_id)?;
    if timestamp < 0 {
        return Err(WebhookError::TimestampInvalid);
    }
    if secrets.is_empty() {
        return Err(WebhookError::NoSecret);
    }
    let mut out = String::with_capacity(secrets.len() * 48);
    for secret in secrets {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str("v1,");
        STANDARD.encode_string(mac(secret, msg_id, timestamp, body)?, &mut out);
    }
    Ok(out)
}

/// The `v1` signatures of a header (32 bytes each). Pairs of other versions are skipped, and
/// so is a `v1` value that is not the base64 of 32 bytes (it cannot match).
fn v1_signatures(header: &str) -> Result<Vec<[u8; 32]>, WebhookError> {
    let mut out = Vec::new();
    let mut pairs = 0usize;
    for pair in header.split_ascii_whitespace() {
        pairs += 1;
        let (version, value) = pair.split_once(',').ok_or(WebhookError::SignatureHeader)?;
        if version.is_empty() || value.is_empty() {
            return Err(WebhookError::SignatureHeader);
        }
        if version != "v1" {
            continue;
        }
        let mut sig = [0u8; 32];
        if let Ok(32) = STANDARD.decode_slice(value, &mut sig) {
            out.push(sig);
        }
    }
    if pairs == 0 {
        return Err(WebhookError::SignatureHeader);
    }
    Ok(out)
}

/// Verifies a delivery as a receiver does, checking in this order: the message id, that a
/// secret is given, the timestamp's form (ASCII digits, no leading zero) and window
/// (`|now - timestamp| <= tolerance_secs`), the header's form, then the signatures. It
/// verifies when ANY `v1` signature of the header matches ANY of the secrets; every
/// comparison is constant time and all of them are made.
///
/// ```
/// use breeze_core::webhooks::{DEFAULT_TOLERANCE_SECS, WebhookSecret, sign, verify};
///
/// let (old, new) = (WebhookSecret::generate()?, WebhookSecret::generate()?);
/// let body = br#"{"type":"webhook.test"}"#;
/// // During a roll the sender signs with both; a receiver with either verifies.
/// let header = sign(&[&old, &new], "msg_1", 1_767_225_600, body)?;
/// verify(&[&new], "msg_1", "1767225600", &header, body, 1_767_225_630, DEFAULT_TOLERANCE_SECS)?;
/// verify(&[&old], "msg_1", "1767225600", &header, body, 1_767_225_630, DEFAULT_TOLERANCE_SECS)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`WebhookError::MessageId`], [`WebhookError::NoSecret`],
/// [`WebhookError::TimestampInvalid`], [`WebhookError::TimestampTooOld`],
/// [`WebhookError::TimestampTooNew`], [`WebhookError::SignatureHeader`] (empty, or a pair
/// without `version,value`), [`WebhookError::NoMatchingSignature`].
pub fn verify(
    secrets: &[&WebhookSecret],
    msg_id: &str,
    timestamp: &str,
    signature_header: &str,
    body: &[u8],
    now_unix: i64,
    tolerance_secs: u64,
) -> Result<(), WebhookError> {
    check_message_id(msg_id)?;
    if secrets.is_empty() {
        return Err(WebhookError::NoSecret);
    }
    let ts = parse_timestamp(timestamp)?;
    let age = i128::from(now_unix) - i128::from(ts);
    let tolerance = i128::from(tolerance_secs);
    if age > tolerance {
        return Err(WebhookError::TimestampTooOld {
            timestamp: ts,
            now: now_unix,
            tolerance_secs,
        });
    }
    if -age > tolerance {
        return Err(WebhookError::TimestampTooNew {
            timestamp: ts,
            now: now_unix,
            tolerance_secs,
        });
    }
    let candidates = v1_signatures(signature_header)?;
    let mut matched = Choice::from(0);
    for secret in secrets {
        let expected = mac(secret, msg_id, ts, body)?;
        for candidate in &candidates {
            matched |= expected.ct_eq(candidate);
        }
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(WebhookError::NoMatchingSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn secret() -> WebhookSecret {
        WebhookSecret::parse(SECRET).unwrap()
    }

    fn check(header: &str, now: i64) -> Result<(), WebhookError> {
        verify(
            &[&secret()],
            ID,
            "1614265330",
            header,
            BODY,
            now,
            DEFAULT_TOLERANCE_SECS,
        )
    }

    fn code(r: Result<impl std::fmt::Debug, WebhookError>) -> &'static str {
        r.unwrap_err().code()
    }

    #[test]
    fn standard_webhooks_reference_vector() {
        // The Standard Webhooks specification's example (checked against the `standardwebhooks`
        // 1.1.0 package from PyPI).
        assert_eq!(sign(&[&secret()], ID, TS, BODY).unwrap(), SIG);
        check(SIG, TS).unwrap();
    }

    #[test]
    fn rolled_secrets_sign_twice_and_either_verifies() {
        let old = secret();
        let new = WebhookSecret::parse(&format!("whsec_{}", STANDARD.encode([9u8; 32]))).unwrap();
        let header = sign(&[&old, &new], ID, TS, BODY).unwrap();
        let (first, second) = header.split_once(' ').unwrap();
        assert_eq!(first, SIG);
        assert_eq!(second, sign(&[&new], ID, TS, BODY).unwrap());
        for keys in [vec![&old], vec![&new], vec![&old, &new], vec![&new, &old]] {
            verify(&keys, ID, "1614265330", &header, BODY, TS, 0).unwrap();
        }
        // The single-secret header verifies with a ring holding both.
        verify(&[&new, &old], ID, "1614265330", SIG, BODY, TS, 0).unwrap();
        let other = WebhookSecret::generate().unwrap();
        assert_eq!(
            code(verify(&[&other], ID, "1614265330", &header, BODY, TS, 0)),
            "no_matching_signature"
        );
    }

    #[test]
    fn anything_changed_does_not_verify() {
        let s = secret();
        let no = |r| assert_eq!(code(r), "no_matching_signature");
        no(verify(
            &[&s],
            "msg_p5jXN8AQM9LWM0D4loKWxJel",
            "1614265330",
            SIG,
            BODY,
            TS,
            300,
        ));
        no(verify(&[&s], ID, "1614265331", SIG, BODY, TS, 300));
        no(verify(
            &[&s],
            ID,
            "1614265330",
            SIG,
            br#"{"test": 2432232315}"#,
            TS,
            300,
        ));
        no(verify(&[&s], ID, "1614265330", SIG, b"", TS, 300));
        no(check("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=", TS));
        // Wrong length, bad base64 and unknown versions are ignored, not matched.
        no(check("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1O==", TS));
        no(check("v1,not-base64!", TS));
        no(check("v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", TS));
        no(check(
            "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            TS,
        ));
        no(check("V1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", TS));
        no(check("v1,g0hM9SsE-OTPJTGt_tmIKtSyZlE3uFJELVlNIOLJ1OE=", TS));
    }

    #[test]
    fn header_forms() {
        // Unknown versions and extra whitespace around valid pairs are accepted.
        check(&format!("v2,abc {SIG}"), TS).unwrap();
        check(&format!("  {SIG}  v1a,zzz\t"), TS).unwrap();
        check(&format!("v1,AAAA {SIG}"), TS).unwrap();
        for bad in [
            "",
            " ",
            "\t",
            "v1",
            "v1,",
            ",abc",
            "g0hM9SsE",
            &format!("{SIG} v1"),
        ] {
            assert_eq!(code(check(bad, TS)), "signature_header", "{bad:?}");
        }
    }

    #[test]
    fn timestamp_window() {
        check(SIG, TS + 300).unwrap();
        check(SIG, TS - 300).unwrap();
        let e = check(SIG, TS + 301).unwrap_err();
        assert_eq!(e.code(), "timestamp_too_old");
        assert_eq!(
            e.to_string(),
            "webhook timestamp 1614265330 is more than 300 s before now (1614265631)"
        );
        assert_eq!(code(check(SIG, TS - 301)), "timestamp_too_new");
        assert_eq!(
            code(verify(&[&secret()], ID, "1614265330", SIG, BODY, TS + 1, 0)),
            "timestamp_too_old"
        );
        verify(&[&secret()], ID, "1614265330", SIG, BODY, TS, 0).unwrap();
        // Extreme clocks and tolerances neither overflow nor wrap.
        assert_eq!(code(check(SIG, i64::MAX)), "timestamp_too_old");
        assert_eq!(code(check(SIG, i64::MIN)), "timestamp_too_new");
        verify(
            &[&secret()],
            ID,
            "1614265330",
            SIG,
            BODY,
            i64::MIN,
            u64::MAX,
        )
        .unwrap();
        verify(
            &[&secret()],
            ID,
            "1614265330",
            SIG,
            BODY,
            i64::MAX,
            u64::MAX,
        )
        .unwrap();
        // The window is checked before the signature.
        assert_eq!(code(check("v1,AAAA", TS + 1000)), "timestamp_too_old");
    }

    #[test]
    fn timestamp_forms() {
        for bad in [
            "",
            " 1614265330",
            "1614265330 ",
            "+1614265330",
            "-1614265330",
            "01614265330",
            "1614265330.0",
            "1.6e9",
            "0x6037",
            "9223372036854775808",
            "１６",
            "abc",
        ] {
            let r = verify(&[&secret()], ID, bad, SIG, BODY, TS, 300);
            assert_eq!(code(r), "timestamp_invalid", "{bad:?}");
        }
        let zero = sign(&[&secret()], ID, 0, BODY).unwrap();
        verify(&[&secret()], ID, "0", &zero, BODY, 0, 0).unwrap();
        assert_eq!(code(sign(&[&secret()], ID, -1, BODY)), "timestamp_invalid");
        sign(&[&secret()], ID, i64::MAX, BODY).unwrap();
    }

    #[test]
    fn message_ids() {
        let s = secret();
        for good in ["a", "msg_1", "A-z_0-9", &"x".repeat(255)] {
            let h = sign(&[&s], good, TS, BODY).unwrap();
            verify(&[&s], good, "1614265330", &h, BODY, TS, 0).unwrap();
        }
        for bad in [
            "",
            "msg 1",
            "msg.1",
            "msg/1",
            "msg_é",
            "msg\n",
            &"x".repeat(256),
        ] {
            assert_eq!(code(sign(&[&s], bad, TS, BODY)), "message_id", "{bad:?}");
            assert_eq!(
                code(verify(&[&s], bad, "1614265330", SIG, BODY, TS, 0)),
                "message_id"
            );
        }
        let id = uuid::Uuid::from_bytes([0xab; 16]);
        assert_eq!(message_id(id), format!("msg_{}", "ab".repeat(16)));
        check_message_id(&message_id(uuid::Uuid::new_v4())).unwrap();
    }

    #[test]
    fn no_secrets() {
        assert_eq!(code(sign(&[], ID, TS, BODY)), "no_secret");
        assert_eq!(
            code(verify(&[], ID, "1614265330", SIG, BODY, TS, 300)),
            "no_secret"
        );
    }

    #[test]
    fn binary_bodies_are_signed_as_bytes() {
        let s = secret();
        let body = [0u8, 0xff, 0xfe, b'.', b'\n'];
        let h = sign(&[&s], ID, TS, &body).unwrap();
        verify(&[&s], ID, "1614265330", &h, &body, TS, 0).unwrap();
    }

    #[test]
    fn errors_never_show_the_secret_or_signature() {
        for e in [
            check("v1,AAAA", TS).unwrap_err(),
            check("", TS).unwrap_err(),
            WebhookSecret::parse("whsec_!!").unwrap_err(),
        ] {
            let text = format!("{e} {e:?}");
            assert!(
                !text.contains("MfKQ") && !text.contains("g0hM") && !text.contains("AAAA"),
                "{text}"
            );
        }
    }
}
