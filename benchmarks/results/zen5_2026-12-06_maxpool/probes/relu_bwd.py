import time
import numpy as np
def med(f, n=31):
    ts = []
    for _ in range(n):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return sorted(ts)[n // 2] * 1e3
rng = np.random.default_rng(0)
n = 16 * 248 * 248
y = np.maximum(rng.standard_normal(n).astype(np.float32), 0); dy = rng.standard_normal(n).astype(np.float32)
dx = np.empty_like(dy); mask = np.empty(n, bool); fm = np.empty_like(dy)
def cur(): np.multiply(dy, y > 0, out=dx)
def two(): np.greater(y, 0, out=mask); np.multiply(dy, mask, out=dx)
def zeros_arr():
    z = np.zeros(n, np.float32)
    np.greater(y, z, out=mask); np.multiply(dy, mask, out=dx)
def copyto(): np.copyto(dx, dy); dx[y <= 0] = 0
def where(): np.copyto(dx, np.where(y > 0, dy, np.float32(0)))
def fmask(): np.greater(y, 0, out=mask); np.multiply(dy, mask.view(np.uint8), out=dx, casting="unsafe")
print("y>0 alone", med(lambda: y > 0))
print("mult float*bool", med(lambda: np.multiply(dy, mask, out=dx)))
for f in (cur, two, zeros_arr, copyto, where, fmask):
    print(f.__name__, "%.3f" % med(f))
print("maximum scalar", med(lambda: np.maximum(y, 0, out=dx)), "maximum arr", med(lambda: np.maximum(y, fm * 0, out=dx)))
print("---")
def heav(): np.multiply(dy, np.heaviside(y, 0), out=dx)
def sign(): np.multiply(dy, np.sign(y), out=dx)
def gtf(): np.greater(y, 0, out=fm, casting="unsafe"); np.multiply(dy, fm, out=dx)
def nancheck(): return np.isnan(np.sum(y))
for f in (heav, sign, gtf, nancheck):
    print(f.__name__, "%.3f" % med(f))
big = 10_000_000
y2 = np.maximum(rng.standard_normal(big).astype(np.float32), 0); dy2 = rng.standard_normal(big).astype(np.float32); dx2 = np.empty_like(dy2)
print("big cur", med(lambda: np.multiply(dy2, y2 > 0, out=dx2)), "big sign", med(lambda: np.multiply(dy2, np.sign(y2), out=dx2)))
