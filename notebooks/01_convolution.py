# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. Convolution: from loops to im2col, forward and backward
#
# **What this notebook teaches.** The 3x3 convolution is 18 of the U-Net's 23 layers and
# nearly all of its arithmetic. We start from a 3x3 input and a 2x2 kernel whose answer you
# can check with pencil and paper, read the loop version of `minimal_unet.ops`, see how the
# fast version turns the loops into one matrix product (im2col), and then derive the
# backward pass: `dx` is a *full* correlation of `dy` with the *flipped* kernel, and `dw`
# is a correlation of the input with `dy`. Every claim is checked against the library's
# naive twin, its fast path and centred finite differences.
#
# **What to know first.** NumPy indexing and `reshape`; the chain rule. The shape names are
# the library's: `x (N, C, H, W)`, `w (F, C, kH, kW)`, `y (N, F, oH, oW)` with
# `oH = H + 2p - kH + 1`.
#
# **Runs in** about 5 seconds on a laptop CPU.

# %%
# Setup: does nothing when minimal_unet is importable (a checkout installed with
# `make test` or `pip install -e ".[notebooks]"`). In a fresh kernel (Colab, a laptop
# without the checkout) it installs the package. minimal_unet is not on PyPI:
# MINIMAL_UNET_SOURCE says where it comes from, either a wheel (`make dist` builds
# dist/minimal_unet-*.whl; upload it next to this notebook) or the project's git URL
# ("git+https://<host>/<owner>/minimal_unet.git").
import importlib.util
from pathlib import Path

MINIMAL_UNET_SOURCE = "minimal_unet-*.whl"
EXTRAS = ""  # this notebook needs the core package only
NEEDED = ["minimal_unet"]

if any(importlib.util.find_spec(name) is None for name in NEEDED):
    if "://" in MINIMAL_UNET_SOURCE:
        requirement = f"minimal-unet{EXTRAS} @ {MINIMAL_UNET_SOURCE}"
    else:
        wheels = sorted(Path.cwd().glob(MINIMAL_UNET_SOURCE))
        if not wheels:
            raise FileNotFoundError(
                f"minimal_unet is not installed and no {MINIMAL_UNET_SOURCE} is in "
                f"{Path.cwd()}: upload the wheel here, or set MINIMAL_UNET_SOURCE to a git URL")
        requirement = f"{wheels[-1]}{EXTRAS}"
    from IPython import get_ipython

    print(f"installing {requirement}")
    get_ipython().run_line_magic("pip", f'install --quiet "{requirement}"')  # i.e. %pip install
    importlib.invalidate_caches()

# %%
# %matplotlib inline
import inspect

import matplotlib.pyplot as plt
import numpy as np

from minimal_unet.gradcheck import check_gradients, format_report, rel_error
from minimal_unet.ops import (
    _winograd,  # the deeper layers' 3x3 products, by 2x2 tiles
    conv2d_backward,
    conv2d_backward_naive,
    conv2d_forward,
    conv2d_forward_naive,
)
from minimal_unet.ops.conv2d import im2col  # the fast path's gather, for one whole image

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## A convolution you can check by hand
#
# One image, one channel, one filter: `x` is 3x3, `w` is 2x2, no padding, so the output is
# `(3 - 2 + 1) x (3 - 2 + 1) = 2 x 2`. Each output pixel is the sum of the kernel times the
# 2x2 window of the input under it (deep-learning "convolution" is a *correlation*: the
# kernel is not flipped):
#
# ```
# x = 1 2 3     w = 1 2      y[0,0] = 1*1 + 2*2 + 4*3 + 5*4 = 37
#     4 5 6         3 4      y[0,1] = 2*1 + 3*2 + 5*3 + 6*4 = 47
#     7 8 9                  y[1,0] = 4*1 + 5*2 + 7*3 + 8*4 = 67
#                            y[1,1] = 5*1 + 6*2 + 8*3 + 9*4 = 77
# ```

# %%
x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)  # (N=1, C=1, H=3, W=3)
w = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)  # (F=1, C=1, kH=2, kW=2)
b = np.zeros(1)  # (F,)

