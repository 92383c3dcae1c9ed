"""One-off measurement (2026-12-05, night): conv2d's trick 7 (dw of a deep layer from the
whole im2col of each image) on and off, in one process, alternating step by step.

"off" sets conv2d._WHOLE_DW_BYTES = 0, so every layer takes dw from its row blocks as
before; both variants start the block sum from the first block's result (the same
commit). 2 threads, 0.3 s between steps, PyTorch's step after each pair. Run from the
repository root, nothing else running:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \\
        benchmarks/results/xeon_2026-12-05_night/whole_dw.py 572-b64 5 [float64]
Output in whole_dw_output.txt here.
"""
import sys

import _ab

from minimal_unet.ops import conv2d

on = conv2d._WHOLE_DW_BYTES
_ab.alternate_steps(sys.argv[1], int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else
                    "float32", {"on": lambda: setattr(conv2d, "_WHOLE_DW_BYTES", on),
                                "off": lambda: setattr(conv2d, "_WHOLE_DW_BYTES", 0)})
