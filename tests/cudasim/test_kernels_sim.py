"""The building-block kernels launched directly: the tiled matmul on ragged shapes, the two
deterministic reductions, and dropout's counter-based RNG against its NumPy twin.

Runs in the Numba CUDA simulator (NUMBA_ENABLE_CUDASIM=1).
"""

import numpy as np
import pytest

OVERFLOW_IS_INTENDED = pytest.mark.filterwarnings(
    # splitmix64 wraps modulo 2^64 on purpose; the simulator runs it on NumPy uint64
    # scalars, which warn (see kernels/numba/dropout.py)
    "ignore:overflow encountered in scalar:RuntimeWarning"
)


@pytest.mark.parametrize(
    "dtype, M, K, P, tile, blocks",
    [
        (np.float64, 5, 19, 23, 8, 1),  # ragged in every dimension, one block loops
        (np.float64, 9, 3, 17, 8, 3),  # K < tile; three blocks share six output tiles
        (np.float32, 7, 21, 4, 8, 2),
        (np.float64, 3, 18, 17, 16, 1),  # the GPU's 16x16 tile
    ],
)
def test_tiled_matmul_on_ragged_shapes(nb, kernel, assert_close, dtype, M, K, P, tile, blocks):
    from numba import cuda

    rng = np.random.default_rng(M * 100 + K)
    a = rng.standard_normal((M, K)).astype(dtype)
    b = rng.standard_normal((K, P)).astype(dtype)
    c = cuda.device_array((M, P), dtype=dtype)
    matmul = kernel("matmul").make_matmul_kernel(np.dtype(dtype), tile)
    matmul[blocks, (tile, tile)](cuda.to_device(a), cuda.to_device(b), c, np.int32(0), np.int32(0),
                                 np.int32(0))
    assert_close(c.copy_to_host(), a @ b)


