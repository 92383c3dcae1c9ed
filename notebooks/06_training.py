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
# # 6. Training: augmentation and a short run
#
# **What this notebook teaches.**
#
# * The paper's augmentation, elastic deformation above all: random displacement vectors
#   on a coarse 3x3 grid (10 px standard deviation), interpolated smoothly to every pixel.
#   Shown on a grid image, where the warp is easy to see, and on a labelled sample, where
#   image, mask and weight map must move together.
# * A complete training run the paper's way (one tile per step, weighted softmax
#   cross-entropy, SGD with momentum 0.99) of a small U-Net on the synthetic cells: the
#   learning curve, validation metrics, and the predictions.
#
# **What to know first.** Notebooks 3 (loss and weight map) and 5 (the network).
#
# **Runs in** about 30 seconds on a laptop CPU (200 training steps of a 30 k-parameter
# net).

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

from minimal_unet.data import AugmentConfig, augment, elastic_deform, make_synthetic
from minimal_unet.data.augment import elastic_displacement
from minimal_unet.infer import labels_from_proba, predict_proba_tiled
from minimal_unet.model import UNet, UNetConfig
from minimal_unet.plots import moving_average
from minimal_unet.sizes import output_size
from minimal_unet.train import TrainConfig, train, validation_metrics
from minimal_unet.weight_map import weight_map

# %% [markdown]
# ## The data
#
# The library's synthetic data set: fluorescence-like images of touching cells with a
# 2 px background gap between neighbours (the task the weight map is for). Six 128x128
# images, deterministic from the seed: four to train on, two to validate.

# %%
samples = make_synthetic(6, size=(128, 128), seed=0)
train_samples, val_samples = samples[:4], samples[4:]
sample = train_samples[0]
w = weight_map(sample.instances)  # (H, W) float64, paper's w0 = 10, sigma = 5
print(sample.name, sample.image.shape, sample.image.dtype, "mask values", np.unique(sample.mask))

fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
for ax, (data, title, cmap) in zip(axes, [(sample.image, "image", "gray"),
                                          (sample.mask, "mask", "gray"),
                                          (w, "weight map", "viridis")]):
    ax.imshow(data, cmap=cmap)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Elastic deformation
#
# `elastic_displacement` draws a displacement vector (row and column shift) from
# N(0, 10^2) at each node of a 3x3 grid whose corners sit on the image corners, and
# interpolates them with bicubic splines to a smooth field over every pixel. The deformed
# image samples the original at `p + displacement(p)`. On a grid image the result looks
# like a rubber sheet pulled at nine points:

# %%
H = W = 128
grid_image = np.zeros((H, W), dtype=np.float32)
grid_image[::16, :] = 1.0  # a line every 16 px
grid_image[:, ::16] = 1.0
grid_image[15::16, :] = 1.0  # two pixels thick
grid_image[:, 15::16] = 1.0

field = elastic_displacement((H, W), np.random.default_rng(7))  # (2, H, W) pixels
warped_grid, _, _ = elastic_deform(grid_image, rng=np.random.default_rng(7))
print(f"displacement: std {field.std():.1f} px, largest {np.abs(field).max():.1f} px")

fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
axes[0].imshow(grid_image, cmap="gray")
axes[0].set_title("grid", fontsize=9)
step = 12
rows, cols = np.mgrid[0:H:step, 0:W:step]
axes[1].quiver(cols, rows, field[1, ::step, ::step], -field[0, ::step, ::step], angles="xy",
               color="C0")
axes[1].set(xlim=(-5, W + 5), ylim=(H + 5, -5), aspect="equal")
axes[1].set_title("displacement field (seed 7)", fontsize=9)
axes[2].imshow(warped_grid, cmap="gray")
axes[2].set_title("grid, deformed by it", fontsize=9)
for ax in axes:
    ax.set_xticks([])
    ax.set_yticks([])
plt.tight_layout()
plt.show()

# %% [markdown]
# The same call deforms a labelled sample: the image by cubic interpolation, the mask by
# nearest neighbour (its values stay 0 and 1) and the weight map linearly, all with ONE
# displacement field. The full `augment` adds a random flip/rotation by 90 degrees and a
# grey-value variation (gamma, contrast, brightness); the training loop calls it for
# every tile.

# %%
image_d, mask_d, weight_d = elastic_deform(sample.image, sample.mask, w,
                                           rng=np.random.default_rng(7))
assert set(np.unique(mask_d)) <= {0, 1} and image_d.dtype == sample.image.dtype

rng = np.random.default_rng(1)
variants = [augment(sample.image, sample.mask, w, rng=rng, config=AugmentConfig())
            for _ in range(2)]
