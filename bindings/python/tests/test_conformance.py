"""The conformance suite: replays the shared vectors under vectors/ through the Python package.

The Node suite (bindings/js-tests) replays the same files with the same checks against the
napi addon and the WASM package; a vector any language disagrees with fails its build.
"""

import copy

import pytest

import breeze
from conftest import REPLAYED, load, schema_files, tracked


def test_vector_files_present_and_tracked():
    for rel in REPLAYED:
        assert load(rel), rel
    assert tracked(REPLAYED) == [], "vector files not checked in"


# ---------------------------------------------------------------- crypto

INPUTS = None


def inputs():
    global INPUTS
    if INPUTS is None:
        INPUTS = load("crypto/interop/inputs.json")
    return INPUTS


def envelope_ring():
    e = inputs()["envelope"]
    return {"keys": e["keys"], "active": sorted(e["keys"])[0], "legacyKey": e["legacyKey"]}


def jwt_ring(active):
    j = inputs()["jwt"]
    return {"keys": j["keys"], "active": active, "legacySecret": j["legacySecret"]}


def test_argon2_breeze_generated():
    cases = load("crypto/breeze_generated.json")["argon2"]
    assert cases
    for c in cases:
        assert breeze.password_hash_with_salt(c["password"], c["salt"]) == c["phc"]
        assert breeze.password_verify(c["password"], c["phc"]) is True
        assert breeze.password_verify(c["password"] + "x", c["phc"]) is False
        assert breeze.password_needs_rehash(c["phc"]) is False


def test_argon2_cffi():
    cases = load("crypto/argon2_cffi.json")["hashes"]
    assert cases
    for c in cases:
        assert breeze.password_verify(c["password"], c["phc"]) is True
        # bytes are accepted as UTF-8
        assert breeze.password_verify(c["password"].encode(), c["phc"]) is True
        assert breeze.password_needs_rehash(c["phc"]) is c["needsRehash"]


def test_password_errors_and_policy():
    with pytest.raises(breeze.PasswordError) as e:
        breeze.password_verify("x", "$argon2id$v=19$garbage")
    assert e.value.code == "password_hash_malformed" and e.value.family == "password"
    with pytest.raises(breeze.InvalidInputError):
        breeze.password_verify(b"\xff\xfe", "$argon2id$v=19$m=65536,t=3,p=4$AQEBAQEBAQEBAQEBAQEBAQ$zOUsGpXjip97/St956kDXUx+bN2PJiuaP+I/9Iswxw8")
    assert breeze.password_policy_check("Correct-Horse-9") == []
    assert "password_missing_digit" in breeze.password_policy_check("abcdefghijkL")
    phc = breeze.password_hash("Correct-Horse-9")
    assert breeze.password_verify("Correct-Horse-9", phc)


CREDENTIAL_KIND = {"api_key_legacy": "api_key"}


def test_credentials():
    cases = load("crypto/breeze_generated.json")["credentials"]
    assert len(cases) >= 7
    for c in cases:
        kind = CREDENTIAL_KIND.get(c["kind"], c["kind"])
        if "sha256" in c:
            assert breeze.credential_hash(kind, c["raw"]) == c["sha256"], c
            assert breeze.credential_verify(kind, c["raw"], c["sha256"]) is True
            flipped = ("0" if c["sha256"][0] != "0" else "1") + c["sha256"][1:]
            assert breeze.credential_verify(kind, c["raw"], flipped) is False
        if "pepperedSha256" in c:
            assert breeze.credential_peppered_hash(kind, c["pepper"], c["raw"]) == c["pepperedSha256"], c
            assert breeze.credential_verify_peppered(kind, c["pepper"], c["raw"], c["pepperedSha256"]) is True
            assert breeze.credential_verify_peppered(kind, c["pepper"] + "x", c["raw"], c["pepperedSha256"]) is False
        if "normalized" in c:
            assert breeze.recovery_code_normalize(c["raw"]) == c["normalized"]


