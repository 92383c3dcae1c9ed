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
# # 2. Max-pooling, up-convolution, crop-and-concatenate
#
# **What this notebook teaches.** The three layers that give the U-Net its shape, each on
# an example small enough to check by hand, then on random data against the naive twin
# and finite differences:
#
# * **2x2 max-pool** (the way down): the forward keeps each window's maximum *and where it
#   was*; the backward routes each gradient to that one pixel. Ties go to the first
#   maximum in window order (top-left, top-right, bottom-left, bottom-right).
# * **2x2 up-convolution** (the way up): each input pixel paints its own 2x2 patch of the
#   output; its gradient is a stride-2 convolution with the same weights.
# * **crop-and-concatenate** (the skip connections): the crop arithmetic of the paper, and
#   why the skip map's gradient is zero outside the crop.
#
# **What to know first.** Notebook 1 (convolution and its backward pass); the shape
# names `(N, C, H, W)`.
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
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from minimal_unet.gradcheck import check_gradients, format_report, rel_error
from minimal_unet.ops import (
    conv2d_forward,
    crop_and_concat_backward,
    crop_and_concat_backward_naive,
    crop_and_concat_forward,
    crop_and_concat_forward_naive,
    maxpool2d_backward,
    maxpool2d_backward_naive,
    maxpool2d_forward,
    maxpool2d_forward_naive,
    upconv2d_backward,
    upconv2d_backward_naive,
    upconv2d_forward,
    upconv2d_forward_naive,
)
from minimal_unet.ops.maxpool2d import WINDOW_OFFSETS

np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 2x2 max-pool, stride 2
#
# A 4x4 input has four non-overlapping 2x2 windows. Three of them have ties on purpose:
#
# ```
# x = 1 3 | 2 2       window        max  where (k)          y = 4 2    argmax = 2 0
#     4 2 | 2 2       top-left       4   bottom-left  (2)       5 7             1 0
#     ----+----       top-right      2   all equal -> top-left (0)
#     0 5 | 7 1       bottom-left    5   tie 1 vs 2 -> top-right (1)
#     5 1 | 1 7       bottom-right   7   tie 0 vs 3 -> top-left (0)
# ```
#
# The cache keeps `argmax` (uint8, one entry per output pixel) and the input shape,
# nothing else: that is all the backward pass needs.

# %%
print("window positions k -> (row, column) offset:", WINDOW_OFFSETS)
x = np.array([[1, 3, 2, 2],
              [4, 2, 2, 2],
              [0, 5, 7, 1],
              [5, 1, 1, 7]], dtype=float).reshape(1, 1, 4, 4)  # (N, C, H, W)
y, cache = maxpool2d_forward(x)
argmax, x_shape = cache
print("y =\n", y[0, 0], "\nargmax =\n", argmax[0, 0])
assert np.array_equal(y[0, 0], [[4, 2], [5, 7]])
assert argmax.dtype == np.uint8 and np.array_equal(argmax[0, 0], [[2, 0], [1, 0]])
y_naive, (argmax_naive, _) = maxpool2d_forward_naive(x)
assert np.array_equal(y, y_naive) and np.array_equal(argmax, argmax_naive)

# %% [markdown]
# **Backward.** `y[i, j]` is one of the four pixels of its window, unchanged, so
# `dL/dx` is `dy[i, j]` at that pixel and 0 at the other three. With
# `dy = [[10, 20], [30, 40]]`:
#
# ```
# dx = 0  0 | 20 0
#     10  0 |  0 0
#     ------+-----
#      0 30 | 40 0
#      0  0 |  0 0
# ```

# %%
dy = np.array([[10.0, 20.0], [30.0, 40.0]]).reshape(1, 1, 2, 2)  # (N, C, oH, oW)
dx = maxpool2d_backward(dy, cache)
print(dx[0, 0])
dx_by_hand = np.array([[0, 0, 20, 0], [10, 0, 0, 0], [0, 30, 40, 0], [0, 0, 0, 0]], float)
assert np.array_equal(dx[0, 0], dx_by_hand)
assert np.array_equal(maxpool2d_backward_naive(dy, cache), dx)

