#!/usr/bin/env python3
"""Independent reference for Weir's bucketing contract (docs/bucketing.md).

bucket = (XXH64(seed + "." + value, seed=0) * 100000) >> 64

Computed with the python3-xxhash binding of the reference xxHash C library,
not with Weir's Go code, so the Go tests check the contract rather than
themselves. Run: python3 gen_bucket_vectors.py > bucketing.json
"""
import json
import xxhash

CASES = [
    ("new-checkout", "user-1"),
    ("new-checkout", "user-2"),
    ("new-checkout", "user-42"),
    ("new-checkout", "user-1000000"),
    ("checkout-button-color", "user-1"),
    ("checkout-button-color", "user-2"),
    ("layer-pricing", "user-1"),
    ("a", "b"),
    ("", ""),
    ("", "user-1"),
    ("seed", ""),
    ("flag.with.dots", "org:42"),
    ("unicode-ß", "ユーザー-7"),
    ("emoji", "🚀"),
    ("long", "x" * 100),
    ("new-checkout", "3f2504e0-4f89-11d3-9a0c-0305e82c3301"),
    ("experiment-2026-q4", "device-ffffffffffffffff"),
    ("12345", "67890"),
    ("space seed", "value with spaces"),
    ("new-checkout", "USER-1"),
]

def bucket(seed: str, value: str) -> tuple[int, int]:
    h = xxhash.xxh64_intdigest((seed + "." + value).encode("utf-8"), 0)
    return h, (h * 100000) >> 64

out = []
for seed, value in CASES:
    h, b = bucket(seed, value)
    out.append({"seed": seed, "value": value, "hash": str(h), "bucket": b})
print(json.dumps(out, ensure_ascii=False, indent=1))
