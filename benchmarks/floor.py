"""The floor under any im2col convolution: the step's bare BLAS products beside PyTorch's step.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/floor.py --overwrite
    python benchmarks/floor.py --size 252-b16 --repeat 3 --out /tmp/floor

Our convolution (minimal_unet/ops/conv2d.py) spends its time on gathers (im2col) and on
three matrix products per layer, forward, dw and dx:
    y    (F, P)   = w (F, K) @ cols (K, P)               K = 9 C, P = oH oW
    dw^T (K, F)   = cols (K, P) @ dy^T (P, F)
    dx   (C, H W) = w_flip (C, 9 F) @ cols_dy (9 F, H W)  (not for the first layer: its
                                                        input is the image)
This script times only those products, with their operands already gathered, for every
3x3 layer of the U-Net at one step's size (the sizes of benchmarks/step.py), and sums
them. Gathers, blocking, the other ops and the update are all left out, so the sum is a
lower bound on our step: no gather trick and no block size makes an im2col step faster
than its products. Each product is timed two ways and the faster counts:
    blas    one whole-layer np.matmul on BLAS's threads (`--threads`);
    ours    the gathered operand cut into blocks of 2, 8 or 32 MiB (the fastest counts), the
            blocks shared by `--threads` Python threads (or, 8 MiB blocks, all on this
            thread: no thread started, as conv2d runs its small layers), each product on
            one BLAS thread
            (the layout of conv2d's threaded path; the block operands are reused, so they
            may sit in cache: that flatters us, and keeps the bound a lower one).
Beside it, the gathers alone: conv2d's own gather (`_im2col.im2col_rows`) writing each
layer's three im2col matrices (x's receptive fields for the forward and for dw, padded
dy's for dx) in 8 MiB blocks, on our threads or on this one (the faster counts), each
thread re-gathering a source block that stays in cache (again a lower bound). "floor +
gathers" is then what an im2col layer costs at the very least, unless it keeps the
forward's im2col for dw (memory: a whole im2col per layer).
Then each layer, ours and PyTorch's, and the two full training steps (benchmarks/step.py's,
SGD with momentum) alternate in the same process (benchmarks/ops.py's time_pair: each call
after machine.SETTLE_S of rest), with glibc keeping freed memory (memory.keep_freed_memory,
process-wide) as in benchmarks/step.py's timing child: it makes PyTorch's step faster (0.3 s
at 572 / base 32), so the ratio is the conservative one.
The bound says which step targets an im2col path with NumPy's BLAS can reach on this
machine: floor / PyTorch must be under the target ratio, with room for everything else.
float32 (the targets' dtype). Writes floor_cpu.json and floor_cpu.md into `--out`
(default benchmarks/results/); one child process per BLAS environment (machine.py).
"""

import argparse
import json
import statistics
import subprocess
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing
sys.path.insert(0, str(HERE))

import machine  # noqa: E402
from ops import seconds, time_pair, unet_conv_layers  # noqa: E402
from step import SIZES, build_step  # noqa: E402

PRODUCTS = ("forward", "dw", "dx")
BLOCK_MIB = (2, 8, 32)  # block sizes tried for the products on our threads


def median_seconds(f, repeat):
    """Median wall seconds of f() over `repeat` calls, after one untimed call."""
    f()
    return statistics.median(seconds(f) for _ in range(repeat))


def operands(C, F, H, product, rng):
    """(a, b, out): the product's operands, shaped as conv2d multiplies them (float32)."""
    import numpy as np

    oH = H - 2
    P, K = oH * oH, 9 * C
    normal = lambda *shape: rng.standard_normal(shape, dtype=np.float32)  # noqa: E731
    if product == "forward":
        return normal(F, K), normal(K, P), np.empty((F, P), np.float32)
    if product == "dw":
        return normal(K, P), normal(F, P).T, np.empty((K, F), np.float32)  # cols, dy^T
    return normal(C, 9 * F), normal(9 * F, H * H), np.empty((C, H * H), np.float32)


def time_blas(a, b, out, repeat):
    """One whole-layer product on BLAS's threads."""
    import numpy as np

    return median_seconds(lambda: np.matmul(a, b, out=out), repeat)


