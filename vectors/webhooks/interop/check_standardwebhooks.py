"""Checks Breeze's webhook signatures (../signatures.json) with the standardwebhooks package.

Every `sign` case must equal what standardwebhooks signs with each secret (joined by spaces);
every `verify` case that passes must carry a v1 signature standardwebhooks computes for one of
its secrets, and every `no_matching_signature` case none.
"""
import datetime
import json
import pathlib
import sys

from standardwebhooks.webhooks import Webhook

here = pathlib.Path(__file__).resolve().parent
v = json.loads((here.parent / "signatures.json").read_text(encoding="utf-8"))


def at(ts):
    return datetime.datetime.fromtimestamp(int(ts), tz=datetime.timezone.utc)


def theirs(secrets, msg_id, ts, body):
    return [Webhook(s).sign(msg_id, at(ts), body).split(",", 1)[1] for s in secrets]


def ours(header):
    return {p.split(",", 1)[1] for p in header.split() if p.startswith("v1,")}


passed = failed = 0


def check(ok, name):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}", file=sys.stderr)


r = v["reference"]
check(Webhook(r["secret"]).sign(r["msg_id"], at(r["timestamp"]), r["body"]) == r["signature"], "reference")
for c in v["sign"]:
    want = " ".join(f"v1,{s}" for s in theirs(c["secrets"], c["msg_id"], c["timestamp"], c["body"]))
    check(want == c["signature"], f"sign/{c['name']}")
for c in v["verify"]:
    if c["expect"]["ok"]:
        check(bool(ours(c["signature"]) & set(theirs(c["secrets"], c["msg_id"], c["timestamp"], c["body"]))), f"verify/{c['name']}")
    elif c["expect"]["code"] == "no_matching_signature":
        check(not ours(c["signature"]) & set(theirs(c["secrets"], c["msg_id"], c["timestamp"], c["body"])), f"verify/{c['name']}")
print(f"standardwebhooks: {passed} passed, {failed} failed")
sys.exit(1 if failed or passed < 20 else 0)
