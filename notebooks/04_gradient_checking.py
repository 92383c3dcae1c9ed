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
# # 4. Gradient checking, and a bug hunt
#
# **What this notebook teaches.** How to know that a hand-written backward pass is right:
#
# * centred finite differences, and why they beat one-sided ones (error `O(h^2)` vs `O(h)`);
# * the relative error `minimal_unet.gradcheck.rel_error`, and what numbers to expect;
# * the step size `h`: too large and the truncation error wins, too small and rounding
#   wins; in float32 there is no good `h` at all (error curves over `h`);
# * kinks, where the check fails although the code is right: ReLU at 0, max-pool ties;
# * a bug hunt: four layers from `minimal_unet.bughunt`, each with one classic bug, and
#   the check that exposes it.
#
# **What to know first.** Notebooks 1-3 (the layers and their backward passes); the
# Taylor expansion `f(x + h) = f(x) + h f'(x) + h^2/2 f''(x) + ...`.
#
# **Runs in** about 15 seconds on a laptop CPU.

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
import warnings

import matplotlib.pyplot as plt
import numpy as np

from minimal_unet import bughunt
from minimal_unet.gradcheck import (
    check_gradients,
    directional_check,
    format_report,
    numerical_gradient,
    rel_error,
)
from minimal_unet.model import UNet, UNetConfig
from minimal_unet.ops import (
    conv2d_backward,
    conv2d_forward,
    crop_and_concat_backward,
    crop_and_concat_forward,
    maxpool2d_backward,
    maxpool2d_forward,
    relu_backward,
    relu_forward,
    softmax_cross_entropy,
)

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## Finite differences
#
# A layer maps `x` to `y`; its backward pass maps an upstream gradient `dy` to
# `dx = dL/dx`. To check it, perturb `x` along a direction `v` and compare the change of
# the loss `L` with what the gradient predicts, `<dx, v>`:
#
# * forward difference `(L(x + h v) - L(x)) / h` has error `~ h/2 * L''`: **O(h)**;
# * centred difference `(L(x + h v) - L(x - h v)) / (2h)`: the `h^2` terms of the two
#   Taylor expansions cancel, error **O(h^2)**.
#
# Both also suffer rounding: `L` is known only to about `eps * |L|` (`eps` = 2.2e-16 in
# float64, 1.2e-7 in float32), and dividing by `h` magnifies that to `eps |L| / h`. So the
# error first falls as `h` shrinks, then rises again. We measure it on a 3x3 convolution
# followed by the softmax cross-entropy (a convolution alone is linear, and differences
# of a linear function have no truncation error at all), with the float64 backward pass
# as the reference.

# %%
rng = np.random.default_rng(0)
x = rng.standard_normal((1, 2, 6, 6))  # (N, C, H, W)
w = rng.standard_normal((3, 2, 3, 3))  # (F, C, kH, kW): F = 3 classes
b = rng.standard_normal(3)  # (F,)
target = rng.integers(0, 3, size=(1, 6, 6))  # (N, H, W)
logits, cache = conv2d_forward(x, w, b, pad=1)
_, dlogits = softmax_cross_entropy(logits, target)
dx, _, _ = conv2d_backward(dlogits, cache)
v = rng.standard_normal(x.shape)  # a random direction
exact = float(np.sum(dx * v))  # <dx, v>, what the differences should give


def loss(x, dtype):
    """L = softmax_cross_entropy(conv(x), target), every step computed in `dtype`."""
    logits = conv2d_forward(x.astype(dtype), w.astype(dtype), b.astype(dtype), pad=1)[0]
    return float(softmax_cross_entropy(logits, target)[0])


