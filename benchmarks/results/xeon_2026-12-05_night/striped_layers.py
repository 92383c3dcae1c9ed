"""One-off measurement (2026-12-05, night): one conv layer's forward pass, pool vs striped.

As striped.py, but one layer's conv2d_forward alone (on our threads, BLAS held to one
thread, every_product on), back to back 30 times (10 at 570x570), median ms, at thread
blocks of 8 MiB (the default) and 1 MiB. Run from the repository root:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \\
        benchmarks/results/xeon_2026-12-05_night/striped_layers.py
Output in striped_layers_output.txt here.
"""
import numpy as np
from _ab import median_ms, pool_threads

from minimal_unet.memory import keep_freed_memory
from minimal_unet.ops import _threads, conv2d

pool, striped = pool_threads(), _threads.results_in_order

keep_freed_memory()
_threads.set_every_product(True)
rng = np.random.default_rng(0)
for C, F, H in [(16, 16, 250), (32, 32, 122), (64, 64, 58), (32, 32, 570), (64, 64, 282)]:
    x = rng.standard_normal((1, C, H, H)).astype(np.float32)
    w = rng.standard_normal((F, C, 3, 3)).astype(np.float32)
    b = np.zeros(F, np.float32)
    cells = []
    for mib in (8, 1):
        conv2d._THREAD_BLOCK_BYTES = int(mib * 2**20)
        row = []
        for name, fn in (("pool", pool.results_in_order), ("striped", striped)):
            _threads.results_in_order = fn
            ms = median_ms(lambda x=x, w=w, b=b: conv2d.conv2d_forward(x, w, b),
                           10 if H > 400 else 30)
            row.append(f"{name} {ms:.2f}")
        cells.append(f"{mib} MiB: " + ", ".join(row))
    print(f"{C}->{F} @{H}: " + " | ".join(cells), flush=True)