y_by_hand = np.array([[37.0, 47.0], [67.0, 77.0]])
y_naive, _ = conv2d_forward_naive(x, w, b)
y_fast, cache = conv2d_forward(x, w, b)
print(y_fast[0, 0])
assert np.array_equal(y_naive[0, 0], y_by_hand)
assert np.array_equal(y_fast[0, 0], y_by_hand)

# %% [markdown]
# A bias adds one number per filter to every output pixel, and zero padding (`pad=1`)
# surrounds `x` with a ring of zeros, so the output grows to `3 + 2 - 2 + 1 = 4` pixels a
# side. The corner `y[0, 0]` now sees only `x[0, 0] = 1` under `w[1, 1] = 4`:

# %%
y_pad, _ = conv2d_forward(x, w, np.array([0.5]), pad=1)
print(y_pad[0, 0])
assert y_pad.shape == (1, 1, 4, 4)
assert y_pad[0, 0, 0, 0] == 1 * 4 + 0.5  # only x[0,0] lies under the kernel
assert y_pad[0, 0, 1, 1] == 37 + 0.5  # the unpadded y[0,0], shifted by the padding

# %% [markdown]
# ## The loops
#
# The naive twin is the formula `y[n,f,h,w] = b[f] + sum_{c,i,j} xp[n,c,h+i,w+j] w[f,c,i,j]`
# written as seven nested loops. Read it once; it is the definition everything else must
# match.

# %%
print(inspect.getsource(conv2d_forward_naive))

# %% [markdown]
# ## im2col: the loops become one matrix product
#
# The inner three loops (over `c, i, j`) are a dot product between the filter, flattened
# to a row of length `K = C*kH*kW`, and the receptive field of one output pixel, flattened
# the same way. Write every receptive field as a *column* of a matrix `cols (K, oH*oW)`,
# and all filters as the rows of `w2 (F, K)`: then `y = w2 @ cols` computes every output
# pixel of every filter at once. For our example the four receptive fields are the four
# 2x2 windows, read row by row:
#
# ```
#          y[0,0] y[0,1] y[1,0] y[1,1]
# cols = [   1      2      4      5   ]   <- x[h+0, w+0]
#        [   2      3      5      6   ]   <- x[h+0, w+1]
#        [   4      5      7      8   ]   <- x[h+1, w+0]
#        [   5      6      8      9   ]   <- x[h+1, w+1]
# ```
#
# The library's fast path gathers exactly this matrix (in blocks of output rows, so that
# it stays small for a 570x570 image) with one strided copy:

# %%
cols_by_hand = np.array([[1, 2, 4, 5], [2, 3, 5, 6], [4, 5, 7, 8], [5, 6, 8, 9]], dtype=float)
cols = im2col(x[0], 2, 2)  # (K=4, oH*oW=4)
print(cols)
assert np.array_equal(cols, cols_by_hand)

w2 = w.reshape(1, 4)  # (F, K)
y_matmul = w2 @ cols  # (F, K) @ (K, oH*oW) -> (F, oH*oW)
print(y_matmul.reshape(2, 2))  # (oH, oW)
assert np.array_equal(y_matmul.reshape(2, 2), y_by_hand)

# %% [markdown]
# The fast and the naive versions agree on a random batch with several channels, filters,
# padding and a non-square image, in float64 and in float32 (the output dtype follows the
# input's):

# %%
rng = np.random.default_rng(0)
for dtype in (np.float64, np.float32):
    xr = rng.standard_normal((2, 3, 7, 6)).astype(dtype)  # (N, C, H, W)
    wr = rng.standard_normal((4, 3, 3, 3)).astype(dtype)  # (F, C, kH, kW)
    br = rng.standard_normal(4).astype(dtype)  # (F,)
    y1, _ = conv2d_forward_naive(xr, wr, br, pad=1)
    y2, _ = conv2d_forward(xr, wr, br, pad=1)
    print(dtype.__name__, y2.shape, y2.dtype, "rel. error fast vs naive:", rel_error(y1, y2))
    assert y2.dtype == dtype and y2.shape == (2, 4, 7, 6)
    assert rel_error(y1, y2) < (1e-12 if dtype == np.float64 else 1e-5)

