"""One-off measurement (2026-12-05, night): _threads.results_in_order, pool vs striped.

"pool" is the code of commit 89dc171: the caller hands every block to a pool of
`workers()` threads and waits on each result in turn. "striped" is the working tree:
block i runs on worker i % threads, the caller being worker 0 (`_threads._striped`). Both
in one process, swapped by setting the module attribute, alternating step by step (0.3 s
apart), PyTorch's step after each pair; float32, 2 threads, memory.keep_freed_memory as
committed with this change. Run from the repository root, nothing else running:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \\
        benchmarks/results/xeon_2026-12-05_night/striped.py 572-b32 11
Output in striped_output.txt here.
"""
import sys

import _ab

from minimal_unet.ops import _threads

pool, striped = _ab.pool_threads(), _threads.results_in_order


def use(results_in_order):
    return lambda: setattr(_threads, "results_in_order", results_in_order)


_ab.alternate_steps(sys.argv[1], int(sys.argv[2]), "float32",
                    {"pool": use(pool.results_in_order), "striped": use(striped)})
