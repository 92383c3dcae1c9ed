"""One-off A/B (2026-12-07, Zen 4 VM): the 252 / base-16 step (no layer large enough for our
threads, so its products run on BLAS's threads in blocks of conv2d._BLOCK_BYTES) against
the same step with every product sent to our threads (trick 3), which since this session
cuts them by the product's length (trick 2). The loop and the printout: `_ab.py`.
Prints only.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_blocks/small_net_ab.py [rounds]
"""

import sys

import _ab

from minimal_unet import model

SETTINGS = {"BLAS's threads (as shipped)": model.runs_on_our_threads,
            "every product on ours": lambda cols_bytes: True}


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    seconds = _ab.alternate("252-b16", SETTINGS,
                            lambda test: setattr(model, "runs_on_our_threads", test), rounds)
    _ab.report(f"252-b16 float32, {rounds} rounds", seconds, digits=4)


if __name__ == "__main__":
    main()
