"""Every core for the fast paths: our own threads over blocks, BLAS held to one thread.

NumPy releases the GIL inside copies, ufuncs and BLAS calls, so Python threads that each
work on their own block of an array run truly in parallel. The fast paths cut their work
into blocks whose cutting depends on the shapes only (never on the thread count), and
`run` hands those blocks to a pool of `workers()` threads:

    results = run(task, blocks)      # == [task(b) for b in blocks], in block order

Inside `run` OpenBLAS is held to one thread per call (threadpoolctl; restored on the way
out): each of our threads runs its own single-threaded product, so no BLAS thread spins
beside ours waiting for work, and a product gives the same bits whichever thread runs it.
Callers that sum block results add them in block order, so every result has the same
bits on 1, 2 or 16 threads (tested against the one-thread run).

workers(): `MINIMAL_UNET_THREADS` if set, else 1: OFF by default, because measured on the
2-core machine (benchmarks/results/threads_cpu.md) it did not pay: a big layer's
convolution got faster (32->32 at 570x570, forward + backward: 0.25 -> 0.195 s), but a
whole training step did not (572 / base 32: 2.34 s serial, 2.34-2.46 s threaded; 252 /
base 16: 0.140 -> 0.148 s). Products held to one BLAS thread each run no faster than one
product on two BLAS threads, the elementwise passes are bound by memory bandwidth and
page faults, and small arrays pay the hand-off. Try it on a machine with more cores:
`MINIMAL_UNET_THREADS=8`. With one worker, or one block, or without threadpoolctl, the
blocks run in order on the calling thread and BLAS keeps its own threads.

Elementwise fast paths (ReLU, max-pool, crop-and-concatenate, ...) cut their arrays with
`chunks` into one part per worker along a leading axis and write each part of a fresh
output in place; elementwise results cannot depend on the cutting.
"""

import os
from concurrent.futures import ThreadPoolExecutor

_MIN_BYTES = 2 << 20  # `chunks`: no part smaller than this (a thread hand-off costs)
_POOL = None  # the ThreadPoolExecutor, started on first use
_POOL_KEY = None  # (process id, size) it was started for: a forked child starts its own
_BLAS = None  # threadpoolctl's controller of the loaded BLAS libraries (False: none)


def workers():
    """How many threads `run` uses: MINIMAL_UNET_THREADS, else 1 (see the module docstring:
    on the 2-core machine we measure on, more threads made a whole training step slower)."""
    setting = os.environ.get("MINIMAL_UNET_THREADS", "").strip()
    if not setting:
        return 1
    try:
        count = int(setting)
    except ValueError:
        raise ValueError(f"MINIMAL_UNET_THREADS: expected a whole number >= 1, "
                         f"got {setting!r}") from None
    if count < 1:
        raise ValueError(f"MINIMAL_UNET_THREADS: expected a whole number >= 1, "
                         f"got {setting!r}")
    return count


def _blas_controller():
    """threadpoolctl's BLAS controller, or None when threadpoolctl is not installed."""
    global _BLAS
    if _BLAS is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _BLAS = False
        else:
            _BLAS = ThreadpoolController().select(user_api="blas")
    return _BLAS or None


def _pool(size):
    global _POOL, _POOL_KEY
    key = (os.getpid(), size)
    if _POOL is None or _POOL_KEY != key:
        _POOL = ThreadPoolExecutor(max_workers=size, thread_name_prefix="minimal_unet")
        _POOL_KEY = key
    return _POOL


def run(task, blocks, threads=None):
    """[task(block) for block in blocks], spread over `threads` (default `workers()`).

    The results come back in block order. Each block runs the same NumPy calls with the
    same shapes on whichever thread, BLAS single-threaded, so the bits do not depend on
    the number of threads.
    """
    threads = workers() if threads is None else threads
    if threads == 1 or len(blocks) < 2:
        return [task(block) for block in blocks]
    blas = _blas_controller()
    if blas is None:  # cannot hold BLAS to one thread: our threads would oversubscribe
        return [task(block) for block in blocks]
    with blas.limit(limits=1):
        return list(_pool(min(threads, len(blocks))).map(task, blocks))


def chunks(length, bytes_per_item, threads=None):
    """[slice]: range(length) cut into about `threads` (default `workers()`) equal parts,
    none under _MIN_BYTES (bytes_per_item bytes per index); one part for small arrays."""
    threads = workers() if threads is None else threads
    parts = int(max(1, min(threads, length, length * bytes_per_item // _MIN_BYTES)))
    bounds = [length * k // parts for k in range(parts + 1)]
    return [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]


def map_chunks(task, length, bytes_per_item):
    """run(task, chunks(length, bytes_per_item)): task(slice) for each part, in parallel."""
    run(task, chunks(length, bytes_per_item))