fig, axes = plt.subplots(1, 2, figsize=(7, 3.2))
axes[0].imshow(x[0, 0], cmap="Greys", vmin=-2, vmax=9)
for i in range(2):
    for j in range(2):
        a, c = WINDOW_OFFSETS[argmax[0, 0, i, j]]
        axes[0].add_patch(Rectangle((2 * j + c - 0.45, 2 * i + a - 0.45), 0.9, 0.9,
                                    fill=False, ec="C3", lw=2.5))
for u in range(4):
    for v in range(4):
        axes[0].text(v, u, f"{x[0, 0, u, v]:g}", ha="center", va="center", color="C0")
        axes[1].text(v, u, f"{dx[0, 0, u, v]:g}", ha="center", va="center", color="w")
axes[1].imshow(dx[0, 0], cmap="viridis")
axes[0].set_title("x, the winner of each window boxed", fontsize=9)
axes[1].set_title("dx: dy routed to the winners", fontsize=9)
for ax in axes:
    ax.axhline(1.5, color="k", lw=1)
    ax.axvline(1.5, color="k", lw=1)
    ax.set_xticks([])
    ax.set_yticks([])
plt.tight_layout()
plt.show()

# %% [markdown]
# On random data the fast and naive versions agree, and the gradient matches centred
# finite differences. The input is a shuffled `arange` plus a little noise, so no window
# has a tie: at a tie the max is not differentiable and finite differences see the
# average of the two one-sided slopes (notebook 4 shows this).

# %%
shape = (2, 3, 6, 4)  # (N, C, H, W)
xr = rng.permutation(np.prod(shape)).reshape(shape) + 0.1 * rng.random(shape)  # distinct
yr, cache_r = maxpool2d_forward(xr)
dyr = rng.standard_normal(yr.shape)
dxr = maxpool2d_backward(dyr, cache_r)
assert np.array_equal(dxr, maxpool2d_backward_naive(dyr, maxpool2d_forward_naive(xr)[1]))
errors = check_gradients(lambda x: maxpool2d_forward(x)[0], {"x": xr}, {"x": dxr}, dy=dyr)
print(format_report(errors))
assert errors["x"] < 1e-7

try:
    maxpool2d_forward(np.zeros((1, 1, 5, 4)))
except ValueError as err:
    print("odd height:", err)

# %% [markdown]
# ## 2x2 up-convolution, stride 2
#
# `y[n, o, 2i+a, 2j+c] = b[o] + sum_ci x[n, ci, i, j] w[ci, o, a, c]`: the weight has
# PyTorch's `ConvTranspose2d` layout `(C_in, C_out, 2, 2)`. With one channel in and out,
# every input pixel paints the 2x2 kernel scaled by itself:
#
# ```
# x = 1 2     w = 1    10      y =   1   10 |   2   20
#     3 4         100 1000         100 1000 | 200 2000
#                                  ---------+---------
#                                    3   30 |   4   40
#                                  300 3000 | 400 4000
# ```

# %%
x = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)  # (N, C_in, H, W)
w = np.array([[1.0, 10.0], [100.0, 1000.0]]).reshape(1, 1, 2, 2)  # (C_in, C_out, 2, 2)
b = np.zeros(1)  # (C_out,)
y, cache = upconv2d_forward(x, w, b)
print(y[0, 0])
y_by_hand = np.array([[1, 10, 2, 20], [100, 1000, 200, 2000],
                      [3, 30, 4, 40], [300, 3000, 400, 4000]], dtype=float)
assert np.array_equal(y[0, 0], y_by_hand)
assert np.array_equal(upconv2d_forward_naive(x, w, b)[0], y)

# %% [markdown]
# **Backward.** Each input pixel only ever touched its own patch, so its gradient is the
# patch of `dy` dotted with the kernel: `dx[i, j] = sum_{a,c} w[a, c] dy[2i+a, 2j+c]`.
# With `dy` = all ones that is `1 + 10 + 100 + 1000 = 1111` everywhere; `dw[a, c]` is
# `sum_{i,j} x[i, j] dy[2i+a, 2j+c] = 1 + 2 + 3 + 4 = 10`, and `db` counts the 16 pixels.

