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
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import step  # noqa: E402

from minimal_unet.ops import _threads  # noqa: E402

source = subprocess.run(["git", "show", "89dc171:minimal_unet/ops/_threads.py"], cwd=ROOT,
                        capture_output=True, text=True, check=True).stdout
with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as file:
    file.write(source)
spec = importlib.util.spec_from_file_location("pool_threads", file.name)
pool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pool)
pool.every_product = _threads.every_product  # the switch UNet sets lives in _threads
striped = _threads.results_in_order

size, repeat = sys.argv[1], int(sys.argv[2])
ours = step.build_step("ours", size, "float32", 2)
theirs = step.build_step("torch", size, "float32", 2)
seconds = {"pool": [], "striped": [], "PyTorch": []}
for _ in range(2):
    ours()
    theirs()
for r in range(repeat):
    for variant in ("pool", "striped") if r % 2 == 0 else ("striped", "pool"):
        _threads.results_in_order = pool.results_in_order if variant == "pool" else striped
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
    print(f"{size} {variant:8s} median {statistics.median(values):.4f} s, min {min(values):.4f}, "
          f"{statistics.median(values) / torch_median:.2f}x PyTorch", flush=True)