steps = np.logspace(-12, 0, 37)  # h from 1e-12 to 1
curves = {}
for dtype in (np.float64, np.float32):
    centred = [(loss(x + h * v, dtype) - loss(x - h * v, dtype)) / (2 * h) for h in steps]
    forward = [(loss(x + h * v, dtype) - loss(x, dtype)) / h for h in steps]
    curves[dtype.__name__, "centred"] = np.array([rel_error(c, exact) for c in centred])
    curves[dtype.__name__, "forward"] = np.array([rel_error(f, exact) for f in forward])

fig, ax = plt.subplots(figsize=(7, 4))
styles = {"float64": "-", "float32": "--"}
for (dtype_name, kind), errors in curves.items():
    ax.loglog(steps, np.maximum(errors, 1e-17), styles[dtype_name],
              color="C0" if kind == "centred" else "C1", label=f"{kind}, {dtype_name}")
ax.axvline(1e-6, color="0.6", lw=0.8)
ax.text(1.3e-6, 0.04, "h = 1e-6 (gradcheck default)", fontsize=8, color="0.4",
        transform=ax.get_xaxis_transform())
ax.set(xlabel="step h", ylabel="relative error vs <dx, v>",
       title="finite differences of conv + loss: truncation vs rounding")
ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

at_default = {key: errors[np.argmin(np.abs(steps - 1e-6))] for key, errors in curves.items()}
for key, error in at_default.items():
    print(f"{key[1]:>8} differences, {key[0]}: relative error {error:.1e} at h = 1e-6")
assert at_default["float64", "centred"] < 1e-8 < at_default["float64", "forward"]
assert at_default["float32", "centred"] > 1e-3  # float32 cannot confirm a gradient here
best = {key: float(errors.min()) for key, errors in curves.items()}
print({f"{kind}, {dtype}": f"{error:.1e}" for (dtype, kind), error in best.items()}, "at best")
assert best["float64", "centred"] < 1e-10 and 1e-8 < best["float64", "forward"] < 1e-7
assert best["float32", "centred"] > 1e-5  # no step confirms a float32 gradient

# %% [markdown]
# The curves say it all:
#
# * In float64 the centred difference reaches ~1e-11 (8e-12 at `h = 1e-7`, 5e-10 at
#   `h = 1e-6`), and `h = 1e-6` sits in its flat valley: that is why the library checks in
#   float64 with `h = 1e-6`.
# * The forward difference is a thousand times worse: 3e-6 at `h = 1e-6`, and 2e-8 at its
#   very best (`h = 1e-8`), too close to a slightly wrong gradient to tell them apart.
# * In float32 no step gives better than ~2e-5 (at `h` around 5e-4), and the default
#   `h = 1e-6` gives 2e-2: the check cannot confirm a gradient,
#   even a correct one. So: **check in float64**, and test float32 separately by comparing
#   its result with float64's. `check_gradients` warns when handed float32:

# %%
x32, w32, b32 = x.astype(np.float32), w.astype(np.float32), b.astype(np.float32)
logits32, cache32 = conv2d_forward(x32, w32, b32, pad=1)
dx32, _, _ = conv2d_backward(softmax_cross_entropy(logits32, target)[1], cache32)
with warnings.catch_warnings(record=True) as caught_warnings:
    warnings.simplefilter("always")
    errors32 = check_gradients(
        lambda x: softmax_cross_entropy(conv2d_forward(x, w32, b32, pad=1)[0], target)[0],
        {"x": x32}, {"x": dx32})
print("warning:", caught_warnings[0].message)
print(format_report(errors32))
print("float32 backward vs float64 backward:", rel_error(dx32, dx))
assert errors32["x"] > 1e-7 and rel_error(dx32, dx) < 1e-5

# %% [markdown]
# ## The relative error
#
# `rel_error(a, b) = max |a - b| / max (|a| + |b|)`: the worst disagreement as a fraction
# of the largest entry. An element-wise ratio `|a_i - b_i| / |a_i|` would blow up on
# entries that are ~0 in both (a ReLU that was off, a cropped-away pixel), and flag a right
# gradient as wrong. In float64 a correct layer checked element by element scores about
# 1e-9 to 1e-11. A directional check of a whole network is one number per parameter, in
# which many terms cancel: the correct U-Net backward scores up to ~4e-8 there. The bug
# hunt's threshold `bughunt.TOL = 1e-6` sits between that and the smallest error of a
# broken layer (0.56); 1e-6 or more means a bug (or a kink, next section).

