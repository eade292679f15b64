//! Differential tests of the JWT verifier's fast paths against their references:
//! - the claims layout reader (`jwt::claims_from_layout`) against `serde_json`: whenever it
//!   returns claims, `serde_json::from_str::<Claims>` returns `Ok` with equal claims; on the
//!   exact output of `sign` it does return them (or the fast path would never run);
//! - `JwtKeyRing::verify` against `verify_serde_only` (every payload through `serde_json`):
//!   the same `Result`, error text included, for validly signed tokens around any payload;
//! - the base64url segment decoder (`base64-simd`) against `base64`'s `URL_SAFE_NO_PAD`: the
//!   same bytes or the same refusal, exhaustively up to three characters and on generated and
//!   mutated segments (trailing bits, padding, foreign alphabets, bytes outside ASCII).
//!
//! Payloads are generated claims of every field shape (any UUIDs, strings with quotes,
//! escapes, control characters and non-ASCII, numbers at their limits, negative times, the
//! optional fields in every combination) rendered as `sign` writes them, then mutated: fields
//! swapped, repeated, removed, renamed, added; values replaced by other JSON (numbers in
//! every form serde_json reads or refuses, other UUID forms, escaped strings, arrays); bytes
//! replaced, inserted, removed; whitespace; truncation and trailing bytes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use breeze_crypto::jwt::{
    Claims, JwtKeyRing, TokenScope, TokenType, claims_from_layout, decode_base64url_segment,
};
use hmac::{Hmac, KeyInit, Mac};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use secrecy::SecretString;
use serde::Serialize;
use sha2::Sha256;
use uuid::Uuid;

const SECRET: &str = "8b1f0c5e7a2d4f6b9c3e1a0d5f7b2c4e6a8d0f1b3c5e7a9d";
const NOW: i64 = 1_800_000_000;

fn ring() -> JwtKeyRing {
    JwtKeyRing::builder()
        .key("k1", SecretString::from(SECRET))
        .unwrap()
        .active("k1")
        .unwrap()
}

fn js<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap()
}

/// The claims as `(key, value JSON)` pairs in the order `sign` writes them.
fn fields(c: &Claims) -> Vec<(String, String)> {
    let mut f = vec![
        ("sub", js(&c.sub)),
        ("email", js(&c.email)),
        ("roleId", js(&c.role_id)),
        ("orgId", js(&c.org_id)),
        ("partnerId", js(&c.partner_id)),
        ("scope", js(&c.scope)),
        ("type", js(&c.token_type)),
        ("mfa", js(&c.mfa)),
        ("aep", js(&c.aep)),
        ("mep", js(&c.mep)),
    ];
    for (k, v) in [("sid", c.sid), ("fam", c.fam), ("jti", c.jti)] {
        if let Some(v) = v {
            f.push((k, js(&v)));
        }
    }
    f.extend([
        ("iat", js(&c.iat)),
        ("exp", js(&c.exp)),
        ("iss", js(&c.iss)),
        ("aud", js(&c.aud)),
    ]);
    f.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn render(fields: &[(String, String)]) -> String {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    format!("{{{}}}", body.join(","))
}

/// The contract: fast path `Some` implies serde `Ok` with the same claims. Returns whether
/// the fast path answered.
fn check_layout(payload: &str) -> bool {
    let fast = claims_from_layout(payload);
    let reference = serde_json::from_str::<Claims>(payload);
    if let Some(fast) = &fast {
        match &reference {
            Ok(reference) => assert_eq!(fast, reference, "fast path differs on {payload:?}"),
            Err(e) => panic!("fast path took what serde_json refuses ({e}): {payload:?}"),
        }
    }
    fast.is_some()
}

/// A token around `payload` (any bytes), validly signed by `ring()`'s key with its header.
fn signed(payload: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#);
    let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(payload));
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

/// `verify` and `verify_serde_only` agree on a signed token around `payload` for both token
/// types at several instants.
fn check_verify(ring: &JwtKeyRing, payload: &[u8]) {
    let token = signed(payload);
    let times = match serde_json::from_slice::<Claims>(payload) {
        Ok(c) => vec![NOW, c.iat, c.exp, c.exp.saturating_sub(1)],
        Err(_) => vec![NOW],
    };
    for expected in [TokenType::Access, TokenType::Refresh] {
        for &now in &times {
            assert_eq!(
                ring.verify(&token, expected, now),
                ring.verify_serde_only(&token, expected, now),
                "verify differs on payload {:?}",
                String::from_utf8_lossy(payload)
            );
        }
    }
}

fn uuid() -> impl Strategy<Value = Uuid> {
    prop_oneof![
        any::<u128>().prop_map(Uuid::from_u128),
        Just(Uuid::nil()),
        Just(Uuid::max()),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-z0-9._+-]{1,16}@[a-z]{1,10}\\.(com|org)",
        // any characters: quotes, backslashes, control characters, non-ASCII
        1 => prop::collection::vec(any::<char>(), 0..12).prop_map(String::from_iter),
        1 => prop::collection::vec(
            prop::sample::select(vec!['"', '\\', '\u{0}', '\u{1f}', '\u{7f}', 'é', '😀', 'a']),
            0..6
        )
        .prop_map(String::from_iter),
    ]
}

