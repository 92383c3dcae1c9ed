"""crop_concat.py - centre-crop the skip connection and concatenate it with the up-sampled
map, forward and backward (Numba CUDA).

Shapes:    skip (N, Cs, Hs, Ws), up (N, Cu, Hu, Wu), y (N, Cs + Cu, Hu, Wu);
           top = (Hs - Hu) / 2, left = (Ws - Wu) / 2 (the launcher checks evenness).
Computes   forward:  y[n, c, h, w] = skip[n, c, top+h, left+w]   for c <  Cs
                     y[n, c, h, w] = up[n, c-Cs, h, w]           for c >= Cs
           backward: dskip[n, c, hs, ws] = dy[n, c, hs-top, ws-left] inside the crop,
                     0 outside it (dskip has skip's full shape);
                     dup[n, c, h, w] = dy[n, Cs + c, h, w].
Threads:   one logical thread per element written: forward flat over (N, Cs+Cu, Hu, Wu);
           backward one launch flat over (N, Cs, Hs, Ws) for dskip and one flat over
           (N, Cu, Hu, Wu) for dup; grid-stride loops (thread g handles g, g + G, ...).
Launch:    grid = (blocks,), block = (threads,).
Matches:   minimal_unet.ops.crop_and_concat_forward / crop_and_concat_backward.
"""

from numba import cuda


@cuda.jit
def crop_concat_forward(skip, up, y, top, left):
    """y (N, Cs+Cu, Hu, Wu) = concat([skip cropped at (top, left), up], axis=1)."""
    N, C, Hu, Wu = y.shape
    Cs = skip.shape[1]
    for idx in range(cuda.grid(1), y.size, cuda.gridsize(1)):
        w = idx % Wu
        h = (idx // Wu) % Hu
        c = (idx // (Wu * Hu)) % C
        n = idx // (Wu * Hu * C)
        if c < Cs:
            y[n, c, h, w] = skip[n, c, top + h, left + w]
        else:
            y[n, c, h, w] = up[n, c - Cs, h, w]


@cuda.jit
def crop_concat_backward_skip(dy, dskip, top, left):
    """dskip (N, Cs, Hs, Ws): dy's first Cs channels inside the crop window, 0 outside."""
    N, Cs, Hs, Ws = dskip.shape
    Hu = dy.shape[2]
    Wu = dy.shape[3]
    for idx in range(cuda.grid(1), dskip.size, cuda.gridsize(1)):
        ws = idx % Ws
        hs = (idx // Ws) % Hs
        c = (idx // (Ws * Hs)) % Cs
        n = idx // (Ws * Hs * Cs)
        h = hs - top  # row of y this skip row was copied to (if inside the crop)
        w = ws - left
        if 0 <= h < Hu and 0 <= w < Wu:
            dskip[n, c, hs, ws] = dy[n, c, h, w]
        else:
            dskip[n, c, hs, ws] = 0


@cuda.jit
def crop_concat_backward_up(dy, dup):
    """dup (N, Cu, Hu, Wu) = dy[:, Cs:] with Cs = dy.shape[1] - Cu."""
    N, Cu, Hu, Wu = dup.shape
    Cs = dy.shape[1] - Cu
    for idx in range(cuda.grid(1), dup.size, cuda.gridsize(1)):
        w = idx % Wu
        h = (idx // Wu) % Hu
        c = (idx // (Wu * Hu)) % Cu
        n = idx // (Wu * Hu * Cu)
        dup[n, c, h, w] = dy[n, Cs + c, h, w]
