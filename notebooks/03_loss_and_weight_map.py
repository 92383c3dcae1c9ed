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
# # 3. The loss: pixel-wise softmax cross-entropy and the paper's weight map
#
# **What this notebook teaches.**
#
# * The softmax cross-entropy at one pixel, computed by hand, and its famously simple
#   gradient `p - onehot(t)`.
# * Why every implementation subtracts the maximum logit first (log-sum-exp): without it,
#   logits of 1e4 give `inf / inf = nan`.
# * The paper's weight map `w(x) = w_c(x) + w0 exp(-(d1 + d2)^2 / (2 sigma^2))` on real
#   nuclei from the 2018 Data Science Bowl (or on the synthetic cells when that data set
#   is not on disk: the notebook says which one it used), and why touching nuclei must
#   first be pulled apart by a thin gap for the border term to appear at all.
#
# **What to know first.** Notebook 1 (gradients of a layer); logarithms and exponentials.
#
# **Runs in** about 10 seconds on a laptop CPU.

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
import math
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from minimal_unet.data import read_folder
from minimal_unet.data.synthetic import render_image, synthetic_instances
from minimal_unet.gradcheck import check_gradients, format_report, rel_error
from minimal_unet.ops import softmax_cross_entropy, softmax_cross_entropy_naive
from minimal_unet.weight_map import (
    class_weights_map,
    nearest_two_distances,
    separate_touching,
    weight_map,
)

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## Softmax cross-entropy at one pixel, by hand
#
# Three classes, logits `z = (2, 1, 0)`, true class `t = 0`.
#
# ```
# softmax:  p_k = exp(z_k) / sum_j exp(z_j)
#           sum_j exp(z_j) = e^2 + e^1 + e^0 = 7.3891 + 2.7183 + 1 = 11.1073
#           p = (0.6652, 0.2447, 0.0900)
# loss:     -log p_t = -log 0.6652 = 0.4076
# gradient: dL/dz_k = p_k - [k == t] = (-0.3348, 0.2447, 0.0900)
# ```
#
# The library takes logits `(N, K, H, W)` and targets `(N, H, W)`; one pixel is
# `N = H = W = 1`.

# %%
logits = np.array([2.0, 1.0, 0.0]).reshape(1, 3, 1, 1)  # (N, K, H, W)
target = np.array([0]).reshape(1, 1, 1)  # (N, H, W), class indices
loss, dlogits = softmax_cross_entropy(logits, target)
print("loss", loss, " dL/dz", dlogits.ravel())
assert abs(loss - 0.4076) < 1e-4
assert np.allclose(dlogits.ravel(), [-0.3348, 0.2447, 0.0900], atol=1e-4)
# the exact value of the hand computation
assert abs(loss - (math.log(math.e**2 + math.e + 1) - 2)) < 1e-15

# %% [markdown]
# ## Why subtract the maximum
#
# `exp(z)` overflows float64 above `z = 709` (and float32 above 88). Logits that large do
# occur early in training with a high learning rate. The identity
#
# `log sum_k exp(z_k) = m + log sum_k exp(z_k - m)`, with `m = max_k z_k`,
#
# keeps every exponent `<= 0`, so every `exp` lies in `(0, 1]` and the sum in `[1, K]`.
# The textbook formula and the library, side by side, on logits `(1e4, 0, -1e4)` (the
# textbook loss for class 1 should be `1e4`; it comes out as `inf`, and `p_0` as `nan`):

# %%
big = np.array([1e4, 0.0, -1e4])
with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
    p_textbook = np.exp(big) / np.exp(big).sum()  # inf / inf = nan, finite / inf = 0
    loss_textbook = -np.log(p_textbook[1])  # -log 0 = inf
print("textbook softmax:", p_textbook, "-> loss for target 1:", loss_textbook)

