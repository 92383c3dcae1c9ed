"""One block's gather, im2col_rows (runs of oW) against im2col_rows_wide (runs of rows*Wd),
for layers of the 252 / base-16 net, as conv2d cuts them (the first block of the
forward; median of 51 calls after one, the two alternating over 4 rounds, the smaller
round median kept). Prints only.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        python benchmarks/results/wide_rows_2026-12-06/probes/gather_ab.py
"""
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))
from minimal_unet.ops import _im2col, conv2d  # noqa: E402


def median_ms(fn, n=51):
    fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[n // 2] * 1e3


rng = np.random.default_rng(0)
for C, H in ((16, 250), (32, 122), (64, 58), (128, 26)):
    x = rng.standard_normal((C, H, H)).astype(np.float32)
    oW = H - 2
    row0, rows = conv2d._row_blocks(C * 9, oW, oW, 4)[0]
    src_rows = x[:, row0:row0 + rows + 2]
    best = {"narrow": [], "wide": []}
    for r in range(4):
        for name in (("narrow", "wide") if r % 2 == 0 else ("wide", "narrow")):
            if name == "narrow":
                best[name].append(median_ms(lambda: _im2col.im2col_rows(src_rows, 3, 3, rows, oW)))
            else:
                best[name].append(median_ms(lambda: _im2col.im2col_rows_wide(src_rows, 3, 3, rows)))
    narrow, wide = min(best["narrow"]), min(best["wide"])
    print(f"{C} channels @{H}, a block of {rows} rows: im2col_rows {narrow:.3f} ms, "
          f"im2col_rows_wide {wide:.3f} ms ({narrow / wide:.2f}x)", flush=True)
