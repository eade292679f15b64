"""Rebuilds an organization's audit chain from `audit.appended` webhook deliveries and
verifies it with the Breeze Python binding, as a SIEM would.

The receiver log (JSON lines written by webhook_receiver.py) holds every delivery; only
those at --path whose signature verified and whose payload is an `audit.appended` event of
--chain are used. Redeliveries (the same webhook-id) count once. The entries are sorted by
sequence and checked with `breeze.audit_verify_stream`, which trusts the first entry's link
and then requires every next one: a delivery that never arrived is a break at its sequence.

    python audit_stream_check.py --log receiver.jsonl --path /a1 --chain <org uuid> [--drop-one]

Prints the verdict as JSON (`ok`, `entries`, `first_sequence`, `last_sequence` or `break`).
--drop-one removes the middle entry first (to show that a missed delivery is detected).
"""

import argparse
import json
import sys

import breeze


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--path", required=True)
    ap.add_argument("--chain", required=True)
    ap.add_argument("--drop-one", action="store_true")
    args = ap.parse_args()

    by_id = {}
    with open(args.log, encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            body = rec.get("body") or {}
            if rec.get("path") != args.path or not rec.get("verifiedWith"):
                continue
            if body.get("type") != "audit.appended" or body.get("orgId") != args.chain:
                continue
            data = body.get("data") or {}
            if data.get("chain") != args.chain:
                continue
            by_id[rec.get("id")] = data["entry"]

    entries = sorted(by_id.values(), key=lambda e: e["sequence"])
    if args.drop_one and len(entries) >= 3:
        del entries[len(entries) // 2]
    if not entries:
        print(json.dumps({"ok": False, "entries": 0, "reason": "no entries"}))
        return 0
    verdict = breeze.audit_verify_stream(args.chain, entries, [])
    json.dump(verdict, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
