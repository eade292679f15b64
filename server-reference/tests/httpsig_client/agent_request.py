"""Sends one agent request to a running breeze-server, signed (or not) by the
`http-message-signatures` package from PyPI: an implementation of RFC 9421 Breeze did not
write. Used by the end-to-end tests (server-reference/tests/it/agent_e2e.rs) as

- a thief that copied a bound agent's token but not its key (no `--seed`, or a `--seed` of
  its own);
- an independent signer holding the device's real key (`--seed` from secrets.yaml), whose
  signature Breeze must accept, and whose exact request replayed (`--replay`) it must refuse.

Prints one JSON line: {"status": N, "code": "...", "replayStatus": N, "replayCode": "..."}.
"""
import argparse
import base64
import datetime
import hashlib
import json
import secrets
import sys

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver, algorithms


class OneKey(HTTPSignatureKeyResolver):
    def __init__(self, keyid, private):
        self.keyid, self.private = keyid, private

    def resolve_private_key(self, key_id):
        if key_id != self.keyid:
            raise KeyError(key_id)
        return self.private

    def resolve_public_key(self, key_id):
        raise KeyError(key_id)


def seed_key(seed):
    raw = base64.urlsafe_b64decode(seed + "=" * (-len(seed) % 4))
    return Ed25519PrivateKey.from_private_bytes(raw)


def answer(res):
    try:
        code = res.json().get("code")
    except ValueError:
        code = None
    return res.status_code, code


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--agent-id", required=True)
    p.add_argument("--seed", help="unpadded base64url Ed25519 seed; absent: bearer only")
    p.add_argument("--own-key", action="store_true", help="sign with a fresh key of its own")
    p.add_argument("--body", default='{"status":"ok","agentVersion":"1.0.0"}')
    p.add_argument("--replay", action="store_true", help="send the identical request twice")
    a = p.parse_args()

    body = a.body.encode()
    headers = {"Authorization": f"Bearer {a.token}", "Content-Type": "application/json"}
    req = requests.Request("POST", a.url, data=body, headers=headers).prepare()
    key = Ed25519PrivateKey.generate() if a.own_key else (seed_key(a.seed) if a.seed else None)
    if key is not None:
        # RFC 9530 content digest with hashlib, then the package signs the request
        req.headers["Content-Digest"] = (
            "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
        )
        HTTPMessageSigner(
            signature_algorithm=algorithms.ED25519, key_resolver=OneKey(a.agent_id, key)
        ).sign(
            req,
            key_id=a.agent_id,
            created=datetime.datetime.now(tz=datetime.timezone.utc),
            nonce=secrets.token_urlsafe(24),
            label="sig1",
            include_alg=True,
            covered_component_ids=("@method", "@target-uri", "content-digest"),
            # the package checks the hashlib digest against the body before signing it
            body=body,
            use_existing_digest=True,
        )
    with requests.Session() as s:
        out = {}
        out["status"], out["code"] = answer(s.send(req, timeout=30))
        if a.replay:
            out["replayStatus"], out["replayCode"] = answer(s.send(req, timeout=30))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
