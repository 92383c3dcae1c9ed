"""Shared by this folder's one-off scripts: the committed _threads of 89dc171, a median
timer, and a one-process A/B of training steps (variants alternating step by step)."""
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


def pool_threads():
    """minimal_unet/ops/_threads.py as of 89dc171 (every block handed to a pool), loaded
    as a module of its own that reads the switch UNet sets in the current _threads."""
    from minimal_unet.ops import _threads

    source = subprocess.run(["git", "show", "89dc171:minimal_unet/ops/_threads.py"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as file:
        file.write(source)
    spec = importlib.util.spec_from_file_location("pool_threads", file.name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.every_product = _threads.every_product
    return module


def median_ms(fn, repeat):
    """Median milliseconds of `repeat` back-to-back calls of fn, after one untimed."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def alternate_steps(size, repeat, dtype, variants):
    """Time our training step under each variant (name -> function that switches to it),
    alternating in one process (order reversed every other round), 0.3 s before each
    step, PyTorch's step after each round; print medians, minima and ratios."""
    import step

    ours = step.build_step("ours", size, dtype, 2)
    theirs = step.build_step("torch", size, dtype, 2)
    names = list(variants)
    seconds = {name: [] for name in [*names, "PyTorch"]}
    for _ in range(2):
        ours()
        theirs()
    for r in range(repeat):
        for name in names if r % 2 == 0 else names[::-1]:
            variants[name]()
            time.sleep(0.3)
            start = time.perf_counter()
            ours()
            seconds[name].append(time.perf_counter() - start)
        time.sleep(0.3)
        start = time.perf_counter()
        theirs()
        seconds["PyTorch"].append(time.perf_counter() - start)
    torch_median = statistics.median(seconds["PyTorch"])
    for name, values in seconds.items():
        print(f"{size} {dtype} {name:8s} median {statistics.median(values):.4f} s, min "
              f"{min(values):.4f}, {statistics.median(values) / torch_median:.2f}x PyTorch",
              flush=True)
