"""Forward, dw and dx of single conv layers, warm (back-to-back calls, median of 9), with
the products on our threads (every product, as in a base-32 or paper step) or on BLAS's
own two threads (MINIMAL_UNET_THREADS=1), beside PyTorch's forward and forward + backward.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen5_2026-12-06/layer_modes.py [C,F,H ...]
"""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "xeon_2026-12-05_night"))
import _ab  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from minimal_unet.memory import keep_freed_memory  # noqa: E402
from minimal_unet.ops import _threads, conv2d  # noqa: E402

LAYERS = [(32, 32, 390), (32, 32, 570), (32, 64, 284), (64, 64, 198), (64, 64, 282),
          (64, 128, 140), (128, 128, 102), (128, 128, 138), (256, 256, 66)]


def mode(name):
    """'ours': every product on our threads; 'blas': MINIMAL_UNET_THREADS=1."""
    if name == "ours":
        os.environ.pop("MINIMAL_UNET_THREADS", None)
        _threads.set_every_product(True)
    else:
        os.environ["MINIMAL_UNET_THREADS"] = "1"
        _threads.set_every_product(False)


def layer_line(C, F, H, rng):
    """One printed line: ours in both modes and PyTorch, for the layer C->F @H."""
    x = rng.standard_normal((1, C, H, H), dtype=np.float32)
    w = rng.standard_normal((F, C, 3, 3), dtype=np.float32) * 0.05
    b = np.zeros(F, np.float32)
    y, cache = conv2d.conv2d_forward(x, w, b)
    dy = rng.standard_normal(y.shape, dtype=np.float32)
    gflop = 2 * F * C * 9 * (H - 2) ** 2 / 1e9
    parts = []
    for name in ("ours", "blas"):
        mode(name)
        fwd = _ab.median_ms(lambda: conv2d.conv2d_forward(x, w, b), 9)
        dw = _ab.median_ms(lambda: conv2d.conv2d_backward(dy, cache, need_dx=False), 9)
        both = _ab.median_ms(lambda: conv2d.conv2d_backward(dy, cache), 9)
        parts.append(f"{name}: fwd {fwd:5.1f} dw {dw:5.1f} dx {both - dw:5.1f} "
                     f"sum {fwd + both:5.1f} ms")
    mode("ours")
    xt, wt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    dyt = torch.from_numpy(dy)
    t_fwd = _ab.median_ms(lambda: torch.nn.functional.conv2d(xt.detach(), wt.detach()), 9)
    t_all = _ab.median_ms(lambda: torch.autograd.grad(
        torch.nn.functional.conv2d(xt, wt, bt), (xt, wt, bt), dyt), 9)
    return (f"{C}->{F} @{H} ({gflop:.2f} GFLOP per product) | {' | '.join(parts)} | "
            f"PyTorch fwd {t_fwd:5.1f} sum {t_all:5.1f} ms")


def main(layers):
    keep_freed_memory()
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    for C, F, H in layers:
        print(layer_line(C, F, H, rng), flush=True)


if __name__ == "__main__":
    main([tuple(int(v) for v in arg.split(",")) for arg in sys.argv[1:]] or LAYERS)
