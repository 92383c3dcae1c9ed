"""One-off A/B (2026-12-07 evening, Zen 4 VM): the ReLU after each 3x3 convolution fused
into the convolution's row blocks (np.maximum on each block of y right after its bias,
while it is in the core's cache) against the separate ReLU pass, as shipped.

conv2d's source is patched in memory (the fused line behind a flag, for every product
of more than 2 filters: all but the head's), and the NumPy backend's relu_forward hands
its input back as the output (max(y, 0) of an already clipped y is y); the backward
pass is unchanged. Nothing in the package changes. Needs the code of 7e182d3 or later
(one `bias` line in `_correlate`). The loop and the printout:
`../zen4_2026-12-07_blocks/_ab.py`.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_evening/relu_fusion_ab.py 572-b32 [rounds]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "zen4_2026-12-07_blocks"))

import _ab  # noqa: E402

from minimal_unet.backends import numpy_backend  # noqa: E402
from minimal_unet.ops import conv2d  # noqa: E402

BIAS_LINE = "            out_rows += bias[:, None]  # (F, 1) broadcast over the block's pixels\n"
FUSED = "            if _FUSE and F > 2:\n                np.maximum(out_rows, 0, out=out_rows)\n"
REAL_RELU = numpy_backend.relu_forward


def patch():
    src = Path(conv2d.__file__).read_text()
    assert src.count(BIAS_LINE) == 1
    exec(compile(src.replace(BIAS_LINE, BIAS_LINE + FUSED), conv2d.__file__, "exec"),  # noqa: S102
         conv2d.__dict__)
    numpy_backend.conv2d_forward = conv2d.conv2d_forward
    numpy_backend.conv2d_backward = conv2d.conv2d_backward


def apply(fused):
    conv2d._FUSE = fused
    numpy_backend.relu_forward = (lambda x: (x, (x,))) if fused else REAL_RELU


def main():
    size = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 11
    patch()
    seconds = _ab.alternate(size, {"separate ReLU (shipped)": False, "fused ReLU": True},
                            apply, rounds)
    _ab.report(f"{size} float32, {rounds} rounds", seconds, digits=4)


if __name__ == "__main__":
    main()
