"""HTTP message signatures between Breeze and an independent implementation, the
http-message-signatures package from PyPI (bindings/python/requirements-dev.txt pins it):
signatures the package makes now are verified by breeze.httpsig_verify, and signatures
breeze.httpsig_sign makes now are verified by the package. The package is driven by
vectors/crypto/interop/check_httpsig.py (the same code scripts/test runs), loaded from its path.
"""

import importlib.util
import json

import pytest

pytest.importorskip("http_message_signatures")
pytest.importorskip("requests")

import breeze  # noqa: E402
from conftest import ROOT, load  # noqa: E402

SCRIPT = ROOT / "vectors" / "crypto" / "interop" / "check_httpsig.py"


@pytest.fixture(scope="module")
def check():
    spec = importlib.util.spec_from_file_location("check_httpsig", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_package_signatures_verify_with_breeze(check):
    cases = check.package_signed_cases()
    assert len(cases) >= 10
    tally = check.Tally()
    tampered = check.check_with_breeze(breeze, cases, tally)
    assert tampered >= 3
    assert (tally.failed, tally.passed) == (0, len(cases) + tampered)
    # the package, at the pinned version, still signs exactly what is checked in
    assert check.package_signed_document(cases) == load("crypto/httpsig_http_message_signatures.json")


def test_breeze_signatures_verify_with_the_package(check):
    key = breeze.httpsig_generate_key()
    keyid = "agt_0123456789abcdefghijklmnopqrstuv"
    t = 1_767_225_600
    n = 0
    for name, method, uri, body, _ in check.REQUESTS:
        signed = breeze.httpsig_sign(key["seed"], method, uri, body, keyid, t)
        fields = {"Content-Digest": signed["contentDigest"], "Signature-Input": signed["signatureInput"],
                  "Signature": signed["signature"]}
        result = check.package_verify(check.public_key(key["publicKey"]), keyid, method, uri, body, fields, t + 60)
        assert result.label == "sig1" and result.parameters["created"] == t, name
        assert f'nonce="{result.nonce}"' in signed["signatureInput"], name
        with pytest.raises(check.InvalidSignature):
            check.package_verify(check.public_key(key["publicKey"]), keyid, "OPTIONS", uri, body, fields, t + 60)
        n += 1
    assert n >= 10


def test_check_script_passes_with_the_binding(check, capsys, tmp_path):
    out = tmp_path / "package_signed.json"
    assert check.main(["--write-package-signed", str(out)]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "breeze verified" in printed and " 0 failed" in printed, printed
    assert json.loads(out.read_text(encoding="utf-8")) == load("crypto/httpsig_http_message_signatures.json")