# %%
dx, dw, db = upconv2d_backward(np.ones((1, 1, 4, 4)), cache)
print("dx\n", dx[0, 0], "\ndw\n", dw[0, 0], "\ndb", db)
assert np.array_equal(dx[0, 0], np.full((2, 2), 1111.0))
assert np.array_equal(dw[0, 0], np.full((2, 2), 10.0))
assert np.array_equal(db, [16.0])

# %% [markdown]
# **Why "transposed" convolution.** Read the formula for `dx` again:
# `dx[n, ci, i, j] = sum_{o,a,c} w[ci, o, a, c] dy[n, o, 2i+a, 2j+c]` is a 2x2 convolution
# of `dy` **with stride 2**, whose weight in the convolution layout `(F, C, kH, kW)` is
# `w` itself (`F = C_in`, `C = C_out`). The library's convolution has stride 1, and a
# stride-2 convolution is the stride-1 one read at every second pixel:

# %%
xr = rng.standard_normal((2, 3, 4, 5))  # (N, C_in, H, W)
wr = rng.standard_normal((3, 2, 2, 2))  # (C_in, C_out, 2, 2)
br = rng.standard_normal(2)  # (C_out,)
yr, cache_r = upconv2d_forward(xr, wr, br)  # (N, C_out, 2H, 2W)
dyr = rng.standard_normal(yr.shape)
dxr, dwr, dbr = upconv2d_backward(dyr, cache_r)

dx_as_conv = conv2d_forward(dyr, wr, np.zeros(3))[0][:, :, 0::2, 0::2]  # (N, C_in, H, W)
print("dx vs stride-2 conv of dy:", rel_error(dx_as_conv, dxr))
assert rel_error(dx_as_conv, dxr) < 1e-12

for name, fast, naive in zip(("dx", "dw", "db"), (dxr, dwr, dbr),
                             upconv2d_backward_naive(dyr, cache_r)):
    assert rel_error(fast, naive) < 1e-12, name
errors = check_gradients(lambda x, w, b: upconv2d_forward(x, w, b)[0],
                         {"x": xr, "w": wr, "b": br}, {"x": dxr, "w": dwr, "b": dbr}, dy=dyr)
print(format_report(errors))
assert all(error < 1e-7 for error in errors.values())

# %% [markdown]
# ## Crop and concatenate
#
# Valid convolutions lose a pixel per side, so the expanding path is smaller than the
# contracting path it is joined to. The skip map is cut down to its centre, `(Hs - Hu) / 2`
# pixels per side, and stacked *before* the up-sampled map along the channels. The paper's
# four joins (572x572 tile), recomputed with the op itself:
#
# | level | skip | up | crop per side |
# |---|---|---|---|
# | 3 (deepest) | 64 | 56 | 4 |
# | 2 | 136 | 104 | 16 |
# | 1 | 280 | 200 | 40 |
# | 0 | 568 | 392 | 88 |

# %%
paper = [(64, 56, 4), (136, 104, 16), (280, 200, 40), (568, 392, 88)]  # skip, up, crop
for skip_size, up_size, crop_by_hand in paper:
    skip = np.zeros((1, 1, skip_size, skip_size))
    up = np.zeros((1, 1, up_size, up_size))
    y, (skip_shape, top, left) = crop_and_concat_forward(skip, up)
    print(f"skip {skip_size} -> up {up_size}: crop {top} per side, y {y.shape}")
    assert top == left == crop_by_hand and y.shape == (1, 2, up_size, up_size)

# %% [markdown]
# A small example: the skip map is `arange(36)` on 6x6, the up-sampled map 2x2, so the
# crop is 2 per side and the skip channel of `y` is `skip[2:4, 2:4] = [[14, 15], [20, 21]]`.
# In the backward pass the gradient splits along the channels; the skip pixels that were
# cropped away never reached the output, so their gradient is exactly 0.