def test_credential_generate_and_errors():
    for kind in ["agent_token", "api_key", "session_token", "password_reset_token", "enrollment_key"]:
        g = breeze.credential_generate(kind)
        assert breeze.credential_verify(kind, g["value"], g["hash"]) is True
        assert breeze.credential_hash(kind, g["value"]) == g["hash"]
    assert breeze.credential_generate("agent_id")["hash"] is None
    codes = breeze.recovery_codes_generate()
    assert len(codes) == 10 and len(set(codes)) == 10
    with pytest.raises(breeze.CredentialError) as e:
        breeze.credential_hash("agent_token", "nope")
    assert e.value.code == "credential_wrong_prefix"
    with pytest.raises(breeze.InvalidInputError) as e:
        breeze.credential_generate("root_password")
    assert e.value.code == "invalid_input"
    with pytest.raises(breeze.RecoveryCodeError) as e:
        breeze.recovery_code_normalize("!!")
    assert e.value.code == "recovery_code_malformed"


def envelope_cases():
    gen = [dict(c, source="breeze") for c in load("crypto/breeze_generated.json")["envelopes"]]
    node = [dict(c, source="node") for c in load("crypto/envelope_node.json")["values"]]
    assert gen and node
    return gen + node


def test_envelopes():
    ring = envelope_ring()
    e = inputs()["envelope"]
    for c in envelope_cases():
        table, column = c.get("table", e["table"]), c.get("column", e["column"])
        v = c["value"]
        assert breeze.secret_version(v) == c["version"], c
        if c["version"] == "enc:v3":
            assert breeze.secret_decrypt(ring, table, column, v) == c["plaintext"], c
            with pytest.raises(breeze.EnvelopeError) as err:
                breeze.secret_decrypt(ring, table, "other_column", v)
            assert err.value.code == "authentication_failed"
            assert breeze.secret_reencrypt(ring, table, column, v) == {"value": v, "changed": False}
        elif c["version"] == "mfa:v1":
            assert breeze.mfa_decrypt(e["mfaKey"], v) == c["plaintext"], c
        else:
            with pytest.raises(breeze.EnvelopeError) as err:
                breeze.secret_decrypt(ring, table, column, v)
            assert err.value.code == "version_not_accepted"
            assert breeze.secret_decrypt_for_migration(ring, table, column, v) == c["plaintext"], c
            moved = breeze.secret_reencrypt(ring, table, column, v)
            assert moved["changed"] is True
            assert breeze.secret_decrypt(ring, table, column, moved["value"]) == c["plaintext"]


def test_envelope_round_trip_and_errors():
    ring = envelope_ring()
    sealed = breeze.secret_encrypt(ring, "webhooks", "secret", "grüße 🔐".encode())
    assert breeze.secret_decrypt(ring, "webhooks", "secret", sealed) == "grüße 🔐"
    with pytest.raises(breeze.EnvelopeError) as e:
        breeze.secret_decrypt(ring, "webhooks", "secret", "plaintext")
    assert e.value.code == "not_an_envelope"
    with pytest.raises(breeze.EnvelopeError) as e:
        breeze.secret_encrypt({"keys": ring["keys"], "active": "nope"}, "t", "c", "x")
    assert e.value.code == "active_key_missing"
    with pytest.raises(breeze.InvalidInputError):
        breeze.secret_encrypt({"keys": ring["keys"]}, "t", "c", "x")
    mfa = breeze.mfa_encrypt(inputs()["envelope"]["mfaKey"], "JBSWY3DPEHPK3PXP")
    assert breeze.mfa_decrypt(inputs()["envelope"]["mfaKey"], mfa) == "JBSWY3DPEHPK3PXP"


def test_jwt_breeze_generated():
    cases = load("crypto/breeze_generated.json")["jwt"]
    assert cases
    for c in cases:
        ring = jwt_ring(c["kid"])
        assert breeze.jwt_verify(ring, c["token"], c["type"], c["now"]) == c["claims"], c["name"]
        assert breeze.jwt_sign(ring, c["claims"]) == c["token"], c["name"]


def test_jwt_jose():
    v = load("crypto/jwt_jose.json")
    assert v["tokens"]
    for c in v["tokens"]:
        claims = breeze.jwt_verify(jwt_ring(c["kid"]), c["token"], c["type"], v["now"])
        assert claims["type"] == c["type"] and claims["sub"] == inputs()["jwt"]["claims"]["sub"]


