"""One-off A/B (2026-12-07, Zen 4 VM): the thread block sizes of conv2d (trick 2) in the step.

A setting is SHORT/LONG in MiB: conv2d._THREAD_BLOCK_BYTES (products of K <=
conv2d._SHORT_K) / conv2d._LONG_THREAD_BLOCK_BYTES (longer ones); a single number sets
both (before this session's change every product had 8 MiB: `8`). The loop and the
printout: `_ab.py`. Prints only.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_blocks/block_ab.py 572-b64 8,4/16 [rounds]
"""

import sys

import _ab

from minimal_unet.ops import conv2d


def set_blocks(setting):
    short, _, long = setting.partition("/")
    conv2d._THREAD_BLOCK_BYTES = int(float(short) * 2**20)
    conv2d._LONG_THREAD_BLOCK_BYTES = int(float(long or short) * 2**20)


def main():
    size, mibs = sys.argv[1], sys.argv[2].split(",")
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    seconds = _ab.alternate(size, {f"{m} MiB": m for m in mibs}, set_blocks, rounds)
    _ab.report(f"{size} float32, thread blocks of {', '.join(mibs)} MiB; {rounds} rounds",
               seconds)


if __name__ == "__main__":
    main()