fn u64s() -> impl Strategy<Value = u64> {
    prop_oneof![0..20u64, any::<u64>(), Just(u64::MAX)]
}

fn i64s() -> impl Strategy<Value = i64> {
    prop_oneof![
        8 => NOW - 1_000_000..NOW + 1_000_000,
        1 => any::<i64>(),
        1 => prop::sample::select(vec![0, -1, i64::MAX, i64::MIN, i64::MIN + 1]),
    ]
}

fn claims() -> impl Strategy<Value = Claims> {
    let ids = (
        uuid(),
        prop::option::of(uuid()),
        prop::option::of(uuid()),
        prop::option::of(uuid()),
        prop::option::of(uuid()),
        prop::option::of(uuid()),
        prop::option::of(uuid()),
    );
    let rest = (
        text(),
        prop::sample::select(vec![
            TokenScope::System,
            TokenScope::Partner,
            TokenScope::Organization,
        ]),
        prop::sample::select(vec![TokenType::Access, TokenType::Refresh]),
        any::<bool>(),
        u64s(),
        u64s(),
        i64s(),
        i64s(),
        prop_oneof![4 => Just("breeze".to_owned()), 1 => text()],
        prop_oneof![4 => Just("breeze-api".to_owned()), 1 => text()],
    );
    (ids, rest).prop_map(
        |(
            (sub, role_id, org_id, partner_id, sid, fam, jti),
            (email, scope, token_type, mfa, aep, mep, iat, exp, iss, aud),
        )| Claims {
            sub,
            email,
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
            iss,
            aud,
        },
    )
}

/// Whether `sign`'s rendering of `c` is one the fast path is meant to read: strings that need
/// no escape and times that are not negative.
fn in_fast_layout(c: &Claims) -> bool {
    let plain = |s: &str| !s.chars().any(|ch| ch == '"' || ch == '\\' || ch < ' ');
    plain(&c.email) && plain(&c.iss) && plain(&c.aud) && c.iat >= 0 && c.exp >= 0
}

const KEYS: &[&str] = &[
    "sub",
    "email",
    "roleId",
    "orgId",
    "partnerId",
    "scope",
    "type",
    "mfa",
    "aep",
    "mep",
    "sid",
    "fam",
    "jti",
    "iat",
    "exp",
    "iss",
    "aud",
    "SUB",
    "Sub",
    "role_id",
    "roleid",
    "x",
    "",
    r"s\u0075b",
    "iss ",
    "sub\u{0}",
    "é",
];

const LITERALS: &[&str] = &[
    "null", "true", "false", "True", "nul", "tru", "[]", "{}", "[1]", " 1", "1 ",
];

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-0",
    "-1",
    "01",
    "00",
    "1.0",
    "1.5",
    "1e3",
    "1E3",
    "1e-3",
    "+1",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "1800000000",
    "1800000900",
    "2",
    "10",
    "4294967296",
    "9007199254740993",
    "12345678901234567890",
    "\"1\"",
];

const STRINGS: &[&str] = &[
    "\"\"",
    "\"breeze\"",
    "\"breeze-api\"",
    r#""b\u0072eeze""#,
    r#""br\"eeze""#,
    r#""breeze\/api""#,
    "\"access\"",
    "\"refresh\"",
    "\"Access\"",
    "\"system\"",
    "\"partner\"",
    "\"organization\"",
    r#""organi\u007Aation""#,
    "\"é\"",
    r#""\u00e9""#,
    "\"\u{7f}\"",
    "\"a\tb\"",
    "\"a\u{0}b\"",
    "\"access",
    "\"x\"",
    "\"ana@example.com\"",
    "\"\u{2028}\u{feff}\"",
    "\"😀\"",
    "\"a b\"",
    "\"/\"",
];

