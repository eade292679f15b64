"""Loads the repository's shared vectors; a missing, empty or untracked file fails loudly."""

import json
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
VECTORS = ROOT / "vectors"

# Every vector file this suite replays (the JS suite replays the same list).
REPLAYED = [
    "crypto/breeze_generated.json",
    "crypto/jwt_jose.json",
    "crypto/envelope_node.json",
    "crypto/argon2_cffi.json",
    "crypto/rfc6238_totp.json",
    "crypto/interop/inputs.json",
    "crypto/httpsig.json",
    "crypto/httpsig_http_message_signatures.json",
    "authz/permissions.json",
    "authz/scopes.json",
    "authz/risk.json",
    "authz/mfa.json",
    "authz/session.json",
    "authz/approvals.json",
    "audit/canonical.json",
    "audit/chain.json",
    "audit/tampered.json",
    "audit/sanitize.json",
    "audit/stream.json",
    "agent-proto/text.json",
    "agent-proto/binary.json",
    "agent-proto/redact.json",
    "agent-proto/remote_path.json",
    "agent-proto/file_content.json",
    "webhooks/signatures.json",
    "webhooks/payloads.json",
]


def load(rel: str):
    path = VECTORS / rel
    if not path.is_file() or path.stat().st_size == 0:
        pytest.fail(f"vector file vectors/{rel} is missing or empty: regenerate it (see docs/CONVENTIONS.md)")
    return json.loads(path.read_text(encoding="utf-8"))


def schema_files():
    files = sorted((VECTORS / "agent-proto" / "schemas").glob("*.schema.json"))
    if not files:
        pytest.fail("vectors/agent-proto/schemas/*.schema.json are missing")
    return files


def tracked(rel_paths):
    """The subset of rel_paths git does not track (empty outside a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--", *[f"vectors/{p}" for p in rel_paths]],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return []
    return [p for p in rel_paths if f"vectors/{p}" not in out]
