#!/usr/bin/env python3
"""An integrator's flow against the Breeze API, through the client that openapi-python-client
generated from the server's own OpenAPI document (see README.md).

    python flow.py --base-url URL --email E --keys trusted_keys.json   (password, TOTP secret: env)

Logs in with the password and a TOTP code, creates a partner, an organization, a site and an
enrollment key, lists the organization's devices, reads its audit log, exports the audit chain
and verifies the bundle with the `breeze` Python binding against the trusted checkpoint keys of
`breeze-server audit keys --json` (origin, not only integrity).

Every HTTP call goes through the generated package `breeze_api_client`: it is imported from
PYTHONPATH, else from `generated/` next to this file. Settings come from the arguments or the
environment: BREEZE_BASE_URL, BREEZE_EMAIL, BREEZE_PASSWORD, BREEZE_TOTP_SECRET (base32),
BREEZE_TRUSTED_KEYS (a file). The password and the TOTP secret are read from the environment
only (never from the command line, where other users of the machine can see them), and no
token, password, secret or enrollment key is ever printed.

Exit status: 0 when every step succeeded and the export verified against the trusted keys,
1 when a step failed, 2 on a usage error.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import struct
import sys
import time
import uuid
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent / "generated"))

try:
    import httpx
    from breeze_api_client import AuthenticatedClient, Client
    from breeze_api_client.api.audit import get_api_v1_audit, get_api_v1_audit_export
    from breeze_api_client.api.auth import post_api_v1_auth_login, post_api_v1_auth_mfa_verify
    from breeze_api_client.api.devices import get_api_v1_devices
    from breeze_api_client.api.orgs import (
        post_api_v1_orgs,
        post_api_v_1_orgs_org_id_enrollment_keys,
        post_api_v_1_orgs_org_id_sites,
    )
    from breeze_api_client.api.partners import post_api_v1_partners
    from breeze_api_client.models import (
        AuditPage,
        CreateEnrollmentKey,
        CreateOrg,
        CreatePartner,
        CreateSite,
        EnrollmentKeyCreated,
        Error,
        LoginBody,
        MfaChallenge,
        MfaVerifyBody,
        OrgOut,
        PageOfDeviceOut,
        PartnerOut,
        SessionAnswer,
        SiteOut,
    )
except ImportError as e:
    sys.exit(f"error: the generated client is missing ({e}): generate it first (README.md)")
try:
    import breeze  # the Python binding: scripts/test-bindings builds it into the tools venv
except ImportError as e:
    sys.exit(f"error: the `breeze` Python binding is missing ({e}): run scripts/test-bindings (README.md)")


class FlowError(Exception):
    """A step that did not answer what the flow needs."""


def step(text):
    print(f"- {text}", flush=True)


def totp_now(secret_b32, at=None, step_secs=30, digits=6):
    """The RFC 6238 code (HMAC-SHA-1, 30 s, 6 digits) of a base32 secret at `at` (now)."""
    secret = secret_b32.strip().replace(" ", "").upper()
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // step_secs)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def expect(what, response, status, model):
    """The parsed body of `response` when it has `status` and parsed as `model`, else FlowError."""
    parsed = response.parsed
    if response.status_code == status and isinstance(parsed, model):
        return parsed
    if isinstance(parsed, Error):
        raise FlowError(f"{what}: HTTP {int(response.status_code)} {parsed.error}: {parsed.message}")
    names = " or ".join(m.__name__ for m in (model if isinstance(model, tuple) else (model,)))
    raise FlowError(f"{what}: HTTP {int(response.status_code)}, expected {status} with {names}")


def log_in(base_url, email, password, totp_secret):
    """An authenticated client: password, then the TOTP code when the server asks for one."""
    anon = Client(base_url=base_url, raise_on_unexpected_status=True, timeout=httpx.Timeout(30.0))
    answer = post_api_v1_auth_login.sync_detailed(
        client=anon, body=LoginBody(email=email, password=password)
    )
    login = expect("POST /api/v1/auth/login", answer, 200, (SessionAnswer, MfaChallenge))
    if isinstance(login, MfaChallenge):
        step(f"login: password accepted, second factor due (challenge valid {login.expires_in} s)")
        if not totp_secret:
            raise FlowError("the server asks for a TOTP code and BREEZE_TOTP_SECRET is not set")
        # a code about to expire may arrive in the next window: wait for a fresh one
        if 30 - time.time() % 30 < 2:
            time.sleep(2)
        verified = post_api_v1_auth_mfa_verify.sync_detailed(
            client=anon, body=MfaVerifyBody(mfa_token=login.mfa_token, code=totp_now(totp_secret))
        )
        session = expect("POST /api/v1/auth/mfa/verify", verified, 200, SessionAnswer)
        step(f"login: TOTP code accepted, session with mfa={str(session.mfa).lower()}")
    else:
        session = login
        step(f"login: session without a second factor (mfa={str(session.mfa).lower()})")
    step(f"logged in as {session.user.email} (scope {session.user.scope}), token expires in {session.expires_in} s")
    return AuthenticatedClient(
        base_url=base_url,
        token=session.access_token,
        raise_on_unexpected_status=True,
        timeout=httpx.Timeout(30.0),
    )


def load_trusted_keys(path):
    """The keys of `breeze-server audit keys --json` (its `trusted_keys`) or a plain list."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if isinstance(doc, dict):
        doc = doc.get("trusted_keys")
    if not isinstance(doc, list) or not doc:
        raise ValueError(f"{path}: expected `breeze-server audit keys --json` or a non-empty list of keys")
    return doc