const UUIDS: &[&str] = &[
    "null",
    "\"00000000-0000-0000-0000-000000000001\"",
    "\"7c9e6679-7425-40de-944b-e07fc1f90ae7\"",
    "\"7C9E6679-7425-40DE-944B-E07FC1F90AE7\"",
    "\"ffffffff-ffff-ffff-ffff-ffffffffffff\"",
    "\"00000000000000000000000000000001\"",
    "\"{00000000-0000-0000-0000-000000000001}\"",
    "\"urn:uuid:00000000-0000-0000-0000-000000000001\"",
    "\"A0000000-0000-0000-0000-00000000000F\"",
    "\"0000000g-0000-0000-0000-000000000001\"",
    "\"00000000-0000-0000-0000-00000000000\"",
    "\"00000000-0000-0000-0000-0000000000001\"",
    "\"00000000+0000-0000-0000-000000000001\"",
    "\"000000000-000-0000-0000-000000000001\"",
    "\"00000000-0000-0000-0000-00000000000é\"",
    r#""00000000-0000-0000-0000-00000000000\u0031""#,
    "\"00000000-0000-0000-0000-00000000000\\\"",
];

/// Values of the kind the field `key` holds (and near misses of it).
fn same_kind(key: &str) -> &'static [&'static str] {
    match key {
        "sub" | "roleId" | "orgId" | "partnerId" | "sid" | "fam" | "jti" => UUIDS,
        "aep" | "mep" | "iat" | "exp" => NUMBERS,
        "mfa" => LITERALS,
        _ => STRINGS,
    }
}

fn any_value(i: usize) -> &'static str {
    let all = [LITERALS, NUMBERS, STRINGS, UUIDS];
    let pool = all[i % all.len()];
    pool[(i / all.len()) % pool.len()]
}

const BYTES: &[u8] = b"\"\\,:{}[] \n\t\r0123456789-+.eEnultrfasx\x00\x1f\x7f\xc3\xa9";

