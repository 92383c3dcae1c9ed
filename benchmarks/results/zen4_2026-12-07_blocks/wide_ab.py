"""One-off A/B (2026-12-07, Zen 4 VM): conv2d's trick 8 (blocks gathered on the whole row
width) with this session's thread blocks: conv2d._WIDE_MAX_FILTERS at 64 (as shipped),
0 (trick 8 off) and 128 (on for products of up to 128 filters). The loop and the
printout: `_ab.py`. Prints only.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_blocks/wide_ab.py 572-b32 [rounds]
"""

import sys

import _ab

from minimal_unet.ops import conv2d

SETTINGS = {"wide (shipped)": conv2d._WIDE_MAX_FILTERS, "no wide": 0, "wide to 128": 128}


def main():
    size = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 9
    seconds = _ab.alternate(size, SETTINGS,
                            lambda n: setattr(conv2d, "_WIDE_MAX_FILTERS", n), rounds)
    _ab.report(f"{size} float32, {rounds} rounds", seconds, digits=4)


if __name__ == "__main__":
    main()
