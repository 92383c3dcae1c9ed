"""Every op's forward + backward, ours (NumPy) beside PyTorch CPU, in the same process.

    python benchmarks/ops.py                      # paper sizes, float32 and float64
    python benchmarks/ops.py --quick              # small sizes: a smoke test in seconds
    python benchmarks/ops.py --repeat 9 --json ops.json --dtype float32 --op conv

Sizes are the paper's, where each op costs most (batch 1):
    conv2d            64 -> 64 channels, 3x3, 570x570 -> 568x568 (the heaviest layer)
    relu, maxpool2d   (1, 64, 568, 568)
    upconv2d          128 -> 64 channels, 196x196 -> 392x392
    crop_and_concat   skip (1, 64, 568, 568), up (1, 64, 392, 392)
    dropout           (1, 1024, 28, 28), p = 0.5 (the end of the contracting path)
    softmax CE        logits (1, 2, 388, 388) with a per-pixel weight map

One timing = forward + backward with a fresh upstream gradient already in memory; for
PyTorch, the op under autograd and `torch.autograd.grad`. Each op runs once untimed
(warm-up: scratch buffers, first-touch pages, library dispatch), then `--repeat` times,
ours and PyTorch alternating so that both see the same machine load. The table gives the
median and the minimum of each; the ratio is ours / PyTorch of the medians.

Threads: BLAS (OpenBLAS, used by our matmuls) and PyTorch get the same count, taken from
OPENBLAS_NUM_THREADS when it is set and os.cpu_count() otherwise (OpenBLAS's own default).
Run `OPENBLAS_NUM_THREADS=1 python benchmarks/ops.py` to compare single-threaded.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from minimal_unet import ops  # noqa: E402

THREADS = int(os.environ.get("OPENBLAS_NUM_THREADS") or os.cpu_count())

PAPER_SIZES = dict(
    conv=(1, 64, 64, 570, 3),  # (N, C, F, H, kernel): 570 -> 568
    relu=(1, 64, 568, 568),
    maxpool=(1, 64, 568, 568),
    upconv=(1, 128, 64, 196),  # (N, C_in, C_out, H): 196 -> 392
    crop=((1, 64, 568, 568), (1, 64, 392, 392)),  # skip, up
    dropout=(1, 1024, 28, 28),
    softmax=(1, 2, 388, 388),
)
QUICK_SIZES = dict(
    conv=(1, 16, 16, 66, 3),
    relu=(1, 16, 64, 64),
    maxpool=(1, 16, 64, 64),
    upconv=(1, 32, 16, 32),
    crop=((1, 16, 64, 64), (1, 16, 48, 48)),
    dropout=(1, 64, 28, 28),
    softmax=(1, 2, 48, 48),
)


def conv_case(size, normal, torch):
    N, C, F, H, k = size
    x, w, b = normal(N, C, H, H), normal(F, C, k, k) * (2 / (k * k * C)) ** 0.5, normal(F)
    dy = normal(N, F, H - k + 1, H - k + 1)
    xt, wt, bt, dyt = leaf(torch, x), leaf(torch, w), leaf(torch, b), torch.from_numpy(dy)
    return (
        f"conv2d {C}->{F} {k}x{k}, {H}->{H - k + 1}",
        lambda: ops.conv2d_backward(dy, ops.conv2d_forward(x, w, b)[1]),
        lambda: torch.autograd.grad(torch.nn.functional.conv2d(xt, wt, bt), (xt, wt, bt), dyt),
    )


def relu_case(size, normal, torch):
    x, dy = normal(*size), normal(*size)
    xt, dyt = leaf(torch, x), torch.from_numpy(dy)
    return (
        f"relu {size}",
        lambda: ops.relu_backward(dy, ops.relu_forward(x)[1]),
        lambda: torch.autograd.grad(torch.relu(xt), xt, dyt),
    )


def maxpool_case(size, normal, torch):
    N, C, H, W = size
    x, dy = normal(N, C, H, W), normal(N, C, H // 2, W // 2)
    xt, dyt = leaf(torch, x), torch.from_numpy(dy)
    return (
        f"maxpool2d {H}->{H // 2}",
        lambda: ops.maxpool2d_backward(dy, ops.maxpool2d_forward(x)[1]),
        lambda: torch.autograd.grad(torch.nn.functional.max_pool2d(xt, 2), xt, dyt),
    )


def upconv_case(size, normal, torch):
    N, C_in, C_out, H = size
    x, w, b = normal(N, C_in, H, H), normal(C_in, C_out, 2, 2), normal(C_out)
    dy = normal(N, C_out, 2 * H, 2 * H)
    xt, wt, bt, dyt = leaf(torch, x), leaf(torch, w), leaf(torch, b), torch.from_numpy(dy)

    def theirs():
        y = torch.nn.functional.conv_transpose2d(xt, wt, bt, stride=2)
        return torch.autograd.grad(y, (xt, wt, bt), dyt)

    return (
        f"upconv2d {C_in}->{C_out}, {H}->{2 * H}",
        lambda: ops.upconv2d_backward(dy, ops.upconv2d_forward(x, w, b)[1]),
        theirs,
    )


def crop_case(size, normal, torch):
    skip_shape, up_shape = size
    skip, up = normal(*skip_shape), normal(*up_shape)
    dy = normal(up_shape[0], skip_shape[1] + up_shape[1], up_shape[2], up_shape[3])
    top, left = (skip_shape[2] - up_shape[2]) // 2, (skip_shape[3] - up_shape[3]) // 2
    skipt, upt, dyt = leaf(torch, skip), leaf(torch, up), torch.from_numpy(dy)

    def theirs():
        cropped = skipt[:, :, top:top + up_shape[2], left:left + up_shape[3]]
        return torch.autograd.grad(torch.cat([cropped, upt], dim=1), (skipt, upt), dyt)

    return (
        f"crop_and_concat {skip_shape[2]} + {up_shape[2]}",
        lambda: ops.crop_and_concat_backward(dy, ops.crop_and_concat_forward(skip, up)[1]),
        theirs,
    )


def dropout_case(size, normal, torch):
    x, dy = normal(*size), normal(*size)
    xt, dyt = leaf(torch, x), torch.from_numpy(dy)
    rng = np.random.default_rng(1)
    return (
        f"dropout p=0.5 {size}",
        lambda: ops.dropout_backward(dy, ops.dropout_forward(x, 0.5, rng)[1]),
        lambda: torch.autograd.grad(torch.nn.functional.dropout(xt, 0.5, training=True), xt, dyt),
    )


def softmax_case(size, normal, torch):
    N, K, H, W = size
    logits = normal(N, K, H, W)
    weight = np.abs(normal(N, H, W)) + 0.1  # a positive per-pixel weight map
    target = np.random.default_rng(2).integers(0, K, (N, H, W))
    logitst = leaf(torch, logits)
    weightt, targett = torch.from_numpy(weight), torch.from_numpy(target)

    def theirs():
        pixel_loss = torch.nn.functional.cross_entropy(logitst, targett, reduction="none")
        return torch.autograd.grad((pixel_loss * weightt).mean(), logitst)

    return (
        f"softmax_cross_entropy {size}",
        lambda: ops.softmax_cross_entropy(logits, target, weight),
        theirs,
    )


CASES = dict(conv=conv_case, relu=relu_case, maxpool=maxpool_case, upconv=upconv_case,
             crop=crop_case, dropout=dropout_case, softmax=softmax_case)


def leaf(torch, a):
    """A torch leaf tensor sharing a's memory, with requires_grad."""
    return torch.from_numpy(a).requires_grad_(True)


