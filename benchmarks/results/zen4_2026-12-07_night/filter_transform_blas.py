"""One-off (2026-12-07 night, Zen 4 VM): why trick 9's filter transform has no BLAS call.
A 64 -> 64 @282 forward pass by Winograd (thresholds lowered so that it takes trick 9),
every product on our threads as in the network's step, with the filters transformed
elementwise (as shipped) or by one BLAS product `w (F*C, 9) @ GG^T (9, 16)` outside the
hold on BLAS's threads (the first version); on one and on two of our threads, in turn,
best of 5, ms.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_night/filter_transform_blas.py
"""

import time

import numpy as np

from minimal_unet.ops import _threads, _winograd, conv2d

ELEMENTWISE = _winograd.transformed_filters
GG = np.einsum("ai,bj->abij", _winograd.G, _winograd.G).reshape(16, 9)


def by_blas(w):
    F, C = w.shape[:2]
    return np.ascontiguousarray((w.reshape(F * C, 9) @ GG.T.astype(w.dtype)).T).reshape(
        16, F, C)


def main():
    conv2d._WINOGRAD_MIN_C = conv2d._WINOGRAD_MIN_F = conv2d._WINOGRAD_MIN_TILES = 1
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 64, 282, 282)).astype(np.float32)
    w = (rng.standard_normal((64, 64, 3, 3)) / 24).astype(np.float32)
    b = np.zeros(64, np.float32)
    assert np.allclose(by_blas(w), ELEMENTWISE(w), atol=1e-6)
    print("64 -> 64 @282 forward, Winograd, best of 5 (ms): elementwise | BLAS product")
    with _threads.every_product_on_our_threads():
        for workers in (1, 2, 1, 2):
            conv2d._WORKERS = workers
            best = {}
            for _ in range(5):
                for name, transform in (("elementwise", ELEMENTWISE), ("blas", by_blas)):
                    _winograd.transformed_filters = transform
                    t0 = time.perf_counter()
                    conv2d.conv2d_forward(x, w, b)
                    best[name] = min(best.get(name, np.inf), time.perf_counter() - t0)
            _winograd.transformed_filters = ELEMENTWISE
            print(f"  {workers} of our threads: {best['elementwise'] * 1e3:6.1f} | "
                  f"{best['blas'] * 1e3:6.1f}", flush=True)


if __name__ == "__main__":
    main()
