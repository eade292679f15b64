//! Property tests: round trips, and any single-byte change is refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use breeze_crypto::envelope::{Field, KeyRing, MfaCipher};
use breeze_crypto::jwt::{JwtKeyRing, TokenScope, TokenSubject, TokenType};
use proptest::prelude::*;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

const K: &str = "4f2a9c1be07d3865a1f0c2e94b7d5a3861e0f9c2b4a7d3e5f1c8b2a6e9d4f0c7";

fn ring() -> KeyRing {
    KeyRing::builder()
        .key("k1", SecretString::from(K))
        .unwrap()
        .active("k1")
        .unwrap()
}

fn mutate(s: &str, idx: usize, replacement: u8) -> Option<String> {
    let mut bytes = s.as_bytes().to_vec();
    let i = idx % bytes.len();
    if bytes[i] == replacement {
        return None;
    }
    bytes[i] = replacement;
    String::from_utf8(bytes).ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn envelope_round_trip(pt in ".{0,200}", table in "[a-z_]{1,20}", column in "[a-z0-9_]{1,20}") {
        let r = ring();
        let f = Field::new(&table, &column).unwrap();
        let v = r.encrypt(&pt, &f).unwrap();
        let got = r.decrypt(&v, &f).unwrap();
        prop_assert_eq!(got.expose_secret(), pt.as_str());
        let m = MfaCipher::new(&SecretString::from(K));
        let mv = m.encrypt(&pt).unwrap();
        let got = m.decrypt(&mv).unwrap();
        prop_assert_eq!(got.expose_secret(), pt.as_str());
    }

    #[test]
    fn envelope_any_single_byte_change_fails(pt in ".{0,64}", idx in any::<usize>(), b in 0x20u8..0x7f) {
        let r = ring();
        let f = Field::new("t", "c").unwrap();
        let v = r.encrypt(&pt, &f).unwrap();
        if let Some(m) = mutate(&v, idx, b) {
            prop_assert!(r.decrypt(&m, &f).is_err(), "mutated envelope decrypted");
        }
    }

    #[test]
    fn jwt_any_single_byte_change_fails(idx in any::<usize>(), b in 0x20u8..0x7f, email in "[a-z]{1,12}@example\\.com") {
        let ring = JwtKeyRing::builder()
            .key("a", SecretString::from("8b1f0c5e7a2d4f6b9c3e1a0d5f7b2c4e6a8d0f1b3c5e7a9d"))
            .unwrap()
            .active("a")
            .unwrap();
        let subject = TokenSubject {
            user_id: Uuid::from_u128(7), email, role_id: None, org_id: Some(Uuid::from_u128(8)),
            partner_id: None, scope: TokenScope::Organization, mfa: false, auth_epoch: 1, mfa_epoch: 1,
        };
        let t = ring.issue_access(&subject, Uuid::from_u128(9), 1_800_000_000).unwrap().token;
        prop_assert!(ring.verify(&t, TokenType::Access, 1_800_000_000).is_ok());
        if let Some(m) = mutate(&t, idx, b) {
            prop_assert!(ring.verify(&m, TokenType::Access, 1_800_000_000).is_err());
        }
    }

    #[test]
    fn httpsig_any_single_byte_change_of_a_signed_request_fails(
        idx in any::<usize>(), b in 0x20u8..0x7f, part in 0usize..4, body in "[ -~]{0,64}",
    ) {
        use breeze_crypto::httpsig::DeviceSigningKey;
        use breeze_crypto::httpsig::profile::{self, RequestParts, SignOptions, VerifyPolicy};
        let key = DeviceSigningKey::from_seed(&[5u8; 32]);
        let uri = "https://rmm.example.com/api/v1/agents/agt_1/heartbeat?x=1";
        let parts = RequestParts { method: "POST", target_uri: uri, body: body.as_bytes() };
        let signed = profile::sign_request(
            &key,
            &parts,
            &SignOptions::new("agt_1", 1_800_000_000).unwrap().with_nonce("nonce-of-the-property"),
        )
        .unwrap();
        let policy = VerifyPolicy::new(profile::REQUEST_LABEL, "agt_1", 1_800_000_000);
        let h = signed.as_received();
        prop_assert!(profile::verify_request(&key.public_key(), &parts, &h, &policy).is_ok());
        // one byte changed in the URI, the body, Signature-Input or Signature: refused
        let changed = match part {
            0 => mutate(uri, idx, b).map(|u| (u, body.clone(), h.signature_input.unwrap_or_default().to_owned(), h.signature.unwrap_or_default().to_owned())),
            1 if !body.is_empty() => mutate(&body, idx, b).map(|x| (uri.to_owned(), x, h.signature_input.unwrap_or_default().to_owned(), h.signature.unwrap_or_default().to_owned())),
            2 => mutate(&signed.signature_input, idx, b).map(|x| (uri.to_owned(), body.clone(), x, signed.signature.clone())),
            3 => mutate(&signed.signature, idx, b).map(|x| (uri.to_owned(), body.clone(), signed.signature_input.clone(), x)),
            _ => None,
        };
        if let Some((u, bd, si, sg)) = changed {
            let p = RequestParts { method: "POST", target_uri: &u, body: bd.as_bytes() };
            let r = profile::ReceivedHeaders { content_digest: h.content_digest, signature_input: Some(&si), signature: Some(&sg) };
            // a change to Signature-Input that stays equivalent (say, whitespace) may verify;
            // every other change is refused
            let same_params = part == 2 && breeze_crypto::httpsig::base::parse_signature_input(&si, "sig1")
                .ok()
                .map(|p| p.serialize())
                == breeze_crypto::httpsig::base::parse_signature_input(&signed.signature_input, "sig1").ok().map(|p| p.serialize());
            // likewise a Signature whose base64 decodes to the same bytes (unused low bits)
            let same_sig = part == 3
                && breeze_crypto::httpsig::base::parse_signature(&sg, "sig1").ok()
                    == breeze_crypto::httpsig::base::parse_signature(&signed.signature, "sig1").ok();
            let ok = profile::verify_request(&key.public_key(), &p, &r, &policy).is_ok();
            prop_assert!(!ok || same_params || same_sig, "a changed request verified: part {part}");
        }
    }

    #[test]
    fn httpsig_arbitrary_fields_are_refused_without_panicking(
        input in "\\PC{0,200}", sig in "\\PC{0,200}", digest in proptest::option::of("\\PC{0,80}"),
    ) {
        use breeze_crypto::httpsig::DeviceSigningKey;
        use breeze_crypto::httpsig::profile::{self, ReceivedHeaders, RequestParts, VerifyPolicy};
        let key = DeviceSigningKey::from_seed(&[6u8; 32]).public_key();
        let r = profile::verify_request(
            &key,
            &RequestParts { method: "GET", target_uri: "http://127.0.0.1/x", body: b"" },
            &ReceivedHeaders { content_digest: digest.as_deref(), signature_input: Some(&input), signature: Some(&sig) },
            &VerifyPolicy::new(profile::REQUEST_LABEL, "agt_1", 1_800_000_000),
        );
        prop_assert!(r.is_err());
    }
}