for dtype in (np.float64, np.float32):
    z = big.astype(dtype).reshape(1, 3, 1, 1)
    for t in (0, 1):
        loss_big, d_big = softmax_cross_entropy(z, np.array([[[t]]]))
        print(f"{dtype.__name__}, target {t}: loss {loss_big}, dL/dz {d_big.ravel()}")
        assert np.isfinite(loss_big) and np.all(np.isfinite(d_big))
        assert loss_big.dtype == dtype and d_big.dtype == dtype
        assert abs(float(loss_big) - [0.0, 1e4][t]) <= 1e-3  # -log p_t = max - z_t
assert np.isnan(p_textbook).any()

# %% [markdown]
# ## Many pixels, a weight per pixel
#
# Over an image the loss is the mean over all `M = N*H*W` pixels of
# `weight * -log p_t`, so the gradient at a pixel is `weight * (p - onehot) / M`. The fast
# version (whole arrays) matches the naive one (a loop over pixels), and the gradient
# matches centred finite differences of the loss:

# %%
rng = np.random.default_rng(0)
logits = rng.standard_normal((2, 3, 4, 5))  # (N, K, H, W)
target = rng.integers(0, 3, size=(2, 4, 5))  # (N, H, W)
weight = rng.uniform(0.5, 3.0, size=(2, 4, 5))  # (N, H, W)
loss, dlogits = softmax_cross_entropy(logits, target, weight)
loss_naive, dlogits_naive = softmax_cross_entropy_naive(logits, target, weight)
print("loss", loss, "naive", loss_naive, " gradient rel. error", rel_error(dlogits, dlogits_naive))
assert abs(loss - loss_naive) < 1e-12 and rel_error(dlogits, dlogits_naive) < 1e-12

errors = check_gradients(lambda logits: softmax_cross_entropy(logits, target, weight)[0],
                         {"logits": logits}, {"logits": dlogits})
print(format_report(errors))
assert errors["logits"] < 1e-7

# %% [markdown]
# ## The weight map on real nuclei
#
# The paper trains on cells that touch, and wants the network to leave a thin line of
# background between them. Those lines are a tiny fraction of the pixels, so the paper
# weights them up:
#
# `w(x) = w_c(x) + w0 * exp(-(d1(x) + d2(x))^2 / (2 sigma^2))`, `w0 = 10`, `sigma = 5` px,
#
# where `d1`, `d2` are the distances to the nearest and the second-nearest cell and
# `w_c` balances the two classes. The border term is large only where *two* cells are
# close: in the gaps.
#
# We use the 2018 Data Science Bowl nuclei when you point the notebook at them, and
# otherwise the library's synthetic cells. The data set is an argument, never a path the
# notebook assumes: set the environment variable `MINIMAL_UNET_DSB2018` to a folder in
# `read_folder`'s layout (`images/`, `masks/`, `instances/`; the README says where to get
# the data) before starting Jupyter, or assign `dsb_folder` below. Of the DSB images we
# take the one with the most touching nuclei.

# %%
dsb_folder = os.environ.get("MINIMAL_UNET_DSB2018")  # None, or a folder in read_folder's layout
if dsb_folder is not None and not (Path(dsb_folder) / "images").is_dir():
    raise FileNotFoundError(f"MINIMAL_UNET_DSB2018={dsb_folder}: expected a folder with "
                            "images/, masks/ and instances/ (read_folder's layout)")

if dsb_folder is not None:
    samples = read_folder(dsb_folder)  # 100 Samples: image, mask, instances, name
    touching = [int(((s.instances > 0) & (separate_touching(s.instances, 2) == 0)).sum())
                for s in samples]
    chosen = samples[int(np.argmax(touching))]
    image, instances = chosen.image, chosen.instances
    source = f"DSB 2018 nuclei, image {chosen.name} (real data, {Path(dsb_folder).resolve()})"
else:
    rng = np.random.default_rng(3)
    instances = synthetic_instances((256, 256), rng)  # cells that touch, as in the DSB masks
    image = render_image(instances, rng)
    source = "synthetic cells (minimal_unet.data.synthetic; MINIMAL_UNET_DSB2018 is not set)"
print("using:", source)
print("image", image.shape, image.dtype, "| instances", instances.shape, instances.dtype,
      "|", instances.max(), "nuclei")

