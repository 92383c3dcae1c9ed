"""One-off measurement (2026-12-05, night): one deep layer's conv2d_backward without dx,
conv2d's trick 7 on and off (conv2d._WHOLE_DW_BYTES = 0), every product on our threads
(as in the base-32 and paper nets' steps), float32, median of 9 back-to-back calls, ms.
Run from the repository root, nothing else running:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \\
        benchmarks/results/xeon_2026-12-05_night/whole_dw_layers.py
Output in whole_dw_layers_output.txt here.
"""
import numpy as np
from _ab import median_ms

from minimal_unet.memory import keep_freed_memory
from minimal_unet.ops import _threads, conv2d

keep_freed_memory()
_threads.set_every_product(True)
on = conv2d._WHOLE_DW_BYTES
rng = np.random.default_rng(0)
for C, F, H in [(1024, 1024, 30), (512, 1024, 32), (1024, 512, 56), (512, 512, 30),
                (256, 512, 32), (256, 256, 10), (128, 128, 14)]:
    x = rng.standard_normal((1, C, H, H)).astype(np.float32)
    w = rng.standard_normal((F, C, 3, 3)).astype(np.float32)
    y, cache = conv2d.conv2d_forward(x, w, np.zeros(F, np.float32))
    dy = rng.standard_normal(y.shape).astype(np.float32)
    taken = conv2d._dw_in_one_product(C * 9, F, H - 2, H - 2, 4)
    times = {}
    for variant in ("off", "on"):
        conv2d._WHOLE_DW_BYTES = on if variant == "on" else 0
        times[variant] = median_ms(lambda dy=dy, cache=cache: conv2d.conv2d_backward(
            dy, cache, need_dx=False), 9)
    conv2d._WHOLE_DW_BYTES = on
    print(f"{C}->{F} @{H} (trick 7 {'applies' if taken else 'does not apply'}): "
          f"off {times['off']:.2f} ms, on {times['on']:.2f} ms", flush=True)