def test_jwt_errors():
    c = load("crypto/breeze_generated.json")["jwt"][0]
    ring = jwt_ring(c["kid"])
    other = "refresh" if c["type"] == "access" else "access"
    cases = [
        ((ring, c["token"], other, c["now"]), "wrong_type"),
        ((ring, c["token"], c["type"], c["now"] + 10**7), "expired"),
        ((ring, c["token"][:-2] + ("AA" if not c["token"].endswith("AA") else "BB"), c["type"], c["now"]), "bad_signature"),
        ((ring, "a.b", c["type"], c["now"]), "token_malformed"),
        (({"keys": {"other": "x" * 40}, "active": "other"}, c["token"], c["type"], c["now"]), "unknown_key_id"),
    ]
    for args, code in cases:
        with pytest.raises(breeze.JwtError) as e:
            breeze.jwt_verify(*args)
        assert e.value.code == code, (code, e.value)


def test_totp():
    t = load("crypto/breeze_generated.json")["totp"]
    assert t["codes"]
    for c in t["codes"]:
        assert breeze.totp_code(t["secretBase32"], c["time"]) == c["code"]
        assert breeze.totp_verify(t["secretBase32"], c["code"], c["time"]) == c["step"]
    rfc = load("crypto/rfc6238_totp.json")
    assert rfc["vectors"]
    for c in rfc["vectors"]:
        assert breeze.totp_rfc6238_code(rfc["secretAscii"].encode(), c["time"], rfc["digits"]) == c["code"]
    with pytest.raises(breeze.TotpError) as e:
        breeze.totp_verify(t["secretBase32"], "000000" if t["codes"][0]["code"] != "000000" else "111111", 10**9 + 7 * 86400)
    assert e.value.code == "totp_mismatch"
    secret = breeze.totp_generate_secret()
    assert breeze.totp_verify(secret, breeze.totp_code(secret, 1_800_000_000), 1_800_000_000) == 60_000_000
    assert breeze.totp_otpauth_uri(secret, "ana@example.com").startswith("otpauth://totp/")


# ---------------------------------------------------------------- authz

def test_permissions():
    v = load("authz/permissions.json")
    assert breeze.permission_registry() == v["registry"]
    assert breeze.seeded_roles() == v["roles"]
    assert len(v["checks"]) > 100
    for c in v["checks"]:
        assert breeze.permission_check(c["role"], c["permission"]) is c["allowed"], c
    for c in v["grant_matches"]:
        assert breeze.grant_matches(c["grant"], c["permission"]) is c["matches"], c
    for c in v["invalid_grants"]:
        with pytest.raises(breeze.AuthzError) as e:
            breeze.grant_matches(c["input"], "devices:read")
        assert e.value.code == c["error_code"], c
    for c in v["full_wildcard_by_scope"]:
        role = {"name": "r", "scope": c["scope"], "grants": [c["grant"]], "force_mfa": False}
        if c["allowed"]:
            breeze.role_validate(role)
        else:
            with pytest.raises(breeze.AuthzError) as e:
                breeze.role_validate(role)
            assert e.value.code == "full_wildcard_not_allowed"
    for r in v["roles"]:
        assert breeze.role_allows(r, "devices:read") is breeze.permission_check(r["name"], "devices:read")


def test_scopes():
    v = load("authz/scopes.json")
    assert v["matches"] and v["invalid"] and v["key_status"]
    for c in v["matches"]:
        assert breeze.api_key_scopes_allow(c["scopes"], c["permission"]) is c["allowed"], c
    for c in v["invalid"]:
        with pytest.raises(breeze.AuthzError) as e:
            breeze.api_key_scopes_allow(c["scopes"], "devices:read")
        assert e.value.code == c["error_code"], c
    for c in v["key_status"]:
        try:
            breeze.api_key_check(c["status"], c["expires_at"], c["now"])
            got = "usable"
        except breeze.AuthzError as e:
            got = e.code
        assert got == c["outcome"], c


def test_risk():
    v = load("authz/risk.json")
    assert breeze.risk_catalogue() == v["catalogue"]
    assert v["decisions"]
    for c in v["decisions"]:
        d = breeze.risk_decide(c["tool"], c["target"], v["policies"])
        for key in ["level", "outcome", "source", "ignored_override"]:
            assert d[key] == c[key], (key, c)
    for c in v["refused_policies"]:
        target = v["decisions"][0]["target"]
        with pytest.raises(breeze.AuthzError) as e:
            breeze.risk_decide(c["tool"], target, [{"scope": c["scope"], "tool": c["tool"], "level": c["level"]}])
        assert e.value.code == c["error_code"], c



