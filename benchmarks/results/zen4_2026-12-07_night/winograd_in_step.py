"""One-off (2026-12-07 night, Zen 4 VM): each convolution's forward and backward wall time
inside benchmarks/step.py's step (ours, float32, 2 threads), with conv2d's trick 9
(Winograd) on and off in alternate steps, after two warm-ups, 0.3 s apart; per layer the
median over steps. Prints only.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_night/winograd_in_step.py 572-b32 [steps]
"""

import collections
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import step  # noqa: E402

from minimal_unet.backends import numpy_backend  # noqa: E402
from minimal_unet.ops import conv2d  # noqa: E402


def main():
    size = sys.argv[1]
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    times = collections.defaultdict(list)  # (on, layer, pass) -> [seconds per step]
    current = {}

    def timed(kind, f):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            result = f(*args, **kwargs)
            x = args[0] if kind == "fwd" else args[1][0]
            w = args[1] if kind == "fwd" else args[1][1]
            key = (f"{w.shape[1]:4d} -> {w.shape[0]:4d} @{x.shape[2]:3d}", kind)
            current[key] = current.get(key, 0.0) + time.perf_counter() - t0
            return result
        return wrapper

    numpy_backend.conv2d_forward = timed("fwd", numpy_backend.conv2d_forward)
    numpy_backend.conv2d_backward = timed("bwd", numpy_backend.conv2d_backward)
    run = step.build_step("ours", size, "float32", 2)
    totals = collections.defaultdict(list)
    for r in range(2 * steps + 2):
        on = r % 2 == 0
        conv2d._WINOGRAD = on
        time.sleep(0.3)
        current.clear()
        t0 = time.perf_counter()
        run()
        if r >= 2:
            totals[on].append(time.perf_counter() - t0)
            for key, t in current.items():
                times[(on,) + key].append(t)
    conv2d._WINOGRAD = True
    print(f"{size} float32, {steps} steps each; median ms, Winograd on / off")
    layers = sorted({k[1:] for k in times}, key=lambda k: list(current).index(k))
    sums = {True: 0.0, False: 0.0}
    for layer in layers:
        on, off = (statistics.median(times[(s,) + layer]) for s in (True, False))
        sums[True] += on
        sums[False] += off
        print(f"  {layer[0]} {layer[1]}: {on * 1e3:7.1f} / {off * 1e3:7.1f}  {on / off:.3f}")
    print(f"  convolutions: {sums[True] * 1e3:.0f} / {sums[False] * 1e3:.0f} ms; step "
          f"{statistics.median(totals[True]):.3f} / {statistics.median(totals[False]):.3f} s")


if __name__ == "__main__":
    main()