def make_cases(sizes, dtype, torch, keys):
    """[(name, ours, theirs)] for the ops in `keys`; ours and theirs are zero-argument
    callables, each one forward + backward."""
    rng = np.random.default_rng(0)

    def normal(*shape):
        return rng.standard_normal(shape).astype(dtype)

    return [CASES[key](sizes[key], normal, torch) for key in keys]


def seconds(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def time_pair(ours, theirs, repeat):
    """Warm up both, then alternate them `repeat` times; return the two lists of seconds."""
    ours()
    theirs()
    ours_s, theirs_s = [], []
    for _ in range(repeat):
        ours_s.append(seconds(ours))
        theirs_s.append(seconds(theirs))
    return ours_s, theirs_s


def machine_info(torch):
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    blas_config = blas.get("openblas configuration", "")
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": f"{blas.get('name')} {blas.get('version')} ({blas_config})",
        "torch": torch.__version__,
        "threads": THREADS,
        "load_average_at_start": os.getloadavg(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per op (default 5)")
    parser.add_argument("--dtype", choices=["float32", "float64"], action="append",
                        help="dtype to time (repeatable; default both)")
    parser.add_argument("--op", choices=list(CASES), action="append",
                        help="op to time (repeatable; default all)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat: expected an int >= 1, got {args.repeat}")

    import torch

    torch.set_num_threads(THREADS)
    info = machine_info(torch)
    sizes = QUICK_SIZES if args.quick else PAPER_SIZES
    print(f"# Ops benchmark: ours (NumPy) vs PyTorch CPU, forward + backward"
          f"{' (--quick sizes)' if args.quick else ''}\n")
    for key, value in info.items():
        print(f"- {key}: {value}")
    print(f"- repeat: {args.repeat} (after one warm-up); times in seconds; "
          "ratio = ours / torch (medians)\n")
    print("| op | dtype | ours median | ours min | torch median | torch min | ratio |")
    print("|---|---|---:|---:|---:|---:|---:|")
    rows = []
    keys = args.op or list(CASES)
    for dtype_name in args.dtype or ["float32", "float64"]:
        for name, ours, theirs in make_cases(sizes, np.dtype(dtype_name), torch, keys):
            ours_s, theirs_s = time_pair(ours, theirs, args.repeat)
            row = dict(op=name, dtype=dtype_name,
                       ours_median=statistics.median(ours_s), ours_min=min(ours_s),
                       torch_median=statistics.median(theirs_s), torch_min=min(theirs_s),
                       ours_all=ours_s, torch_all=theirs_s)
            row["ratio"] = row["ours_median"] / row["torch_median"]
            rows.append(row)
            print(f"| {name} | {dtype_name} | {row['ours_median']:.4f} | {row['ours_min']:.4f} "
                  f"| {row['torch_median']:.4f} | {row['torch_min']:.4f} "
                  f"| {row['ratio']:.2f} |", flush=True)
    info["load_average_at_end"] = os.getloadavg()
    print(f"\n- load_average_at_end: {info['load_average_at_end']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "quick": args.quick,
                                               "repeat": args.repeat, "rows": rows}, indent=1))
        print(f"- wrote {args.json}")


if __name__ == "__main__":
    main()
