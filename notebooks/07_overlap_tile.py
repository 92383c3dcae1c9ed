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
# # 7. Overlap-tile inference: seamless predictions of any size
#
# **What this notebook teaches.** The paper's overlap-tile strategy (its Fig. 2). A
# valid-convolution U-Net maps an input tile to a smaller output window in its centre,
# so an image larger than any tile is predicted window by window, each input tile
# reaching `margin` pixels beyond its window, and the missing context beyond the image
# border filled by mirroring. We check that:
#
# * the stitched prediction equals one pass over the whole (mirror-padded) image (to
#   float32 rounding at worst; here bit for bit): no seams at all, *provided* the windows
#   start on the grid of the pooling layers;
# * at the image border, mirrored context is closer to the truth than black padding;
# * a "same"-padded U-Net shows seams when its tiles abut, and none when it is tiled like
#   a valid net, with a context margin of its receptive field's half-width.
#
# **What to know first.** Notebooks 5 (tile sizes) and 6 (training).
#
# **Runs in** about 30 seconds on a laptop CPU (it trains two small nets for 150 steps).

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

from minimal_unet.data import make_synthetic, mirror_pad, synthetic_sample
from minimal_unet.infer import (
    context_margin,
    normalize_image,
    predict_proba_tiled,
    tile_geometry,
)
from minimal_unet.model import UNet, UNetConfig
from minimal_unet.train import TrainConfig, train

# %% [markdown]
# ## Two small trained nets
#
# The net of notebook 6 (depth 2, 8 channels, valid convolutions: a 92x92 tile gives a
# 52x52 window, margin 20), and its twin with "same" (zero) padding in every
# convolution, whose output is as large as its input. Each is trained for 150 steps on
# the synthetic cells.

# %%
samples = make_synthetic(4, size=(128, 128), seed=0)
nets = {}
for padding, tile in (("valid", 92), ("same", 92)):
    net = UNet(UNetConfig(depth=2, base_channels=8, padding=padding), seed=0)
    cfg = TrainConfig(steps=150, lr=0.003, tile_size=tile, seed=0, val_every=0,
                      checkpoint_every=0, out_dir=None, progress=False)
    history = train(net, samples, [], cfg)
    losses = [row["loss"] for row in history["train"]]
    print(f"{padding:>5}: tile {tile} -> {tile_geometry(net.config, tile)[1]}, loss "
          f"{np.mean(losses[0:20]):.3f} -> {np.mean(losses[-20:]):.3f}")
    nets[padding] = net
net = nets["valid"]

# %% [markdown]
# ## An image larger than any tile
#
# A 300x300 image, and the 92x92 tile: 6x6 windows of 52x52 cover it. The tile geometry:

# %%
image, instances = synthetic_sample((300, 300), np.random.default_rng(11))
x = normalize_image(image)  # (300, 300) float32: the statistics of the whole image
in_size, out_size, margin = tile_geometry(net.config, 92)
print(f"tile {in_size} -> window {out_size}, margin {margin} px per side")

tiled = predict_proba_tiled(net, x, tile_size=92, normalize=False)  # (2, 300, 300)

# One pass over the whole image: mirror-pad by the margin, run the net once.
padded = mirror_pad(x, margin)  # (340, 340)
whole = net.predict_proba(padded[None, None])[0]  # (2, 300, 300)
difference = np.abs(tiled[1] - whole[1])
print(f"tiled vs whole image: largest |difference| in P(cell) = {difference.max():.1e}")
assert whole.shape == tiled.shape == (2, 300, 300)
assert difference.max() < 1e-4  # float32 rounding only

fig, axes = plt.subplots(1, 4, figsize=(15, 4))
axes[0].imshow(image, cmap="gray")
for k in range(0, 300, out_size):  # the window grid, roughly (the last windows shift)
    axes[0].axhline(k, color="C1", lw=0.6)
    axes[0].axvline(k, color="C1", lw=0.6)
