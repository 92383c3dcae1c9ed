"""One full training step of our U-Net beside the same U-Net in PyTorch, on the CPU.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/step.py --overwrite
    python benchmarks/step.py --size 252-b16 --dtype float32 --repeat 5 --out /tmp/b

A step is forward, softmax cross-entropy, backward and the SGD-with-momentum update, batch 1,
depth 4, valid convolutions. Sizes (tile, base channels), each in float32 and float64:
    572-b64   572x572 -> 388x388, base 64: the paper's network (arXiv 1505.04597, Fig. 1)
    572-b32   572x572, base 32: the real-data recipe
    252-b16   252x252 -> 68x68, base 16: the small network of quick experiments

Time: ours and PyTorch in ONE child process, one warm-up step each (scratch buffers,
first-touch pages), then `--repeat` steps alternating ours, PyTorch, ours, ... so that both
see the same machine load; the medians and their ratio are reported, with the load
average before and after. Memory: each framework in a child process of its own (warm-up
step + one step), reporting VmHWM, the largest resident set the process ever had, and
the resident set just before the first step ("base": interpreter, libraries, parameters,
input); their difference is the step's own peak. VmHWM counts every byte touched, NumPy
and PyTorch alike, so the two are comparable.

Allocator: ours runs as `train.train` runs it, with `memory.keep_freed_memory()` (glibc
keeps freed blocks for the next step instead of page-faulting fresh ones in). In the
timing child that setting is process-wide, so PyTorch's steps get it as well (it gains
0.3 s a step at 572 / base 32): the ratio is the conservative one. The memory children
are separate: ours with the setting, PyTorch with glibc's defaults.

Every child runs with the same thread count for OpenBLAS, OpenMP and PyTorch (`--threads`,
default all cores) and records the BLAS it ran (library, version, kernel, threads) with
threadpoolctl; see benchmarks/machine.py for OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE.
Writes step_cpu.json and step_cpu.md into `--out` (default benchmarks/results/).
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing
sys.path.insert(0, str(HERE))

import machine  # noqa: E402

SIZES = {"572-b64": (572, 64), "572-b32": (572, 32), "252-b16": (252, 16)}
DTYPES = ("float32", "float64")


def rss_bytes():
    """The current resident set size of this process."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes():
    """The largest resident set this process has had since it started (VmHWM).

    Not `ru_maxrss`: that survives exec, so a child started by this (torch-importing)
    parent would report the parent's resident set at fork time as its own peak.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB, no /proc


def build_step(framework, size, dtype_name, threads):
    """A zero-argument callable doing one training step of `framework`."""
    import numpy as np

    from minimal_unet.model import UNet, UNetConfig

    tile, base = SIZES[size]
    config = UNetConfig(in_channels=1, n_classes=2, depth=4, base_channels=base)
    rng = np.random.default_rng(0)
    dtype = np.dtype(dtype_name)
    x = rng.standard_normal((1, 1, tile, tile)).astype(dtype)
    out = tile - 184  # depth 4, valid convolutions (minimal_unet/sizes.py)
    target = rng.integers(0, 2, (1, out, out))
    if framework == "ours":
        from minimal_unet.memory import keep_freed_memory
        from minimal_unet.optim import SGD

        keep_freed_memory()  # as train.train does: the allocator keeps freed pages

        net = UNet(config, seed=0, dtype=dtype)
        opt = SGD(net.params, lr=1e-4, momentum=0.99)

        def step():
            loss, grads = net.loss_and_grads(x, target)
            opt.step(grads)
            return float(loss)

        return step
    import torch

    from minimal_unet.torch_twin import build_torch_unet

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = build_torch_unet(config, dtype=torch.float32 if dtype == np.float32 else torch.float64)
    x_t, target_t = torch.from_numpy(x), torch.from_numpy(target)
    opt = torch.optim.SGD(net.parameters(), lr=1e-4, momentum=0.99)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(net(x_t), target_t)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def child_time(size, dtype_name, repeat, threads):
    """Both frameworks in this process, alternating; print one JSON line."""
    steps = {fw: build_step(fw, size, dtype_name, threads) for fw in ("ours", "torch")}
    for step in steps.values():
        step()  # warm-up
    times = {fw: [] for fw in steps}
    load_before = os.getloadavg()
    for _ in range(repeat):
        for fw, step in steps.items():
            machine.settle()  # the other framework's spinning threads asleep first
            start = time.perf_counter()
            step()
            times[fw].append(time.perf_counter() - start)
    print(json.dumps({"times": times, "load_before": load_before,
                      "load_after": os.getloadavg(), "blas": machine.blas_info()}))


def child_memory(framework, size, dtype_name, threads):
    """One framework in this process: peak resident set of a step; print one JSON line."""
    step = build_step(framework, size, dtype_name, threads)
    base_rss = rss_bytes()
    step()  # warm-up
    step()
    peak = peak_rss_bytes()
    print(json.dumps({"base_rss": base_rss, "peak_rss": peak, "step_peak": peak - base_rss}))


def run_child(args, env):
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(size, dtype_name, repeat, threads, env):
    common = ["--size", size, "--dtype", dtype_name, "--threads", str(threads)]
    timing = run_child(["--child-time", "--repeat", str(repeat), *common], env)
    row = {"config": f"{size} {dtype_name}", "size": size, "tile": SIZES[size][0],
           "base": SIZES[size][1], "dtype": dtype_name, "blas": timing["blas"],
           "load_before": timing["load_before"], "load_after": timing["load_after"]}
    for fw in ("ours", "torch"):
        memory = run_child(["--child-memory", fw, *common], env)
        row[fw] = {"times": timing["times"][fw], "median": statistics.median(timing["times"][fw]),
                   **memory}
    row["ratio"] = row["ours"]["median"] / row["torch"]["median"]
    row["peak_ratio"] = row["ours"]["peak_rss"] / row["torch"]["peak_rss"]
    row["step_peak_ratio"] = row["ours"]["step_peak"] / max(row["torch"]["step_peak"], 1)
    return row


def gib(n):
    return n / 2**30


HEADER = ("| size | dtype | ours s | PyTorch s | time ours/PyTorch | ours peak / step GiB "
          "| PyTorch peak / step GiB | step peak ours/PyTorch | load before -> after |\n"
          "|---|---|---:|---:|---:|---:|---:|---:|---|")


def table_line(row):
    ours, ref = row["ours"], row["torch"]
    tile, base = row["tile"], row["base"]
    return (f"| {tile}, base {base} | {row['dtype']} | {ours['median']:.3f} | "
            f"{ref['median']:.3f} | **{row['ratio']:.2f}x** | {gib(ours['peak_rss']):.2f} / "
            f"{gib(ours['step_peak']):.2f} | {gib(ref['peak_rss']):.2f} / "
            f"{gib(ref['step_peak']):.2f} | {row['step_peak_ratio']:.2f}x | "
            f"{row['load_before'][0]:.2f} -> {row['load_after'][0]:.2f} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), action="append",
                        help="sizes to run (repeatable; default all three)")
    parser.add_argument("--dtype", choices=DTYPES, action="append",
                        help="dtypes to run (repeatable; default both)")
    parser.add_argument("--repeat", type=int, default=3, help="timed steps each (after 1 warm-up)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="threads for BLAS and PyTorch (default: all cores)")
    parser.add_argument("--out", default=str(HERE / "results"), help="folder for the results")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace step_cpu.json / .md in --out if they exist")
    parser.add_argument("--child-time", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-memory", choices=("ours", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat: expected an int >= 1, got {args.repeat}")
    if args.child_time:
        return child_time(args.size[0], args.dtype[0], args.repeat, args.threads)
    if args.child_memory:
        return child_memory(args.child_memory, args.size[0], args.dtype[0], args.threads)

    out = Path(args.out)
    json_path, md_path = out / "step_cpu.json", out / "step_cpu.md"
    machine.refuse_to_overwrite([json_path, md_path], args.overwrite)
    out.mkdir(parents=True, exist_ok=True)
    info = machine.machine_info()
    lines = ["# Training step on the CPU: our U-Net vs the same U-Net in PyTorch", "",
             f"Command: `{' '.join(['python', *sys.argv])}` (environment: "
             f"{info['blas_variables']}). One step = forward, softmax cross-entropy, backward, "
             f"SGD momentum 0.99, batch 1; median of {args.repeat} steps after one warm-up, "
             "ours and PyTorch alternating in one process, each step after a "
             f"{machine.SETTLE_S} s pause (machine.SETTLE_S); peak memory from a process per "
             "framework.", ""]
    lines += [f"- {k}: {v}" for k, v in info.items() if k != "blas_variables"]
    print("\n".join(lines), flush=True)
    variants = []
    for label, env in machine.env_variants(args.threads):
        rows = []
        block = ["", f"## {label}, {args.threads} threads", ""]
        print("\n".join(block + [HEADER]), flush=True)
        for size in args.size or list(SIZES):
            for dtype_name in args.dtype or DTYPES:
                row = measure(size, dtype_name, args.repeat, args.threads, env)
                rows.append(row)
                print(table_line(row), flush=True)
        blas = "; ".join(sorted({machine.blas_line(r["blas"]) for r in rows}))
        block += [f"BLAS (threadpoolctl, in the timing process): {blas}", "", HEADER]
        block += [table_line(r) for r in rows]
        print(f"\nBLAS: {blas}", flush=True)
        lines += block
        variants.append({"label": label, "results": rows})
    info["load_at_end"] = machine.load()
    lines += ["", f"- load at end: {info['load_at_end']}", ""]
    # "results": the unset variant (what users get), the shape docs/make_figures.py reads
    json_path.write_text(json.dumps({"machine": info, "threads": args.threads,
                                     "repeat": args.repeat, "results": variants[0]["results"],
                                     "variants": variants}, indent=1))
    md_path.write_text("\n".join(lines))
    print(f"wrote {json_path} and {md_path}")


if __name__ == "__main__":
    main()
