"""Keep freed memory in the process for the next training step, instead of giving it back.

A training step allocates the same big arrays every time (activations, their gradients,
the im2col blocks) and frees them all by the end of the step. glibc's malloc serves every
block above its "mmap threshold" (at first 128 KiB, raised as blocks are freed, at most
32 MiB) with a fresh `mmap` and hands it back to the kernel with `munmap` on `free`; the
heap above `M_TRIM_THRESHOLD` goes back too. The next step then touches brand-new pages:
one page fault per page, each page zeroed by the kernel. Measured on the 2-core EPYC
machine (benchmarks/results/, 2026-12-04), one 572 / base-32 float32 step spent 0.6-1.4 s
of kernel time in ~12 000-15 000 page faults, about a fifth of its CPU time; with freed
memory kept, ~0 faults and no kernel time. PyTorch's steps gain too (0.55-0.9 s of
kernel time), but ours more: our elementwise passes touch their fresh outputs on one thread.

`keep_freed_memory()` asks glibc (`mallopt`) to serve every block from the one main heap,
never by `mmap` and never from a per-thread arena, and never to trim that heap, so a step
reuses the pages the previous step freed, whatever their size and whichever thread
allocated them. What it costs: the resident memory stays at the step's peak between steps
instead of dropping back (the peak itself grew by under 2 %, 0.451 -> 0.458 GiB for that
step). It is process-wide, so `train.train` and the command line call it, not `import
minimal_unet`. It does nothing (returns False) where the C library is not glibc (macOS,
Windows, musl) or when MINIMAL_UNET_KEEP_MEMORY=0.

Why all three settings. The first version only raised the mmap threshold to its largest,
32 MiB, and stopped trimming. That left two leaks of fresh pages, found on a 2-core Xeon VM
(2026-12-05, benchmarks/results/xeon_2026-12-05_night/):
- Blocks above 32 MiB were still mmapped and unmapped every step. The paper net has many
  (64 channels x 568 x 568 float32 is 82 MiB). NumPy advises huge pages for such blocks,
  and under the kernel's THP defrag setting "madvise" every fresh one is compacted for
  synchronously. The paper step (572, base 64) spent 3.5 s per step in the kernel and took
  6.7 s; with no mmap and one arena, 0.016 s and 4.25 s, 0 faults (PyTorch: 3.3-3.5 s).
- Our worker threads (ops/_threads.py) allocated from arenas of their own, which glibc
  maps and gives back apart from the main heap: with no mmap but several arenas the paper
  step still had 1 572 faults and 0.47 s of kernel time (4.82 s). The 572 / base-32 step
  went from 862 faults and 0.20 s of kernel time to 0 and 0.01 s (1.60 -> 1.38 s).
(`memory_settings_output.txt` there; ours alone, one process per setting.)
With no mmap the main heap simply grows (brk) to the step's peak; where it cannot grow,
glibc still falls back to mmap. The one exception is ours: conv2d's scratch buffers, which
live from one step to the next, are each a mapping of their own (ops/_im2col.py), so that
they pin no holes between the step's big arrays in that heap.
"""

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_MAX = -4
M_ARENA_MAX = -8
TRIM_THRESHOLD = 2**31 - 1  # mallopt takes an int: "never" in practice
SETTINGS = ((M_MMAP_MAX, 0),  # no block is served by mmap: all come from the heap
            (M_ARENA_MAX, 1),  # every thread allocates from the main heap
            (M_TRIM_THRESHOLD, TRIM_THRESHOLD))  # the heap is never trimmed

_APPLIED = None  # the result of the first call: the settings are process-wide


def _glibc():
    """The C library as a ctypes handle when it is glibc (it has mallopt), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        version = libc.gnu_get_libc_version  # glibc only: musl has no such function
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    del version
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return libc


def keep_freed_memory():
    """Serve every block from the main heap and never trim it (SETTINGS; see the module
    docstring). Returns True when glibc took all the settings, False when nothing was
    changed. Safe to call any number of times; the first call decides."""
    global _APPLIED
    if _APPLIED is not None:
        return _APPLIED
    setting = os.environ.get("MINIMAL_UNET_KEEP_MEMORY", "").strip()
    if setting not in ("", "0", "1"):
        raise ValueError(f"MINIMAL_UNET_KEEP_MEMORY: expected 0 or 1, got {setting!r}")
    libc = None if setting == "0" else _glibc()
    _APPLIED = bool(libc is not None
                    and all(libc.mallopt(param, value) == 1 for param, value in SETTINGS))
    return _APPLIED
