"""One-off A/B (2026-12-07 evening, Zen 4 VM): conv2d's trick 8 (blocks gathered on the
whole row width) on or off in each of its two places, with the 4 / 16 MiB thread blocks
of 554f48a: in both (as shipped at a93ccfb), in neither, only in the dw pass of the
backward (conv2d_backward's blocks), only in `_correlate` (the forward and the dx pass).
conv2d's source is patched in memory (two flags in front of its two `_wide` calls);
nothing in the package changes. Needs the code of a93ccfb (trick 8 was removed after
this measurement). The loop and the printout: `../zen4_2026-12-07_blocks/_ab.py`.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_evening/wide_parts_ab.py 572-b32 [rounds]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "zen4_2026-12-07_blocks"))

import _ab  # noqa: E402

from minimal_unet.backends import numpy_backend  # noqa: E402
from minimal_unet.ops import conv2d  # noqa: E402

SETTINGS = {"wide (shipped)": (True, True), "no wide": (False, False),
            "wide in dw only": (False, True), "wide in fwd+dx only": (True, False)}


def patch():
    """conv2d with flags _WIDE_C (in _correlate) and _WIDE_B (in the dw pass)."""
    src = Path(conv2d.__file__).read_text()
    for call, flag in (("        if _wide(K, F, oW + kW - 1, x_rows):", "_WIDE_B"),
                       ("        if _wide(C * kH * kW, F, oW + kW - 1, src_rows):", "_WIDE_C")):
        assert src.count(call) == 1, call
        src = src.replace(call, call.replace("_wide(", f"{flag} and _wide("))
    exec(compile(src, conv2d.__file__, "exec"), conv2d.__dict__)  # noqa: S102
    conv2d._WIDE_C = conv2d._WIDE_B = True
    numpy_backend.conv2d_forward = conv2d.conv2d_forward
    numpy_backend.conv2d_backward = conv2d.conv2d_backward


def apply(flags):
    conv2d._WIDE_C, conv2d._WIDE_B = flags


def main():
    size = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 11
    patch()
    seconds = _ab.alternate(size, SETTINGS, apply, rounds)
    _ab.report(f"{size} float32, {rounds} rounds", seconds, digits=4)


if __name__ == "__main__":
    main()