def test_approvals():
    v = load("authz/approvals.json")
    assert v["digests"] and v["ai_scopes"] and v["tools"]
    for c in v["digests"]:
        if "hex" in c:
            assert breeze.approval_argument_digest(c["tool"], c["arguments_json"]) == c["hex"], c["name"]
            # bytes holding the same UTF-8 text give the same digest
            assert breeze.approval_argument_digest(c["tool"], c["arguments_json"].encode()) == c["hex"], c["name"]
        else:
            with pytest.raises(breeze.AuthzError) as e:
                breeze.approval_argument_digest(c["tool"], c["arguments_json"])
            assert e.value.code == c["error_code"], c["name"]
    for c in v["ai_scopes"]:
        assert breeze.ai_scope_named(c["scopes"], c["scope"]) is c["named"], c
    assert breeze.ai_tools() == v["tools"]
    with pytest.raises(breeze.InvalidInputError):
        breeze.ai_scope_named(["ai:read"], "ai:*")
    with pytest.raises(breeze.AuthzError) as e:
        breeze.ai_scope_named(["AI:read"], "ai:read")
    assert e.value.code == "invalid_scope"

def test_mfa():
    v = load("authz/mfa.json")
    assert v["cases"]
    for c in v["cases"]:
        got = breeze.mfa_enrollment_required(c["role_requires_mfa"], c["mfa_enrolled"], c["path"])
        assert got is c["enrollment_required"], c


def test_session():
    v = load("authz/session.json")
    assert v["checks"] == ["invalid_token", "session_revoked", "password_changed", "mfa_required"]
    assert len(v["cases"]) >= 96
    for c in v["cases"]:
        try:
            breeze.session_check(c["user"], c["token"])
            got = "valid"
        except breeze.AuthzError as e:
            got = e.code
        assert got == c["outcome"], c["name"]
    first = v["cases"][0]
    with pytest.raises(breeze.InvalidInputError):
        breeze.session_check(dict(first["user"], extra=True), first["token"])
    with pytest.raises(breeze.InvalidInputError):
        breeze.session_check(first["user"], {"aep": first["token"]["aep"]})
    # A verified token's claims object is accepted as it is.
    breeze.session_check(first["user"], dict(first["token"], sub="x", type="access", exp=first["token"]["iat"] + 900))


# ---------------------------------------------------------------- audit

def chain_keys():
    return [{"key_id": k["key_id"], "public_key": k["public_key"]} for k in load("audit/chain.json")["keys"]]


def test_audit_canonical():
    v = load("audit/canonical.json")
    assert len(v["cases"]) >= 6
    for c in v["cases"]:
        h = breeze.audit_entry_hashes(c["entry"])
        assert h == {"canonical_hex": c["canonical_hex"], "content_hash": c["content_hash"],
                     "chain_hash": c["chain_hash"], "seal_valid": True}, c["name"]
        bad = copy.deepcopy(c["entry"])
        bad["sequence"] += 1
        assert breeze.audit_entry_hashes(bad)["seal_valid"] is False


def test_audit_bundles():
    v = load("audit/chain.json")
    for which in ["full", "pruned"]:
        bundle = v[which]["bundle"]
        assert breeze.audit_verify_bundle(bundle) == v[which]["report"], which
        assert breeze.audit_verify_bundle(bundle.encode()) == v[which]["report"], which
        trusted = breeze.audit_verify_bundle(bundle, chain_keys())
        assert trusted["ok"] and trusted["keys_trusted"], which


def test_audit_tampered():
    v = load("audit/tampered.json")
    assert len(v["cases"]) >= 20
    for c in v["cases"]:
        keys = chain_keys() if c["trusted_keys"] is not None else None
        report = breeze.audit_verify_bundle(c["bundle"], keys, c["trusted_checkpoints"])
        assert report["ok"] is False, c["name"]
        assert report["break"]["kind"] == c["expected"]["kind"], (c["name"], report)
        assert report["break"]["sequence"] == c["expected"]["sequence"], (c["name"], report)


def bundle_lines(bundle):
    import json
    return [json.loads(line) for line in bundle.splitlines() if line]


