"""Every op's forward + backward, ours (NumPy) beside PyTorch CPU, in the same process.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/ops.py --overwrite
    python benchmarks/ops.py --quick --out /tmp/ops      # small sizes: a smoke test
    python benchmarks/ops.py --op conv --dtype float32 --repeat 9 --out /tmp/ops

The table has one row per layer of the base-32 U-Net on a 572x572 tile (depth 4, valid
convolutions; the real-data recipe): its 18 3x3 convolutions, named `C->F @H` with H the
input size, with the GFLOP/s each reaches (3 products of 2*F*C*9*oH*oW flops: forward, dx,
dw), then the other ops at the sizes where they cost most in that network:
    relu, maxpool2d   (1, 32, 568, 568)
    upconv2d          64 -> 32 channels, 196x196 -> 392x392
    crop_and_concat   skip (1, 32, 568, 568), up (1, 32, 392, 392)
    dropout           (1, 512, 28, 28), p = 0.5 (the end of the contracting path)
    softmax CE        logits (1, 2, 388, 388) with a per-pixel weight map

The conv and up-convolution rows run as the network's step runs them: a network with a
layer large enough for our threads (conv2d's trick 3; the base-32 net on a 572 tile has
them, the --quick net does not) sends every product of its step to our threads, each on one
BLAS thread (`UNet` sets `_threads.set_every_product`), so those rows time ours under the
same setting; alone, a layer under `_conv_blocks._THREAD_BYTES` would run its products on
BLAS's threads instead (the records before 2026-12-07's evening timed them that way).

One timing = forward + backward with a fresh upstream gradient already in memory; for
PyTorch, the op under autograd and `torch.autograd.grad`. Each op runs once untimed
(warm-up: scratch buffers, first-touch pages, library dispatch), then `--repeat` times,
ours and PyTorch alternating so that both see the same machine load. The table gives the
median and the minimum of each; the ratio is ours / PyTorch of the medians.

Threads: BLAS (used by our matmuls) and PyTorch get the same count, `--threads` (default
all cores). The measurement runs in a child process per environment (see
benchmarks/machine.py: with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset, and as set when
they are present), which records the BLAS library, version, kernel and threads.
Writes ops_cpu.json and ops_cpu.md into `--out` (default benchmarks/results/).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing
sys.path.insert(0, str(HERE))

import machine  # noqa: E402

from minimal_unet import ops  # noqa: E402


def unet_conv_layers(tile, base, depth=4, in_channels=1):
    """[(C, F, H)]: every 3x3 conv of a valid-padding U-Net: input channels, filters, size."""
    layers, size, channels = [], tile, in_channels
    for level in range(depth + 1):  # the contracting path, then the bottom
        width = base * 2**level
        layers += [(channels, width, size), (width, width, size - 2)]
        channels, size = width, (size - 4) // 2
    size = layers[-1][2] - 2  # the bottom's output size
    for level in range(depth - 1, -1, -1):  # the expanding path
        width = base * 2**level
        size *= 2  # 2x2 up-convolution
        layers += [(2 * width, width, size), (width, width, size - 2)]
        size -= 4
    return layers


NET = (572, 32)  # (tile, base channels) of the network whose layers the table times
NET_LAYERS = unet_conv_layers(*NET)
PAPER_SIZES = dict(
    relu=(1, 32, 568, 568),
    maxpool=(1, 32, 568, 568),
    upconv=(1, 64, 32, 196),  # (N, C_in, C_out, H): 196 -> 392
    crop=((1, 32, 568, 568), (1, 32, 392, 392)),  # skip, up
    dropout=(1, 512, 28, 28),
    softmax=(1, 2, 388, 388),
)
QUICK = (188, 8)
QUICK_LAYERS = unet_conv_layers(*QUICK)
QUICK_SIZES = dict(
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
        f"conv2d {C}->{F} @{H}",
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


def as_in_network(fn, net, itemsize):
    """fn under the product threading the depth-4 network `net` (tile, base channels)
    runs its step with (see the module docstring), decided as `UNet` decides it: every
    product on our threads when its largest im2col reaches conv2d's threshold."""
    from minimal_unet.model import UNetConfig
    from minimal_unet.ops import _conv_blocks, _threads
    from minimal_unet.sizes import largest_im2col_bytes

    tile, base = net
    config = UNetConfig(in_channels=1, n_classes=2, depth=4, base_channels=base)
    on = _conv_blocks.runs_on_our_threads(
        largest_im2col_bytes(config, (1, 1, tile, tile), itemsize))

    def run():
        with _threads.every_product_on_our_threads(on):
            return fn()

    return run