/// One mutation of the field list or of the rendered payload.
#[derive(Debug, Clone)]
enum Mutation {
    Swap(usize, usize),
    Duplicate(usize, usize),
    Remove(usize),
    Insert(usize, usize, usize),
    Value(usize, usize),
    SameKindValue(usize, usize),
    Key(usize, usize),
    Whitespace(usize, usize),
    ReplaceByte(usize, usize),
    InsertByte(usize, usize),
    DeleteByte(usize),
    Truncate(usize),
    Append(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let i = any::<usize>;
    prop_oneof![
        1 => (i(), i()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        1 => (i(), i()).prop_map(|(a, b)| Mutation::Duplicate(a, b)),
        1 => i().prop_map(Mutation::Remove),
        1 => (i(), i(), i()).prop_map(|(a, b, c)| Mutation::Insert(a, b, c)),
        1 => (i(), i()).prop_map(|(a, b)| Mutation::Value(a, b)),
        8 => (i(), i()).prop_map(|(a, b)| Mutation::SameKindValue(a, b)),
        1 => (i(), i()).prop_map(|(a, b)| Mutation::Key(a, b)),
        1 => (i(), i()).prop_map(|(a, b)| Mutation::Whitespace(a, b)),
        1 => (i(), i()).prop_map(|(a, b)| Mutation::ReplaceByte(a, b)),
        1 => (i(), i()).prop_map(|(a, b)| Mutation::InsertByte(a, b)),
        1 => i().prop_map(Mutation::DeleteByte),
        1 => i().prop_map(Mutation::Truncate),
        1 => i().prop_map(Mutation::Append),
    ]
}

/// Applies the field-level mutations to `fields`, renders, then applies the byte-level ones.
fn mutate(mut fields: Vec<(String, String)>, mutations: &[Mutation]) -> Vec<u8> {
    let pick = |i: usize, len: usize| i % len.max(1);
    for m in mutations {
        let n = fields.len();
        match *m {
            Mutation::Swap(a, b) if n > 0 => fields.swap(pick(a, n), pick(b, n)),
            Mutation::Duplicate(a, b) if n > 0 => {
                let f = fields[pick(a, n)].clone();
                fields.insert(pick(b, n + 1), f);
            }
            Mutation::Remove(a) if n > 0 => {
                fields.remove(pick(a, n));
            }
            Mutation::Insert(at, k, v) => fields.insert(
                pick(at, n + 1),
                (
                    KEYS[pick(k, KEYS.len())].to_owned(),
                    any_value(v).to_owned(),
                ),
            ),
            Mutation::Value(a, v) if n > 0 => {
                fields[pick(a, n)].1 = any_value(v).to_owned();
            }
            Mutation::SameKindValue(a, v) if n > 0 => {
                let field = &mut fields[pick(a, n)];
                let pool = same_kind(&field.0);
                field.1 = pool[pick(v, pool.len())].to_owned();
            }
            Mutation::Key(a, k) if n > 0 => {
                fields[pick(a, n)].0 = KEYS[pick(k, KEYS.len())].to_owned();
            }
            _ => {}
        }
    }
    let mut bytes = render(&fields).into_bytes();
    for m in mutations {
        let n = bytes.len();
        match *m {
            Mutation::Whitespace(at, w) => {
                let ws: &[u8] = [&b" "[..], b"\n", b"\t", b"\r", b"  "][pick(w, 5)];
                // at a token boundary: next to a structural character, or at either end
                let bounds: Vec<usize> = std::iter::once(0)
                    .chain(
                        bytes
                            .iter()
                            .enumerate()
                            .filter(|(_, b)| matches!(b, b'{' | b'}' | b':' | b','))
                            .flat_map(|(i, _)| [i, i + 1]),
                    )
                    .chain(std::iter::once(n))
                    .collect();
                let at = bounds[pick(at, bounds.len())];
                bytes.splice(at..at, ws.iter().copied());
            }
            Mutation::ReplaceByte(at, b) if n > 0 => {
                bytes[pick(at, n)] = BYTES[pick(b, BYTES.len())]
            }
            Mutation::InsertByte(at, b) => {
                bytes.insert(pick(at, n + 1), BYTES[pick(b, BYTES.len())])
            }
            Mutation::DeleteByte(at) if n > 0 => {
                bytes.remove(pick(at, n));
            }
            Mutation::Truncate(at) => bytes.truncate(pick(at, n + 1)),
            Mutation::Append(w) => {
                let tail: &[u8] = [&b" "[..], b"\n", b"}", b",", b"{}", b"x", b"\x00"][pick(w, 7)];
                bytes.extend_from_slice(tail);
            }
            _ => {}
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// `sign`'s own output: the fast path reads it (when its strings need no escapes and its
    /// times are not negative) and agrees with serde_json; `verify` agrees with the reference.
    #[test]
    fn signed_layout_is_read_as_serde_reads_it(c in claims()) {
        let f = fields(&c);
        let payload = render(&f);
        prop_assert_eq!(&payload, &serde_json::to_string(&c).unwrap());
        let fast = check_layout(&payload);
        prop_assert_eq!(fast, in_fast_layout(&c), "fast path coverage on {}", payload);
        check_verify(&ring(), payload.as_bytes());
        // and through sign itself
        let token = ring().sign(&c).unwrap();
        for expected in [TokenType::Access, TokenType::Refresh] {
            prop_assert_eq!(
                ring().verify(&token, expected, c.iat),
                ring().verify_serde_only(&token, expected, c.iat)
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8192))]

    /// Mutated payloads: fast path Some implies serde Ok and equal; verify agrees.
    #[test]
    fn mutated_layout_never_differs(
        c in claims(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let bytes = mutate(fields(&c), &mutations);
        if let Ok(payload) = std::str::from_utf8(&bytes) {
            check_layout(payload);
        }
        check_verify(&ring(), &bytes);
    }

    /// Values of each field's own kind and its near misses, one or two fields at a time: the
    /// inputs the fast path reads besides `sign`'s own output.
    #[test]
    fn same_kind_values_never_differ(
        c in claims(),
        picks in prop::collection::vec((any::<usize>(), any::<usize>()), 1..3),
    ) {
        let m: Vec<Mutation> =
            picks.into_iter().map(|(a, b)| Mutation::SameKindValue(a, b)).collect();
        let bytes = mutate(fields(&c), &m);
        if let Ok(payload) = std::str::from_utf8(&bytes) {
            check_layout(payload);
        }
        check_verify(&ring(), &bytes);
    }

    /// JSON-ish noise.
    #[test]
    fn random_text_never_differs(
        s in prop::collection::vec(prop::sample::select(BYTES.to_vec()), 0..80),
    ) {
        if let Ok(payload) = std::str::from_utf8(&s) {
            check_layout(payload);
        }
        check_verify(&ring(), &s);
    }
}

#[test]
fn mutations_reach_both_answers() {
    // The generators must exercise the fast path's Some on mutated input (a changed payload
    // it still reads) as well as its None, or the property above proves little.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = (claims(), prop::collection::vec(mutation(), 1..4));
    let (mut changed_some, mut none) = (0, 0);
    for _ in 0..8192 {
        let (c, m) = strategy.new_tree(&mut runner).unwrap().current();
        let f = fields(&c);
        let bytes = mutate(f.clone(), &m);
        if let Ok(p) = std::str::from_utf8(&bytes) {
            if !check_layout(p) {
                none += 1;
            } else if p != render(&f) {
                changed_some += 1;
            }
        }
    }
    assert!(
        changed_some > 300 && none > 4000,
        "changed and read {changed_some}, declined {none}"
    );
}

// ---- base64url ----

fn reference_b64(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

#[test]
fn base64url_matches_base64_exhaustively_up_to_three_characters() {
    let mut alphabet: Vec<char> =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
            .chars()
            .collect();
    alphabet.extend(['=', '+', '/', ' ', '.', '\n', '\0', 'é']);
    let mut checked = 0;
    let mut accepted = 0;
    let mut s = String::new();
    for len in 0..=3 {
        let mut idx = vec![0usize; len];
        loop {
            s.clear();
            s.extend(idx.iter().map(|&i| alphabet[i]));
            let ours = decode_base64url_segment(&s);
            assert_eq!(ours, reference_b64(&s), "{s:?}");
            checked += 1;
            accepted += usize::from(ours.is_some());
            // next combination
            let mut k = 0;
            while k < len {
                idx[k] += 1;
                if idx[k] < alphabet.len() {
                    break;
                }
                idx[k] = 0;
                k += 1;
            }
            if k == len {
                break;
            }
        }
    }
    // 1 + 64 * 4 (2 characters with 4 zero trailing bits) + 64 * 64 * 16 (3 characters)
    assert_eq!(accepted, 1 + 64 * 4 + 64 * 64 * 16);
    assert!(checked > 370_000);
}

fn b64_mutation() -> impl Strategy<Value = (usize, u8, u8)> {
    (
        any::<usize>(),
        prop::sample::select(
            b"AQgw_-/+=. \n\x00\x7fZz09"
                .iter()
                .copied()
                .chain([0xc3])
                .collect::<Vec<u8>>(),
        ),
        0u8..6,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// Encoded data of every length a token segment has (stack and heap paths): decoded the
    /// same; then mutated (a character anywhere, the last one through the whole alphabet for
    /// the trailing bits, truncation, padding, foreign bytes): refused or decoded the same.
    #[test]
    fn base64url_matches_base64(
        data in prop::collection::vec(any::<u8>(), 0..1600),
        mutations in prop::collection::vec(b64_mutation(), 1..3),
        last in 0usize..64,
    ) {
        let encoded = URL_SAFE_NO_PAD.encode(&data);
        prop_assert_eq!(decode_base64url_segment(&encoded), Some(data.clone()));
        let mut bytes = encoded.into_bytes();
        for (at, b, kind) in mutations {
            let n = bytes.len();
            match kind {
                0 if n > 0 => bytes[at % n] = b,
                1 => bytes.insert(at % (n + 1), b),
                2 if n > 0 => bytes.truncate(at % n),
                3 => bytes.extend_from_slice(b"=="[..1 + at % 2].as_ref()),
                4 if n > 0 => {
                    bytes[n - 1] =
                        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last];
                }
                _ => {}
            }
        }
        let s = String::from_utf8_lossy(&bytes);
        prop_assert_eq!(decode_base64url_segment(&s), reference_b64(&s), "{:?}", s);
    }
}