# %% [markdown]
# In the DSB instance images touching nuclei share a boundary with no background pixel
# between them. The border term is added on *background* pixels only, so there it has
# nowhere to go. `separate_touching(instances, 2)` sets to background every pixel that
# touches another nucleus (a 2 px gap, the paper's "separation border computed with
# morphological operations"), and the gaps are exactly where the term then peaks.

# %%
separated = separate_touching(instances, 2)  # (H, W) ids, touching pixels set to 0
classes_as_given = (instances > 0).astype(np.int64)  # (H, W) 0 = background, 1 = nucleus
classes = (separated > 0).astype(np.int64)
w_as_given = weight_map(instances)  # touching nuclei: no gap
w = weight_map(separated)  # (H, W) float64, the paper's w0 = 10, sigma = 5
border_as_given = w_as_given - class_weights_map(classes_as_given)
border = w - class_weights_map(classes)  # the w0 exp(...) term alone

gap = (instances > 0) & (separated == 0)  # the pixels the separation removed
far = (separated == 0) & (nearest_two_distances(separated)[0] > 10)  # > 10 px from nuclei
print(f"gap pixels: {gap.sum()}, border term there: mean {border[gap].mean():.2f}, "
      f"max {border.max():.2f} (w0 = 10)")
print(f"background > 10 px from any nucleus: mean border term {border[far].mean():.2g}")
print(f"without separation the contact pixels are nuclei: border term there "
      f"{border_as_given[gap].max():.2f}; summed over the image {border_as_given.sum():.0f} "
      f"instead of {border.sum():.0f}")
assert border[gap].mean() > 5 and border[far].mean() < 0.1
assert np.all(border_as_given[gap] == 0) and border.sum() > border_as_given.sum()

# %%
fig, axes = plt.subplots(2, 3, figsize=(12, 8))
panels = [
    (image, "image", "gray"),
    (np.where(instances > 0, instances % 20 + 1, 0), "instances (colour = id)", "tab20b"),
    (classes, "mask after separate_touching(., 2)", "gray"),
    (w, "weight map w(x)", "viridis"),
    (border, "border term w0 exp(-(d1+d2)^2 / 2 sigma^2)", "magma"),
    (border_as_given, "border term without the separation", "magma"),
]
for ax, (data, title, cmap) in zip(axes.ravel(), panels):
    shown = ax.imshow(data, cmap=cmap, interpolation="nearest",
                      vmax=10 if "border" in title else None)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    if cmap in ("viridis", "magma"):
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.02)
fig.suptitle(source, fontsize=9)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## The weighted loss
#
# The weight map enters the loss as `weight`: a pixel in a gap counts up to ~10 times as
# much as an ordinary one. For a prediction that is uniformly unsure (`p = 0.5` for both
# classes everywhere) every pixel loses `log 2`, so the weighted loss is `log 2` times the
# mean weight. Its gradient is largest in the gaps, which is the whole point.

# %%
H, W = classes.shape
unsure = np.zeros((1, 2, H, W))  # (N, K, H, W), equal logits: p = 0.5 everywhere
loss_plain, _ = softmax_cross_entropy(unsure, classes[None])
loss_weighted, d_weighted = softmax_cross_entropy(unsure, classes[None], w[None])
print(f"plain loss {loss_plain:.4f} = log 2; weighted {loss_weighted:.4f} "
      f"= log 2 * mean(w) = {math.log(2) * w.mean():.4f}")
assert abs(loss_weighted - math.log(2) * w.mean()) < 1e-12
grad_size = np.abs(d_weighted[0]).sum(axis=0)  # (H, W)
print(f"|dL/dz| in the gaps is {grad_size[gap].mean() / grad_size[far].mean():.1f}x "
      "that of far background")

# %% [markdown]
# ## Summary
#
# * `loss = mean(weight * (logsumexp(z) - z_t))`, with `logsumexp` computed after
#   subtracting the maximum logit; `dL/dz = weight * (softmax(z) - onehot(t)) / M`.
# * The weight map makes the thin background gaps between touching objects count;
#   touching instances need `separate_touching` first, or there are no gaps to weight.
# * Next: notebook 4, how to check any backward pass, and what a wrong one looks like.