def make_cases(dtype, torch, keys, quick):
    """[(name, flops, ours, theirs)] for the ops in `keys`; ours and theirs are
    zero-argument callables, each one forward + backward; flops only for convolutions.
    Ours of the conv and up-convolution rows runs as in the network's step
    (`as_in_network`)."""
    rng = np.random.default_rng(0)
    net, layers = (QUICK, QUICK_LAYERS) if quick else (NET, NET_LAYERS)

    def normal(*shape):
        return rng.standard_normal(shape).astype(dtype)

    cases = []
    if "conv" in keys:
        for C, F, H in layers:
            flops = 3 * 2 * F * C * 9 * (H - 2) ** 2  # forward, dx and dw products
            name, ours, theirs = conv_case((1, C, F, H, 3), normal, torch)
            cases.append((name, flops, as_in_network(ours, net, dtype.itemsize), theirs))
    sizes = QUICK_SIZES if quick else PAPER_SIZES
    for key in keys:
        if key != "conv":
            name, ours, theirs = CASES[key](sizes[key], normal, torch)
            if key == "upconv":
                ours = as_in_network(ours, net, dtype.itemsize)
            cases.append((name, None, ours, theirs))
    return cases


def seconds(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def time_pair(ours, theirs, repeat):
    """Warm up both, then alternate them `repeat` times, each after machine.settle() (the
    other's spinning threads asleep); return the two lists of seconds."""
    ours()
    theirs()
    ours_s, theirs_s = [], []
    for _ in range(repeat):
        machine.settle()
        ours_s.append(seconds(ours))
        machine.settle()
        theirs_s.append(seconds(theirs))
    return ours_s, theirs_s


def child(args):
    """Time every case in this process; print each row as a JSON line as it is measured."""
    import torch

    from minimal_unet.memory import keep_freed_memory
    from minimal_unet.ops import _conv_blocks, _threads

    keep_freed_memory()  # as in training (train.train); PyTorch, in this process, gains too
    if args.conv_block_mib is not None:  # one block size for every layer
        block = int(args.conv_block_mib * 2**20)
        _conv_blocks._BLOCK_BYTES = _conv_blocks._THREAD_BLOCK_BYTES = block
        _conv_blocks._LONG_THREAD_BLOCK_BYTES = block
    if args.conv_thread_mib is not None:  # layers with this much im2col go to our threads
        _conv_blocks._THREAD_BYTES = int(args.conv_thread_mib * 2**20)
    if args.conv_workers is not None:
        _conv_blocks._WORKERS = args.conv_workers
    torch.set_num_threads(args.threads)
    print(json.dumps({"blas": machine.blas_info(), "load_before": os.getloadavg(),
                      "conv_block_mib": _conv_blocks._BLOCK_BYTES / 2**20,
                      "conv_thread_block_mib": _conv_blocks._THREAD_BLOCK_BYTES / 2**20,
                      "conv_long_thread_block_mib": _conv_blocks._LONG_THREAD_BLOCK_BYTES / 2**20,
                      "conv_short_k": _conv_blocks._SHORT_K,
                      "conv_thread_mib": _conv_blocks._THREAD_BYTES / 2**20,
                      "conv_workers": _conv_blocks._WORKERS or _threads.workers()}), flush=True)
    for dtype_name in args.dtype or ["float32", "float64"]:
        cases = make_cases(np.dtype(dtype_name), torch, args.op or list(CASES), args.quick)
        for name, flops, ours, theirs in cases:
            ours_s, theirs_s = time_pair(ours, theirs, args.repeat)
            row = dict(op=name, dtype=dtype_name,
                       ours_median=statistics.median(ours_s), ours_min=min(ours_s),
                       torch_median=statistics.median(theirs_s), torch_min=min(theirs_s),
                       ours_all=ours_s, torch_all=theirs_s, load=os.getloadavg()[0])
            row["ratio"] = row["ours_median"] / row["torch_median"]
            if flops:
                row["gflops"] = flops / 1e9
                row["ours_gflop_s"] = flops / 1e9 / row["ours_median"]
                row["torch_gflop_s"] = flops / 1e9 / row["torch_median"]
            print(json.dumps(row), flush=True)


HEADER = ("| op | dtype | ours median | ours min | torch median | torch min | ratio "
          "| ours GFLOP/s | torch GFLOP/s |\n|---|---|---:|---:|---:|---:|---:|---:|---:|")


def table_line(row):
    rates = (f"{row['ours_gflop_s']:.0f} | {row['torch_gflop_s']:.0f}" if "gflops" in row
             else " | ")
    return (f"| {row['op']} | {row['dtype']} | {row['ours_median']:.4f} | {row['ours_min']:.4f} "
            f"| {row['torch_median']:.4f} | {row['torch_min']:.4f} | **{row['ratio']:.2f}** "
            f"| {rates} |")


def total_lines(rows):
    """One line per dtype: the conv layers summed, ours / PyTorch."""
    lines = []
    for dtype_name in sorted({r["dtype"] for r in rows}):
        convs = [r for r in rows if r["dtype"] == dtype_name and "gflops" in r]
        if convs:
            ours = sum(r["ours_median"] for r in convs)
            theirs = sum(r["torch_median"] for r in convs)
            worst = max(convs, key=lambda r: r["ratio"])
            gflop = sum(r["gflops"] for r in convs)
            lines.append(f"- {dtype_name}: all {len(convs)} conv layers ({gflop:.1f} GFLOP) "
                         f"{ours:.3f} s vs "
                         f"PyTorch {theirs:.3f} s (**{ours / theirs:.2f}x**); worst layer "
                         f"{worst['op']} {worst['ratio']:.2f}x")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per op (default 5)")
    parser.add_argument("--dtype", choices=["float32", "float64"], action="append",
                        help="dtype to time (repeatable; default both)")
    parser.add_argument("--op", choices=list(CASES), action="append",
                        help="op to time (repeatable; default all)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="threads for BLAS and PyTorch (default: all cores)")
    parser.add_argument("--out", default=str(HERE / "results"), help="folder for the results")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace ops_cpu.json / .md in --out if they exist")
    parser.add_argument("--conv-block-mib", type=float,
                        help="override conv2d's im2col block size (MiB), to compare settings")
    parser.add_argument("--conv-thread-mib", type=float,
                        help="override the whole-im2col size (MiB) from which a conv layer "
                             "runs on our threads, to compare settings")
    parser.add_argument("--conv-workers", type=int, choices=(1, 2),
                        help="override conv2d's thread count, to compare settings")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat: expected an int >= 1, got {args.repeat}")
    if args.conv_block_mib is not None and not args.conv_block_mib > 0:
        parser.error(f"--conv-block-mib: expected a number > 0, got {args.conv_block_mib}")
    if args.conv_thread_mib is not None and not args.conv_thread_mib >= 0:
        parser.error(f"--conv-thread-mib: expected a number >= 0, got {args.conv_thread_mib}")
    if args.child:
        return child(args)

    out = Path(args.out)
    json_path, md_path = out / "ops_cpu.json", out / "ops_cpu.md"
    machine.refuse_to_overwrite([json_path, md_path], args.overwrite)
    out.mkdir(parents=True, exist_ok=True)
    info = machine.machine_info()
    lines = ["# Ops on the CPU: ours (NumPy) vs PyTorch, forward + backward", "",
             f"Command: `{' '.join(['python', *sys.argv])}` (environment: "
             f"{info['blas_variables']}). Times in seconds; median and minimum of "
             f"{args.repeat} runs after one warm-up, ours and PyTorch alternating in one "
             f"process, each call after a {machine.SETTLE_S} s pause (machine.SETTLE_S); "
             "ratio = ours / PyTorch of the medians. Conv rows: the 3x3 "
             "convolutions of the base-32 U-Net on a 572 tile, `C->F @H` (H = input size); "
             "ours of the conv and up-convolution rows with the product threading that "
             "network's step runs them with (every product on our threads when it has a "
             "layer from conv2d's threshold on).",
             ""]
    lines += [f"- {k}: {v}" for k, v in info.items() if k != "blas_variables"]
    print("\n".join(lines), flush=True)
    child_args = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--overwrite"]
    variants = []
    for label, env in machine.env_variants(args.threads):
        block = ["", f"## {label}, {args.threads} threads", ""]
        print("\n".join(block), flush=True)
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", *child_args,
               "--threads", str(args.threads)]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
        head = json.loads(proc.stdout.readline())
        blas = (f"{machine.blas_line(head['blas'])}; conv2d blocks of "
                f"{head['conv_block_mib']:g} MiB on BLAS's threads, "
                f"{head['conv_thread_block_mib']:g} MiB (products of K <= "
                f"{head['conv_short_k']}, else {head['conv_long_thread_block_mib']:g} MiB) on "
                f"{head['conv_workers']} thread(s) of ours in layers of >= "
                f"{head['conv_thread_mib']:g} MiB of im2col")
        print(f"BLAS (threadpoolctl, in the timing process): {blas}\n\n{HEADER}", flush=True)
        rows = []
        for line in proc.stdout:
            rows.append(json.loads(line))
            print(table_line(rows[-1]), flush=True)
        if proc.wait() != 0:
            raise SystemExit(f"the benchmark child failed (exit {proc.returncode})")
        totals = total_lines(rows)
        print("\n".join([""] + totals), flush=True)
        block += [f"BLAS (threadpoolctl, in the timing process): {blas}", "", HEADER]
        block += [table_line(r) for r in rows] + [""] + totals
        lines += block
        variants.append({"label": label, "blas": head["blas"],
                         "load_before": head["load_before"], "rows": rows})
    info["load_at_end"] = machine.load()
    lines += ["", f"- load at end: {info['load_at_end']}", ""]
    # "rows": the unset variant (what users get), the shape docs/make_figures.py reads
    json_path.write_text(json.dumps({"machine": info, "quick": args.quick, "repeat": args.repeat,
                                     "threads": args.threads, "rows": variants[0]["rows"],
                                     "variants": variants}, indent=1))
    md_path.write_text("\n".join(lines))
    print(f"wrote {json_path} and {md_path}")


if __name__ == "__main__":
    main()