def test_audit_chain_and_checkpoints():
    v = load("audit/chain.json")
    lines = bundle_lines(v["full"]["bundle"])
    chain = lines[0]["chain"]
    entries = [l["entry"] for l in lines if "entry" in l]
    checkpoints = [l["checkpoint"] for l in lines if "checkpoint" in l]
    assert entries and checkpoints
    ok = breeze.audit_verify_chain(chain, entries, chain_keys())
    assert ok["ok"] is True and ok["entries"] == len(entries), ok
    bad = copy.deepcopy(entries)
    bad[3]["event"]["action"] = "auth.login.failure"
    broken = breeze.audit_verify_chain(chain, bad, chain_keys())
    assert broken["ok"] is False and broken["break"]["kind"] == "content_altered" and broken["break"]["sequence"] == 3
    for cp in checkpoints:
        breeze.audit_verify_checkpoint(cp, chain_keys())
    forged = dict(checkpoints[0], entry_count=checkpoints[0]["entry_count"] + 1)
    with pytest.raises(breeze.AuditError) as e:
        breeze.audit_verify_checkpoint(forged, chain_keys())
    assert e.value.code in ("count_mismatch", "bad_signature")
    with pytest.raises(breeze.AuditError) as e:
        breeze.audit_verify_checkpoint(checkpoints[0], [])
    assert e.value.code == "unknown_key"


def test_audit_sanitize():
    v = load("audit/sanitize.json")
    assert v["cases"]
    for c in v["cases"]:
        assert breeze.audit_sanitize_details(c["input"]) == c["output"], c["name"]


# ---------------------------------------------------------------- agent protocol

def test_agent_text_vectors():
    v = load("agent-proto/text.json")
    assert len(v["vectors"]) > 50
    for c in v["vectors"]:
        assert breeze.agent_decode(c["kind"], c["input"]) == c["expect"], c["name"]
        assert breeze.agent_decode(c["kind"], c["input"].encode()) == c["expect"], c["name"]


def test_agent_binary_vectors():
    v = load("agent-proto/binary.json")
    assert v["vectors"]
    for c in v["vectors"]:
        assert breeze.agent_decode_binary(bytes.fromhex(c["inputHex"])) == c["expect"], c["name"]


def test_agent_schemas():
    import json
    files = schema_files()
    kinds = breeze.agent_message_kinds()
    assert sorted(kinds) == sorted(f.name[: -len(".schema.json")] for f in files)
    for f in files:
        assert breeze.agent_schema(f.name[: -len(".schema.json")]) == json.loads(f.read_text()), f.name
    with pytest.raises(breeze.InvalidInputError):
        breeze.agent_decode("shell_exec", b"{}")


def test_agent_redaction():
    v = load("agent-proto/redact.json")
    assert len(v["vectors"]) >= 30
    for c in v["vectors"]:
        assert breeze.agent_redact_secrets(c["input"]) == c["output"], c["name"]
        assert breeze.agent_redact_secrets(c["input"].encode()) == c["output"], c["name"]


def test_agent_remote_path_vectors():
    v = load("agent-proto/remote_path.json")
    assert len(v["vectors"]) >= 25
    codes = set()
    for c in v["vectors"]:
        assert breeze.agent_check_remote_path(c["input"]) == c["code"], c["name"]
        assert breeze.agent_check_remote_path(c["input"].encode()) == c["code"], c["name"]
        codes.add(c["code"])
    assert codes == {None, "path_empty", "path_too_long", "path_nul", "path_relative", "path_dot_dot"}
    with pytest.raises(breeze.InvalidInputError):
        breeze.agent_check_remote_path(b"/\xff")


def file_content_input(c):
    r = c.get("contentBase64Repeat")
    return (r["unit"] * r["times"] if r else "") + c["contentBase64"]


def test_agent_file_content_vectors():
    import base64
    import hashlib

    v = load("agent-proto/file_content.json")
    assert len(v["vectors"]) >= 15
    for c in v["vectors"]:
        content = file_content_input(c)
        got = breeze.agent_file_content_verify(content, c["sha256"], c["size"])
        want = {"ok": True} if c["expect"]["ok"] else {"ok": False, "code": c["expect"]["code"]}
        assert got == want, c["name"]
        if c["size"] is None:
            assert breeze.agent_file_content_verify(content, c["sha256"]) == want, c["name"]
        if c["expect"]["ok"]:
            # An independent decoder and digest agree with the vector.
            data = base64.b64decode(content, validate=True)
            assert data.hex() == c["expect"]["dataHex"], c["name"]
            assert hashlib.sha256(data).hexdigest() == c["sha256"], c["name"]
            if c["size"] is not None:
                assert len(data) == c["size"], c["name"]
    with pytest.raises(OverflowError):
        breeze.agent_file_content_verify("", "0" * 64, -1)