# %% [markdown]
# ## The backward pass, derived
#
# The network's loss `L` depends on `y`, and the layer after this one hands us
# `dy = dL/dy`, same shape as `y`. Since `y` is linear in `x`, in `w` and in `b`, the chain
# rule is just "collect every place a variable was used":
#
# * `b[f]` was added to every output pixel of filter `f`:
#   `db[f] = sum_{n,h,w} dy[n,f,h,w]`.
# * `w[f,c,i,j]` multiplied `xp[n,c,h+i,w+j]` for every output pixel `(n,h,w)`:
#   `dw[f,c,i,j] = sum_{n,h,w} dy[n,f,h,w] xp[n,c,h+i,w+j]`.
#   That is a **correlation of the input with `dy`**: slide `dy[n,f]` (an `oH x oW` "kernel")
#   over `xp[n,c]`; the result is `kH x kW`.
# * `x[n,c,u,v]` was used by every output pixel whose window covered it, with weight
#   `w[f,c,u-h,v-w]`: `dx[n,c,u,v] = sum_{f,h,w} dy[n,f,h,w] w[f,c,u-h,v-w]`. Substituting
#   `i = kH-1-(u-h)` turns this into a correlation of `dy`, padded by `kH-1-p` zeros (a
#   **full** correlation), with the kernel **flipped** in both spatial axes and with `F`
#   and `C` swapped.
#
# ### By hand first
#
# Take `dy` = all ones on the 2x2 output of our example. Then `db` = 4 (four pixels),
# `dw[i,j]` = the sum of the four windows' entries at `(i, j)` = the row sums of `cols`,
# and `dx[u,v]` = the sum of the kernel entries that ever lay on `x[u,v]`:
#
# ```
# dw = 1+2+4+5  2+3+5+6  = 12 16      dx = 1    1+2      2     = 1  3  2
#      4+5+7+8  5+6+8+9    24 28           1+3  1+2+3+4  2+4     4 10  6
#                                          3    3+4      4       3  7  4
# ```

# %%
dy = np.ones((1, 1, 2, 2))  # (N, F, oH, oW)
dx, dw, db = conv2d_backward(dy, cache)
print("dx\n", dx[0, 0], "\ndw\n", dw[0, 0], "\ndb", db)
assert np.array_equal(dw[0, 0], [[12.0, 16.0], [24.0, 28.0]])
assert np.array_equal(dx[0, 0], [[1.0, 3.0, 2.0], [4.0, 10.0, 6.0], [3.0, 7.0, 4.0]])
assert np.array_equal(db, [4.0])
assert np.array_equal(dw[0, 0].ravel(), cols_by_hand.sum(axis=1))  # row sums of im2col

# %% [markdown]
# ### Both gradients are convolutions again
#
# The two derivations say that the backward pass needs no new machinery: `conv2d_forward`
# itself computes both gradients, once the arrays are arranged right.
#
# * **dw**: batch and channels trade places. `x` seen as `(C, N, H, W)` is a batch of `C`
#   images with `N` channels; `dy` seen as `(F, N, oH, oW)` is `F` filters of size
#   `oH x oW`. Their convolution (with the forward's padding) is `(C, F, kH, kW)`, the
#   transpose of `dw`.
# * **dx**: `dy` is the input, the flipped and `F <-> C` swapped kernel
#   `w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)` of shape `(C, F, kH, kW)` is the weight,
#   and the padding is `kH - 1 - p` (full correlation).

# %%
xr = rng.standard_normal((2, 3, 7, 6))  # (N, C, H, W), float64
wr = rng.standard_normal((4, 3, 3, 3))  # (F, C, kH, kW)
br = rng.standard_normal(4)  # (F,)
pad = 1
yr, cache_r = conv2d_forward(xr, wr, br, pad=pad)
dyr = rng.standard_normal(yr.shape)  # a random upstream gradient dL/dy, (N, F, oH, oW)
dx_fast, dw_fast, db_fast = conv2d_backward(dyr, cache_r)
dx_naive, dw_naive, db_naive = conv2d_backward_naive(dyr, cache_r)

# dw as a correlation of x with dy
x_swapped = np.ascontiguousarray(xr.transpose(1, 0, 2, 3))  # (C, N, H, W)
dy_swapped = np.ascontiguousarray(dyr.transpose(1, 0, 2, 3))  # (F, N, oH, oW)
dw_t, _ = conv2d_forward(x_swapped, dy_swapped, np.zeros(4), pad=pad)  # (C, F, kH, kW)
dw_as_conv = dw_t.transpose(1, 0, 2, 3)  # (F, C, kH, kW)

