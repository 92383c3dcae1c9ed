"""One-off A/B (2026-12-08, Xeon VM, family 6 model 207): trick 9's rule as chosen on the
Zen 4 VM (>= 128 input channels, >= 64 filters, >= 400 2x2 tiles per image) against the
rule this host's per-layer table (`winograd_layers_output.txt`) points to (>= 128 filters
and >= 2500 tiles, 100 x 100 output pixels), and trick 9 off, in the step, one-process
rounds (`../zen4_2026-12-07_blocks/_ab.py`).
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \\
        benchmarks/results/xeon_2026-12-08/winograd_rule_ab.py 572-b32 [rounds]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "zen4_2026-12-07_blocks"))

import _ab  # noqa: E402

from minimal_unet.ops import _winograd  # noqa: E402


def apply(rule):
    _winograd._ON, _winograd._MIN_F, _winograd._MIN_TILES = rule


if __name__ == "__main__":
    _ab.main({"Zen 4's rule (F >= 64, 400 tiles)": (True, 64, 400),
              "F >= 128, 2500 tiles": (True, 128, 2500),
              "off": (False, 64, 400)}, apply)
