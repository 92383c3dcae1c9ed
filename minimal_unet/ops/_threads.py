"""Every core for the fast paths: our own threads over blocks, BLAS held to one thread.

NumPy releases the GIL inside copies, ufuncs and BLAS calls, so Python threads that each
work on their own block of an array run truly in parallel. The fast paths cut their work
into blocks whose cutting depends on the shapes only (never on the thread count), and
`run` shares those blocks between the calling thread and `workers() - 1` helper threads
(block i on thread i % workers()), which meet once, at the end; `results_in_order` hands
them back one at a time, in order, a helper at most _AHEAD blocks ahead (`_striped`):

    results = run(task, blocks)      # == [task(b) for b in blocks], in block order

Inside `run` OpenBLAS is held to one thread per call (threadpoolctl; restored on the way
out): each of our threads runs its own single-threaded product, so no BLAS thread spins
beside ours waiting for work, and a product gives the same bits whichever thread runs it.
While `every_product()` the hold is there even when `run` gets a single block (outside
it a single block runs as it is: holding and releasing BLAS costs a few microseconds,
which a tiny network's step notices). A woken OpenBLAS thread does not sleep when its
product ends: it spins, waiting for the next one, for OPENBLAS_THREAD_TIMEOUT (2^28
cycles by default, ~0.1 s), on a core our threads need. So a step must not mix the two:
`set_every_product(True)` (set by `UNet` for a network that has a layer large enough for
our threads) sends every product of conv2d and upconv2d to our threads, each on one BLAS
thread, and BLAS's own threads are never woken. Mixed (the mid-size layers' products on
BLAS's threads, the large layers' blocks on ours),
the 572 / base-32 step took 1.93 s instead of 1.42 s and the paper step 5.80 s instead
of 5.16 s (2-core Xeon VM, 2026-12-05, benchmarks/results/xeon_2026-12-05/blas_spin/);
with OPENBLAS_THREAD_TIMEOUT=4 set before NumPy loads, the mixed step was as fast, which
is what showed the cause. A network with no large layer keeps BLAS's threads throughout.
Callers that sum block results add them in block order, so every result has the same
bits on 1, 2 or 16 threads (tested against the one-thread run).

workers(): `MINIMAL_UNET_THREADS` if set, else the cores this process may run on. On the
2-core machine (2026-12-04, EPYC, benchmarks/results/epyc_2026-12-04_threads/) two
threads over 4 MiB conv blocks made the base-32 and paper steps faster than one product
on two BLAS threads; the Xeon record of 2026-12-01 (benchmarks/results/threads_cpu.md,
16 MiB blocks) had found no gain: the gain is in the small blocks each core keeps in its
cache, which a product on two BLAS threads cannot use (conv2d's trick 2). On the Xeon VM of
2026-12-05 (benchmarks/results/xeon_2026-12-05/), with 8 MiB blocks, BLAS's two threads
(MINIMAL_UNET_THREADS=1) were 4 % faster than ours at 572 / base 32 and 8 % slower at the
paper step, where the EPYC VM had them 20 % slower: the default stays ours. Small layers
(unless their network has a large one) and small arrays stay on the calling thread
(`_conv_blocks._THREAD_BYTES`, `_MIN_BYTES`). MINIMAL_UNET_THREADS=1 gives BLAS its own
threads back (and every product is then one call on them). Without threadpoolctl (a dependency;
absent only in a broken install) the blocks run in order on the calling thread.

Elementwise fast paths (ReLU, max-pool, crop-and-concatenate, ...) cut their arrays with
`chunks` into one part per worker along a leading axis and write each part of a fresh
output in place; elementwise results cannot depend on the cutting.
"""

import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

_MIN_BYTES = 8 << 20  # `chunks`: no part smaller than this (a thread hand-off costs)
_PART_BYTES = 2 << 20  # `parts`: about this much output per part of a cut product
_AHEAD = 1  # `_striped`: results a helper may have waiting that the caller has not taken
_POOL = None  # the ThreadPoolExecutor of helper threads, started on first use
_POOL_KEY = None  # (process id, size) it was started for: a forked child starts its own
_BLAS = None  # threadpoolctl's controller of the loaded BLAS libraries (False: none)


