"""benchmarks/floor.py: the operands are the products conv2d multiplies, the gather timing
gathers the layer's receptive fields, and the table's bound sums the faster variants."""

import numpy as np
import pytest

from minimal_unet.ops import _im2col


def test_operands_have_conv2ds_product_shapes(load_benchmark):
    floor = load_benchmark("floor")
    rng = np.random.default_rng(0)
    C, F, H = 3, 5, 9
    P, K = (H - 2) ** 2, 9 * C
    for product, (left, inner, right) in {"forward": (F, K, P), "dw": (K, P, F),
                                          "dx": (C, 9 * F, H * H)}.items():
        a, b, out = floor.operands(C, F, H, product, rng)
        assert a.shape == (left, inner) and b.shape == (inner, right), product
        assert out.shape == (left, right) and out.dtype == np.float32, product
        np.matmul(a, b, out=out)  # the timed call works on them as they are


def test_gather_writes_the_layers_im2col(load_benchmark, monkeypatch):
    floor = load_benchmark("floor")
    seen = []
    real = _im2col.im2col_rows

    def spy(src, kH, kW, rows, width):
        seen.append((src.shape, rows, width))
        return real(src, kH, kW, rows, width)

    monkeypatch.setattr(_im2col, "im2col_rows", spy)
    seconds = floor.time_gather(4, 10, 7, threads=2, repeat=1)
    assert seconds > 0
    (shape, rows, width), *_ = seen
    assert shape == (4, rows + 2, width + 2) and width == 7 and 1 <= rows <= 10


def test_summary_sums_the_faster_variant_per_product(load_benchmark):
    floor = load_benchmark("floor")
    rows = [dict(layer="a", product="forward", gflop=2.0, blas_s=0.3, ours_s=0.1, floor_s=0.1),
            dict(layer="a", product="dw", gflop=2.0, blas_s=0.2, ours_s=0.4, floor_s=0.2),
            dict(layer="b", product="forward", gflop=1.0, blas_s=0.5, ours_s=0.6, floor_s=0.5)]
    total, gflop, by_layer = floor.summary({"rows": rows})
    assert total == pytest.approx(0.8) and gflop == pytest.approx(5.0)
    assert [r["product"] for r in by_layer["a"]] == ["forward", "dw"]
