"""One-off measurement (2026-12-07, Zen 4 VM): what a training step's convolutions spend
beyond their products and gathers, measured in the step itself.

benchmarks/step.py's step (ours, float32, SGD), timed in four modes that take parts of
conv2d's fast path out (monkeypatched here, nothing in the package changes):
    full          as shipped
    no gathers    im2col_rows / im2col_rows_wide hand back their (zero-filled) scratch
                  buffer without copying: the gathers' cost in the step
    no products   conv2d's np.matmul computes nothing (returns `out`, zero-filled the
                  first time its memory is seen, or a zero (K, F) block): the products'
                  cost in the step
    neither       both out: what is left of the convolutions (Python around the blocks,
                  thread hand-offs, zero-padded slabs, crops, dy copies, dw's partial
                  sums and transposes) plus every other op
The numbers are wrong in the three ablated modes, so the optimizer's learning rate is 0
(the update still runs; the weights never move): only the time counts. Modes alternate, one
step each per round, 0.3 s apart, after two warm-up rounds; medians. Prints only.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_conv/conv_parts.py 572-b32 [rounds]
"""

import statistics
import sys
import time
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import step  # noqa: E402

from minimal_unet.ops import _im2col, conv2d  # noqa: E402

REAL = {"im2col_rows": conv2d.im2col_rows, "im2col_rows_wide": conv2d.im2col_rows_wide,
        "np": conv2d.np}


_ZEROED = set()  # (address, shape, strides) of the arrays already zero-filled here


def zeroed_once(out):
    """`out`, zero-filled the first time its memory is seen (scratch buffers are reused and
    the allocator hands freed outputs' memory out again), so that no garbage (NaN,
    denormals) reaches the products or the ops after them."""
    key = (out.__array_interface__["data"][0], out.shape, out.strides)
    if key not in _ZEROED:
        out[...] = 0
        _ZEROED.add(key)
    return out


def gather_free(src_rows, kH, kW, rows, oW=None, out=None):
    """The shape im2col_rows(_wide) returns, from the scratch buffer (or `out`), nothing
    copied."""
    C, _, Wd = src_rows.shape
    width = Wd if oW is None else oW
    size = C * kH * kW * rows * width
    if out is None:
        out = _im2col.scratch("cols", size, src_rows.dtype)
    return zeroed_once(out).reshape(C * kH * kW, rows * width)


def product_free(a, b, out=None):
    """np.matmul that computes nothing: `out` (zeroed_once), else a (rows of a, columns
    of b) zero block."""
    if out is None:
        return np.zeros((a.shape[0], b.shape[1]), dtype=a.dtype)
    return zeroed_once(out)


def set_mode(mode):
    conv2d.im2col_rows = REAL["im2col_rows"]
    conv2d.im2col_rows_wide = REAL["im2col_rows_wide"]
    conv2d.np = REAL["np"]
    if mode in ("no gathers", "neither"):
        conv2d.im2col_rows = gather_free
        conv2d.im2col_rows_wide = lambda src_rows, kH, kW, rows: gather_free(
            src_rows, kH, kW, rows)
    if mode in ("no products", "neither"):
        fake = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np)
                                        if not k.startswith("__")})
        fake.matmul = product_free
        conv2d.np = fake


def main():
    size = sys.argv[1] if len(sys.argv) > 1 else "572-b32"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    run = step.build_step("ours", size, "float32", 2)
    optimizer = [cell.cell_contents for cell in run.__closure__
                 if hasattr(cell.cell_contents, "lr")][0]
    optimizer.lr = 0.0  # the weights never move: every mode steps the same net
    modes = ["full", "no gathers", "no products", "neither"]
    seconds = {m: [] for m in modes}
    for r in range(rounds + 2):
        for mode in modes:
            set_mode(mode)
            time.sleep(0.3)
            t0 = time.perf_counter()
            run()
            if r >= 2:
                seconds[mode].append(time.perf_counter() - t0)
    set_mode("full")
    med = {m: statistics.median(s) for m, s in seconds.items()}
    print(size, "float32, medians of", rounds, "rounds")
    for m in modes:
        print(f"  {m:12s} {med[m]:.3f} s  ({', '.join(f'{s:.3f}' for s in seconds[m])})")
    print(f"  gathers in the step     {med['full'] - med['no gathers']:.3f} s")
    print(f"  products in the step    {med['full'] - med['no products']:.3f} s")
    print(f"  the rest (neither)      {med['neither']:.3f} s")


if __name__ == "__main__":
    main()
