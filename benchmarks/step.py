"""One full training step of our U-Net beside the same U-Net in PyTorch, on the CPU.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/step.py --overwrite
    python benchmarks/step.py --size 252-b16 --dtype float32 --repeat 5 --out /tmp/b

A step is forward, softmax cross-entropy, backward and the SGD-with-momentum update, batch 1,
depth 4, valid convolutions. Sizes (tile, base channels), each in float32 and float64:
    572-b64   572x572 -> 388x388, base 64: the paper's network (arXiv 1505.04597, Fig. 1)
    572-b32   572x572, base 32: the real-data recipe
    252-b16   252x252 -> 68x68, base 16: the small network of quick experiments

Time, `--processes separate` (the default): each framework in a child process of its own,
as its users run it, started together and warmed up (one step each: scratch buffers,
first-touch pages); then `--repeat` rounds, each child timing one step in turn (ours,
PyTorch, PyTorch as installed, ours, ...), each after a 0.3 s pause (machine.SETTLE_S) so
that the others' spinning threads are asleep, all of them under the same machine load.
Three children:
    ours                 with `memory.keep_freed_memory()`, as `train.train` runs it (glibc
                         keeps freed blocks for the next step instead of page-faulting fresh
                         ones in)
    PyTorch              given the same allocator setting: the conservative ratio, ours /
                         this one, is the headline and what the targets are judged against
    PyTorch as installed glibc's defaults, as a PyTorch user runs it: the second ratio
Each reports its step's time and minor page faults. The medians and the ratios are
reported, with the load average before and after and the CPU time the hypervisor gave
other guests meanwhile (steal, machine.steal_seconds). In one process (the records before
2026-12-06's second half) both small steps ran slower than apart (ours 0.057 vs 0.050 s,
PyTorch 0.035 vs 0.033 s: benchmarks/results/zen5_2026-12-06_wide/ vs
zen5_2026-12-06_procs/); the large steps were level within the host's spread.

Time, `--processes one`: ours and PyTorch in ONE child process, one warm-up step each,
then `--repeat` steps alternating ours, PyTorch, ours, ... after the same pause. The
allocator setting is process-wide there, so PyTorch's steps get it as well (it gains
0.3 s a step at 572 / base 32). Kept to compare with the earlier records.

Memory: each framework in a child process of its own (warm-up step + one step), reporting
VmHWM, the largest resident set the process ever had, and the resident set just before
the first step ("base": interpreter, libraries, parameters, input); their difference is
the step's own peak. VmHWM counts every byte touched, NumPy and PyTorch alike, so the two
are comparable. Ours with the allocator setting, PyTorch with glibc's defaults.

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
import tempfile
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


def build_step(framework, size, dtype_name, threads, keep_memory=False):
    """A zero-argument callable doing one training step of `framework`.

    Ours always keeps freed memory (as training does); PyTorch only with `keep_memory`.
    """
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

    from minimal_unet.memory import keep_freed_memory
    from minimal_unet.torch_twin import build_torch_unet

    if keep_memory:
        keep_freed_memory()
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


def seconds_per_step(run, steps, warm_up=2):
    """The one-process A/Bs' timing (benchmarks/results/): `warm_up` steps, then `steps`
    timed, each after machine.SETTLE_S of pause; (median, fastest) in seconds."""
    seconds = []
    for i in range(warm_up + steps):
        machine.settle()
        start = time.perf_counter()
        run()
        if i >= warm_up:
            seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), min(seconds)


def child_time(size, dtype_name, repeat, threads):
    """Both frameworks in this process, alternating; print one JSON line."""
    steps = {fw: build_step(fw, size, dtype_name, threads) for fw in ("ours", "torch")}
    for step in steps.values():
        step()  # warm-up
    times = {fw: [] for fw in steps}
    load_before, steal_before = os.getloadavg(), machine.steal_seconds()
    for _ in range(repeat):
        for fw, step in steps.items():
            machine.settle()  # the other framework's spinning threads asleep first
            start = time.perf_counter()
            step()
            times[fw].append(time.perf_counter() - start)
    print(json.dumps({"times": times, "load_before": load_before,
                      "load_after": os.getloadavg(),
                      "steal_s": machine.steal_between(steal_before, machine.steal_seconds()),
                      "blas": machine.blas_info()}))


def child_serve(framework, size, dtype_name, threads, keep_memory):
    """One framework in this process, timing a step for each "go" line on stdin.

    Prints {"blas", "keeps_freed_memory"} once warmed up, then {"seconds", "minor_faults"}
    per step.
    """
    from minimal_unet import memory

    step = build_step(framework, size, dtype_name, threads, keep_memory)
    step()  # warm-up
    print(json.dumps({"blas": machine.blas_info(),
                      "keeps_freed_memory": bool(memory._APPLIED)}), flush=True)
    for line in sys.stdin:
        if line.strip() != "go":
            break
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        start = time.perf_counter()
        step()
        seconds = time.perf_counter() - start
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
        print(json.dumps({"seconds": seconds, "minor_faults": faults}), flush=True)


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


# --processes separate: (key in the results, framework, its allocator keeps freed memory)
SERVERS = (("ours", "ours", True), ("torch", "torch", True), ("torch_default", "torch", False))


def time_separate(common, repeat, env):
    """SERVERS each in a process of its own, taking turns; {key: {times, faults}, ...}."""
    children, logs = {}, {}
    try:
        for key, framework, keep in SERVERS:
            logs[key] = tempfile.TemporaryFile(mode="w+")
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child-serve", framework,
                   *(["--keep-memory"] if keep else []), *common]
            children[key] = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, stderr=logs[key],
                                             text=True)

        def reply(key):
            line = children[key].stdout.readline()
            if not line:
                logs[key].seek(0)
                raise RuntimeError(f"step server {key} ({' '.join(common)}) died:\n"
                                   f"{logs[key].read()}")
            return json.loads(line)

        ready = {key: reply(key) for key in children}  # all warmed up
        timing = {key: {"times": [], "faults": [],
                        "keeps_freed_memory": ready[key]["keeps_freed_memory"]}
                  for key in children}
        load_before, steal_before = os.getloadavg(), machine.steal_seconds()
        for _ in range(repeat):
            for key, child in children.items():
                machine.settle()  # the other processes' spinning threads asleep first
                child.stdin.write("go\n")
                child.stdin.flush()
                answer = reply(key)
                timing[key]["times"].append(answer["seconds"])
                timing[key]["faults"].append(answer["minor_faults"])
        load_after = os.getloadavg()
        steal = machine.steal_between(steal_before, machine.steal_seconds())
    finally:
        for child in children.values():
            if child.stdin and not child.stdin.closed:
                child.stdin.close()
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:  # never leave a hung server behind
                child.kill()
                child.wait()
        for log in logs.values():
            log.close()
    return {"timing": timing, "blas": ready["ours"]["blas"], "load_before": load_before,
            "load_after": load_after, "steal_s": steal}


def measure(size, dtype_name, repeat, threads, env, processes="separate"):
    common = ["--size", size, "--dtype", dtype_name, "--threads", str(threads)]
    if processes == "separate":
        timing = time_separate(common, repeat, env)
    else:
        timing = run_child(["--child-time", "--repeat", str(repeat), *common], env)
        timing["timing"] = {fw: {"times": timing["times"][fw]} for fw in ("ours", "torch")}
    row = {"config": f"{size} {dtype_name}", "size": size, "tile": SIZES[size][0],
           "base": SIZES[size][1], "dtype": dtype_name, "blas": timing["blas"],
           "processes": processes, "load_before": timing["load_before"],
           "load_after": timing["load_after"], "steal_s": timing.get("steal_s")}
    for key, times in timing["timing"].items():
        row[key] = {**times, "median": statistics.median(times["times"])}
        if "faults" in times:
            row[key]["median_faults"] = statistics.median(times["faults"])
    for fw in ("ours", "torch"):
        row[fw].update(run_child(["--child-memory", fw, *common], env))
    row["ratio"] = row["ours"]["median"] / row["torch"]["median"]
    if "torch_default" in row:
        row["ratio_default"] = row["ours"]["median"] / row["torch_default"]["median"]
    row["peak_ratio"] = row["ours"]["peak_rss"] / row["torch"]["peak_rss"]
    row["step_peak_ratio"] = row["ours"]["step_peak"] / max(row["torch"]["step_peak"], 1)
    return row


def gib(n):
    return n / 2**30


HEADER = ("| size | dtype | ours s | PyTorch s | time ours/PyTorch | PyTorch as installed s "
          "| ours/that | ours peak / step GiB | PyTorch peak / step GiB "
          "| step peak ours/PyTorch | load before -> after, steal |\n"
          "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")


def table_line(row):
    """One row of HEADER ("n/a" for PyTorch as installed where it was not timed apart)."""
    ours, ref = row["ours"], row["torch"]
    tile, base = row["tile"], row["base"]
    default = row.get("torch_default")
    installed = (f"{default['median']:.3f} | {row['ratio_default']:.2f}x" if default
                 else "n/a | n/a")
    return (f"| {tile}, base {base} | {row['dtype']} | {ours['median']:.3f} | "
            f"{ref['median']:.3f} | **{row['ratio']:.2f}x** | {installed} | "
            f"{gib(ours['peak_rss']):.2f} / {gib(ours['step_peak']):.2f} | "
            f"{gib(ref['peak_rss']):.2f} / {gib(ref['step_peak']):.2f} | "
            f"{row['step_peak_ratio']:.2f}x | "
            f"{row['load_before'][0]:.2f} -> {row['load_after'][0]:.2f}{steal_text(row)} |")


def steal_text(row):
    """", steal 0.04 s": the CPU time taken by other guests during the timed steps (all
    CPUs; machine.steal_seconds), where it was measured; "" elsewhere."""
    steal = row.get("steal_s")
    return "" if steal is None else f", steal {steal:.2f} s"


def faults_line(rows):
    """Median minor page faults per timed step, per framework (separate processes only)."""
    parts = [f"{r['tile']}/b{r['base']} {r['dtype']}: " + ", ".join(
        f"{key} {r[key]['median_faults']:.0f}" for key, _, _ in SERVERS)
        for r in rows if "median_faults" in r["ours"]]
    return "Minor page faults per step (median): " + "; ".join(parts) if parts else None


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
    parser.add_argument("--processes", choices=("separate", "one"), default="separate",
                        help="time each framework in a process of its own (default) or "
                             "both in one, as the records before 2026-12-06 evening did")
    parser.add_argument("--child-time", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-serve", choices=("ours", "torch"), help=argparse.SUPPRESS)
    parser.add_argument("--keep-memory", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-memory", choices=("ours", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat: expected an int >= 1, got {args.repeat}")
    if args.child_time:
        return child_time(args.size[0], args.dtype[0], args.repeat, args.threads)
    if args.child_serve:
        return child_serve(args.child_serve, args.size[0], args.dtype[0], args.threads,
                           args.keep_memory)
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
             + ("each framework in a process of its own (ours and PyTorch with our allocator "
                "setting, PyTorch as installed with glibc's defaults), taking turns"
                if args.processes == "separate" else
                "ours and PyTorch alternating in one process")
             + f", each step after a {machine.SETTLE_S} s pause (machine.SETTLE_S); peak "
             "memory from a process per framework (PyTorch's with glibc's defaults).", ""]
    lines += [f"- {k}: {v}" for k, v in info.items() if k != "blas_variables"]
    print("\n".join(lines), flush=True)
    variants = []
    for label, env in machine.env_variants(args.threads):
        rows = []
        block = ["", f"## {label}, {args.threads} threads", ""]
        print("\n".join(block + [HEADER]), flush=True)
        for size in args.size or list(SIZES):
            for dtype_name in args.dtype or DTYPES:
                row = measure(size, dtype_name, args.repeat, args.threads, env,
                              args.processes)
                rows.append(row)
                print(table_line(row), flush=True)
        blas = "; ".join(sorted({machine.blas_line(r["blas"]) for r in rows}))
        block += [f"BLAS (threadpoolctl, in the timing process): {blas}", "", HEADER]
        block += [table_line(r) for r in rows]
        if faults_line(rows):
            block += ["", faults_line(rows)]
            print(faults_line(rows), flush=True)
        print(f"\nBLAS: {blas}", flush=True)
        lines += block
        variants.append({"label": label, "results": rows})
    info["load_at_end"] = machine.load()
    lines += ["", f"- load at end: {info['load_at_end']}", ""]
    # "results": the unset variant (what users get), the shape docs/make_figures.py reads
    json_path.write_text(json.dumps({"machine": info, "threads": args.threads,
                                     "repeat": args.repeat, "processes": args.processes,
                                     "results": variants[0]["results"],
                                     "variants": variants}, indent=1))
    md_path.write_text("\n".join(lines))
    print(f"wrote {json_path} and {md_path}")


if __name__ == "__main__":
    main()
