#!/usr/bin/python3
"""close.py REF GOT WHAT: exit 0 when max |got - ref| <= 1e-4 x max |ref| (same length)."""
import sys

import numpy as np

ref, got = (np.fromfile(p, dtype=np.float32) for p in sys.argv[1:3])
what = sys.argv[3]
if ref.shape != got.shape:
    print(f"  {what}: {got.size} outputs, the reference has {ref.size}")
    sys.exit(1)
err, scale = float(np.max(np.abs(got - ref))), float(np.max(np.abs(ref)))
ok = bool(np.all(np.isfinite(got))) and err <= 1e-4 * scale
print(f"  {what}: max |diff| {err:.3g} of max |output| {scale:.3g} -> {'ok' if ok else 'FAILED'}")
sys.exit(0 if ok else 1)
