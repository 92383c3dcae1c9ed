"""A tiny network's training step in ms (the demo's size by default: depth 2, base 8, tile
92), for checking that the threading change leaves networks without a large layer alone.

    PYTHONPATH=<checkout> env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        python small_step.py [depth base tile]

20 warm-up steps, then the median of 7 means over 50 steps each.
"""

import sys
import time

import numpy as np

from minimal_unet import optim
from minimal_unet.model import UNet, UNetConfig
from minimal_unet.sizes import output_size

depth, base, tile = (int(a) for a in (sys.argv[1:4] if len(sys.argv) > 3 else (2, 8, 92)))
net = UNet(UNetConfig(depth=depth, base_channels=base), seed=0, dtype=np.float32)
opt = optim.SGD(net.params, lr=1e-4, momentum=0.99)
rng = np.random.default_rng(0)
out = output_size(net.config, tile)
x = rng.standard_normal((1, 1, tile, tile)).astype(np.float32)
target = rng.integers(0, 2, (1, out, out))


def step():
    loss, grads = net.loss_and_grads(x, target)
    opt.step(grads)


for _ in range(20):
    step()
means = []
for _ in range(7):
    t0 = time.perf_counter()
    for _ in range(50):
        step()
    means.append((time.perf_counter() - t0) / 50)
print(f"median {np.median(means) * 1e3:.2f} ms/step")