# dx as a full correlation of dy with the flipped kernel
w_flipped = np.ascontiguousarray(wr[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))  # (C, F, kH, kW)
dx_as_conv, _ = conv2d_forward(dyr, w_flipped, np.zeros(3), pad=3 - 1 - pad)  # (N, C, H, W)

db_as_sum = dyr.sum(axis=(0, 2, 3))  # (F,)

for name, derived, fast, naive in [("dx", dx_as_conv, dx_fast, dx_naive),
                                   ("dw", dw_as_conv, dw_fast, dw_naive),
                                   ("db", db_as_sum, db_fast, db_naive)]:
    print(f"{name}: derived vs fast {rel_error(derived, fast):.1e}, "
          f"fast vs naive {rel_error(fast, naive):.1e}")
    assert rel_error(derived, fast) < 1e-12 and rel_error(fast, naive) < 1e-12

# %% [markdown]
# ### And numerically
#
# The independent check: centred finite differences in float64,
# `(L(x + h e_k) - L(x - h e_k)) / 2h` for every entry `k`, with `L = sum(y * dy)`.
# `check_gradients` perturbs each input in place and reports the relative error of the
# numerical gradient against ours (notebook 4 is all about this tool).

# %%
errors = check_gradients(
    lambda x, w, b: conv2d_forward(x, w, b, pad=pad)[0],
    {"x": xr, "w": wr, "b": br},
    {"x": dx_fast, "w": dw_fast, "b": db_fast},
    dy=dyr,
)
print(format_report(errors))
assert all(error < 1e-7 for error in errors.values())

# %% [markdown]
# ## What a convolution does to an image
#
# Two hand-made 3x3 kernels on a picture of a disc: a vertical-edge detector responds
# where brightness changes from left to right, a horizontal one where it changes from top
# to bottom. The right panel is `dx` for `dy` = the vertical response itself (and zero
# for the horizontal one): the gradient of `L = sum(y_vertical**2) / 2` with respect to
# the image, a full correlation with the flipped kernel, so it lights up on the same edges.

# %%
rows, columns = np.mgrid[0:48, 0:48]
disc = ((rows - 24) ** 2 + (columns - 20) ** 2 < 14**2).astype(float)  # (H, W)
image = disc[None, None]  # (1, 1, 48, 48)
edges = np.array([[[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]],  # vertical edges
                  [[[-1, -2, -1], [0, 0, 0], [1, 2, 1]]]], dtype=float)  # (F=2, C=1, 3, 3)
response, edge_cache = conv2d_forward(image, edges, np.zeros(2), pad=1)  # (1, 2, 48, 48)
d_image, _, _ = conv2d_backward(response * np.array([1.0, 0.0])[None, :, None, None],
                                edge_cache)  # dy = the vertical response only

fig, axes = plt.subplots(1, 4, figsize=(12, 3))
panels = [(disc, "image x", "gray"), (response[0, 0], "y, vertical-edge kernel", "RdBu_r"),
          (response[0, 1], "y, horizontal-edge kernel", "RdBu_r"),
          (d_image[0, 0], "dx for dy = vertical y", "RdBu_r")]
for ax, (data, title, cmap) in zip(axes, panels):
    limit = np.abs(data).max()
    ax.imshow(data, cmap=cmap, vmin=-limit if cmap != "gray" else 0, vmax=limit)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Fewer multiplications: Winograd's F(2x2, 3x3)
#
# im2col spends `kH*kW = 9` multiply-adds per output pixel, per filter and channel. For a
# 3x3 kernel there is a cheaper way (Lavin & Gray, 2016): a 2x2 tile of output `Y` comes
# from a 4x4 tile of input `d` as
#
# ```
# Y = A^T [ (G g G^T) * (B^T d B) ] A        (* elementwise, 4x4)
# ```
#
# with small constant matrices `B`, `G`, `A` of 0, +-1 and +-1/2. The filter's transform
# `G g G^T` is computed once; the input's `B^T d B` is additions only; per tile that leaves
# 16 products for 4 outputs instead of 36. Summed over channels, the 16 elementwise
# products become 16 matrix products, which is how the library's deeper layers run
# (`minimal_unet/ops/_winograd.py`; trick 9 in the docstring of `ops/conv2d.py`). One
# tile, against the nine-term sums:

