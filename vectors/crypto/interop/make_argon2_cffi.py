"""Hashes passwords with argon2-cffi (an independent Argon2 implementation, the reference C
code) using the SPEC 2.1 parameters, for Breeze to verify.

Run: python make_argon2_cffi.py   -> writes ../argon2_cffi.json
"""
import json
import pathlib

import argon2
from argon2 import PasswordHasher, Type

here = pathlib.Path(__file__).resolve().parent
inputs = json.loads((here / "inputs.json").read_text(encoding="utf-8"))
ph = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4, hash_len=32, salt_len=16, type=Type.ID)
weak = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)
hashes = [{"password": pw, "phc": ph.hash(pw), "needsRehash": False} for pw in inputs["argon2"]["passwords"]]
hashes.append({"password": "Correct-Horse-9", "phc": weak.hash("Correct-Horse-9"), "needsRehash": True})
out = {
    "source": f"argon2-cffi {argon2.__version__} PasswordHasher, made by vectors/crypto/interop/make_argon2_cffi.py from inputs.json",
    "hashes": hashes,
}
(here.parent / "argon2_cffi.json").write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
print(f"wrote {len(hashes)} argon2-cffi hashes")
