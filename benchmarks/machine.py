"""What every CPU benchmark records beside its numbers: date, load, BLAS, threads, variables.

The BLAS that NumPy (and so our convolution) runs is read with threadpoolctl (library,
version, kernel chosen at run time, thread count), in the process that does the timing:
OpenBLAS picks its kernel when it is loaded, from the CPU and from OPENBLAS_CORETYPE.

OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE: some images set them (ours sets
OPENBLAS_CORETYPE=Haswell for older OpenBLAS builds); they halve the speed of skinny
float32 products on an AVX-512 machine, and a user's machine does not set them. Run the
benchmarks with both unset, `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python ...`; when
either is present, each benchmark measures twice, as set and unset, and prints both.
"""

import datetime
import os
import platform
import subprocess
import time

BLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# Seconds to wait before each timed call when two frameworks alternate (in one process, or
# in processes of their own taking turns, as benchmarks/step.py does).
# After a call, OpenBLAS's worker threads (ours) and PyTorch's OpenMP threads keep spinning
# for a while, waiting for more work; on a 2-core machine the next framework then shares
# its cores with the other's spinning threads. Measured 2026-12-01 (conv 32->32 @570,
# float32, forward + backward): PyTorch alone 0.145 s; right after our call 0.205 s;
# after a 0.3 s pause 0.150 s. Without the pause the ratios flatter us by ~1.4x.
SETTLE_S = 0.3


def settle():
    """Let the other framework's spinning threads go to sleep before timing (SETTLE_S)."""
    time.sleep(SETTLE_S)


def load():
    """The 1, 5 and 15 minute load averages, and the `uptime` line that shows them."""
    try:
        line = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout
    except OSError:
        line = ""
    return {"loadavg": [round(v, 2) for v in os.getloadavg()], "uptime": line.strip()}


def steal_seconds(stat="/proc/stat"):
    """CPU time the hypervisor gave to other guests while this VM's CPUs wanted it, summed
    over CPUs since boot, in seconds (the 8th number of /proc/stat's "cpu" line, in clock
    ticks); None where there is no such line (not Linux). A benchmark takes the difference
    over its run: the 2-core VM's hosts ran in slow spells that the load average did not
    show (benchmarks/results/xeon_2026-12-07/: steps of 0.15-0.6 s against 0.105 s, 106
    ticks of steal over one A/B and 1-4 over the quiet ones)."""
    try:
        with open(stat) as f:
            for line in f:
                fields = line.split()
                if fields and fields[0] == "cpu" and len(fields) > 8:
                    return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        pass
    return None


def steal_between(before, after):
    """after - before of two steal_seconds() readings, or None if either is None."""
    return None if before is None or after is None else round(after - before, 2)


def blas_info():
    """[{library, version, kernel, threads, ...}] of the BLAS libraries loaded in this process.

    threadpoolctl is in the `test` extra; without it, NumPy's build configuration (which
    names the library but not the kernel picked at run time).
    """
    import numpy as np

    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return [{"library": blas.get("name"), "version": blas.get("version"),
                 "kernel": "unknown (pip install threadpoolctl)", "threads": None}]
    return [{"library": pool.get("internal_api"), "version": pool.get("version"),
             "kernel": pool.get("architecture"), "threads": pool.get("num_threads"),
             "prefix": pool.get("prefix")}
            for pool in threadpool_info() if pool.get("user_api") == "blas"]


def blas_line(blas):
    return "; ".join(f"{b['library']} {b['version']}, kernel {b['kernel']}, "
                     f"{b['threads']} threads" for b in blas)


def _first_cpu(cpuinfo):
    """{field: value} of the first processor's block of /proc/cpuinfo ({} if unreadable)."""
    fields = {}
    try:
        with open(cpuinfo) as f:
            for line in f:
                if not line.strip():
                    break  # the first processor's block only
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def cpu_model(cpuinfo="/proc/cpuinfo"):
    """The first CPU's model name from /proc/cpuinfo with its family, model and stepping
    numbers ("AMD EPYC (family 25, model 17, stepping 1)"): virtual machines often name
    only the vendor's line, and the numbers tell its generations apart (EPYC family 23 is
    Zen 1 / Zen 2, 25 Zen 3 / Zen 4, 26 Zen 5). "unknown" where there is no model name."""
    fields = _first_cpu(cpuinfo)
    if "model name" not in fields:
        return "unknown"
    numbers = [f"{key.replace('cpu ', '')} {fields[key]}"
               for key in ("cpu family", "model", "stepping") if key in fields]
    return fields["model name"] + (f" ({', '.join(numbers)})" if numbers else "")


def cpu_vectors(cpuinfo="/proc/cpuinfo"):
    """The widest vector instructions the first CPU lists in /proc/cpuinfo's flags: "AVX-512",
    "AVX2 + FMA", "AVX2", "AVX", "below AVX", or "unknown" where there are no flags (not
    Linux, or not x86). BLAS picks its kernel by them, and the records of 2026-12-07 showed
    them deciding where conv2d's fast paths pay (benchmarks/results/zen1_2026-12-07/: on
    an AVX2-only host the products run at a fifth of the AVX-512 hosts' rate)."""
    if "flags" not in (fields := _first_cpu(cpuinfo)):
        return "unknown"
    flags = set(fields["flags"].split())
    if "avx512f" in flags:
        return "AVX-512"
    if "avx2" in flags:
        return "AVX2 + FMA" if "fma" in flags else "AVX2"
    return "AVX" if "avx" in flags else "below AVX"


def machine_info():
    """Date, CPU, versions and load of this machine (the BLAS is recorded per child)."""
    import numpy as np

    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cpu_vectors": cpu_vectors(),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch_version,
        "blas_variables": {name: os.environ.get(name) for name in BLAS_VARIABLES},
        "load_at_start": load(),
    }


def env_variants(threads):
    """[(label, env)]: the environments to measure in, with `threads` for every library.

    One, with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset, when neither is set; else two:
    as set (this image's setting) and unset (what a user's machine runs).
    """
    env = dict(os.environ)
    for name in THREAD_VARIABLES:
        env[name] = str(threads)
    unset = {k: v for k, v in env.items() if k not in BLAS_VARIABLES}
    present = {name: env[name] for name in BLAS_VARIABLES if name in env}
    if not present:
        return [("BLAS variables unset", unset)]
    as_set = ", ".join(f"{k}={v}" for k, v in present.items())
    return [("BLAS variables unset (what users get)", unset), (f"as set: {as_set}", env)]


def refuse_to_overwrite(paths, overwrite):
    """Raise unless every path is new or `overwrite` was asked for (a user's files are sacred)."""
    existing = [str(p) for p in paths if p.exists()]
    if existing and not overwrite:
        raise SystemExit(f"refusing to overwrite {', '.join(existing)}: pass --overwrite "
                         "(or --out DIR for a new folder)")
