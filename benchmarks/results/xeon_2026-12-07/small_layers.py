"""One-off (2026-12-08, Xeon VM, family 6 model 207): where the time of the 252 / base-16
net's conv layers goes, pass by pass, against their bare products. For each 3x3 layer
(but the first), under the network's product threading (`benchmarks/ops.py`'s
`as_in_network`), best of 30 calls back to back, ms:
  fwd          conv2d_forward as shipped (trick 10 where it applies)
  fwd im2col   the same with trick 10 off
  dw           conv2d_backward(need_dx=False): dw and db
  dw im2col    the same with trick 10 off
  dx           conv2d's dx as shipped (trick 11 where it applies)
  products     the bare forward product w (F, K) @ cols (K, N) on a pre-made cols, once
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \\
        benchmarks/results/xeon_2026-12-07/small_layers.py [TILE BASE]
"""

import sys
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import ops  # noqa: E402
from _timing import best_ms  # noqa: E402

from minimal_unet.ops import _conv_rows, conv2d  # noqa: E402


def main():
    tile, base = (int(a) for a in sys.argv[1:3]) if len(sys.argv) > 2 else (252, 16)
    net = (tile, base)
    rng = np.random.default_rng(0)
    print(f"{tile} / base {base}, float32, ms: fwd | fwd im2col | dw | dw im2col | dx | "
          "one forward product")
    for C, F, H in ops.unet_conv_layers(*net)[1:]:
        x = rng.standard_normal((1, C, H, H), np.float32)
        w = rng.standard_normal((F, C, 3, 3), np.float32)
        b = np.zeros(F, np.float32)
        y, cache = conv2d.conv2d_forward(x, w, b)
        dy = rng.standard_normal(y.shape, np.float32)
        cols = rng.standard_normal((9 * C, (H - 2) ** 2), np.float32)
        w2 = w.reshape(F, -1)
        row = []
        for fn, rows in [(partial(conv2d.conv2d_forward, x, w, b), True),
                         (partial(conv2d.conv2d_forward, x, w, b), False),
                         (partial(conv2d.conv2d_backward, dy, cache, False), True),
                         (partial(conv2d.conv2d_backward, dy, cache, False), False),
                         (partial(conv2d._dx_part, dy, w, 0, x.shape, True), True),
                         (partial(np.matmul, w2, cols), True)]:
            _conv_rows._ON = rows
            row.append(best_ms(ops.as_in_network(fn, net, 4), 30))
        _conv_rows._ON = True
        print(f"  {C:4d} -> {F:4d} @{H:3d}: " + " ".join(f"{t:7.3f}" for t in row),
              flush=True)


if __name__ == "__main__":
    main()