# %%
# the conv layer alone, with dlogits as its upstream gradient: dx is its backward pass
numerical = numerical_gradient(lambda x: conv2d_forward(x, w, b, pad=1)[0], x, dy=dlogits)
print("rel_error(numerical, dx) =", rel_error(numerical, dx))
with np.errstate(divide="ignore", invalid="ignore"):
    elementwise = np.abs(numerical - dx) / np.abs(dx)
print("largest element-wise ratio:", elementwise.max(), "at |dx| =",
      np.abs(dx).ravel()[np.argmax(elementwise)])
assert rel_error(numerical, dx) < 1e-8

# %% [markdown]
# ## Kinks: where a right gradient fails the check
#
# Finite differences assume `L` is smooth within `h` of `x`. Two of the U-Net's layers are
# not smooth everywhere.
#
# **ReLU at 0.** For an input at `1e-7` the step `h = 1e-6` crosses the kink: the centred
# difference is `(relu(1.1e-6) - relu(-0.9e-6)) / 2e-6 = 0.55`, while the true derivative
# (of the side we are on) is 1.

# %%
x_relu = rng.uniform(0.5, 2.0, size=(1, 1, 2, 3)) * rng.choice([-1, 1], size=(1, 1, 2, 3))
x_relu[0, 0, 0, 0] = 1e-7  # right next to the kink
dy_relu = rng.standard_normal(x_relu.shape)
_, relu_cache = relu_forward(x_relu)
dx_relu = relu_backward(dy_relu, relu_cache)
numerical = numerical_gradient(lambda x: relu_forward(x)[0], x_relu, dy=dy_relu)
print("analytic / numerical at the kink:", dx_relu[0, 0, 0, 0] / dy_relu[0, 0, 0, 0],
      numerical[0, 0, 0, 0] / dy_relu[0, 0, 0, 0])
print("rel_error with an input at 1e-7:", rel_error(numerical, dx_relu))
x_relu[0, 0, 0, 0] = 0.3  # moved away from the kink
_, relu_cache = relu_forward(x_relu)
errors = check_gradients(lambda x: relu_forward(x)[0], {"x": x_relu},
                         {"x": relu_backward(dy_relu, relu_cache)}, dy=dy_relu)
print("rel_error with every |x| >= 0.3:", errors["x"])
assert rel_error(numerical, dx_relu) > 1e-2 and errors["x"] < 1e-7

# %% [markdown]
# **Max-pool ties.** In a window `[[5, 5], [1, 2]]` both top pixels are the maximum.
# Raising either one raises the max; lowering either leaves the other as the max. The
# centred difference gives each of them `0.5 * dy`, the backward pass (by its tie rule)
# gives `dy` to the first and `0` to the second. Both are "a" derivative of a function
# that has none at that point. Checks therefore use inputs with distinct values.

# %%
x_tie = np.array([[5.0, 5.0], [1.0, 2.0]]).reshape(1, 1, 2, 2)
dy_tie = np.array([[[[1.0]]]])
_, pool_cache = maxpool2d_forward(x_tie)
print("backward pass:\n", maxpool2d_backward(dy_tie, pool_cache)[0, 0])
numerical = numerical_gradient(lambda x: maxpool2d_forward(x)[0], x_tie, dy=dy_tie)
print("centred differences:\n", numerical[0, 0])
assert np.allclose(numerical[0, 0], [[0.5, 0.5], [0.0, 0.0]])

