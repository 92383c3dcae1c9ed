"""One-off (2026-12-07, Zen 4 VM): does trick 7's test (conv2d._dw_in_one_product, blocks
counted at 8 MiB) still pick the faster dw with longer thread blocks?

conv2d_backward without dx (dw and db only), on our threads as in the step, for the deep
layers of the paper net and base 32: the thread blocks at 8, 16 and 32 MiB, each with dw
from the whole im2col forced on ("W") and off ("b", row blocks). The 36 settings of a
layer alternate within a round, 0.05 s apart; medians of 5 rounds after one warm-up
round. "test@8" is the test's own choice. float32, batch 1. Prints only.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_blocks/whole_dw.py
"""

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from minimal_unet import memory  # noqa: E402
from minimal_unet.ops import _threads, conv2d  # noqa: E402

LAYERS = [(256, 512, 68), (512, 512, 66), (512, 1024, 32), (1024, 1024, 30), (1024, 512, 56),
          (512, 512, 54), (256, 256, 102), (256, 256, 66), (512, 256, 56), (256, 256, 54)]


def main():
    memory.keep_freed_memory()
    _threads.set_every_product(True)
    test = conv2d._dw_in_one_product
    rng = np.random.default_rng(0)
    for C, F, H in LAYERS:
        x = rng.standard_normal((1, C, H, H), dtype=np.float32)
        w = (rng.standard_normal((F, C, 3, 3)) * 0.05).astype(np.float32)
        dy = rng.standard_normal((1, F, H - 2, H - 2), dtype=np.float32)
        cache = (x, w, np.zeros(F, np.float32), 0)
        seconds = {}
        for r in range(6):
            for mib in (8, 16, 32):
                for whole in (True, False):
                    conv2d._LONG_THREAD_BLOCK_BYTES = mib << 20
                    conv2d._dw_in_one_product = lambda *a, whole=whole: whole
                    time.sleep(0.05)
                    t0 = time.perf_counter()
                    conv2d.conv2d_backward(dy, cache, need_dx=False)
                    if r:
                        seconds.setdefault((mib, whole), []).append(time.perf_counter() - t0)
        conv2d._dw_in_one_product = test
        choice = "W" if test(C * 9, F, H - 2, H - 2, 4) else "b"
        print(f"{C}->{F} @{H} test@8:{choice} " + "  ".join(
            f"{mib}{'W' if whole else 'b'} {statistics.median(v):.4f}"
            for (mib, whole), v in seconds.items()), flush=True)


if __name__ == "__main__":
    main()
