"""A/B of conv2d's threading settings inside one process, each step after a 0.3 s pause.

One-off script of 2026-12-04 (kept with its numbers, README.md here). Run from the
repository root, e.g.
    VARIANTS='{"old_default":["1",16,64],"new_default":["2",4,64]}' \
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 \
    python benchmarks/results/epyc_2026-12-04_threads/ab_variants.py 572-b32 9
A variant is [MINIMAL_UNET_THREADS, conv2d._THREAD_BLOCK_BYTES in MiB, conv2d._THREAD_BYTES
in MiB]; ["1", 16, 64] is the conv setting before this change (one product on BLAS's two
threads, 16 MiB blocks everywhere). An optional fourth field sets conv2d._BLOCK_BYTES in
MiB (default 16; added 2026-12-05 for ../xeon_2026-12-05/, which ran this script).
Both frameworks' steps come from benchmarks/step.py's build_step (so ours keeps freed
memory, and PyTorch, in the same process, does too).
"""

import json
import os
import statistics
import sys
import time

sys.path.insert(0, "benchmarks")

import step  # noqa: E402

from minimal_unet.ops import conv2d  # noqa: E402


def main():
    size, reps = sys.argv[1], int(sys.argv[2])
    variants = json.loads(os.environ["VARIANTS"])
    ours = step.build_step("ours", size, "float32", 2)
    theirs = step.build_step("torch", size, "float32", 2)

    def use(name):
        threads, block_mib, thread_mib, big_mib = (variants[name] + [16])[:4]
        os.environ["MINIMAL_UNET_THREADS"] = threads
        conv2d._THREAD_BLOCK_BYTES = int(block_mib * 2**20)
        conv2d._THREAD_BYTES = int(thread_mib * 2**20)
        conv2d._BLOCK_BYTES = int(big_mib * 2**20)

    for name in variants:  # warm-up: scratch buffers, pages
        use(name)
        ours()
    theirs()
    times = {name: [] for name in [*variants, "torch"]}
    for _ in range(reps):
        for name in times:
            time.sleep(0.3)  # machine.SETTLE_S
            if name != "torch":
                use(name)
            start = time.perf_counter()
            (theirs if name == "torch" else ours)()
            times[name].append(time.perf_counter() - start)
    reference = statistics.median(times["torch"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{size} {name} median {median:.3f} min {min(values):.3f} "
              f"ratio {median / reference:.2f}")
    print(os.getloadavg())


if __name__ == "__main__":
    main()