# %% [markdown]
# ## Bug hunt
#
# `minimal_unet.bughunt` holds four broken layers, each wrapping the library's correct
# function and changing one thing:
#
# | broken variant | the bug | the check that catches it |
# |---|---|---|
# | `conv2d_backward_flipped_kernel` | `dx` correlates `dy` with the kernel *unflipped* | gradient check |
# | `unet_backward_missing_skip_sum` | an encoder's gradient is only the max-pool's; the skip connection's is dropped | gradient check of every parameter |
# | `softmax_cross_entropy_no_max_shift` | `exp(z)` without subtracting `max z` | the log-sum-exp oracle at logits of 1e4 |
# | `crop_and_concat_forward_off_by_one` | the crop starts one pixel too far down and right | gradient check against the (right) backward, and a centre-crop oracle |
#
# Every check passes the library's own layer and catches the broken one:

# %%
for layer in bughunt.LAYERS:
    right = bughunt.check(layer, bughunt.CORRECT[layer])
    wrong = bughunt.check(layer, bughunt.BROKEN[layer])
    print(f"correct: {right}\nbroken:  {wrong}\n")
    assert not right.caught and wrong.caught
    assert right.error < bughunt.TOL / 10 and wrong.error > 1e-1  # TOL: a wide margin

# %% [markdown]
# ### The flipped kernel, up close
#
# The right `dx` is the full correlation of `dy` with the kernel rotated by 180 degrees
# (notebook 1). With a symmetric kernel the bug would be invisible; with a random one,
# the broken `dx` is a different picture from the numerical gradient:

# %%
x1 = rng.standard_normal((1, 1, 6, 6))
w1 = rng.standard_normal((1, 1, 3, 3))
b1 = np.zeros(1)
y1, cache1 = conv2d_forward(x1, w1, b1)
dy1 = rng.standard_normal(y1.shape)
numerical = numerical_gradient(lambda x: conv2d_forward(x, w1, b1)[0], x1, dy=dy1)
dx_right = conv2d_backward(dy1, cache1)[0]
dx_broken = bughunt.conv2d_backward_flipped_kernel(dy1, cache1)[0]

