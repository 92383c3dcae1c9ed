"""One training step (572 / base 32 by default) in threading variants, to find what the
step loses to OpenBLAS's spinning threads. Run against the code of ea41f3a (before the
change), one process per variant, variants alternating:

    PYTHONPATH=<checkout of ea41f3a> env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        python variants.py A 32 572 [pause_s]
    ... OPENBLAS_THREAD_TIMEOUT=4 python variants.py B 32 572   (B and D: set before NumPy loads)

Variants (the step: forward, loss, backward, SGD momentum; median of 5 after 2 warm-ups):
    A  the code as committed: conv layers whose whole im2col is >= 64 MiB in blocks on our
       threads, the others one product on BLAS's threads; up-convs on BLAS's threads
    B  A, run with OPENBLAS_THREAD_TIMEOUT=4 (BLAS's threads sleep as soon as they finish)
    C  every conv layer on our threads (conv2d._THREAD_BYTES = 0) and the whole step with
       BLAS held to one thread (threadpoolctl), so BLAS's own threads are never woken
    D  C, run with OPENBLAS_THREAD_TIMEOUT=4
    E  every conv layer on our threads, BLAS not held outside them (up-convs on its threads)
    G  the whole step with BLAS held to one thread, the layers cut as in A
pause_s: sleep before each timed step (benchmarks/step.py pauses 0.3 s).
"""

import sys
import time

import numpy as np
from threadpoolctl import ThreadpoolController

from minimal_unet import optim
from minimal_unet.memory import keep_freed_memory
from minimal_unet.model import UNet, UNetConfig
from minimal_unet.ops import conv2d
from minimal_unet.sizes import output_size

variant, base, tile = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pause = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
keep_freed_memory()
if variant in ("C", "D", "E"):
    conv2d._THREAD_BYTES = 0  # every layer in blocks on our threads
net = UNet(UNetConfig(depth=4, base_channels=base), seed=0, dtype=np.float32)
opt = optim.SGD(net.params, lr=1e-4, momentum=0.99)
rng = np.random.default_rng(0)
out = output_size(net.config, tile)
x = rng.standard_normal((1, 1, tile, tile)).astype(np.float32)
target = rng.integers(0, 2, (1, out, out))
blas = ThreadpoolController().select(user_api="blas")


def step():
    loss, grads = net.loss_and_grads(x, target)
    opt.step(grads)


def timed():
    if variant in ("C", "D", "G"):  # BLAS's own threads never woken
        with blas.limit(limits=1):
            step()
    else:
        step()


timed()
timed()
times = []
for _ in range(5):
    time.sleep(pause)
    t0 = time.perf_counter()
    timed()
    times.append(time.perf_counter() - t0)
print(variant, base, tile, f"median {np.median(times):.3f}", [round(t, 3) for t in times],
      flush=True)
