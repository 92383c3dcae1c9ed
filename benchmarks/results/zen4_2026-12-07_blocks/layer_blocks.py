"""One-off (2026-12-07, Zen 4 VM): each conv layer of a step, forward + backward alone, on
our threads (`_threads.set_every_product(True)`, as in the step), with every product's
thread blocks (conv2d._THREAD_BLOCK_BYTES and _LONG_THREAD_BLOCK_BYTES) set to each of
several sizes; trick 7's test keeps its own 8 MiB. The sizes alternate within each round
(0.1 s apart), medians of the rounds after one warm-up round. float32, batch 1, our
allocator setting. Prints only.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_blocks/layer_blocks.py 572-b64 2,4,8 [rounds [C>=]]
The optional last argument keeps only the layers of at least that many input channels.
"""

import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from minimal_unet import memory  # noqa: E402
from minimal_unet.ops import _threads, conv2d  # noqa: E402


# (C, F, input size) of the 3x3 convolutions of the U-Net of tile 572, base b, depth 5
def layers(base):
    out, size, c = [], 572, 1
    widths = [base * 2**i for i in range(5)]
    for i, f in enumerate(widths):  # down
        out += [(c, f, size), (f, f, size - 2)]
        c, size = f, size - 4
        if i < 4:
            size //= 2
    for f in reversed(widths[:-1]):  # up: after the up-convolution, size doubled
        size = size * 2
        out += [(2 * f, f, size), (f, f, size - 2)]
        size -= 4
    return out


def main():
    size = sys.argv[1]
    base = int(size.split("-b")[1])
    mibs = [float(s) for s in sys.argv[2].split(",")]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    min_channels = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    memory.keep_freed_memory()
    _threads.set_every_product(True)
    rng = np.random.default_rng(0)
    print(size, "float32; fwd + bwd seconds per thread block size (MiB):",
          ", ".join(f"{m:g}" for m in mibs), f"; {rounds} rounds")
    totals = dict.fromkeys(mibs, 0.0)
    for C, F, H in [layer for layer in layers(base) if layer[0] >= min_channels]:
        x = rng.standard_normal((1, C, H, H), dtype=np.float32)
        w = (rng.standard_normal((F, C, 3, 3)) * 0.05).astype(np.float32)
        b = np.zeros(F, np.float32)
        dy = rng.standard_normal((1, F, H - 2, H - 2), dtype=np.float32)
        seconds = {m: [] for m in mibs}
        for r in range(rounds + 1):
            for mib in mibs:
                conv2d._THREAD_BLOCK_BYTES = int(mib * 2**20)  # every product, short or long
                conv2d._LONG_THREAD_BLOCK_BYTES = int(mib * 2**20)
                time.sleep(0.1)
                t0 = time.perf_counter()
                _, cache = conv2d.conv2d_forward(x, w, b)
                conv2d.conv2d_backward(dy, cache, need_dx=C > 1)
                if r:
                    seconds[mib].append(time.perf_counter() - t0)
        medians = {m: statistics.median(v) for m, v in seconds.items()}
        for m in mibs:
            totals[m] += medians[m]
        best = min(medians, key=medians.get)
        print(f"  {C:4d}->{F:<4d} @{H:<3d} " + "  ".join(f"{medians[m]:.4f}" for m in mibs)
              + f"   best {best:g}", flush=True)
    print("  sum            " + "  ".join(f"{totals[m]:.4f}" for m in mibs))


if __name__ == "__main__":
    main()