# ---------------------------------------------------------------- audit streaming and webhooks

def test_audit_stream():
    v = load("audit/stream.json")
    assert len(v["cases"]) >= 10
    for c in v["cases"]:
        assert breeze.audit_verify_stream(c["chain"], c["entries"], chain_keys()) == c["expected"], c["name"]
    # A middle segment of chain.json's bundle verifies; without its middle entry, that entry is named.
    lines = bundle_lines(load("audit/chain.json")["full"]["bundle"])
    chain = lines[0]["chain"]
    entries = [l["entry"] for l in lines if "entry" in l]
    ok = breeze.audit_verify_stream(chain, entries[3:8], chain_keys())
    assert ok["ok"] is True and (ok["first_sequence"], ok["entries"], ok["last_sequence"]) == (3, 5, 7), ok
    hole = breeze.audit_verify_stream(chain, entries[3:5] + entries[6:8], chain_keys())
    assert hole["ok"] is False and hole["break"]["kind"] == "entry_removed" and hole["break"]["sequence"] == 5
    # The same hole from genesis is the same break.
    assert breeze.audit_verify_chain(chain, entries[:5] + entries[6:], chain_keys())["break"]["sequence"] == 5


def stdlib_signature(secrets, msg_id, timestamp, body):
    """The webhook-signature header computed with hmac, hashlib and base64 of the standard library."""
    import base64
    import hashlib
    import hmac

    body = body.encode() if isinstance(body, str) else body
    sigs = []
    for s in secrets:
        key = base64.b64decode(s[len("whsec_"):], validate=True)
        mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
        sigs.append("v1," + base64.b64encode(mac).decode())
    return " ".join(sigs)


def test_webhook_signatures():
    v = load("webhooks/signatures.json")
    r = v["reference"]
    assert breeze.webhook_sign([r["secret"]], r["msg_id"], r["timestamp"], r["body"]) == r["signature"]
    assert breeze.webhook_sign([r["secret"]], r["msg_id"], r["timestamp"], r["body"].encode()) == r["signature"]
    assert stdlib_signature([r["secret"]], r["msg_id"], r["timestamp"], r["body"]) == r["signature"]
    assert len(v["sign"]) >= 8
    for c in v["sign"]:
        assert breeze.webhook_sign(c["secrets"], c["msg_id"], c["timestamp"], c["body"]) == c["signature"], c["name"]
        assert stdlib_signature(c["secrets"], c["msg_id"], c["timestamp"], c["body"]) == c["signature"], c["name"]
    assert v["sign_errors"]
    for c in v["sign_errors"]:
        with pytest.raises(breeze.WebhookError) as e:
            breeze.webhook_sign(c["secrets"], c["msg_id"], c["timestamp"], c["body"])
        assert (e.value.code, e.value.family) == (c["code"], "webhook"), c["name"]
    assert len(v["verify"]) >= 40
    for c in v["verify"]:
        args = (c["secrets"], c["msg_id"], c["timestamp"], c["signature"], c["body"], c["now"], c["tolerance"])
        if c["expect"]["ok"]:
            assert breeze.webhook_verify(*args) is None, c["name"]
            assert breeze.webhook_verify(*args[:4], c["body"].encode(), c["now"], tolerance=c["tolerance"]) is None
        else:
            with pytest.raises(breeze.WebhookError) as e:
                breeze.webhook_verify(*args)
            assert e.value.code == c["expect"]["code"], (c["name"], str(e.value))


