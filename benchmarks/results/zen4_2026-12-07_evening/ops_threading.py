"""One-off comparison (2026-12-07 evening, Zen 4 VM): benchmarks/ops.py's conv rows timed
as the base-32 network's step runs them (every product on our threads, the default from
this evening) or as lone calls (a layer under conv2d._THREAD_BYTES on BLAS's threads, as
every record before timed them).

Runs ops.py's measuring child in this process (`--child`: float32, conv rows only, 2
threads), with `as_in_network` replaced by a pass-through for "alone"; prints its JSON
lines and then one table line per layer: the two runs' medians and ratios. Run with the
BLAS variables unset, as ops.py's first child is:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_evening/ops_threading.py alone|network [repeat]
"""

import contextlib
import io
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import ops  # noqa: E402


def main():
    mode = sys.argv[1]
    repeat = sys.argv[2] if len(sys.argv) > 2 else "7"
    if mode == "alone":
        ops.as_in_network = lambda fn, layers, itemsize: fn
    elif mode != "network":
        raise SystemExit(f"mode: expected alone or network, got {mode!r}")
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        ops.main(["--child", "--dtype", "float32", "--op", "conv", "--repeat", repeat,
                  "--threads", "2"])
    rows = [json.loads(line) for line in buffer.getvalue().splitlines()[1:]]
    print(f"{mode}, {repeat} runs per layer")
    for row in rows:
        print(f"  {row['op']:22s} ours {row['ours_median']:.4f} (min {row['ours_min']:.4f})  "
              f"PyTorch {row['torch_median']:.4f}  {row['ratio']:.2f}x")
    ours = sum(r["ours_median"] for r in rows)
    theirs = sum(r["torch_median"] for r in rows)
    over = [r["op"] for r in rows if r["ratio"] > 1.5]
    print(f"  all {len(rows)}: ours {ours:.3f} s, PyTorch {theirs:.3f} s, {ours / theirs:.2f}x; "
          f"over 1.5x: {', '.join(over) or 'none'}")


if __name__ == "__main__":
    main()