@pytest.mark.parametrize("trans_a, trans_b", [(1, 0), (0, 1), (1, 1)])
def test_tiled_matmul_transposes_by_indexing_and_accumulates(nb, kernel, assert_close, trans_a,
                                                             trans_b):
    from numba import cuda

    rng = np.random.default_rng(11)
    a = rng.standard_normal((6, 13))  # op(a) (6, 13)
    b = rng.standard_normal((13, 10))  # op(b) (13, 10)
    c0 = rng.standard_normal((6, 10))
    a_stored = a.T.copy() if trans_a else a  # what the kernel is given
    b_stored = b.T.copy() if trans_b else b
    c = cuda.to_device(c0)
    matmul = kernel("matmul").make_matmul_kernel(np.dtype(np.float64), 8)
    matmul[2, (8, 8)](cuda.to_device(a_stored), cuda.to_device(b_stored), c, np.int32(trans_a),
                      np.int32(trans_b), np.int32(1))  # c += op(a) @ op(b)
    assert_close(c.copy_to_host(), c0 + a @ b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("threads, S", [(8, 37), (32, 37), (32, 151)])
def test_bias_grad_reduction(nb, kernel, assert_close, dtype, threads, S):
    from numba import cuda

    rng = np.random.default_rng(12)
    dy = rng.standard_normal((2, 3, S)).astype(dtype)  # (N, F, S): 74 or 302 (> 256) terms
    db = cuda.device_array(3, dtype=dtype)
    bias_grad = kernel("bias").make_bias_grad_kernel(np.dtype(dtype), threads)
    bias_grad[3, threads](cuda.to_device(dy), db)
    assert_close(db.copy_to_host(), dy.sum(axis=(0, 2)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sum_reduce_two_launches_give_the_scaled_sum_bit_for_bit_every_run(nb, kernel,
                                                                         assert_close, dtype):
    from numba import cuda

    rng = np.random.default_rng(13)
    values = rng.standard_normal(1001).astype(dtype)
    sum_reduce = kernel("softmax_ce").make_sum_reduce_kernel(np.dtype(dtype), 32)
    values_dev = cuda.to_device(values)
    results = []
    for _ in range(2):
        partial = cuda.device_array(3, dtype=dtype)
        sum_reduce[3, 32](values_dev, partial, dtype(1))  # 3 partial sums
        total = cuda.device_array(1, dtype=dtype)
        sum_reduce[1, 32](partial, total, dtype(0.5))  # their sum, times 0.5
        results.append(total.copy_to_host())
    assert_close(results[0][0], dtype(values.astype(np.float64).sum() * 0.5))
    assert results[0].tobytes() == results[1].tobytes()


def splitmix64_uniform_python(seed, i):
    """An independent oracle: the dropout hash with Python integers, wrapped explicitly."""
    mask64 = (1 << 64) - 1
    z = (seed + (i + 1) * 0x9E3779B97F4A7C15) & mask64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask64
    z = z ^ (z >> 31)
    return (z >> 40) / 2.0**24


def test_dropout_numpy_twin_hash_matches_plain_python_integers(kernel):
    dropout = kernel("dropout")
    seed = 0xDEADBEEF12345678
    u = dropout.uniform_from_counter(np.uint64(seed), np.arange(50, dtype=np.uint64))
    expected = [splitmix64_uniform_python(seed, i) for i in range(50)]
    np.testing.assert_array_equal(u, expected)
    assert u.min() >= 0 and u.max() < 1


def test_dropout_numpy_twin_keeps_one_minus_p(kernel):
    dropout = kernel("dropout")
    size, p = 20000, 0.3
    mask = dropout.dropout_mask_numpy(123, size, p, np.float64)
    kept = np.count_nonzero(mask)
    sigma = np.sqrt(size * p * (1 - p))
    assert abs(kept - size * (1 - p)) < 5 * sigma
    np.testing.assert_array_equal(np.unique(mask), [0.0, 1 / (1 - p)])


@OVERFLOW_IS_INTENDED
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dropout_kernel_equals_its_numpy_twin_exactly(nb, kernel, dtype):
    dropout = kernel("dropout")
    rng = np.random.default_rng(14)
    x = rng.standard_normal((2, 3, 5, 4)).astype(dtype)
    p = 0.4
    y, (keep, scale) = nb.dropout_forward(nb.asarray(x), p, np.random.default_rng(99))
    seed = np.random.default_rng(99).integers(0, 2**64, dtype=np.uint64)  # what it drew
    y_twin, keep_twin = dropout.dropout_forward_numpy(x, seed, p)
    assert y_twin.dtype == dtype and keep_twin.dtype == np.bool_
    np.testing.assert_array_equal(nb.asnumpy(keep), keep_twin)
    np.testing.assert_array_equal(nb.asnumpy(y), y_twin)
    dy = rng.standard_normal(x.shape).astype(dtype)
    dx_twin = np.multiply(dy, keep_twin)
    dx_twin *= scale
    np.testing.assert_array_equal(nb.asnumpy(nb.dropout_backward(nb.asarray(dy), (keep, scale))),
                                  dx_twin)


@OVERFLOW_IS_INTENDED
def test_dropout_masks_follow_the_generator(nb):
    x = nb.asarray(np.ones((1, 2, 4, 4)))
    rng = np.random.default_rng(5)
    first = nb.asnumpy(nb.dropout_forward(x, 0.5, rng)[0])
    second = nb.asnumpy(nb.dropout_forward(x, 0.5, rng)[0])  # the generator moved on
    replay = nb.asnumpy(nb.dropout_forward(x, 0.5, np.random.default_rng(5))[0])
    np.testing.assert_array_equal(first, replay)
    assert not np.array_equal(first, second)


def test_dropout_mask_is_the_one_of_the_cuda_c_kernel(kernel):
    # kernels/cuda/dropout.cu uses the same counter hash, so one seed gives one mask in both
    # GPU backends; cupy_backend.dropout_keep_mask is that kernel's NumPy twin, written
    # separately (and importable without a GPU).
    from minimal_unet.backends import cupy_backend

    seed, p, shape = 0x0123456789ABCDEF, 0.35, (2, 3, 7, 5)
    mask = kernel("dropout").dropout_mask_numpy(seed, int(np.prod(shape)), p, np.float32)
    np.testing.assert_array_equal(mask.reshape(shape) != 0,
                                  cupy_backend.dropout_keep_mask(seed, shape, p))