axes[0].set_title("image 300x300, 52x52 windows", fontsize=9)
axes[1].imshow(tiled[1], cmap="magma", vmin=0, vmax=1)
axes[1].set_title("P(cell), tile by tile", fontsize=9)
axes[2].imshow(whole[1], cmap="magma", vmin=0, vmax=1)
axes[2].set_title("P(cell), whole image at once", fontsize=9)
shown = axes[3].imshow(difference, cmap="viridis", vmin=0, vmax=1)  # P's own scale
fig.colorbar(shown, ax=axes[3], fraction=0.046)
axes[3].set_title(f"|difference| (max {difference.max():.1e})", fontsize=9)
for ax in axes:
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Why the windows must start on the pooling grid
#
# A 2x2 max-pool groups pixels in fixed pairs. Shift the input by one pixel and different
# pairs are pooled: the net is only shift-equivariant for shifts that are multiples of
# `2**depth` (4 here). `predict_proba_tiled` therefore starts every window at a multiple
# of 4. A tile cut at an offset of 2 pixels computes something else:

# %%
for offset in (4, 2):
    tile = padded[offset:offset + in_size, offset:offset + in_size]  # (92, 92)
    p = net.predict_proba(np.ascontiguousarray(tile)[None, None])[0, 1]  # (52, 52)
    reference = whole[1, offset:offset + out_size, offset:offset + out_size]
    print(f"window at offset {offset}: largest |difference| from the whole-image pass "
          f"{np.abs(p - reference).max():.2e}")
    if offset == 4:
        assert np.abs(p - reference).max() < 1e-4
    else:
        assert np.abs(p - reference).max() > 1e-3

# %% [markdown]
# ## Mirroring at the image border
#
# Beyond the image border there is no context, yet the windows along the border need
# `margin` pixels of it. To see what the choice costs, cut the centre 180x180 out of the
# big image and predict it alone: the "truth" is the big image's prediction, which had the
# real surroundings. Three ways to invent the missing context:
#
# * **mirror** the image at its border (the paper's choice);
# * pad the raw image with **zeros**: black, which in these images is darker than any
#   background (after normalisation it is `(0 - mean) / std`);
# * pad the normalised image with zeros: a flat **mean grey**.

# %%
top = 60
crop = x[top:top + 180, top:top + 180]  # (180, 180), normalised with the big image's stats
truth = whole[1, top:top + 180, top:top + 180]
black = (0.0 - image.mean(dtype=np.float64)) / image.std(dtype=np.float64)  # raw 0, normalised
contexts = {
    "mirror": mirror_pad(crop, margin),  # (220, 220)
    "zeros of the raw image (black)": np.pad(crop, margin, constant_values=black),
    "zeros after normalising (grey)": np.pad(crop, margin),
}
errors = {}
for name, padded_crop in contexts.items():
    p = net.predict_proba(np.ascontiguousarray(padded_crop, dtype=np.float32)[None, None])
    errors[name] = np.abs(p[0, 1] - truth)  # (180, 180)
    flipped = int(((p[0, 1] >= 0.5) != (truth >= 0.5)).sum())
    print(f"{name:<32} mean |error| {errors[name].mean():.4f}, pixels whose label flips "
          f"{flipped}")

inner = (slice(margin, 180 - margin), slice(margin, 180 - margin))
print(f"more than {margin} px from the border every choice is exact: "
      f"{max(e[inner].max() for e in errors.values()):.1e}")
assert all(e[inner].max() < 1e-4 for e in errors.values())
assert errors["mirror"].mean() < errors["zeros of the raw image (black)"].mean()

rows, cols = np.indices(truth.shape)
distance = np.minimum(np.minimum(rows, cols), np.minimum(179 - rows, 179 - cols))  # to border
fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))
for ax, (name, padded_crop) in zip(axes, contexts.items()):
    ax.imshow(padded_crop, cmap="gray", vmin=x.min(), vmax=x.max())
    ax.set_title(name, fontsize=9)
    ax.axis("off")
    profile = [errors[name][distance == d].mean() for d in range(margin + 8)]
    axes[3].plot(range(margin + 8), profile, "o-", ms=3, label=name)
axes[3].axvline(margin - 0.5, color="0.6", lw=0.8)
axes[3].set(xlabel="distance from the crop's border (px)", ylabel="mean |error| of P(cell)",
            title="error vs distance to the border")
axes[3].set_yscale("symlog", linthresh=1e-3)
axes[3].set_ylim(bottom=0)
axes[3].legend(fontsize=7)
plt.tight_layout()
plt.show()

