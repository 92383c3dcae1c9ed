"""One full training step of our U-Net beside the same U-Net in PyTorch, on the CPU.

    python benchmarks/step.py                 # paper tile float32 + float64, small tile
    python benchmarks/step.py --quick         # the small configuration only
    python benchmarks/step.py --repeat 2 --json

A step is forward, softmax cross-entropy, backward and the SGD-with-momentum update, batch 1.
Configurations: "paper32" / "paper64" (572x572 -> 388x388, base 64, depth 4, float32 /
float64) and "small32" (252x252 -> 68x68, base 16, float32).

Each (framework, configuration) runs in a subprocess of its own, started from the same
interpreter with the same thread settings (OMP/OpenBLAS/MKL variables and
torch.set_num_threads), so the two share nothing and their peak memory can be told apart:
the child reports `ru_maxrss`, the largest resident set it ever had, and its resident set
just before the first step ("base": interpreter, libraries, parameters and input). The
step's own peak is the difference. `ru_maxrss` counts every byte the process touched,
NumPy and PyTorch alike (tracemalloc would miss PyTorch's allocator), so the figures are
comparable. One warm-up step (allocating scratch buffers and first-touch pages) runs before
the `--repeat` timed steps; the median is reported.

The PyTorch network is the test suite's reference, minimal_unet/torch_twin.py.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

CONFIGS = {  # name: (tile, base_channels, dtype)
    "paper32": (572, 64, "float32"),
    "paper64": (572, 64, "float64"),
    "small32": (252, 16, "float32"),
}
FRAMEWORKS = ("ours", "torch")


def rss_bytes():
    """The current resident set size of this process."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def child(framework, config_name, repeat, threads):
    """Time `repeat` steps after one warm-up; print one JSON line."""
    import numpy as np

    tile, base, dtype_name = CONFIGS[config_name]
    from minimal_unet.model import UNet, UNetConfig

    config = UNetConfig(in_channels=1, n_classes=2, depth=4, base_channels=base)
    rng = np.random.default_rng(0)
    dtype = np.dtype(dtype_name)
    x = rng.standard_normal((1, 1, tile, tile)).astype(dtype)

    if framework == "ours":
        from minimal_unet.optim import SGD

        net = UNet(config, seed=0, dtype=dtype)
        out = net.forward(x, train=False).shape[2:]
        net._caches = None
        target = rng.integers(0, 2, (1,) + out)
        opt = SGD(net.params, lr=1e-4, momentum=0.99)

        def step():
            loss, grads = net.loss_and_grads(x, target)
            opt.step(grads)
            return float(loss)
    else:
        import torch

        from minimal_unet.torch_twin import build_torch_unet

        torch.set_num_threads(threads)
        torch_dtype = torch.float32 if dtype == np.float32 else torch.float64
        torch.manual_seed(0)
        net = build_torch_unet(config, dtype=torch_dtype)
        x_t = torch.from_numpy(x)
        with torch.no_grad():
            out = net(x_t).shape[2:]
        target = torch.from_numpy(rng.integers(0, 2, (1,) + tuple(out)))
        opt = torch.optim.SGD(net.parameters(), lr=1e-4, momentum=0.99)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(net(x_t), target)
            loss.backward()
            opt.step()
            return loss.item()

    base_rss = rss_bytes()
    step()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    peak = peak_rss_bytes()
    print(json.dumps({"framework": framework, "config": config_name, "times": times,
                      "median": statistics.median(times), "base_rss": base_rss,
                      "peak_rss": peak, "step_peak": peak - base_rss}))


def run_child(framework, config_name, repeat, threads):
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", framework,
           "--config", config_name, "--repeat", str(repeat), "--threads", str(threads)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{framework} {config_name} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def gib(n):
    return n / 2**30


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the small configuration only")
    parser.add_argument("--repeat", type=int, default=3, help="timed steps (after 1 warm-up)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="threads for BLAS and PyTorch (default: all cores)")
    parser.add_argument("--config", choices=sorted(CONFIGS), action="append",
                        help="run only these configurations (repeatable)")
    parser.add_argument("--child", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    if args.child:
        child(args.child, args.config[0], args.repeat, args.threads)
        return

    names = args.config or (["small32"] if args.quick else ["paper32", "paper64", "small32"])
    results = []
    for name in names:
        row = {"config": name, "tile": CONFIGS[name][0], "base": CONFIGS[name][1],
               "dtype": CONFIGS[name][2]}
        for framework in FRAMEWORKS:
            row[framework] = run_child(framework, name, args.repeat, args.threads)
        row["ratio"] = row["ours"]["median"] / row["torch"]["median"]
        row["peak_ratio"] = row["ours"]["peak_rss"] / row["torch"]["peak_rss"]
        results.append(row)
        if not args.json:
            print_row(row, args)

    if args.json:
        print(json.dumps({"threads": args.threads, "repeat": args.repeat, "results": results},
                         indent=2))


def print_row(row, args):
    ours, ref = row["ours"], row["torch"]
    print(f"{row['config']}: {row['tile']}x{row['tile']}, base {row['base']}, {row['dtype']}, "
          f"batch 1, {args.threads} threads, median of {args.repeat} steps")
    print(f"  {'':6} {'step s':>8} {'peak RSS GiB':>13} {'base GiB':>9} {'step peak GiB':>14}")
    for label, r in (("ours", ours), ("torch", ref)):
        print(f"  {label:6} {r['median']:8.3f} {gib(r['peak_rss']):13.2f} "
              f"{gib(r['base_rss']):9.2f} {gib(r['step_peak']):14.2f}")
    print(f"  ours/torch: time {row['ratio']:.2f}x, peak RSS {row['peak_ratio']:.2f}x, "
          f"step peak {ours['step_peak'] / max(ref['step_peak'], 1):.2f}x", flush=True)


if __name__ == "__main__":
    main()
