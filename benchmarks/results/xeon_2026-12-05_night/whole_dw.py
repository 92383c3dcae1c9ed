"""One-off measurement (2026-12-05, night): conv2d's trick 7 (dw of a deep layer from the
whole im2col of each image) on and off, in one process, alternating step by step.

"off" sets conv2d._WHOLE_DW_BYTES = 0, so every layer takes dw from its row blocks as
before; both variants start the block sum from the first block's result (the same
commit). float32, 2 threads, 0.3 s between steps, PyTorch's step after each pair. Run
from the repository root, nothing else running:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \\
        benchmarks/results/xeon_2026-12-05_night/whole_dw.py 572-b64 5
Output in whole_dw_output.txt here.
"""
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import step  # noqa: E402

from minimal_unet.ops import conv2d  # noqa: E402

size, repeat = sys.argv[1], int(sys.argv[2])
dtype = sys.argv[3] if len(sys.argv) > 3 else "float32"
on = conv2d._WHOLE_DW_BYTES
ours = step.build_step("ours", size, dtype, 2)
theirs = step.build_step("torch", size, dtype, 2)
seconds = {"on": [], "off": [], "PyTorch": []}
for _ in range(2):
    ours()
    theirs()
for r in range(repeat):
    for variant in ("on", "off") if r % 2 == 0 else ("off", "on"):
        conv2d._WHOLE_DW_BYTES = on if variant == "on" else 0
        time.sleep(0.3)
        start = time.perf_counter()
        ours()
        seconds[variant].append(time.perf_counter() - start)
    time.sleep(0.3)
    start = time.perf_counter()
    theirs()
    seconds["PyTorch"].append(time.perf_counter() - start)
torch_median = statistics.median(seconds["PyTorch"])
for variant, values in seconds.items():
    print(f"{size} {dtype} {variant:8s} median {statistics.median(values):.4f} s, min "
          f"{min(values):.4f}, {statistics.median(values) / torch_median:.2f}x PyTorch",
          flush=True)
