"""conv2d's trick 11: dx by col2im (the naive loops' scatter) at the deep layers.

Shape legend (as in conv2d.py)
    C, F  input channels, filters      kH, kW  kernel size      oH, oW  output size
    H, W  input size                   p  zero padding           dxp  dx with its padding

    dcols = w.reshape(F, K)^T @ dy[n]                 # (K, F) @ (F, oH*oW), w^T a view
    dxp[n, :, i:i+oH, j:j+oW] += dcols[(:, i, j)]     # one shifted add per tap (i, j)
in blocks of channels (about _BLOCK_BYTES of dcols each; every block writes its own
channels, the taps in a fixed order: the same bits on any thread count). conv2d's own dx,
the forward's correlation of dy's padding with the flipped kernel, multiplies dy's zero
border too, (H W) / (oH oW) times the products of the forward (1.44x at 10x10 output),
and first copies the flipped, transposed kernel (2.0 ms at 512->512, 22 ms at
1024->1024: benchmarks/results/xeon_2026-12-07/probes_output.txt); col2im does neither,
at the price of kH kW passes over (C, oH, oW). Notebook 01 shows the scatter on one image.

Where (`applies`): at least _MIN_F (128) filters and at most _MAX_PIXELS (32 x 32) output
pixels per image. There dx took 0.47-0.97 of the correlation's time (128->256 @12 1.13
-> 0.57 ms, 512->512 @30 22.1 -> 16.2 ms; Xeon VM, family 6 model 207, 2026-12-07,
benchmarks/results/xeon_2026-12-07/col2im_layers_output.txt); at the shallow, wide layers
1.4-4.1x, the adds over large images costing more than the border saves, and 0.94-1.50x
at the 64-filter layers of <= 60 pixels a side. Steps (one-process A/Bs): 252 / base 16
3 % faster, 572 / base 32 1 %, the paper step level to 1 %.
"""

import numpy as np

from minimal_unet.ops import _conv_blocks
from minimal_unet.ops._im2col import scratch

_ON = True  # trick 11 where `applies` says so; False: dx by correlation everywhere
_MIN_F = 128  # ... where a layer has at least this many filters
_MAX_PIXELS = 32 * 32  # ... and at most this many output pixels per image
_BLOCK_BYTES = 2**20  # ... in blocks of channels of about this much dcols


def applies(C, F, kH, kW, oH, oW):
    """Whether dx takes trick 11 (col2im): at least _MIN_F filters and at most _MAX_PIXELS
    output pixels per image. Shapes only: the same choice on any number of threads."""
    return _ON and F >= _MIN_F and oH * oW <= _MAX_PIXELS


def dx(dy, w, pad, x_shape):
    """dx (x_shape) by trick 11: per image and block of channels c0:c1,
        dcols = w[:, c0:c1]^T ((c1-c0) kH kW, F) @ dy_n (F, oH oW)
        dxp[n, c0:c1, i:i+oH, j:j+oW] += dcols[(c, i, j), :] for each kernel tap (i, j),
    the naive `dxp[...] += w * g` with the loops over f, h, v in the product; dx is dxp
    without its padding. Each block writes its own channels of dxp, in a fixed order of
    taps: the same bits on any number of threads."""
    N, C, H, W = x_shape
    F, _, kH, kW = w.shape
    _, _, oH, oW = dy.shape
    w2 = w.reshape(F, C * kH * kW)  # (F, (c, i, j))
    dxp = np.empty((N, C, H + 2 * pad, W + 2 * pad), dtype=dy.dtype)
    taps_bytes = kH * kW * oH * oW * dy.itemsize  # one channel's dcols
    blocks = _conv_blocks.row_blocks(kH * kW * oH, C, oW, dy.itemsize, _BLOCK_BYTES)  # channels

    def one_block(block):
        n, c0, channels = block
        k0, k1 = c0 * kH * kW, (c0 + channels) * kH * kW
        dcols = scratch("dcols", (k1 - k0) * oH * oW, dy.dtype).reshape(k1 - k0, oH * oW)
        np.matmul(w2[:, k0:k1].T, dy[n].reshape(F, oH * oW), out=dcols)
        dcols = dcols.reshape(channels, kH, kW, oH, oW)
        part = dxp[n, c0:c0 + channels]  # (channels, H + 2 pad, W + 2 pad), a view
        part.fill(0)
        for i in range(kH):
            for j in range(kW):
                part[:, i:i + oH, j:j + oW] += dcols[:, i, j]

    _conv_blocks.run_blocks(
        one_block, [(n, c0, channels) for n in range(N) for c0, channels in blocks],
        N * C * taps_bytes)
    if pad == 0:
        return dxp
    return np.ascontiguousarray(dxp[:, :, pad:pad + H, pad:pad + W])
