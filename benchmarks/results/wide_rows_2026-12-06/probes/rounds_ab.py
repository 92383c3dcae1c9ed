"""Training steps with and without trick 8 in rounds: per round, each variant one untimed
step and then the median of 5 back-to-back steps (no pause), the order reversed every
other round; prints the median of the round medians. Prints only.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        python benchmarks/results/wide_rows_2026-12-06/probes/rounds_ab.py SIZE ROUNDS [DTYPE]
"""
import sys, time, statistics
from pathlib import Path
ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "benchmarks")); sys.path.insert(0, str(ROOT))
import step as S
from minimal_unet.ops import conv2d
from minimal_unet import memory
memory.keep_freed_memory()
size = sys.argv[1]; rounds = int(sys.argv[2])
WIDE = conv2d._WIDE_MIN_WIDTH
ours = S.build_step("ours", size, sys.argv[3] if len(sys.argv) > 3 else "float32", 2)
for _ in range(3): ours()
res = {"narrow": [], "wide": []}
for r in range(rounds):
    for name in (("narrow", "wide") if r % 2 == 0 else ("wide", "narrow")):
        conv2d._WIDE_MIN_WIDTH = 10**9 if name == "narrow" else WIDE
        ours()
        ts = []
        for _ in range(5):
            t = time.perf_counter(); ours(); ts.append(time.perf_counter() - t)
        res[name].append(statistics.median(ts))
for k, v in res.items():
    print(size, k, "median of round medians %.4f s, min %.4f" % (statistics.median(v), min(v)))
print("ratio wide/narrow of medians %.3f" % (statistics.median(res["wide"]) / statistics.median(res["narrow"])))