# %%
d = rng.standard_normal((4, 4))  # a 4x4 tile of input
g = rng.standard_normal((3, 3))  # a 3x3 kernel
direct = np.array([[np.sum(d[h:h + 3, v:v + 3] * g) for v in range(2)] for h in range(2)])
winograd = _winograd.tile_correlation(d, g)
print("direct:\n", direct, "\nWinograd:\n", winograd)
assert np.allclose(direct, winograd, rtol=0, atol=1e-12)

# %% [markdown]
# ## A third of the gathering: one kernel row at a time
#
# The rows of `cols` for kernel row `i` hold the receptive fields' row `i`, and output row
# `h` reads input row `h + i` there. So one gather one kernel row high, `hcols` (`C*kW`
# rows, one column per input row and output column), holds every kernel row's part: the
# columns of output rows `i .. i+oH-1` are kernel row `i`'s rows of `cols`. The product
# splits by `i` into `kH` products over views of that one gather, and the gathering, which
# costs more than the multiplying in the narrow layers, shrinks to `1/kH` (trick 10 in the
# docstring of `ops/conv2d.py`). One image, 4 channels, against the im2col product:

# %%
C, F, H, W = 4, 5, 7, 8
xr = rng.standard_normal((C, H, W))
wr = rng.standard_normal((F, C, 3, 3))
oH, oW = H - 2, W - 2
hcols = im2col(xr, 1, 3)  # a kernel 1 row high: (C*3, H*oW), every input row
print("im2col rows:", C * 9, " hcols rows:", hcols.shape[0])
by_rows = sum(wr[:, :, i, :].reshape(F, C * 3) @ hcols[:, i * oW:(i + oH) * oW]
              for i in range(3))  # (F, oH*oW)
assert np.allclose(by_rows, wr.reshape(F, -1) @ im2col(xr, 3, 3))

# %% [markdown]
# ## The scatter after all: `dx` by col2im at the deep layers
#
# `dx` can also be computed as the naive loops' scatter: `dcols = w2.T @ dy2` (`K` rows,
# one column per *output* pixel), then row `(c, i, j)` of it added into channel `c` of
# `dx` shifted by `(i, j)`. The correlation form multiplies `dy`'s zero border too,
# `(H*W) / (oH*oW)` times the forward's products (1.44x for a 10x10 output), so where an
# image is a few pixels wide and the layer has many filters the scatter is faster
# (trick 11 in `ops/conv2d.py`). The same numbers:

# %%
C, F, H, W = 3, 4, 6, 7
xs, ws = rng.standard_normal((1, C, H, W)), rng.standard_normal((F, C, 3, 3))
ys, cache_s = conv2d_forward(xs, ws, np.zeros(F), 0)
dys = rng.standard_normal(ys.shape)
oH, oW = ys.shape[2:]
dcols = ws.reshape(F, -1).T @ dys[0].reshape(F, oH * oW)  # (C*9, oH*oW)
dx_scatter = np.zeros((C, H, W))
for c in range(C):
    for i in range(3):
        for j in range(3):
            dx_scatter[c, i:i + oH, j:j + oW] += dcols[(c * 3 + i) * 3 + j].reshape(oH, oW)
assert np.allclose(dx_scatter, conv2d_backward(dys, cache_s)[0][0])

# %% [markdown]
# ## Summary
#
# * Forward: `y = w2 @ cols + b`, with `cols` the im2col matrix of receptive fields
#   (`K = C*kH*kW` rows, one column per output pixel).
# * Backward: `db` sums `dy`; `dw` is the correlation of `x` with `dy`; `dx` is the full
#   correlation of `dy` with the flipped, channel-swapped kernel. The library computes
#   `dx` with the very same blocked routine as the forward pass, except at the deep
#   layers, where the `col2im` scatter is faster.
# * Next: notebook 2 does the same for max-pooling, the up-convolution and the
#   crop-and-concatenate of the skip connections.
