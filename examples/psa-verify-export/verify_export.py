#!/usr/bin/env python3
"""Verify a Breeze audit export bundle, as a PSA vendor would, and print the first break.

    python verify_export.py BUNDLE.jsonl [--keys KEYS.json] [--checkpoints CHECKPOINTS.json]

KEYS.json holds the checkpoint keys you trust: the list ``[{"key_id": ..., "public_key": <hex>}]``,
or the document ``breeze-server audit keys --json`` prints (its ``trusted_keys`` are used).
Without it the bundle's own keys are used, which proves integrity but not origin.
CHECKPOINTS.json lists checkpoints you kept from earlier exports; the bundle must contain their
heads, which catches a chain rewritten after them. Exit status: 0 verified, 1 broken, 2 usage.
"""

import argparse
import json
import sys

import breeze


def load_keys(path):
    """The trusted keys of PATH: a list, or the ``audit keys --json`` document."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if isinstance(doc, dict):
        if not isinstance(doc.get("trusted_keys"), list):
            raise ValueError(f"{path}: expected a list of keys or an object with `trusted_keys`")
        doc = doc["trusted_keys"]
    return doc


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Verify a Breeze audit export bundle")
    p.add_argument("bundle", help="the .jsonl export bundle")
    p.add_argument("--keys", help="trusted checkpoint keys: a JSON list, or `breeze-server audit keys --json`")
    p.add_argument("--checkpoints", help="JSON list of checkpoints kept from earlier exports")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    args = p.parse_args(argv)

    try:
        with open(args.bundle, "rb") as f:
            bundle = f.read()
        keys = load_keys(args.keys) if args.keys else None
        checkpoints = json.load(open(args.checkpoints, encoding="utf-8")) if args.checkpoints else None
        report = breeze.audit_verify_bundle(bundle, keys, checkpoints)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except breeze.BreezeError as e:
        print(f"error: {e.code}: {e}", file=sys.stderr)
        return 2

    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    origin = "trusted keys" if report["keys_trusted"] else "the bundle's own keys (integrity only)"
    if report["ok"]:
        print(f"OK chain {report['chain']}: {report['entries']} entries, sequences "
              f"{report['first_sequence']}..{report['last_sequence']}, {report['checkpoints']} checkpoints "
              f"verified with {origin}; head {report['head_hash']}")
        if report.get("pruned_through") is not None:
            print(f"   entries through {report['pruned_through']} were removed by a verified retention record")
        return 0
    b = report["break"]
    print(f"BROKEN chain {report.get('chain') or '?'}: {b['kind']} at sequence {b['sequence']} "
          f"(bundle line {b['line']}): {b['detail']}")
    print(f"   {report['entries']} entries and {report['checkpoints']} checkpoints read before the break")
    return 1


if __name__ == "__main__":
    sys.exit(main())