def export_and_verify(client, org_id, keys, wait_checkpoint, out):
    """Exports the org's chain and verifies it against `keys`; waits up to `wait_checkpoint`
    seconds for a bundle that holds a signed checkpoint (the proof of origin)."""
    deadline = time.monotonic() + wait_checkpoint
    while True:
        answer = get_api_v1_audit_export.sync_detailed(client=client, org_id=org_id)
        bundle = expect("GET /api/v1/audit/export", answer, 200, bytes)
        lines = bundle.count(b"\n")
        report = breeze.audit_verify_bundle(bundle, keys, None)
        if not report["ok"]:
            b = report["break"]
            raise FlowError(
                f"the export does not verify: {b['kind']} at sequence {b['sequence']} "
                f"(bundle line {b['line']}): {b['detail']}"
            )
        if not report["keys_trusted"]:
            raise FlowError("the export was verified with its own keys, not the trusted ones")
        if report["checkpoints"] > 0:
            break
        if time.monotonic() >= deadline:
            raise FlowError(
                "the export holds no signed checkpoint yet, so its origin cannot be proven: the "
                "server signs checkpoints every BREEZE_AUDIT_CHECKPOINT_INTERVAL_SECS (default "
                "3600); rerun later or pass --wait-checkpoint"
            )
        step("audit export: no signed checkpoint yet, waiting for the server's next checkpoint run")
        time.sleep(1)
    step(f"audit export: {len(bundle)} bytes, {lines} lines (application/x-ndjson)")
    if out:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(bundle)
        step(f"audit export: written to {out}")
    key_ids = ", ".join(sorted({k["key_id"] for k in keys}))
    print(
        f"verified {report['entries']} entries of chain {report['chain']} "
        f"(sequences {report['first_sequence']}..{report['last_sequence']}), "
        f"{report['checkpoints']} checkpoint(s) verified against the trusted keys ({key_ids}); "
        f"head {report['head_hash']}",
        flush=True,
    )


def run(args, password, totp_secret, keys):
    client = log_in(args.base_url, args.email, password, totp_secret)
    run_id = uuid.uuid4().hex[:8]

    partner = expect(
        "POST /api/v1/partners",
        post_api_v1_partners.sync_detailed(client=client, body=CreatePartner(name=f"Flow Partner {run_id}")),
        201,
        PartnerOut,
    )
    step(f"created partner {partner.id} ({partner.name})")

    org = expect(
        "POST /api/v1/orgs",
        post_api_v1_orgs.sync_detailed(
            client=client, body=CreateOrg(name=f"Flow Org {run_id}", partner_id=partner.id)
        ),
        201,
        OrgOut,
    )
    step(f"created organization {org.id} ({org.name}, status {org.status}, partner {org.partner_id})")

    site = expect(
        "POST /api/v1/orgs/{orgId}/sites",
        post_api_v_1_orgs_org_id_sites.sync_detailed(
            org_id=org.id, client=client, body=CreateSite(name="Head office", timezone="Europe/Paris")
        ),
        201,
        SiteOut,
    )
    step(f"created site {site.id} ({site.name}, {site.timezone})")

    key = expect(
        "POST /api/v1/orgs/{orgId}/enrollment-keys",
        post_api_v_1_orgs_org_id_enrollment_keys.sync_detailed(
            org_id=org.id,
            client=client,
            body=CreateEnrollmentKey(site_id=site.id, name="First agents", max_usage=5, expires_in_minutes=60),
        ),
        201,
        EnrollmentKeyCreated,
    )
    # key.key is the enrollment secret an installer needs: shown once, never printed here
    step(f"created enrollment key {key.id} ({key.name}, up to {key.max_usage} uses, expires {key.expires_at})")

    devices = expect(
        "GET /api/v1/devices",
        get_api_v1_devices.sync_detailed(client=client, org_id=org.id, limit=50),
        200,
        PageOfDeviceOut,
    )
    step(f"listed devices of the organization: {len(devices.items)} (no agent enrolled yet)")

    page = expect(
        "GET /api/v1/audit",
        get_api_v1_audit.sync_detailed(client=client, org_id=org.id, limit=50),
        200,
        AuditPage,
    )
    actions = [item.action for item in page.items if isinstance(item.action, str)]
    step(f"read the audit log of the organization: {len(page.items)} events ({', '.join(actions)})")

    export_and_verify(client, org.id, keys, args.wait_checkpoint, args.out)


def main(argv=None):
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base-url", default=env("BREEZE_BASE_URL"), help="e.g. http://127.0.0.1:3000 (BREEZE_BASE_URL)")
    p.add_argument("--email", default=env("BREEZE_EMAIL"), help="a platform admin (BREEZE_EMAIL)")
    p.add_argument("--keys", default=env("BREEZE_TRUSTED_KEYS"),
                   help="trusted checkpoint keys: `breeze-server audit keys --json` output (BREEZE_TRUSTED_KEYS)")
    p.add_argument("--wait-checkpoint", type=float, default=0.0, metavar="SECONDS",
                   help="how long to wait for a signed checkpoint in the export (default 0)")
    p.add_argument("--out", help="also write the export bundle here (mode 0600)")
    args = p.parse_args(argv)
    password = env("BREEZE_PASSWORD")
    totp_secret = env("BREEZE_TOTP_SECRET")
    missing = [name for name, v in [("--base-url/BREEZE_BASE_URL", args.base_url), ("--email/BREEZE_EMAIL", args.email),
                                    ("BREEZE_PASSWORD", password), ("--keys/BREEZE_TRUSTED_KEYS", args.keys)] if not v]
    if missing:
        print(f"error: missing {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        keys = load_trusted_keys(args.keys)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        run(args, password, totp_secret, keys)
    except FlowError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except httpx.HTTPError as e:
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"flow complete in {time.monotonic() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