def on_threads(work, threads, repeat):
    """median_seconds of work(0) .. work(threads - 1) run at once on Python threads, each
    with one BLAS thread."""
    from threadpoolctl import threadpool_limits

    def run():
        if threads == 1:  # on this thread: no thread to start
            return work(0)
        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    with threadpool_limits(1, user_api="blas"):
        return median_seconds(run, repeat)


def n_blocks_for(total_bytes, block_bytes, threads):
    """Blocks of about block_bytes covering total_bytes, the same number per thread."""
    n_blocks = max(threads, -(-total_bytes // block_bytes))
    return n_blocks + -n_blocks % threads


def time_ours(a, b, product, threads, repeat, block_bytes):
    """The same flops as blocks of about `block_bytes` (of the gathered operand) on `threads`
    Python threads, one BLAS thread each. Every block has the same shape; each thread
    reuses its own."""
    import numpy as np

    # The long dimension (P or H W) is the one conv2d cuts into row blocks.
    inner = b.shape[0] if product != "dw" else a.shape[0]  # rows of the block operand
    long = b.shape[1] if product != "dw" else a.shape[1]
    n_blocks = n_blocks_for(inner * long * 4, block_bytes, threads)
    width = -(-long // n_blocks)
    rng = np.random.default_rng(1)

    def block_operands():
        block = rng.standard_normal((inner, width), dtype=np.float32)
        if product == "dw":  # cols block (K, width) @ dy block^T (width, F)
            return block, rng.standard_normal((b.shape[1], width), dtype=np.float32).T
        return a, block

    per_thread = [block_operands() for _ in range(threads)]

    def work(t):
        left, right = per_thread[t]
        out = np.empty((left.shape[0], right.shape[1]), np.float32)
        for _ in range(n_blocks // threads):
            np.matmul(left, right, out=out)

    return on_threads(work, threads, repeat)


def time_gather(channels, rows, width, threads, repeat):
    """Seconds for conv2d's own im2col gather (`_im2col.im2col_rows`) to write a whole
    layer's cols (9 channels, rows x width): the faster of blocks of _THREAD_BLOCK_BYTES on
    `threads` threads and the same blocks on this thread alone (no thread started: what
    conv2d does in its smaller layers), each thread re-gathering one source block (so it
    sits in cache: a lower bound)."""
    return min(gather_on(channels, rows, width, n, repeat) for n in sorted({1, threads}))


def gather_on(channels, rows, width, threads, repeat):
    """time_gather on `threads` threads."""
    import numpy as np

    from minimal_unet.ops._conv_blocks import _THREAD_BLOCK_BYTES
    from minimal_unet.ops._im2col import im2col_rows

    row_bytes = 9 * channels * width * 4
    block_rows = max(1, min(rows, _THREAD_BLOCK_BYTES // row_bytes))
    n_blocks = n_blocks_for(rows * row_bytes, block_rows * row_bytes, threads)
    rng = np.random.default_rng(2)
    sources = [rng.standard_normal((channels, block_rows + 2, width + 2), dtype=np.float32)
               for _ in range(threads)]

    def work(t):
        for _ in range(n_blocks // threads):
            im2col_rows(sources[t], 3, 3, block_rows, width)

    return on_threads(work, threads, repeat) * rows / (block_rows * n_blocks)


def layer_calls(C, F, H, first, rng):
    """(ours, theirs): one forward + backward of the layer, ours (minimal_unet.ops) and
    PyTorch's (autograd); the first layer computes no gradient for its input (the image)."""
    import numpy as np
    import torch

    from minimal_unet import ops

    normal = lambda *shape: rng.standard_normal(shape, dtype=np.float32)  # noqa: E731
    x, w, b, dy = normal(1, C, H, H), normal(F, C, 3, 3), normal(F), normal(1, F, H - 2, H - 2)
    xt, wt, bt = (torch.from_numpy(a).requires_grad_(True) for a in (x, w, b))
    xt.requires_grad_(not first)
    dyt = torch.from_numpy(dy)
    inputs = (wt, bt) if first else (xt, wt, bt)

    def ours():
        ops.conv2d_backward(dy, ops.conv2d_forward(x, w, b)[1], need_dx=not first)

    def theirs():
        torch.autograd.grad(torch.nn.functional.conv2d(xt, wt, bt), inputs, dyt)

    return ours, theirs


def child(size, repeat, threads):
    """Time every product of every layer, the layers themselves (ours, PyTorch's), then the
    two steps; print one JSON line."""
    import numpy as np

    tile, base = SIZES[size]
    layers = unet_conv_layers(tile, base)
    rng = np.random.default_rng(0)
    load_before = machine.load()["loadavg"]
    rows, layer_rows = [], []
    for index, (C, F, H) in enumerate(layers):
        oH = H - 2
        gflop = 2 * F * 9 * C * oH * oH / 1e9  # the forward's and dw's flops
        for product in PRODUCTS:
            if product == "dx" and index == 0:
                continue  # the image needs no gradient (conv2d_backward need_dx=False)
            a, b, out = operands(C, F, H, product, rng)
            gflop_here = 2 * C * 9 * F * H * H / 1e9 if product == "dx" else gflop
            machine.settle()
            t_blas = time_blas(a, b, out, repeat)
            t_ours = {f"{mib}" if n > 1 else f"{mib}, 1 thread":
                      time_ours(a, b, product, n, repeat, mib * 2**20)
                      for n, mib in [(threads, mib) for mib in BLOCK_MIB] + [(1, 8)]}
            best_mib = min(t_ours, key=t_ours.get)
            del a, b, out
            rows.append({"layer": f"{C}->{F} @{H}", "product": product, "gflop": gflop_here,
                         "blas_s": t_blas, "ours_s": t_ours[best_mib], "ours_mib": best_mib,
                         "ours_by_mib": t_ours, "floor_s": min(t_blas, t_ours[best_mib])})
        # The gathers: x's receptive fields twice (forward, dw), padded dy's once (dx).
        gather_s = 2 * time_gather(C, oH, oH, threads, repeat)
        if index > 0:
            gather_s += time_gather(F, H, H, threads, repeat)
        # Our layer and PyTorch's, alternating after the pause (benchmarks/ops.py's timing).
        ours_s, torch_s = time_pair(*layer_calls(C, F, H, index == 0, rng), repeat)
        layer_rows.append({"layer": f"{C}->{F} @{H}", "ours_s": statistics.median(ours_s),
                           "torch_s": statistics.median(torch_s), "gather_s": gather_s})
    step_s = time_pair(*(build_step(fw, size, "float32", threads) for fw in ("ours", "torch")),
                       repeat)
    print(json.dumps({"size": size, "rows": rows, "layers": layer_rows,
                      "ours_step_s": statistics.median(step_s[0]),
                      "torch_step_s": statistics.median(step_s[1]),
                      "load_before": load_before, "load_after": machine.load()["loadavg"],
                      "blas": machine.blas_info()}))


def run_child(size, repeat, threads, env):
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--size", size,
           "--repeat", str(repeat), "--threads", str(threads)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{size} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# The targets (ours / PyTorch, float32): per step, and per conv layer of base 32.
TARGETS = {"572-b64": 1.1, "572-b32": 1.2, "252-b16": 1.1}
LAYER_TARGET = 1.5


def summary(result):
    """(floor s, products GFLOP, {layer: [product rows]}) of one size's result."""
    rows = result["rows"]
    by_layer = {}
    for r in rows:
        by_layer.setdefault(r["layer"], []).append(r)
    return sum(r["floor_s"] for r in rows), sum(r["gflop"] for r in rows), by_layer


def markdown(results, info, command):
    lines = ["# The im2col floor: the step's bare BLAS products vs PyTorch's step", "",
             f"Command: `{command}`. float32; medians of the repeats after one warm-up. Every "
             "product timed with its operands already gathered, the faster of one whole-layer "
             "np.matmul on BLAS's threads and blocks on our threads counted: their sum "
             "(\"floor\") is a lower bound on an im2col step, with no gathers and no other "
             "op. \"room\": what the target leaves for the gathers and every other op, "
             "target x PyTorch - floor.", ""]
    lines += [f"- {k}: {v}" for k, v in info.items()]
    lines.append("")
    for label, per_size in results.items():
        lines += [f"## {label}", ""]
        first = next(iter(per_size.values()))
        blas = machine.blas_line(first["blas"])
        lines += [f"BLAS (threadpoolctl, in the timing process): {blas}",
                  "", "| step | products GFLOP | floor s (GFLOP/s) | gathers s | ours s | "
                  "PyTorch s | floor / PyTorch | (floor + gathers) / PyTorch | ours / PyTorch "
                  "| target | room s | ours - floor s | load before -> after |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for size, result in per_size.items():
            floor, gflop, _ = summary(result)
            ours, theirs = result["ours_step_s"], result["torch_step_s"]
            gathers = sum(r["gather_s"] for r in result["layers"])
            lines.append(
                f"| {size} | {gflop:.1f} | {floor:.3f} ({gflop / floor:.0f}) | {gathers:.3f} | "
                f"{ours:.3f} | {theirs:.3f} | **{floor / theirs:.2f}x** | "
                f"**{(floor + gathers) / theirs:.2f}x** | {ours / theirs:.2f}x | "
                f"{TARGETS[size]}x | {TARGETS[size] * theirs - floor:.3f} | "
                f"{ours - floor:.3f} | {result['load_before'][0]:.2f} -> "
                f"{result['load_after'][0]:.2f} |")
        for size, result in per_size.items():
            _, _, by_layer = summary(result)
            lines += ["", f"### {size}: per layer (forward + backward)", "",
                      "Products in GFLOP/s, whole-layer on BLAS's threads / blocks on ours "
                      "(block MiB); seconds: the floor (faster of each), the three gathers "
                      "alone, our layer, PyTorch's layer.", "",
                      "| layer | forward | dw | dx | floor s | gathers s | ours s | PyTorch s |"
                      " floor / PyTorch | (floor + gathers) / PyTorch | ours / PyTorch |",
                      "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
            for layer_row in result["layers"]:
                rows = by_layer[layer_row["layer"]]
                cells = {r["product"]: f"{r['gflop'] / r['blas_s']:.0f} / "
                         f"{r['gflop'] / r['ours_s']:.0f} ({r['ours_mib']})" for r in rows}
                floor = sum(r["floor_s"] for r in rows)
                ours, theirs = layer_row["ours_s"], layer_row["torch_s"]
                gathers = layer_row["gather_s"]
                lines.append(f"| {layer_row['layer']} | {cells['forward']} | {cells['dw']} | "
                             f"{cells.get('dx', '-')} | {floor:.4f} | {gathers:.4f} | "
                             f"{ours:.4f} | {theirs:.4f} | {floor / theirs:.2f}x | "
                             f"{(floor + gathers) / theirs:.2f}x | {ours / theirs:.2f}x |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", action="append", choices=sorted(SIZES),
                        help="step size(s) to measure (default: all three)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS, OpenMP, PyTorch and Python threads (default: all cores)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    import os

    threads = args.threads or os.cpu_count()
    if args.repeat < 1 or threads < 1:
        parser.error(f"--repeat and --threads must be >= 1, got {args.repeat}, {threads}")
    sizes = args.size or list(SIZES)
    if args.child:
        import torch

        from minimal_unet.memory import keep_freed_memory

        keep_freed_memory()  # as step.py's timing child (and train.train) run
        torch.set_num_threads(threads)
        return child(sizes[0], args.repeat, threads)
    paths = [args.out / "floor_cpu.json", args.out / "floor_cpu.md"]
    machine.refuse_to_overwrite(paths, args.overwrite)
    args.out.mkdir(parents=True, exist_ok=True)
    info = machine.machine_info()
    results = {}
    for label, env in machine.env_variants(threads):
        results[label] = {}
        for size in sizes:
            print(f"{label}: {size} ...", flush=True)
            results[label][size] = run_child(size, args.repeat, threads, env)
            floor, gflop, _ = summary(results[label][size])
            torch_s = results[label][size]["torch_step_s"]
            ours_s = results[label][size]["ours_step_s"]
            print(f"  floor {floor:.3f} s ({gflop / floor:.0f} GFLOP/s), our step {ours_s:.3f} "
                  f"s, PyTorch step {torch_s:.3f} s: floor / PyTorch {floor / torch_s:.2f}x, "
                  f"ours / PyTorch {ours_s / torch_s:.2f}x", flush=True)
    command = "python benchmarks/floor.py " + " ".join(argv if argv is not None else sys.argv[1:])
    paths[0].write_text(json.dumps({"machine": info, "results": results}, indent=1) + "\n")
    paths[1].write_text(markdown(results, info, command))
    print(f"wrote {paths[0]} and {paths[1]}")


if __name__ == "__main__":
    sys.exit(main())
