"""Shared fixtures for the op tests: a replayable random generator, test inputs kept away
from the ops' kinks, and PyTorch as an independent oracle (skipped cleanly if absent).

Fixtures only (no helper imports): tests/ has no __init__.py and runs in importlib mode.
"""

import numpy as np
import pytest

SEED = 1505_04597  # the U-Net paper's arXiv number; every test starts from this seed


@pytest.fixture
def rng():
    """A fresh numpy Generator with a fixed seed, so every test can be replayed."""
    return np.random.default_rng(SEED)


@pytest.fixture
def torch():
    """The torch module (an independent oracle), or a clean skip when it is not installed."""
    torch = pytest.importorskip("torch", reason="PyTorch (the 'oracle' extra) is not installed")
    torch.set_num_threads(1)  # small shapes; do not fight the other test processes for cores
    return torch


@pytest.fixture
def away_from_zero():
    """make(rng, shape, dtype=float64): values with |x| in [0.1, 1], random signs.

    Keeps every input far from ReLU's kink at 0 relative to a finite-difference step.
    """

    def make(rng, shape, dtype=np.float64):
        magnitude = rng.uniform(0.1, 1.0, size=shape)
        sign = rng.choice(np.array([-1.0, 1.0]), size=shape)
        return (sign * magnitude).astype(dtype)

    return make


@pytest.fixture
def distinct_values():
    """make(rng, shape, dtype=float64): a random permutation of size distinct values in [-1, 1).

    Neighbouring values differ by 2 / size, far more than a finite-difference step, so the
    winner of every max-pool window is unique and stays the winner under perturbation.
    """

    def make(rng, shape, dtype=np.float64):
        size = int(np.prod(shape))
        ranks = rng.permutation(size).reshape(shape)  # distinct integers 0 .. size-1
        return (2.0 * ranks / size - 1.0).astype(dtype)

    return make


@pytest.fixture
def conv_bits_on(monkeypatch):
    """run(x, w, b, dy, pad, workers) -> {n: (y, dx, dw, db)}: conv2d's fast path in blocks
    on n threads of ours for each n in `workers`, after checking that every run gave the
    same bits as the first (the blocks' cutting and summing depend on the shapes only)."""
    from minimal_unet.ops import _conv_blocks, conv2d

    def run(x, w, b, dy, pad, workers):
        monkeypatch.setattr(_conv_blocks, "_SPLIT_BYTES", 0)
        monkeypatch.setattr(_conv_blocks, "_THREAD_BYTES", 0)  # blocks, on our threads
        results = {}
        for n in workers:
            monkeypatch.setattr(_conv_blocks, "_WORKERS", n)
            y, cache = conv2d.conv2d_forward(x, w, b, pad)
            results[n] = (y, *conv2d.conv2d_backward(dy, cache))
        for n in workers[1:]:
            for first, other in zip(results[workers[0]], results[n]):
                np.testing.assert_array_equal(first, other)  # bit for bit, not just close
        return results

    return run


@pytest.fixture
def conv_matches_naive(rng):
    """check(shape, kernel, pad, dtype): conv2d's fast forward and backward of random
    inputs, shape = (N, C, F, H, W), against the naive twin in float64 (relative error
    1e-5 in float32, 1e-12 in float64; every output in the input's dtype and the naive
    twin's shape, dx C-contiguous), whatever path the conv2d settings of the test send
    it down."""
    from minimal_unet.gradcheck import rel_error
    from minimal_unet.ops import conv2d

    def check(shape, kernel, pad, dtype):
        N, C, F, H, W = shape
        x = rng.standard_normal((N, C, H, W)).astype(dtype)
        w = rng.standard_normal((F, C, *kernel)).astype(dtype)
        b = rng.standard_normal(F).astype(dtype)
        y, cache = conv2d.conv2d_forward(x, w, b, pad)
        dy = rng.standard_normal(y.shape).astype(dtype)
        fast = (y, *conv2d.conv2d_backward(dy, cache))
        x64, w64, b64, dy64 = (a.astype(np.float64) for a in (x, w, b, dy))
        y_n, cache_n = conv2d.conv2d_forward_naive(x64, w64, b64, pad)
        naive = (y_n, *conv2d.conv2d_backward_naive(dy64, cache_n))
        tol = 1e-5 if dtype == np.float32 else 1e-12
        assert fast[1].flags.c_contiguous  # dx
        for got, expected in zip(fast, naive):
            assert got.dtype == dtype and got.shape == expected.shape
            assert rel_error(got, expected) < tol

    return check
