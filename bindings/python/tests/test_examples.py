"""Runs examples/psa-verify-export against the audit vectors."""

import json
import pathlib
import subprocess
import sys

from conftest import ROOT, load

SCRIPT = ROOT / "examples" / "psa-verify-export" / "verify_export.py"


def run(tmp_path: pathlib.Path, bundle: str, keys=None, checkpoints=None):
    b = tmp_path / "bundle.jsonl"
    b.write_text(bundle, encoding="utf-8")
    cmd = [sys.executable, str(SCRIPT), str(b)]
    if keys is not None:
        (tmp_path / "keys.json").write_text(json.dumps(keys))
        cmd += ["--keys", str(tmp_path / "keys.json")]
    if checkpoints:
        (tmp_path / "cps.json").write_text(json.dumps(checkpoints))
        cmd += ["--checkpoints", str(tmp_path / "cps.json")]
    return subprocess.run(cmd, capture_output=True, text=True)


def test_intact_bundle(tmp_path):
    v = load("audit/chain.json")
    keys = [{"key_id": k["key_id"], "public_key": k["public_key"]} for k in v["keys"]]
    out = run(tmp_path, v["full"]["bundle"], keys)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("OK chain ") and "10 entries" in out.stdout and "trusted keys" in out.stdout


def test_every_tampered_bundle_reports_its_first_break(tmp_path):
    v = load("audit/tampered.json")
    keys = [{"key_id": k["key_id"], "public_key": k["public_key"]} for k in load("audit/chain.json")["keys"]]
    for c in v["cases"]:
        out = run(tmp_path, c["bundle"], keys if c["trusted_keys"] is not None else None, c["trusted_checkpoints"])
        assert out.returncode == 1, (c["name"], out.stdout, out.stderr)
        want = f"{c['expected']['kind']} at sequence {c['expected']['sequence']} "
        assert want in out.stdout, (c["name"], out.stdout)


def test_usage_errors(tmp_path):
    out = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "missing.jsonl")], capture_output=True, text=True)
    assert out.returncode == 2 and "error:" in out.stderr


def test_audit_keys_document_verifies_origin(tmp_path):
    """`--keys` takes what `breeze-server audit keys --json` prints; a foreign key is refused."""
    v = load("audit/chain.json")
    trusted = [{"key_id": k["key_id"], "public_key": k["public_key"]} for k in v["keys"]]
    doc = {
        "algorithm": "ed25519",
        "active_key_id": trusted[0]["key_id"],
        "keys": [dict(k, algorithm="ed25519", active=i == 0, aliases=[]) for i, k in enumerate(trusted)],
        "trusted_keys": trusted,
    }
    out = run(tmp_path, v["full"]["bundle"], doc)
    assert out.returncode == 0, out.stderr
    assert "trusted keys" in out.stdout and "integrity only" not in out.stdout
    # the Ed25519 base point as a stand-in for another server's key
    foreign = [{"key_id": k["key_id"], "public_key": "58" + "66" * 31} for k in trusted]
    out = run(tmp_path, v["full"]["bundle"], dict(doc, trusted_keys=foreign))
    assert out.returncode == 1, (out.stdout, out.stderr)
    out = run(tmp_path, v["full"]["bundle"], {"keys": trusted})
    assert out.returncode == 2 and "trusted_keys" in out.stderr
