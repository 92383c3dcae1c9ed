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
# # 5. Assembling the U-Net
#
# **What this notebook teaches.** How the layers of notebooks 1-3 stack into the paper's
# network, and what flows through it:
#
# * the shape table of the paper's net (572 -> 388), its 23 convolutions and 31.0 M
#   parameters, and where each skip connection is cropped;
# * which input sizes are legal (`n = 16 s + 60`) and why, and how far one output pixel
#   sees (the receptive field);
# * the architecture diagram, and a trace of every intermediate array of one forward and
#   one backward pass of a small net, plotted: feature maps on the way down and up, gradient norms layer by layer, and
#   the two gradients that meet at each encoder output (`d_enc = d_from_pool + d_from_skip`).
#
# **What to know first.** Notebooks 1-3; the U-Net figure of the paper helps.
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
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

from minimal_unet import sizes
from minimal_unet.data import synthetic_sample
from minimal_unet.infer import normalize_image
from minimal_unet.model import UNet, UNetConfig
from minimal_unet.ops import softmax_cross_entropy
from minimal_unet.trace import Trace

# %% [markdown]
# ## The paper's net, layer by layer
#
# `UNetConfig()` is the paper's architecture: 1 input channel, 2 classes, depth 4 (four
# max-pools), 64 channels on the first level doubling to 1024 at the bottom, valid
# (unpadded) convolutions. The shape table follows a 572x572 tile through every layer
# (ReLUs keep the shape and share the row of their convolution):

# %%
paper = UNetConfig()
print(sizes.format_layer_table(paper, 572))
print(f"\n{sizes.n_conv_layers(paper)} convolution layers, "
      f"{sizes.n_parameters(paper):,} parameters")
assert sizes.output_size(paper, 572) == 388
assert sizes.n_conv_layers(paper) == 23 and sizes.n_parameters(paper) == 31_030_658

# %% [markdown]
# Each 3x3 valid convolution loses one pixel per side, so the expanding path is smaller
# than the contracting path at the same level, and the skip connection is cropped to its
# centre (notebook 2): 4, 16, 40 and 88 pixels per side, as in the paper.

# %%
crops = sizes.skip_crops(paper, 572)  # {level: (crop_H, crop_W)}
print(crops)
assert crops == {3: (4, 4), 2: (16, 16), 1: (40, 40), 0: (88, 88)}

# %% [markdown]
# ## Legal tile sizes
#
# Along one axis, each level going down does `n -> (n - 4) / 2` (two convs, then a pool
# that needs an even size), and the bottom block leaves `b - 4` of `b`. Every pool must
# see an even size, so only some inputs pass: with four pools they are
# `n = 16 s + 60` for `s >= 8`, the smallest 188 (output 4x4), and the output is always
# `n - 184`.

# %%
legal = sizes.legal_input_sizes(paper, 150, 700)
print("legal sizes in [150, 700]:", legal)
assert legal == [16 * s + 60 for s in range(8, 41)]
assert all(sizes.output_size(paper, n) == n - 184 for n in legal)
try:
    sizes.check_input_size(paper, (570, 572))
except ValueError as err:
    print("\n570:", err)

# %% [markdown]
# ## Receptive field
#
# How many input pixels can change one output pixel? Walk an interval backwards through
# the layers: a 3x3 conv widens it by 2, a pool doubles it, an up-conv halves it, and at
# every concatenation the skip path and the up path each contribute. For the paper's net
# an output pixel sees at most 204 input pixels along each axis; exactly which span
# depends on where the pixel sits on the grid of the four pools (period 16):

# %%
spans = [sizes.receptive_field_interval(paper, o) for o in range(16)]
for o in (0, 4, 8, 12):
    first, last = spans[o]
    print(f"output pixel {o}: input pixels {first} .. {last} ({last - first + 1} px)")
print("largest span:", sizes.receptive_field(paper), "px")
assert sizes.receptive_field(paper) == 204

fig, ax = plt.subplots(figsize=(7, 2.6))
for o, (first, last) in enumerate(spans):
    ax.plot([first, last], [o, o], color="C0", lw=3)
    ax.plot([o + 92], [o], "o", color="C3", ms=3)  # the output pixel, in input coordinates
ax.set(xlabel="input pixel", ylabel="output pixel",
       title="what each output pixel sees (red: its own position, shifted by 92)")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## The architecture diagram
#
# The same table as a picture: one box per row of `sizes.layer_table` (width grows with
# the channels, height with the spatial size), on the row of its resolution level, and
# the copy-and-crop arrows with the part of each encoder map that survives the crop
# dashed. It is drawn by `plot_architecture` in `docs/make_figures.py` (`make figures`).

# %%
repo_root = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
architecture_png = repo_root / "docs" / "figures" / "architecture_paper.png"
if architecture_png.is_file():
    display(Image(filename=str(architecture_png)))
else:
    print(f"{architecture_png} is not here: `make figures` draws it")

# %% [markdown]
# ## One forward and one backward pass, traced
#
# The paper's net is 31 M parameters; to see every intermediate we use a small one with
# the same structure: depth 2, 8 channels on the first level. Its smallest legal tile is
# 44; we feed a 92x92 crop of the synthetic cell images (output 52x52).
#
# `Trace()` records a *reference* to every named intermediate as the computation runs
# (names are listed in `minimal_unet.model`'s docstring): `enc0.conv1.out`,
# `enc0.relu1.out`, ..., and on the way back `head.grad_in`, ..., `input.grad`.

# %%
small = UNetConfig(depth=2, base_channels=8)
print(sizes.format_layer_table(small, 92))
net = UNet(small, seed=0, dtype=np.float32)
print(net)

