"""Times breeze.audit_verify_bundle on a bundle written by the breeze-ffi example audit_bundle_1m."""
import json
import sys
import time

import breeze

path = sys.argv[1]
with open(path, "rb") as f:
    bundle = f.read()
keys = json.load(open(path + ".keys.json"))
start = time.perf_counter()
report = breeze.audit_verify_bundle(bundle, keys)
elapsed = time.perf_counter() - start
assert report["ok"], report
print(f"python audit_verify_bundle: {report['entries']} entries in {elapsed:.2f} s ({report['entries'] / elapsed:.0f} entries/s)")
