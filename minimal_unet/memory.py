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

`keep_freed_memory()` asks glibc (`mallopt`) to serve blocks up to 32 MiB from the heap and
never to trim it, so a step reuses the pages the previous step freed. What it costs: the
resident memory stays at the step's peak between steps instead of dropping back (the
peak itself grew by under 2 %, 0.451 -> 0.458 GiB for that step). It is process-wide, so
`train.train` and the command line call it, not `import minimal_unet`. It does nothing
(returns False) where the C library is not glibc (macOS, Windows, musl) or when
MINIMAL_UNET_KEEP_MEMORY=0.
"""

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20  # the largest glibc accepts on 64-bit (HEAP_MAX_SIZE / 2)
TRIM_THRESHOLD = 2**31 - 1  # mallopt takes an int: "never" in practice

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
    """Keep freed blocks up to 32 MiB in the heap and stop trimming it (see the module
    docstring). Returns True when glibc took both settings, False when nothing was
    changed. Safe to call any number of times; the first call decides."""
    global _APPLIED
    if _APPLIED is not None:
        return _APPLIED
    setting = os.environ.get("MINIMAL_UNET_KEEP_MEMORY", "").strip()
    if setting not in ("", "0", "1"):
        raise ValueError(f"MINIMAL_UNET_KEEP_MEMORY: expected 0 or 1, got {setting!r}")
    libc = None if setting == "0" else _glibc()
    _APPLIED = bool(libc is not None
                    and libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                    and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1)
    return _APPLIED