fig, axes = plt.subplots(2, 4, figsize=(12, 6))
columns = [(sample.image, sample.mask, "original"), (image_d, mask_d, "elastic (seed 7)")]
columns += [(v[0], v[1], f"augment #{i + 1}") for i, v in enumerate(variants)]
for j, (image_j, mask_j, title) in enumerate(columns):
    axes[0, j].imshow(image_j, cmap="gray")
    axes[0, j].set_title(title, fontsize=9)
    axes[1, j].imshow(image_j, cmap="gray")
    axes[1, j].contour(mask_j, levels=[0.5], colors="C1", linewidths=0.8)
for ax in axes.ravel():
    ax.axis("off")
axes[1, 0].set_title("mask outline on the image", fontsize=9)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## A short training run
#
# A U-Net of depth 2 with 8 channels on its first level (29 k parameters) and 92x92
# input tiles (52x52 output, a 20 px margin of mirrored context). Each step:
# pick an image, augment it together with its mask and weight map, cut a random tile,
# forward, weighted softmax cross-entropy, backward, SGD with momentum 0.99 (the
# paper's; learning rate 0.003, which the peers' PyTorch recipe found stable). Every 50
# steps the two validation images are predicted tile by tile (notebook 7) and scored.

# %%
net = UNet(UNetConfig(depth=2, base_channels=8), seed=0, dtype=np.float32)
cfg = TrainConfig(steps=200, lr=0.003, momentum=0.99, tile_size=92, seed=0, val_every=50,
                  checkpoint_every=0, out_dir=None, progress=False)
print(net)
print("tile", cfg.tile_size, "->", output_size(net.config, cfg.tile_size))
history = train(net, train_samples, val_samples, cfg)

# %%
steps = np.array([row["step"] for row in history["train"]])
losses = np.array([row["loss"] for row in history["train"]])
smooth = moving_average(losses, 20)

fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(11, 3.6))
ax_loss.plot(steps, losses, color="0.75", lw=0.8, label="loss per step")
ax_loss.plot(steps, smooth, color="C0", label="moving average (20 steps)")
ax_loss.set(xlabel="step", ylabel="weighted cross-entropy", title="training loss")
ax_loss.legend(fontsize=8)
val_steps = [row["step"] for row in history["val"]]
for i, name in enumerate(["pixel_error", "foreground_iou", "adapted_rand_error"]):
    ax_val.plot(val_steps, [row[name] for row in history["val"]], "o-", color=f"C{i + 1}",
                label=name)
ax_val.set(xlabel="step", ylim=(0, 1), title="validation (overlap-tile)")
ax_val.legend(fontsize=8)
plt.tight_layout()
plt.show()

print(f"loss, mean of the first 20 steps {losses[0:20].mean():.3f}, of the last 20 "
      f"{losses[-20:].mean():.3f}")
final = history["val"][-1]
print("final validation:", {k: round(v, 4) for k, v in final.items()})
assert losses[-20:].mean() < 0.6 * losses[0:20].mean()
assert final["foreground_iou"] > 0.6 and final["pixel_error"] < 0.2

# %% [markdown]
# ## Predictions
#
# The validation images, predicted tile by tile with mirrored context: the foreground
# probability, and the mask at probability 0.5. Thin gaps between touching cells are the
# hard part: the weight map pushed the net towards them, but 200 steps of a tiny net only
# get part of the way.

# %%
fig, axes = plt.subplots(len(val_samples), 4, figsize=(12, 3.2 * len(val_samples)))
for i, s in enumerate(val_samples):
    probs = predict_proba_tiled(net, s.image, tile_size=cfg.tile_size)  # (2, H, W)
    pred = labels_from_proba(probs, threshold=0.5)  # (H, W) 0/1
    scores = validation_metrics(pred, s.mask)
    panels = [(s.image, "image", "gray"), (s.mask, "label", "gray"),
              (probs[1], "P(cell)", "magma"),
              (pred, f"prediction: IoU {scores['foreground_iou']:.2f}", "gray")]
    for ax, (data, title, cmap) in zip(axes[i], panels):
        ax.imshow(data, cmap=cmap, vmin=0, vmax=1)  # all four lie in [0, 1]
        ax.set_title(f"{s.name}: {title}", fontsize=8)
        ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Summary
#
# * Elastic deformation: a 3x3 grid of random vectors, smoothly interpolated; image, mask
#   and weight map warped by the same field.
# * `minimal_unet.train.train` runs the paper's loop; for longer runs with checkpoints,
#   logs and figures, give `TrainConfig` an `out_dir` (or use `python -m minimal_unet
#   train`).
# * Next: notebook 7, predicting an image larger than any tile without seams.
