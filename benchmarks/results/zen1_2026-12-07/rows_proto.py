"""One-off probe (2026-12-07 evening, Zen 1 VM) that led to conv2d's trick 10: the forward
and dx products of the 3x3 layers trick 9 leaves as three products (one per kernel row,
each F x C kW, the later ones added in place) over a horizontal im2col, against conv2d's
im2col, with hcols blocks of 2, 4 and 8 MiB ("three:2" ...). The loop, the layers and the
check against im2col are `shifts_layers.py`'s (this module swaps its product in).
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen1_2026-12-07/rows_proto.py im2col three:2 three:4 three:8
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import shifts_layers  # noqa: E402

from minimal_unet.ops import _threads, conv2d  # noqa: E402
from minimal_unet.ops._im2col import im2col_rows, padded_rows, scratch  # noqa: E402


def correlate_three(src, top, left, w, out, bias=None, block_bytes=None):
    N, C, F, kH, kW, oH, oW, cols_bytes, row_blocks = shifts_layers.geometry(
        src, w, out, block_bytes)
    ws = [np.ascontiguousarray(w[:, :, i, :]).reshape(F, C * kW) for i in range(kH)]

    def one_block(block):
        n, row0, rows = block
        hr = rows + kH - 1
        src_rows = padded_rows(src[n], top, left, row0, hr, oW + kW - 1)
        hcols = im2col_rows(src_rows, 1, kW, hr, oW)  # (C kW, hr oW)
        out_rows = out[n].reshape(F, oH * oW)[:, row0 * oW:(row0 + rows) * oW]
        np.matmul(ws[0], hcols[:, 0:rows * oW], out=out_rows)
        tmp = scratch("tmp3", F * rows * oW, src.dtype).reshape(F, rows * oW)
        for i in range(1, kH):
            np.matmul(ws[i], hcols[:, i * oW:(i + rows) * oW], out=tmp)
            out_rows += tmp
        if bias is not None:
            out_rows += bias[:, None]

    _threads.run(one_block, [(n, r0, r) for n in range(N) for r0, r in row_blocks],
                 conv2d._block_threads(cols_bytes))


if __name__ == "__main__":
    conv2d._ROWS = False  # the shipped im2col to compare with, not trick 10 itself
    shifts_layers.correlate_shifts = correlate_three
    shifts_layers.main()