def test_webhook_secrets_and_bytes():
    import base64

    s = breeze.webhook_generate_secret()
    assert s.startswith("whsec_") and len(base64.b64decode(s[6:], validate=True)) == 32
    assert breeze.webhook_generate_secret() != s
    body = b"\x00\xff binary"
    h = breeze.webhook_sign([s], "msg_1", 1_767_225_600, body)
    assert h == stdlib_signature([s], "msg_1", 1_767_225_600, body)
    breeze.webhook_verify([s], "msg_1", "1767225600", h, body, 1_767_225_600 + 300)
    with pytest.raises(breeze.WebhookError) as e:
        breeze.webhook_verify([s], "msg_1", "1767225600", h, body, 1_767_225_600 + 301)
    assert e.value.code == "timestamp_too_old"
    with pytest.raises(breeze.WebhookError) as e:
        breeze.webhook_verify([s], "msg_1", "1767225600", h, body + b"x", 1_767_225_600)
    assert e.value.code == "no_matching_signature"
    with pytest.raises(breeze.InvalidInputError):
        breeze.webhook_sign([s], "msg_1", 0, 12)
    with pytest.raises(OverflowError):
        breeze.webhook_verify([s], "msg_1", "0", h, body, 0, -1)


def test_webhook_payloads():
    import json

    v = load("webhooks/payloads.json")
    assert breeze.webhook_event_catalogue() == v["catalogue"]
    assert [e["type"] for e in v["catalogue"] if not e["subscribable"]] == ["webhook.test"]
    assert len(v["cases"]) >= 20
    for c in v["cases"]:
        args = (c["type"], c["timestamp"], c["org_id"], c["data"])
        if c["expect"]["ok"]:
            body = breeze.webhook_payload(*args)
            assert body == c["expect"]["body"], c["name"]
            parsed = json.loads(body)
            assert parsed["data"] == c["data"] and parsed["type"] == c["type"], c["name"]
        else:
            cls = breeze.InvalidInputError if c["expect"]["code"] == "invalid_input" else breeze.WebhookError
            with pytest.raises(cls) as e:
                breeze.webhook_payload(*args)
            assert e.value.code == c["expect"]["code"], c["name"]


# ---------------------------------------------------------------- HTTP message signatures (SPEC 17)

def httpsig_headers(c):
    return {k: c.get(k) for k in ("contentDigest", "signatureInput", "signature")}


def httpsig_verify_case(c, body=None):
    body = c["body"] if body is None else body
    return breeze.httpsig_verify(
        c["publicKey"], c["method"], c["targetUri"], body, httpsig_headers(c), c["label"], c["keyid"], c["now"]
    )


def test_httpsig_content_digests_and_keys():
    import base64
    import hashlib

    v = load("crypto/httpsig.json")
    assert len(v["contentDigest"]) >= 4
    for c in v["contentDigest"]:
        assert breeze.httpsig_content_digest(c["body"]) == c["contentDigest"], c["name"]
        assert breeze.httpsig_content_digest(c["body"].encode()) == c["contentDigest"], c["name"]
        stdlib = "sha-256=:" + base64.b64encode(hashlib.sha256(c["body"].encode()).digest()).decode() + ":"
        assert stdlib == c["contentDigest"], c["name"]
    assert v["keys"]
    for c in v["keys"] + v["rfc9421"]:
        assert breeze.httpsig_public_key(c["seed"]) == c["publicKey"]
    with pytest.raises(breeze.HttpsigError) as e:
        breeze.httpsig_public_key("not a seed")
    assert (e.value.code, e.value.family) == ("private_key_invalid", "httpsig")
    # publicKeys: each key in place of the vector key of a valid signature
    valid = next(c for c in v["verify"] if c["expect"]["ok"])
    assert len(v["publicKeys"]) >= 5
    for c in v["publicKeys"]:
        case = dict(valid, publicKey=c["publicKey"])
        if c["expect"]["ok"]:
            assert httpsig_verify_case(case)["created"] == valid["expect"]["created"], c["name"]
        else:
            with pytest.raises(breeze.HttpsigError) as e:
                httpsig_verify_case(case)
            assert e.value.code == c["expect"]["code"], c["name"]


def test_httpsig_sign_vectors():
    v = load("crypto/httpsig.json")
    assert len(v["sign"]) >= 4
    for c in v["sign"]:
        for body in (c["body"], c["body"].encode()):
            got = breeze.httpsig_sign(c["seed"], c["method"], c["targetUri"], body, c["keyid"], c["created"], c["nonce"])
            assert got == c["expect"], c["name"]


def test_httpsig_verify_vectors():
    v = load("crypto/httpsig.json")
    assert len(v["verify"]) >= 20
    for c in v["verify"]:
        e = c["expect"]
        if e["ok"]:
            assert httpsig_verify_case(c) == {"created": e["created"], "nonce": e["nonce"]}, c["name"]
            assert httpsig_verify_case(c, c["body"].encode())["nonce"] == e["nonce"], c["name"]
        else:
            with pytest.raises(breeze.HttpsigError) as err:
                httpsig_verify_case(c)
            assert (err.value.code, err.value.family) == (e["code"], "httpsig"), (c["name"], str(err.value))