# %%
skip = np.arange(36.0).reshape(1, 1, 6, 6)  # (N, Cs, Hs, Ws)
up = -np.ones((1, 1, 2, 2))  # (N, Cu, Hu, Wu)
y, cache = crop_and_concat_forward(skip, up)
print(y[0])
assert np.array_equal(y[0, 0], [[14, 15], [20, 21]]) and np.array_equal(y[0, 1], up[0, 0])
assert np.array_equal(crop_and_concat_forward_naive(skip, up)[0], y)

dy = np.arange(1.0, 9.0).reshape(1, 2, 2, 2)  # (N, Cs + Cu, Hu, Wu)
dskip, dup = crop_and_concat_backward(dy, cache)
print("dskip\n", dskip[0, 0], "\ndup\n", dup[0, 0])
dskip_by_hand = np.zeros((6, 6))
dskip_by_hand[2:4, 2:4] = [[1, 2], [3, 4]]
assert np.array_equal(dskip[0, 0], dskip_by_hand) and np.array_equal(dup[0, 0], [[5, 6], [7, 8]])
for fast, naive in zip((dskip, dup), crop_and_concat_backward_naive(dy, cache)):
    assert np.array_equal(fast, naive)

fig, axes = plt.subplots(1, 3, figsize=(9, 3))
axes[0].imshow(skip[0, 0], cmap="Greys")
axes[0].add_patch(Rectangle((1.5, 1.5), 2, 2, fill=False, ec="C3", lw=2.5))
axes[0].set_title("skip 6x6, the kept centre boxed", fontsize=9)
y_side_by_side = np.concatenate([y[0, 0], np.full((2, 1), np.nan), y[0, 1]], axis=1)  # (2, 5)
axes[1].imshow(y_side_by_side, cmap="Greys", vmin=-20, vmax=40)
for (u, v), value in np.ndenumerate(y_side_by_side):
    if not np.isnan(value):
        axes[1].text(v, u, f"{value:g}", ha="center", va="center", color="C0")
axes[1].set_title("y: channel 0 = cropped skip, channel 1 = up", fontsize=9)
axes[2].imshow(dskip[0, 0], cmap="viridis")
axes[2].set_title("dskip: zero outside the crop", fontsize=9)
for ax in axes:
    ax.set_xticks([])
    ax.set_yticks([])
plt.tight_layout()
plt.show()

# %% [markdown]
# Random shapes against finite differences, and the two mistakes the op refuses: an odd
# size difference (the crop would not be centred) and a skip map smaller than the
# up-sampled one.

# %%
skip_r = rng.standard_normal((2, 3, 9, 8))  # (N, Cs, Hs, Ws)
up_r = rng.standard_normal((2, 2, 5, 4))  # (N, Cu, Hu, Wu)
yr, cache_r = crop_and_concat_forward(skip_r, up_r)
dyr = rng.standard_normal(yr.shape)
dskip_r, dup_r = crop_and_concat_backward(dyr, cache_r)
errors = check_gradients(lambda skip, up: crop_and_concat_forward(skip, up)[0],
                         {"skip": skip_r, "up": up_r}, {"skip": dskip_r, "up": dup_r}, dy=dyr)
print(format_report(errors))
assert all(error < 1e-7 for error in errors.values())

for bad_skip in (np.zeros((1, 1, 7, 7)), np.zeros((1, 1, 2, 2))):
    try:
        crop_and_concat_forward(bad_skip, np.zeros((1, 1, 4, 4)))
    except ValueError as err:
        print("ValueError:", err)

# %% [markdown]
# ## Summary
#
# | layer | forward | what the cache holds | backward |
# |---|---|---|---|
# | max-pool | max of each 2x2 window | arg-max position (uint8), input shape | `dy` to the winner, 0 elsewhere |
# | up-conv | each pixel paints `x * w` into a 2x2 patch | `x, w, b` | stride-2 conv of `dy` with `w` |
# | crop+concat | centre crop of skip, then `[skip, up]` | skip shape, crop offsets | split channels, zero-pad the skip part |
#
# Next: notebook 3, the loss and the paper's weight map.