fig, axes = plt.subplots(1, 3, figsize=(9, 3))
limit = np.abs(numerical).max()
for ax, (data, title) in zip(axes, [(numerical, "numerical dx"),
                                    (dx_right, f"conv2d_backward\n(rel. error "
                                               f"{rel_error(numerical, dx_right):.0e})"),
                                    (dx_broken, f"kernel not flipped\n(rel. error "
                                                f"{rel_error(numerical, dx_broken):.0e})")]):
    ax.imshow(data[0, 0], cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
plt.tight_layout()
plt.show()
assert rel_error(numerical, dx_right) < 1e-8 < 1e-2 < rel_error(numerical, dx_broken)

# %% [markdown]
# ### The missing skip-gradient sum, up close
#
# Each encoder block's output feeds two places: the max-pool (down) and the skip
# connection (across). Its gradient is the *sum* of the two; the broken backward keeps
# only the max-pool's. Checking every parameter of a tiny float64 U-Net along one random
# direction each (`directional_check`: two forward passes per parameter) shows which
# gradients go wrong: the decoder's, bottom's and head's are untouched, every encoder
# parameter is off.

# %%
net = UNet(UNetConfig(depth=2, base_channels=2), seed=0, dtype=np.float64)
x_net = rng.standard_normal((1, 1, 44, 44))  # the smallest legal tile for depth 2
dlogits = rng.standard_normal(net.forward(x_net).shape)
grads_broken = bughunt.unet_backward_missing_skip_sum(net, dlogits)
errors = directional_check(lambda **params: net.forward(x_net), net.params, grads_broken,
                           np.random.default_rng(1), dy=dlogits)
print(format_report(errors))
assert all(errors[name] > 1e-6 for name in errors if name.startswith("enc"))
assert all(errors[name] < 1e-7 for name in errors if not name.startswith("enc"))

# %% [markdown]
# ### No max subtraction, and the off-by-one crop
#
# The softmax without the max shift is algebraically the same function, so a gradient
# check at ordinary logits *passes*; only an oracle at extreme logits catches it. The
# shifted crop copies the wrong pixels forward, while its backward pastes the gradient at
# the right place: forward and backward no longer agree, which is exactly what a gradient
# check measures.

# %%
logits = rng.standard_normal((1, 3, 2, 2))
target = rng.integers(0, 3, size=(1, 2, 2))


def gradient_check_of_loss(loss_fn):
    """rel_error of loss_fn's dlogits against centred differences of its loss."""
    d_logits = loss_fn(logits, target)[1]
    errors = check_gradients(lambda logits: loss_fn(logits, target)[0], {"logits": logits},
                             {"logits": d_logits})
    return errors["logits"]


for loss_fn in (softmax_cross_entropy, bughunt.softmax_cross_entropy_no_max_shift):
    loss_big = loss_fn(logits * 1e4, target)[0]
    print(f"{loss_fn.__name__:<36} gradient check {gradient_check_of_loss(loss_fn):.1e}, "
          f"loss at logits ~1e4: {loss_big}")
assert gradient_check_of_loss(bughunt.softmax_cross_entropy_no_max_shift) < 1e-7  # passes!
assert not np.isfinite(bughunt.softmax_cross_entropy_no_max_shift(logits * 1e4, target)[0])

skip = rng.standard_normal((1, 1, 8, 8))
up = rng.standard_normal((1, 1, 4, 4))
y_right, crop_cache = crop_and_concat_forward(skip, up)
y_broken, _ = bughunt.crop_and_concat_forward_off_by_one(skip, up)
dy_crop = rng.standard_normal(y_right.shape)
dskip, dup = crop_and_concat_backward(dy_crop, crop_cache)
numerical = numerical_gradient(
    lambda s: bughunt.crop_and_concat_forward_off_by_one(s, up)[0], skip, dy=dy_crop)

fig, axes = plt.subplots(1, 2, figsize=(6, 3))
axes[0].imshow(dskip[0, 0] != 0, cmap="Greys")
axes[0].set_title("where the backward pastes dy", fontsize=9)
axes[1].imshow(numerical[0, 0] != 0, cmap="Greys")
axes[1].set_title("where the broken forward\nreally read skip", fontsize=9)
for ax in axes:
    ax.set_xticks([])
    ax.set_yticks([])
plt.tight_layout()
plt.show()
assert rel_error(numerical, dskip) > 0.1

# %% [markdown]
# ## The exercise
#
# `bughunt.suspects()` hands out, for each of the four layers, two implementations
# `"A"` and `"B"`, one of them broken. Which one was drawn for your copy when your teacher
# made it (your copy's `minimal_unet/bughunt_suspects.json`; the grader holds the key).
# Use the checks of this notebook to find the broken one of each pair, write your
# verdicts to `bughunt_answers.json` (in your copy's root folder) as
# `{"conv2d_backward": "A", ...}`, and submit them with `minimal-unet assignment submit`.

# %%
pairs = bughunt.suspects()  # {layer: {"A": function, "B": function}}, your copy's
for layer, pair in pairs.items():
    print(f"{layer:<26} suspects: {sorted(pair)}")  # which one is broken: your job
assert all(sorted(pair) == ["A", "B"] for pair in pairs.values())

# %% [markdown]
# ## Summary
#
# * Check in float64, with centred differences, `h` around 1e-6 and a random upstream
#   gradient; expect `rel_error` ~1e-9 or below per layer (up to ~4e-8 for a directional
#   check of the whole U-Net); 1e-6 or more is a bug.
# * Keep inputs away from kinks (no ReLU inputs near 0, no max-pool ties).
# * A right forward with a wrong backward, or a wrong forward with a right backward, both
#   show up; a numerically fragile but algebraically right formula needs an oracle at
#   extreme inputs.
# * Next: notebook 5 assembles the layers into the U-Net.
