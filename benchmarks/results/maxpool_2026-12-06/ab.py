"""Max-pool's forward and backward, the code before this record (a730cb1..a9b0e03,
copied below verbatim as old_pool_maps / old_unpool_maps) against the package's, in one
process, alternating, on the maps each max-pool of the three benchmark nets sees (one
thread: a part as `_threads.map_chunks` hands it to each core), and the two ways of
choosing the arg-max between the rows. Prints only.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/results/maxpool_2026-12-06/ab.py
"""

import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from minimal_unet.ops import maxpool2d  # noqa: E402

WINDOW_OFFSETS = maxpool2d.WINDOW_OFFSETS
# Half the maps of each max-pool's input (the part one of the 2 cores gets), float32:
# 252 / base 16, 572 / base 32, 572 / base 64 (the paper's), first and last level.
SHAPES = [(8, 248, 248), (64, 24, 24), (16, 568, 568), (128, 64, 64), (32, 568, 568),
          (256, 64, 64)]


def old_pool_maps(x, y, argmax):
    """The max-pool of maps x (M, H, W) written into y (M, H/2, W/2) and argmax (uint8)."""
    M, H, W = x.shape
    oH, oW = H // 2, W // 2
    # A view, no copy: x5[m, i, a, j, b] = x[m, 2i + a, 2j + b].
    x5 = x.reshape(M, oH, 2, oW, 2)  # (M, oH, 2, oW, 2)

    # The naive loop over windows becomes whole-array operations on the four strided views
    # x5[:, :, a, :, b], one per window position k (WINDOW_OFFSETS[k] = (a, b)).
    views = [x5[:, :, a, :, b] for a, b in WINDOW_OFFSETS]  # 4 x (M, oH, oW)
    # The maximum, row by row: np.maximum returns NaN when either side is NaN, so a window
    # holding a NaN gives NaN, as the naive loop's "any NaN beats a number" does.
    top = np.maximum(views[0], views[1])  # (M, oH, oW), max of the top row
    np.maximum(views[2], views[3], out=y)  # max of the bottom row, for now
    # The arg-max: the FIRST maximum in reading order (the naive loop keeps the first of
    # equal values), decided by two strict comparisons per window instead of one equality
    # test per position: in each row the right pixel wins only if strictly greater than
    # the left one (k = 1 over 0, 3 over 2), and the bottom row wins only if its maximum
    # is strictly greater than the top row's.
    np.greater(views[1], views[0], out=argmax, casting="unsafe")  # k in {0, 1}
    bottom_k = np.greater(views[3], views[2]).view(np.uint8) + np.uint8(2)  # k in {2, 3}
    np.copyto(argmax, bottom_k, where=y > top)
    np.maximum(y, top, out=y)  # the window's maximum
    # A NaN window: every comparison above is False there; its arg-max is its first NaN.
    # Going through k = 3, 2, 1, 0 and overwriting, the smallest NaN position is left.
    if np.isnan(y).any():  # one pass; the rest only when a NaN is there
        for k in (3, 2, 1, 0):
            np.copyto(argmax, np.uint8(k), where=np.isnan(views[k]))



def old_unpool_maps(dy, argmax, dx):
    """dx (M, H, W) of maps from dy (M, H/2, W/2) and the forward's argmax, written in place."""
    M, oH, oW = dy.shape
    dx5 = dx.reshape(M, oH, 2, oW, 2)  # (M, oH, 2, oW, 2), a view that writes into dx
    # Windows do not overlap, so each input pixel is written exactly once: for window
    # position k, dy times "k won" (1 or 0) is dy at the winner and 0 at the other three,
    # written straight into every k-th pixel (no zero fill, no masked copy).
    won = np.empty(argmax.shape, dtype=bool)  # (M, oH, oW)
    dy_is_finite = bool(np.isfinite(dy).all())
    for k in range(4):
        a, b = WINDOW_OFFSETS[k]
        np.equal(argmax, k, out=won)
        view = dx5[:, :, a, :, b]  # (M, oH, oW), strided view into dx
        with np.errstate(invalid="ignore"):  # inf * 0 = NaN, mended on the next line
            np.multiply(dy, won, out=view)
        if not dy_is_finite:  # NaN * 0 and inf * 0 are NaN: losers still get 0, as naive
            np.copyto(view, 0, where=~won)



def median_ms(fn, repeat=15):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * sorted(times)[repeat // 2]


def alternate(fns, rounds=3):
    """Median ms of each fn, rounds interleaved (old, new, old, new, ...)."""
    runs = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            runs[name].append(median_ms(fn))
    return {name: float(np.median(ms)) for name, ms in runs.items()}


def one_shape(shape, rng):
    """Old and new ms of the forward and the backward on maps of `shape`, checked equal."""
    M, H, W = shape
    x = rng.standard_normal(shape).astype(np.float32)
    y, a = np.empty((M, H // 2, W // 2), np.float32), np.empty((M, H // 2, W // 2), np.uint8)
    y_old, a_old = y.copy(), a.copy()
    old_pool_maps(x, y_old, a_old)
    maxpool2d._pool_maps(x, y, a)
    assert np.array_equal(y, y_old) and np.array_equal(a, a_old)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx, dx_old = np.empty_like(x), np.empty_like(x)
    old_unpool_maps(dy, a, dx_old)
    maxpool2d._unpool_maps(dy, a, dx)
    assert np.array_equal(dx, dx_old)
    fwd = alternate({"old": lambda: old_pool_maps(x, y_old, a_old),
                     "new": lambda: maxpool2d._pool_maps(x, y, a)})
    bwd = alternate({"old": lambda: old_unpool_maps(dy, a, dx_old),
                     "new": lambda: maxpool2d._unpool_maps(dy, a, dx)})
    return fwd, bwd


def main():
    rng = np.random.default_rng(0)
    print("maps (M, H, W), float32: forward old -> new ms | backward old -> new ms")
    for shape in SHAPES:
        fwd, bwd = one_shape(shape, rng)
        print(f"{shape}: forward {fwd['old']:.2f} -> {fwd['new']:.2f} | backward "
              f"{bwd['old']:.2f} -> {bwd['new']:.2f}")
    # The arg-max's last step alone, at (16, 248, 248)'s output (16, 124, 124) uint8.
    shape = (16, 124, 124)
    top_k = rng.integers(0, 2, shape).astype(np.uint8)
    bottom_k = rng.integers(2, 4, shape).astype(np.uint8)
    bottom_wins = rng.random(shape) < 0.5
    out = np.empty(shape, np.uint8)

    def masked_copy():
        np.copyto(out, top_k)
        np.copyto(out, bottom_k, where=bottom_wins)

    def arithmetic():
        np.multiply(bottom_wins.view(np.uint8), bottom_k - top_k, out=out)
        np.add(out, top_k, out=out)

    ms = alternate({"masked copy": masked_copy, "arithmetic": arithmetic,
                    "np.where": lambda: np.where(bottom_wins, bottom_k, top_k)})
    print(f"arg-max select at {shape} uint8:", ", ".join(f"{k} {v:.3f} ms"
                                                          for k, v in ms.items()))


if __name__ == "__main__":
    main()