def workers():
    """How many threads `run` uses: MINIMAL_UNET_THREADS, else the cores this process may
    use (os.sched_getaffinity where there is one, else os.cpu_count())."""
    setting = os.environ.get("MINIMAL_UNET_THREADS", "").strip()
    if not setting:
        if hasattr(os, "sched_getaffinity"):
            return max(1, len(os.sched_getaffinity(0)))
        return max(1, os.cpu_count() or 1)
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
    """A pool of at least `size` helper threads (the largest asked for so far, per process)."""
    global _POOL, _POOL_KEY
    if _POOL is None or _POOL_KEY[0] != os.getpid() or _POOL_KEY[1] < size:
        if _POOL is not None and _POOL_KEY[0] == os.getpid():
            _POOL.shutdown(wait=False)  # idle between calls: its threads end
        _POOL = ThreadPoolExecutor(max_workers=size, thread_name_prefix="minimal_unet")
        _POOL_KEY = (os.getpid(), size)
    return _POOL


def run(task, blocks, threads=None):
    """[task(block) for block in blocks], spread over `threads` (default `workers()`).

    The results come back in block order. Each block runs the same NumPy calls with the
    same shapes on whichever thread, BLAS single-threaded, so the bits do not depend on
    the number of threads. Unlike `results_in_order`, the threads do not wait for one
    another between blocks: each works through its own blocks (block i on thread
    i % threads) and they meet once, at the end (measured level with the lockstep within
    the host's noise, paired steps 0.4-1.3 % faster in median; 2-core Zen 4 VM,
    2026-12-07, benchmarks/results/zen4_2026-12-07_conv/).
    """
    threads = workers() if threads is None else threads
    blas = _blas_controller() if threads > 1 else None
    if blas is None or len(blocks) <= 1:
        return list(results_in_order(task, blocks, threads))
    threads = min(threads, len(blocks))
    results = [None] * len(blocks)
    stop = threading.Event()  # a thread failed: the others stop at their next block

    def share(k):
        for index in range(k, len(blocks), threads):
            if stop.is_set():
                return
            try:
                results[index] = task(blocks[index])
            except BaseException:
                stop.set()
                raise

    with blas.limit(limits=1):
        helpers = [_pool(threads - 1).submit(share, k) for k in range(1, threads)]
        try:
            share(0)
        finally:
            for future in helpers:
                future.exception()  # wait for each, whatever happened here
        for future in helpers:
            future.result()  # a helper's error, raised here
    return results


def results_in_order(task, blocks, threads=None):
    """Yield task(block) for each block in block order, computed over `threads` (default
    `workers()`), no more than _AHEAD blocks per helper thread ahead of the caller: a caller
    that sums big block results (conv2d's dw) holds a few of them at a time, never all."""
    threads = workers() if threads is None else threads
    blas = _blas_controller() if threads > 1 else None
    if blas is None:  # one thread (BLAS keeps its own), or BLAS cannot be held
        for block in blocks:
            yield task(block)
        return
    if len(blocks) <= 1:  # nothing to share: on this thread
        if not every_product():
            yield from (task(block) for block in blocks)
            return
        with blas.limit(limits=1):  # ... BLAS held to one, as in the rest of the step
            results = [task(block) for block in blocks]
        yield from results
        return
    with blas.limit(limits=1):
        yield from _striped(task, blocks, min(threads, len(blocks)))


