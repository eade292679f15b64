"""Checks Argon2id PHC strings made by Breeze (../breeze_generated.json) with argon2-cffi."""
import json
import pathlib
import sys

from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

here = pathlib.Path(__file__).resolve().parent
gen = json.loads((here.parent / "breeze_generated.json").read_text(encoding="utf-8"))
ph = PasswordHasher()
failures = 0
for h in gen["argon2"]:
    ok = ph.verify(h["phc"], h["password"])
    try:
        ph.verify(h["phc"], h["password"] + "x")
        wrong_refused = False
    except VerifyMismatchError:
        wrong_refused = True
    params = h["phc"].split("$")[3]
    if not (ok and wrong_refused and params == "m=65536,t=3,p=4"):
        failures += 1
        print(f"FAIL {h['password']!r}", file=sys.stderr)
print(f"argon2-cffi: {len(gen['argon2']) - failures} passed, {failures} failed")
sys.exit(1 if failures or not gen["argon2"] else 0)