def test_httpsig_round_trip_and_errors():
    key = breeze.httpsig_generate_key()
    assert sorted(key) == ["publicKey", "seed"] and len(key["seed"]) == len(key["publicKey"]) == 43
    assert breeze.httpsig_public_key(key["seed"]) == key["publicKey"]
    assert breeze.httpsig_generate_key()["seed"] != key["seed"]
    uri = "https://rmm.example.com/api/v1/agents/agt_1/commands/c1/result"
    body = b"\x00\xff binary"
    t = 1_767_225_600
    signed = breeze.httpsig_sign(key["seed"], "POST", uri, body, "agt_1", t)
    assert signed["contentDigest"] == breeze.httpsig_content_digest(body)
    ok = breeze.httpsig_verify(key["publicKey"], "POST", uri, body, signed, "sig1", "agt_1", t + 300)
    assert ok["created"] == t and f'nonce="{ok["nonce"]}"' in signed["signatureInput"]
    again = breeze.httpsig_sign(key["seed"], "POST", uri, body, "agt_1", t)
    assert again["signatureInput"] != signed["signatureInput"], "a random nonce each time"
    bare = breeze.httpsig_sign(key["seed"], "GET", uri, b"", "agt_1", t, None)
    assert bare["contentDigest"] is None
    assert breeze.httpsig_verify(key["publicKey"], "GET", uri, "", bare, "sig1", "agt_1", t)["created"] == t
    for args, code in [
        (("POST", uri, body + b"x", signed, "sig1", "agt_1", t), "content_digest_mismatch"),
        (("PUT", uri, body, signed, "sig1", "agt_1", t), "signature_invalid"),
        (("POST", uri, body, signed, "sig1", "agt_1", t + 301), "signature_expired"),
        (("POST", uri, body, signed, "sig1", "agt_1", t - 31), "signature_from_future"),
        (("POST", uri, body, signed, "sig1", "agt_2", t), "signature_keyid"),
        (("POST", uri, body, signed, "sig2", "agt_1", t), "signature_label_missing"),
        (("POST", uri, body, {}, "sig1", "agt_1", t), "signature_missing"),
    ]:
        with pytest.raises(breeze.HttpsigError) as e:
            breeze.httpsig_verify(key["publicKey"], *args)
        assert e.value.code == code, args
    other = breeze.httpsig_generate_key()
    with pytest.raises(breeze.HttpsigError) as e:
        breeze.httpsig_verify(other["publicKey"], "POST", uri, body, signed, "sig1", "agt_1", t)
    assert e.value.code == "signature_invalid"
    # header keys other than the three camelCase ones are refused, not read as missing
    with pytest.raises(breeze.InvalidInputError):
        breeze.httpsig_verify(key["publicKey"], "POST", uri, body, {"Signature": "x"}, "sig1", "agt_1", t)
    with pytest.raises(breeze.InvalidInputError):
        breeze.httpsig_sign(key["seed"], "POST", uri, 12, "agt_1", t)
    with pytest.raises(breeze.HttpsigError) as e:
        breeze.httpsig_sign("AAAA", "POST", uri, body, "agt_1", t)
    assert e.value.code == "private_key_invalid" and "AAAA" not in str(e.value)


def test_httpsig_signatures_made_by_http_message_signatures():
    """Signatures the http-message-signatures package (PyPI) made, checked in by
    vectors/crypto/interop/check_httpsig.py; test_httpsig_interop.py makes fresh ones."""
    import base64

    v = load("crypto/httpsig_http_message_signatures.json")
    assert len(v["cases"]) >= 10
    for c in v["cases"]:
        body = base64.b64decode(c["bodyBase64"])
        assert httpsig_verify_case(c, body) == c["expect"], c["name"]
        if c["contentDigest"]:
            assert breeze.httpsig_content_digest(body) == c["contentDigest"], c["name"]
        with pytest.raises(breeze.HttpsigError) as e:
            httpsig_verify_case(dict(c, method="POST" if c["method"] == "PUT" else "PUT"), body)
        assert e.value.code == "signature_invalid", c["name"]