def _striped(task, blocks, threads):
    """Yield task(block) in block order; block i runs on worker i % threads (the lockstep
    of `results_in_order`; `run` does without it).

    Worker 0 is the calling thread, which works through its own blocks between handing
    on the others' results; workers 1 .. threads-1 are pool threads, each working through
    its blocks in order and passing each result through a queue of at most _AHEAD. So the
    caller computes too, and the threads meet once per block pair, not at every block's
    hand-off and wake-up. Before (every block handed to the pool, the caller waiting on
    each), on the 2-core Xeon VM (2026-12-05, benchmarks/results/xeon_2026-12-05_night/):
    forward pass of 16 -> 16 channels @250 3.54 -> 3.17 ms, 32 -> 32 @570 44.0 -> 42.6 ms
    in the default 8 MiB blocks (1 MiB blocks: 6.04 -> 4.39, 75.6 -> 56.3 ms, still slower
    than 8); training step 572 / base 32 1.50 -> 1.44 s, paper step 4.57 -> 4.44 s. The
    blocks of a cut are of equal size (_conv_blocks.row_blocks, `chunks`, `parts`), so the
    shares take about equal time.
    """
    stop = threading.Event()  # the caller left early (an error, or it stopped reading)
    handoffs = [queue.Queue(maxsize=_AHEAD) for _ in range(threads - 1)]

    def helper(k):
        for block in blocks[k::threads]:
            try:
                item = (True, task(block))
            except BaseException as error:  # noqa: BLE001 - handed to the caller, raised there
                item = (False, error)
            while not stop.is_set():  # a full queue: wait for the caller, or for its exit
                try:
                    handoffs[k - 1].put(item, timeout=0.05)
                    break
                except queue.Full:
                    continue
            if stop.is_set() or not item[0]:
                return

    pool = _pool(threads - 1)
    helpers = [pool.submit(helper, k) for k in range(1, threads)]
    try:
        for index, block in enumerate(blocks):
            k = index % threads
            if k == 0:
                yield task(block)
                continue
            ok, value = handoffs[k - 1].get()
            if not ok:
                raise value
            yield value
    finally:
        stop.set()
        for future in helpers:
            future.result()  # each sees `stop` within 0.05 s


_EVERY_PRODUCT = False  # `set_every_product`; process-wide


def set_every_product(on):
    """From now on, every product of conv2d and upconv2d runs on our threads (in blocks or
    parts cut by shape, BLAS held to one thread), not only those of the large layers (on
    True), or only those (False, the default). `UNet` sets it at each forward pass, for
    that pass and the backward pass after it: True for a network with a large layer (see
    the module docstring: mixing wakes BLAS's threads)."""
    global _EVERY_PRODUCT
    _EVERY_PRODUCT = bool(on)


@contextmanager
def every_product_on_our_threads(on=True):
    """`with every_product_on_our_threads():` set_every_product(on) inside, the old value
    restored on the way out."""
    before = _EVERY_PRODUCT
    set_every_product(on)
    try:
        yield
    finally:
        set_every_product(before)


def every_product():
    """True while every product goes to our threads (`set_every_product`) and our threads
    are in use (workers() > 1)."""
    return _EVERY_PRODUCT and workers() > 1


def chunks(length, bytes_per_item, threads=None):
    """[slice]: range(length) cut into about `threads` (default `workers()`) equal parts,
    none under _MIN_BYTES (bytes_per_item bytes per index); one part for small arrays."""
    threads = workers() if threads is None else threads
    parts = int(max(1, min(threads, length, length * bytes_per_item // _MIN_BYTES)))
    bounds = [length * k // parts for k in range(parts + 1)]
    return [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]


def parts(length, bytes_per_item, part_bytes=None):
    """[slice]: range(length) cut into parts of about `part_bytes` (default _PART_BYTES;
    an even number of them when more than one), by the shape alone, never by the thread
    count: for products cut between threads, whose bits must not depend on how many
    threads there are."""
    part_bytes = _PART_BYTES if part_bytes is None else part_bytes
    n = int(min(length, max(1, -(-length * bytes_per_item // part_bytes))))  # ceil
    if n > 1 and n % 2 == 1 and n < length:
        n += 1
    bounds = [length * k // n for k in range(n + 1)]
    return [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]


def map_chunks(task, length, bytes_per_item):
    """run(task, chunks(length, bytes_per_item)): task(slice) for each part, in parallel."""
    run(task, chunks(length, bytes_per_item))
