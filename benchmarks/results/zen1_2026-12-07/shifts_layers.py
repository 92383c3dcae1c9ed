"""One-off probe (2026-12-07 evening, Zen 1 VM), not taken: the 3x3 correlation of
conv2d's forward and dx products from a horizontal im2col (C kW rows per output pixel,
3x fewer than im2col's C kH kW) and ONE product with the kernel's rows stacked,
(kH F, C kW) @ (C kW, (R+kH-1) oW), whose kH row bands are added with the shifts
0, oW, 2 oW (`correlate_shifts`). Against conv2d's im2col (trick 9 off at these layers as
shipped), every product on our two threads, best of 5, ms, with hcols blocks of 4 and
8 MiB; results checked equal (allclose) first. An earlier variant, three products of
K = 3C added up, was measured on the Xeon VM (../xeon_2026-12-05/README.md).
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen1_2026-12-07/shifts_layers.py
"""

import sys
import time

import numpy as np

from minimal_unet.ops import _threads, conv2d
from minimal_unet.ops._im2col import im2col_rows, padded_rows, scratch

BLOCK = 4 * 2**20
LAYERS = [(32, 32, 570), (32, 64, 284), (64, 64, 282), (64, 128, 140), (128, 64, 200),
          (64, 64, 198), (64, 32, 392), (32, 32, 390), (16, 16, 250), (32, 32, 122)]
_SHIPPED = conv2d._correlate
MODE = {"m": "im2col", "bb": None}


def geometry(src, w, out, block_bytes):
    """(N, C, F, kH, kW, oH, oW, cols_bytes, row_blocks): a probe's shapes, the layer's
    whole im2col size and its blocks of R output rows whose hcols (C kW, (R+kH-1) oW) is
    about block_bytes (default BLOCK)."""
    N, C, _, _ = src.shape
    F, _, kH, kW = w.shape
    _, _, oH, oW = out.shape
    cols_bytes = N * C * kH * kW * oH * oW * src.itemsize
    row_blocks = conv2d._row_blocks(C * kW, oH, oW, src.itemsize, block_bytes or BLOCK)
    return N, C, F, kH, kW, oH, oW, cols_bytes, row_blocks


def correlate_shifts(src, top, left, w, out, bias=None, block_bytes=None):
    N, C, F, kH, kW, oH, oW, cols_bytes, row_blocks = geometry(src, w, out, block_bytes)
    wst = np.ascontiguousarray(w.transpose(2, 0, 1, 3)).reshape(kH * F, C * kW)  # (kH F, C kW)

    def one_block(block):
        n, row0, rows = block
        hr = rows + kH - 1
        src_rows = padded_rows(src[n], top, left, row0, hr, oW + kW - 1)
        hcols = im2col_rows(src_rows, 1, kW, hr, oW)  # (C kW, hr oW)
        z = scratch("z", kH * F * hr * oW, src.dtype).reshape(kH * F, hr * oW)
        np.matmul(wst, hcols, out=z)
        out_rows = out[n].reshape(F, oH * oW)[:, row0 * oW:(row0 + rows) * oW]
        np.add(z[0:F, 0:rows * oW], z[F:2 * F, oW:(rows + 1) * oW], out=out_rows)
        for i in range(2, kH):
            out_rows += z[i * F:(i + 1) * F, i * oW:(i + rows) * oW]
        if bias is not None:
            out_rows += bias[:, None]

    _threads.run(one_block, [(n, r0, r) for n in range(N) for r0, r in row_blocks],
                 conv2d._block_threads(cols_bytes))


def patched(src, top, left, w, out, bias=None):
    """conv2d._correlate, or correlate_shifts for the 3x3 products trick 9 leaves."""
    F, C, kH, kW = w.shape
    if (MODE["m"] == "im2col" or kH != 3
            or conv2d._winograd_applies(C, F, kH, kW, out.shape[2], out.shape[3])):
        return _SHIPPED(src, top, left, w, out, bias)
    return correlate_shifts(src, top, left, w, out, bias, MODE["bb"])


def set_mode(m):
    MODE["m"] = m.split(":")[0]
    MODE["bb"] = int(m.split(":")[1]) * 2**20 if ":" in m else None


def main():
    conv2d._ROWS = False  # im2col as it was at 03cad21, before trick 10 (added after this)
    conv2d._correlate = patched
    rng = np.random.default_rng(0)
    modes = sys.argv[1:] or ["im2col", "shifts:4", "shifts:8"]
    with _threads.every_product_on_our_threads():
        for C, F, s in LAYERS:
            x = rng.standard_normal((1, C, s, s)).astype("f4")
            w = (rng.standard_normal((F, C, 3, 3)) / np.sqrt(9 * C)).astype("f4")
            b = np.zeros(F, "f4")
            dy = rng.standard_normal((1, F, s - 2, s - 2)).astype("f4")
            res = {}
            for m in modes:
                set_mode(m)
                y, _ = conv2d.conv2d_forward(x, w, b)
                res[m] = (y, conv2d._dx_part(dy, w, 0, x.shape, True))
            for m in modes[1:]:
                assert np.allclose(res[m][0], res[modes[0]][0], atol=1e-4), m
                assert np.allclose(res[m][1], res[modes[0]][1], atol=1e-4), m
            best = {m: [np.inf, np.inf] for m in modes}
            for _ in range(5):
                for m in modes:
                    set_mode(m)
                    t0 = time.perf_counter()
                    conv2d.conv2d_forward(x, w, b)
                    t1 = time.perf_counter()
                    conv2d._dx_part(dy, w, 0, x.shape, True)
                    t2 = time.perf_counter()
                    best[m][0] = min(best[m][0], t1 - t0)
                    best[m][1] = min(best[m][1], t2 - t1)
            print(f"{C:4d}->{F:4d} @{s}: " + "  ".join(
                f"{m} fwd {best[m][0] * 1e3:6.1f} dx {best[m][1] * 1e3:6.1f}" for m in modes),
                flush=True)


if __name__ == "__main__":
    main()