# %% [markdown]
# Only the band within `margin` pixels of the border is affected at all. There, black
# padding is clearly worst: it shows the net a dark frame that looks like background
# and cuts the border cells short. For this small net a flat mean grey does about as well
# as mirroring; mirroring needs no guess about which constant is "neutral" (the paper's
# images were not normalised) and keeps the texture and the cells going, which is why
# the paper and `predict_proba_tiled` use it.

# %% [markdown]
# ## Seams of a "same"-padded net, and how to avoid them
#
# A "same" U-Net pads every convolution with zeros, so its output tile is as large as its
# input tile. Tiles that simply abut make every tile border an artificial image border:
# predicting tile by tile then differs from one pass over the whole image exactly along
# the tile borders, the seams. The cure is the valid net's: give every tile context. An
# output pixel depends on input pixels up to the receptive field's half-width away, so
# `predict_proba_tiled` cuts tiles with that margin (rounded up to the pooling grid) of
# mirrored context per side and keeps only their centres; the stitched map then equals
# one pass over the whole image mirror-padded by the margin.

# %%
net_same = nets["same"]
tile_same = 52  # a multiple of 2**depth, so every pool sees an even size
margin_same = context_margin(net_same.config)
padded = mirror_pad(x, margin_same)  # (300 + 2m, 300 + 2m), 348: a multiple of 4
whole_same = net_same.predict_proba(padded[None, None])[0, 1]
whole_same = whole_same[margin_same:margin_same + 300, margin_same:margin_same + 300]
abutting = np.empty((300, 300), dtype=whole_same.dtype)  # the naive way: tiles abut
for i0 in range(0, 300, tile_same):
    for j0 in range(0, 300, tile_same):
        tile = x[i0:i0 + tile_same, j0:j0 + tile_same]  # 52 or 40 px: multiples of 4
        shape = tile.shape
        abutting[i0:i0 + shape[0], j0:j0 + shape[1]] = net_same.predict_proba(
            tile[None, None])[0, 1]
seams = np.abs(abutting - whole_same)
tiled_same = predict_proba_tiled(net_same, x, tile_size=100, normalize=False)[1]
print(f"same padding, margin {margin_same} px: tiles that abut differ from the whole "
      f"padded pass by up to {seams.max():.3f}; tiles with context by "
      f"{np.abs(tiled_same - whole_same).max():.0e}")

on_seam = np.zeros(seams.shape, dtype=bool)  # pixels within 4 px of an inner tile border
for k in range(tile_same, 300, tile_same):
    on_seam[max(k - 4, 0):k + 4, :] = True
    on_seam[:, max(k - 4, 0):k + 4] = True
print(f"abutting tiles: mean |difference| near tile borders {seams[on_seam].mean():.4f}, "
      f"elsewhere {seams[~on_seam].mean():.5f}")
assert seams.max() > 1e-2 and seams[on_seam].mean() > 5 * seams[~on_seam].mean()
assert np.abs(tiled_same - whole_same).max() < 1e-4  # float32 rounding at most

fig, axes = plt.subplots(1, 3, figsize=(12, 4))
axes[0].imshow(abutting, cmap="magma", vmin=0, vmax=1)
axes[0].set_title(f"'same' net, abutting tiles of {tile_same}", fontsize=9)
axes[1].imshow(tiled_same, cmap="magma", vmin=0, vmax=1)
axes[1].set_title(f"'same' net, tiles with {margin_same} px context", fontsize=9)
shown = axes[2].imshow(seams, cmap="viridis", vmin=0, vmax=1)  # as for the valid net
fig.colorbar(shown, ax=axes[2], fraction=0.046)
axes[2].set_title("|abutting - whole|: the seams", fontsize=9)
for ax in axes:
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Summary
#
# * A valid U-Net's tiles overlap by the margin, and the stitched prediction equals a
#   single pass over the mirror-padded image (windows on the `2**depth` grid).
# * The image border has no true context; mirroring fakes it better than black padding,
#   and only within `margin` pixels of the border does the choice matter at all.
# * "Same" padding makes every abutting tile border an image border: seams. Tiled with
#   a receptive-field margin of context, a "same" net is seamless too.
# * Next: notebook 8, the same layers as GPU kernels, run without a GPU.
