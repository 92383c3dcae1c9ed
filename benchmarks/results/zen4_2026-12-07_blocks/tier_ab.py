"""One-off A/B (2026-12-07, Zen 4 VM): a third thread block size, 2 MiB for products of
K <= 288 (32 channels of 3x3), beside trick 2's 4 / 16 MiB. The loop and the printout:
`_ab.py`. Prints only.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_blocks/tier_ab.py 572-b32 [rounds]
"""

import sys

import _ab

from minimal_unet.ops import conv2d

SHIPPED = conv2d._block_bytes


def three_tiers(cols_bytes, K):
    if conv2d._on_our_threads(cols_bytes) and K <= 288:
        return 2 << 20
    return SHIPPED(cols_bytes, K)


def main():
    size = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 11
    seconds = _ab.alternate(size, {"two tiers": SHIPPED, "2 MiB for K<=288": three_tiers},
                            lambda f: setattr(conv2d, "_block_bytes", f), rounds)
    _ab.report(f"{size} float32, {rounds} rounds", seconds)


if __name__ == "__main__":
    main()
