"""One-off measurement (2026-12-07 evening, Zen 4 VM): each up-convolution of the base-32
net on a 572 tile, forward and backward alone, with every product on our threads (as that
net's step runs them), its work cut into parts of channels (as at 84783a3, loaded from
git) or of input rows (from this evening). 7 runs each, back to back, the two cuts taking
turns; medians. Run from a checkout that has that commit. Prints only.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_evening/upconv_rows_layers.py
"""

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from upconv_rows_ab import channel_cut  # noqa: E402

from minimal_unet.memory import keep_freed_memory  # noqa: E402
from minimal_unet.ops import _threads, upconv2d  # noqa: E402

LAYERS = [(64, 32, 196), (128, 64, 100), (256, 128, 52), (512, 256, 28)]  # C_in, C_out, H


def main():
    keep_freed_memory()  # as in training
    rng = np.random.default_rng(0)
    cuts = {"channels": channel_cut(), "rows": upconv2d}
    totals = dict.fromkeys(cuts, 0.0)
    with _threads.every_product_on_our_threads():
        for c_in, c_out, size in LAYERS:
            x = rng.standard_normal((1, c_in, size, size), dtype=np.float32)
            w = rng.standard_normal((c_in, c_out, 2, 2), dtype=np.float32)
            b = np.zeros(c_out, np.float32)
            dy = rng.standard_normal((1, c_out, 2 * size, 2 * size), dtype=np.float32)
            times = {name: ([], []) for name in cuts}
            for run in range(8):
                for name, module in cuts.items():
                    t0 = time.perf_counter()
                    _, cache = module.upconv2d_forward(x, w, b)
                    t1 = time.perf_counter()
                    module.upconv2d_backward(dy, cache)
                    t2 = time.perf_counter()
                    if run:  # the first is a warm-up
                        times[name][0].append(t1 - t0)
                        times[name][1].append(t2 - t1)
            line = f"{c_in}->{c_out}, {size}->{2 * size}:"
            for name, (forward, backward) in times.items():
                f, bw = statistics.median(forward), statistics.median(backward)
                totals[name] += f + bw
                line += f"  {name}: forward {f * 1e3:.1f} ms, backward {bw * 1e3:.1f} ms;"
            print(line)
    print("  forward + backward, all four: " + ", ".join(
        f"{name} {seconds * 1e3:.1f} ms" for name, seconds in totals.items()))


if __name__ == "__main__":
    main()