image, instances = synthetic_sample((92, 92), np.random.default_rng(0))
x = normalize_image(image)[None, None]  # (N=1, C=1, 92, 92) float32, zero mean, unit std
margin = (92 - sizes.output_size(small, 92)) // 2  # 20 px lost on every side
target = (instances[margin:margin + 52, margin:margin + 52] > 0).astype(np.int64)[None]

trace = Trace()
logits = net.forward(x, trace=trace)  # (1, 2, 52, 52)
loss, dlogits = softmax_cross_entropy(logits, target)
grads = net.backward(dlogits, trace=trace)  # dict like net.params
print(f"loss {loss:.4f} (log 2 = {np.log(2):.4f} for a net that knows nothing)")
print(trace.summary())

# %% [markdown]
# The trace holds the very arrays the computation used, not copies: the output of one
# layer *is* the input of the next.

# %%
assert trace["head.out"] is logits
assert trace["enc0.relu1.out"] is trace["enc0.conv2.in"]
assert trace["dec0.concat.out"] is trace["dec0.conv1.in"]
assert len(grads) == len(net.params) and all(
    grads[name].shape == net.params[name].shape for name in net.params)

# %% [markdown]
# ### Feature maps, down and up
#
# One channel of each block's output: the encoder blocks see finer and finer context at
# lower resolution, the decoder blocks bring the resolution back, and the head's softmax
# is the (untrained) foreground probability. The checkerboard in the decoder maps is the
# up-convolution's signature before training: every input pixel paints the same 2x2
# patch of weights.

# %%
names = ["enc0.relu2.out", "enc1.relu2.out", "bottom.relu2.out", "dec1.relu2.out",
         "dec0.relu2.out"]
fig, axes = plt.subplots(1, len(names) + 2, figsize=(16, 2.8))
axes[0].imshow(x[0, 0], cmap="gray")
axes[0].set_title(f"input {x.shape[2]}x{x.shape[3]}", fontsize=9)
for ax, name in zip(axes[1:], names):
    feature = trace[name][0]  # (C, h, w)
    channel = int(np.argmax(feature.std(axis=(1, 2))))  # the liveliest channel
    ax.imshow(feature[channel], cmap="magma")
    ax.set_title(f"{name}\nch {channel} of {feature.shape[0]}, "
                 f"{feature.shape[1]}x{feature.shape[2]}", fontsize=8)
probability = net.predict_proba(x)[0, 1]  # (52, 52), softmax of the logits
axes[-1].imshow(probability, cmap="viridis", vmin=0, vmax=1)
axes[-1].set_title("P(cell), untrained", fontsize=9)
for ax in axes:
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Gradient norms, layer by layer
#
# The backward pass runs the layers in reverse. Left: the norm of the gradient flowing
# *into* each layer's backward step, in the order it is computed (head first, input
# last). Right: the norm of every parameter's gradient.

# %%
grad_names = [name for name in trace.names() if "grad" in name]
grad_norms = [float(np.linalg.norm(trace[name])) for name in grad_names]
fig, (ax_flow, ax_params) = plt.subplots(1, 2, figsize=(14, 4.5))
ax_flow.barh(range(len(grad_names)), grad_norms, color="C0")
ax_flow.set_yticks(range(len(grad_names)), grad_names, fontsize=7)
ax_flow.invert_yaxis()
ax_flow.set(xscale="log", xlabel="||gradient||", title="gradients in backward order")
param_names = list(grads)
ax_params.barh(range(len(param_names)), [float(np.linalg.norm(grads[n])) for n in param_names],
               color=["C1" if n.endswith("weight") else "C2" for n in param_names])
ax_params.set_yticks(range(len(param_names)), param_names, fontsize=7)
ax_params.invert_yaxis()
ax_params.set(xscale="log", xlabel="||dL/dparam||", title="parameter gradients "
              "(orange: weights, green: biases)")
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Where the two gradients meet
#
# Each encoder block's output goes down (into the max-pool) and across (into the skip
# connection), so its gradient is the sum of two: `d_enc = d_from_pool + d_from_skip`.
# The skip part is zero on the frame that the crop cut away (16 px per side for `enc0`
# of this net); the pool part reaches everywhere, but only at the winner of each 2x2
# window.

# %%
d_pool = trace["enc0.grad_from_pool"][0]  # (C, 88, 88)
d_skip = trace["enc0.grad_from_skip"][0]
d_enc = trace["enc0.grad"][0]
assert np.array_equal(d_enc, d_pool + d_skip)
crop = sizes.skip_crops(small, 92)[0][0]
frame = np.ones(d_skip.shape[1:], dtype=bool)
frame[crop:crop + 56, crop:crop + 56] = False  # the 56x56 centre that was kept
assert crop == 16 and np.all(d_skip[:, frame] == 0)

fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
for ax, (data, title) in zip(axes, [(d_pool, "from the max-pool"),
                                    (d_skip, f"from the skip (crop {crop} px)"),
                                    (d_enc, "their sum: enc0.grad")]):
    ax.imshow(np.abs(data).sum(axis=0), cmap="viridis")
    ax.set_title(title, fontsize=9)
    ax.axis("off")
fig.suptitle("|dL/d enc0 output|, summed over channels", fontsize=10)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Summary
#
# * Valid convolutions make the output smaller than the input (572 -> 388) and force the
#   crops of the skip connections; only sizes `16 s + 60` pass the four pools.
# * `UNet.forward` keeps each op's cache; `UNet.backward` walks the same ops in reverse,
#   adding the two gradients of every encoder output where you can see it.
# * Next: notebook 6 trains a small U-Net on the synthetic cells.
