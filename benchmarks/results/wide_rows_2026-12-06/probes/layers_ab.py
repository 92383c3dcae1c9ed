"""The conv layers of a net (all but a few deep ones, which trick 8 leaves alone), forward + backward, with and without trick 8, alternating
in one process (4 rounds, the order reversed every other round; per round the median of
n calls after one; the smaller of the rounds' medians kept). Prints only.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        python benchmarks/results/wide_rows_2026-12-06/probes/layers_ab.py b16|b32

b16: the 252 / base-16 net's layers on BLAS's threads; b32: the 572 / base-32 net's on
ours (as in its step: every product on our threads).
"""
import sys, time
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parents[4]))
from minimal_unet.ops import conv2d, _threads
from minimal_unet import memory
memory.keep_freed_memory()
size = sys.argv[1]
WIDE = conv2d._WIDE_MIN_WIDTH
def med(f, n):
    f(); ts = []
    for _ in range(n):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return sorted(ts)[n // 2] * 1e3
if size == "b32":
    _threads.set_every_product(True)
    layers = [(1,32,572),(32,32,570),(32,64,284),(64,64,282),(64,128,140),(128,128,138),(128,256,68),(256,256,66),(512,256,56),(256,128,104),(128,128,102),(128,64,200),(64,64,198),(64,32,392),(32,32,390)]
    n = 3
else:
    layers = [(1,16,252),(16,16,250),(16,32,124),(32,32,122),(32,64,60),(64,64,58),(64,128,28),(128,128,26),(256,128,16),(128,64,24),(64,64,22),(64,32,40),(32,32,38),(32,16,72),(16,16,70)]
    n = 9
rng = np.random.default_rng(0)
tot = {"narrow": 0, "wide": 0}
for C, F, H in layers:
    x = rng.standard_normal((1, C, H, H)).astype(np.float32); w = rng.standard_normal((F, C, 3, 3)).astype(np.float32); b = rng.standard_normal(F).astype(np.float32)
    dy = rng.standard_normal((1, F, H-2, H-2)).astype(np.float32)
    def fb():
        y, cache = conv2d.conv2d_forward(x, w, b)
        conv2d.conv2d_backward(dy, cache, need_dx=C > 1)
    res = {"narrow": [], "wide": []}
    for r in range(4):
        for name in (("narrow", "wide") if r % 2 == 0 else ("wide", "narrow")):
            conv2d._WIDE_MIN_WIDTH = 10**9 if name == "narrow" else WIDE
            res[name].append(med(fb, n))
    a, bb = min(res["narrow"]), min(res["wide"])
    tot["narrow"] += a; tot["wide"] += bb
    print(f"{C}->{F} @{H}: narrow {a:.2f} wide {bb:.2f} ms  {bb/a:.3f}", flush=True)
print("sum", {k: round(v, 2) for k, v in tot.items()}, round(tot["wide"] / tot["narrow"], 3))
