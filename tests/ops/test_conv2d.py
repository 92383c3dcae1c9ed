"""2-D convolution: naive twin, hand example, finite differences, PyTorch's conv2d, the
row-blocked fast path (several blocks, ragged last block, padding and cropping), dtypes,
non-contiguous inputs, scratch-buffer reuse and bad inputs."""

import numpy as np
import pytest

from minimal_unet.gradcheck import check_gradients, rel_error
from minimal_unet.ops import _conv_blocks
from minimal_unet.ops import conv2d as conv2d_module
from minimal_unet.ops.conv2d import (
    conv2d_backward,
    conv2d_backward_naive,
    conv2d_forward,
    conv2d_forward_naive,
)

# (N, C, F, H, W): batch 1 and 3, odd and even channel counts, H != W
SHAPES = [(1, 2, 3, 6, 7), (3, 3, 4, 7, 6)]
KERNELS = [(1, 1), (2, 2), (3, 3), (5, 5), (2, 3)]  # (kH, kW)
PADS = [0, 1]
CASES = [
    pytest.param(shape, kernel, pad, id=f"N{shape[0]}C{shape[1]}F{shape[2]}-k{kernel}-p{pad}")
    for shape in SHAPES
    for kernel in KERNELS
    for pad in PADS
]
BOTH = [
    pytest.param(conv2d_forward, conv2d_backward, id="fast"),
    pytest.param(conv2d_forward_naive, conv2d_backward_naive, id="naive"),
]


def make_inputs(rng, shape, kernel, pad, dtype=np.float64):
    N, C, F, H, W = shape
    kH, kW = kernel
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((F, C, kH, kW)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    dy = rng.standard_normal((N, F, H + 2 * pad - kH + 1, W + 2 * pad - kW + 1)).astype(dtype)
    return x, w, b, dy


def torch_conv2d(torch, x, w, b, pad, dy):
    """PyTorch's forward output and (dx, dw, db) for upstream gradient dy, as numpy arrays."""
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = torch.nn.functional.conv2d(xt, wt, bt, padding=pad)
    yt.backward(torch.tensor(dy))
    return yt.detach().numpy(), (xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy())


@pytest.mark.parametrize(("shape", "kernel", "pad"), CASES)
def test_fast_matches_naive(rng, shape, kernel, pad):
    x, w, b, dy = make_inputs(rng, shape, kernel, pad)
    y, cache = conv2d_forward(x, w, b, pad)
    y_naive, cache_naive = conv2d_forward_naive(x, w, b, pad)
    assert y.shape == y_naive.shape == dy.shape
    assert np.max(np.abs(y - y_naive)) < 1e-12
    grads = conv2d_backward(dy, cache)
    grads_naive = conv2d_backward_naive(dy, cache_naive)
    for grad, grad_naive, given in zip(grads, grads_naive, (x, w, b)):
        assert grad.shape == grad_naive.shape == given.shape
        assert np.max(np.abs(grad - grad_naive)) < 1e-12


@pytest.mark.parametrize(("forward", "backward"), BOTH)
def test_hand_example(forward, backward):
    # one channel, a 3x3 input and a 2x2 kernel: each output is the dot product of a window
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)  # [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    w = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])  # y = top-left - bottom-right of a window
    b = np.array([0.5])
    y, cache = forward(x, w, b)
    np.testing.assert_array_equal(y, [[[[1 - 5 + 0.5, 2 - 6 + 0.5], [4 - 8 + 0.5, 5 - 9 + 0.5]]]])

    dy = np.array([[[[1.0, 0.0], [0.0, 2.0]]]])
    dx, dw, db = backward(dy, cache)
    # output (0,0) sends +1 to x[0,0] and -1 to x[1,1];
    # output (1,1) sends +2 to x[1,1] and -2 to x[2,2]
    np.testing.assert_array_equal(dx, [[[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -2.0]]]])
    # dw[i, j] = sum_h,w dy[h, w] x[h+i, w+j] = 1 * x[i, j] + 2 * x[1+i, 1+j]
    np.testing.assert_array_equal(dw, [[[[1 + 2 * 5, 2 + 2 * 6], [4 + 2 * 8, 5 + 2 * 9]]]])
    np.testing.assert_array_equal(db, [3.0])

    # with pad=1 the top-left window starts one zero row and column above-left of x, so
    # it sees x[0, 0] only through w[1, 1] = -1; the bottom-right one sees x[2, 2] via w[0, 0]
    y_pad, _ = forward(x, w, b, pad=1)
    assert y_pad.shape == (1, 1, 4, 4)
    assert y_pad[0, 0, 0, 0] == -1.0 * x[0, 0, 0, 0] + 0.5
    assert y_pad[0, 0, 3, 3] == 1.0 * x[0, 0, 2, 2] + 0.5


@pytest.mark.parametrize(("shape", "kernel", "pad"), CASES)
def test_gradients_match_finite_differences(rng, shape, kernel, pad):
    x, w, b, dy = make_inputs(rng, shape, kernel, pad)
    _, cache = conv2d_forward(x, w, b, pad)
    dx, dw, db = conv2d_backward(dy, cache)
    errors = check_gradients(
        lambda x, w, b: conv2d_forward(x, w, b, pad)[0],
        {"x": x, "w": w, "b": b},
        {"x": dx, "w": dw, "b": db},
        dy=dy,
    )
    assert set(errors) == {"x", "w", "b"}
    for name, error in errors.items():
        assert error < 1e-7, name


@pytest.mark.parametrize(("shape", "kernel", "pad"), CASES)
def test_matches_pytorch(rng, torch, shape, kernel, pad):
    x, w, b, dy = make_inputs(rng, shape, kernel, pad)
    y, cache = conv2d_forward(x, w, b, pad)
    y_torch, grads_torch = torch_conv2d(torch, x, w, b, pad, dy)
    assert np.max(np.abs(y - y_torch)) < 1e-10
    for grad, grad_torch in zip(conv2d_backward(dy, cache), grads_torch):
        assert grad.shape == grad_torch.shape
        assert np.max(np.abs(grad - grad_torch)) < 1e-10


@pytest.mark.parametrize(
    ("shape", "kernel", "pad", "block_bytes"),
    [
        # default 16 MiB blocks: forward K*oW*8 = 576*126*8 bytes a row, 126 rows -> 6 blocks
        # of 21 rows; dx 576*128*8 bytes a row, 128 rows -> 6 blocks of 22 or 21 rows
        pytest.param((1, 64, 64, 128, 128), (3, 3), 0, None, id="default-blocks"),
        # tiny blocks (3 rows), padded input: every block pads its columns, the first and
        # last also pad rows
        pytest.param((1, 5, 4, 23, 19), (3, 3), 1, 3 * 45 * 19 * 8, id="3-row-blocks-pad1"),
        # pad > kH - 1: the output has rows that see only zeros, and dx crops dy
        pytest.param((2, 3, 2, 11, 9), (3, 3), 3, 27 * 15 * 8, id="1-row-blocks-pad3"),
        # 5x5 kernel, 2-row blocks: 17 output rows -> 10 blocks of 2 or 1 rows
        pytest.param((1, 4, 6, 17, 12), (5, 5), 2, 2 * 100 * 12 * 8, id="2-row-blocks-k5"),
    ],
)
def test_row_blocks_match_pytorch(rng, torch, monkeypatch, shape, kernel, pad, block_bytes):
    if block_bytes is not None:
        monkeypatch.setattr(_conv_blocks, "_BLOCK_BYTES", block_bytes)
        monkeypatch.setattr(_conv_blocks, "_SPLIT_BYTES", 0)  # tiny shapes split too
    x, w, b, dy = make_inputs(rng, shape, kernel, pad)
    N, C, F, H, W = shape
    kH, kW = kernel
    oH, oW = dy.shape[2:]
    # the shape must really split into several blocks in both passes, covering every row
    for K, rows, width in ((C * kH * kW, oH, oW), (F * kH * kW, H, W)):
        blocks = _conv_blocks.row_blocks(K, rows, width, 8)
        assert len(blocks) >= 2 and len(blocks) % 2 == 0, blocks
        assert [r0 for r0, _ in blocks] == list(np.cumsum([0] + [n for _, n in blocks])[:-1])
        assert sum(n for _, n in blocks) == rows
    y, cache = conv2d_forward(x, w, b, pad)
    y_torch, grads_torch = torch_conv2d(torch, x, w, b, pad, dy)
    assert np.max(np.abs(y - y_torch)) < 1e-10
    for grad, grad_torch in zip(conv2d_backward(dy, cache), grads_torch):
        assert np.max(np.abs(grad - grad_torch)) < 1e-10


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_bits_on_one_or_two_threads(rng, monkeypatch, conv_bits_on, dtype):
    # many small blocks (5 rows of 20), so both threads get several and dw sums 4+ blocks
    x, w, b, dy = make_inputs(rng, (2, 6, 5, 22, 21), (3, 3), 0, dtype=dtype)
    monkeypatch.setattr(_conv_blocks, "_THREAD_BLOCK_BYTES",
                        5 * 54 * 19 * np.dtype(dtype).itemsize)
    results = conv_bits_on(x, w, b, dy, 0, (1, 2))  # the same bits on both
    y_naive, cache_naive = conv2d_forward_naive(x, w, b, 0)
    tolerance = 1e-4 if dtype == np.float32 else 1e-12
    for fast, naive in zip(results[2], (y_naive, *conv2d_backward_naive(dy, cache_naive))):
        assert rel_error(fast, naive) < tolerance


def test_same_bits_every_run(rng):
    # Same bits on every run at a given BLAS thread count. (Across BLAS thread counts they
    # may differ in the last bit: OpenBLAS itself sums long inner dimensions differently on
    # 1 and 2 threads, in the dw products most; see the conv2d module docstring.)
    x, w, b, dy = make_inputs(rng, (1, 16, 16, 40, 41), (3, 3), 1, dtype=np.float32)
    results = []
    for _ in range(3):
        y, cache = conv2d_forward(x, w, b, 1)
        results.append((y, *conv2d_backward(dy, cache)))
    for first, *others in zip(*results):
        for other in others:
            np.testing.assert_array_equal(first, other)


@pytest.mark.parametrize(("forward", "backward"), BOTH)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_dtype_follows_input(rng, forward, backward, dtype):
    x, w, b, dy = make_inputs(rng, (2, 3, 2, 5, 6), (3, 3), 1, dtype=dtype)
    y, cache = forward(x, w, b, pad=1)
    assert y.dtype == dtype
    for grad in backward(dy, cache):
        assert grad.dtype == dtype


def test_float32_agrees_with_float64(rng):
    x, w, b, dy = make_inputs(rng, (2, 6, 5, 40, 33), (3, 3), 1)
    y64, cache64 = conv2d_forward(x, w, b, 1)
    grads64 = conv2d_backward(dy, cache64)
    x32, w32, b32, dy32 = (a.astype(np.float32) for a in (x, w, b, dy))
    y32, cache32 = conv2d_forward(x32, w32, b32, 1)
    grads32 = conv2d_backward(dy32, cache32)
    assert rel_error(y32, y64) < 1e-5
    for grad32, grad64 in zip(grads32, grads64):
        assert rel_error(grad32, grad64) < 1e-5


def test_cache_holds_the_inputs_only(rng):
    x, w, b, _ = make_inputs(rng, (1, 2, 3, 6, 7), (3, 3), 1)
    _, cache = conv2d_forward(x, w, b, 1)
    assert isinstance(cache, tuple) and len(cache) == 4
    assert cache[0] is x and cache[1] is w and cache[2] is b and cache[3] == 1


def test_non_contiguous_inputs(rng):
    x, w, b, dy = make_inputs(rng, (2, 3, 4, 9, 8), (3, 3), 1)
    x_flipped = np.asfortranarray(x[:, :, ::-1, :])
    x_view = x_flipped[:, :, ::-1, :]  # x's values, Fortran order and a negative stride
    w_view = np.asfortranarray(w)
    dy_view = np.asfortranarray(dy)
    assert not (x_view.flags.c_contiguous or w_view.flags.c_contiguous)
    y, cache = conv2d_forward(x, w, b, 1)
    y_view, cache_view = conv2d_forward(x_view, w_view, b, 1)
    np.testing.assert_array_equal(y_view, y)
    for grad_view, grad in zip(conv2d_backward(dy_view, cache_view), conv2d_backward(dy, cache)):
        np.testing.assert_array_equal(grad_view, grad)


def test_outputs_do_not_alias_scratch_and_inputs_are_not_mutated(rng):
    x, w, b, dy = make_inputs(rng, (1, 3, 4, 8, 9), (3, 3), 1)
    copies = [a.copy() for a in (x, w, b, dy)]
    y, cache = conv2d_forward(x, w, b, 1)
    grads = conv2d_backward(dy, cache)
    kept = [a.copy() for a in (y, *grads)]
    # a second call of the same shapes reuses the scratch buffers with other data
    x2, w2, b2, dy2 = make_inputs(rng, (1, 3, 4, 8, 9), (3, 3), 1)
    _, cache2 = conv2d_forward(x2, w2, b2, 1)
    conv2d_backward(dy2, cache2)
    for result, saved in zip((y, *grads), kept):
        np.testing.assert_array_equal(result, saved)
    for given, saved in zip((x, w, b, dy), copies):
        np.testing.assert_array_equal(given, saved)


def _good(dtype=np.float64):
    x = np.zeros((1, 3, 5, 5), dtype=dtype)
    w = np.zeros((2, 3, 3, 3), dtype=dtype)
    b = np.zeros(2, dtype=dtype)
    return x, w, b


@pytest.mark.parametrize("forward", [conv2d_forward, conv2d_forward_naive])
@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        pytest.param({"x": np.zeros((3, 5, 5))}, ValueError, r"x: expected shape \(N, C, H, W\)",
                     id="x-rank"),
        pytest.param({"w": np.zeros((2, 3, 3))}, ValueError, r"w: expected shape \(F, C, kH, kW\)",
                     id="w-rank"),
        pytest.param({"w": np.zeros((2, 4, 3, 3))}, ValueError, r"channel mismatch.*C=3.*4",
                     id="channels"),
        pytest.param({"b": np.zeros(3)}, ValueError, r"b: expected shape \(2,\), got \(3,\)",
                     id="b-shape"),
        pytest.param({"b": np.zeros((2, 1))}, ValueError, r"b: expected shape \(F,\)",
                     id="b-rank"),
        pytest.param({"x": np.zeros((1, 3, 5, 5), dtype=np.int64)}, TypeError,
                     "x: expected dtype float32 or float64, got int64", id="int-x"),
        pytest.param({"w": np.zeros((2, 3, 3, 3), dtype=np.int32)}, TypeError,
                     "w: expected dtype float32 or float64, got int32", id="int-w"),
        pytest.param({"x": np.zeros((1, 3, 5, 5), dtype=np.float32)}, TypeError,
                     "x=float32, w=float64", id="mixed-dtypes"),
        pytest.param({"x": [[[[0.0]]]]}, TypeError, "x: expected a numpy.ndarray, got list",
                     id="list"),
        pytest.param({"pad": -1}, ValueError, r"pad: expected an int >= 0, got -1",
                     id="pad-negative"),
        pytest.param({"pad": 1.0}, TypeError, r"pad: expected an int >= 0, got float",
                     id="pad-float"),
        pytest.param({"pad": True}, TypeError, r"pad: expected an int >= 0, got bool",
                     id="pad-bool"),
        pytest.param({"w": np.zeros((2, 3, 6, 3))}, ValueError,
                     r"kernel 6x3 is larger than the padded input 5x5", id="kernel-too-big"),
        pytest.param({"w": np.zeros((2, 3, 8, 8)), "pad": 1}, ValueError,
                     r"kernel 8x8 is larger than the padded input 7x7", id="kernel-too-big-pad"),
        pytest.param({"x": np.zeros((0, 3, 5, 5))}, ValueError, "non-empty", id="empty"),
    ],
)
def test_bad_inputs_raise(forward, change, error, message):
    x, w, b = _good()
    args = {"x": x, "w": w, "b": b, "pad": 0, **change}
    with pytest.raises(error, match=message):
        forward(**args)


@pytest.mark.parametrize("backward", [conv2d_backward, conv2d_backward_naive])
def test_bad_upstream_gradient_raises(backward):
    x, w, b = _good()
    _, cache = conv2d_forward(x, w, b, 1)  # y (1, 2, 5, 5)
    with pytest.raises(ValueError, match=r"dy: expected shape \(1, 2, 5, 5\), got \(1, 2, 3, 3\)"):
        backward(np.zeros((1, 2, 3, 3)), cache)
    with pytest.raises(TypeError, match="dy=float32, x=float64"):
        backward(np.zeros((1, 2, 5, 5), dtype=np.float32), cache)
    with pytest.raises(ValueError, match=r"dy: expected shape \(N, F, oH, oW\)"):
        backward(np.zeros((2, 5, 5)), cache)


def test_two_threads_work_in_a_forked_child(rng, monkeypatch):
    # the thread pool of the parent does not survive fork(); the child must start its own
    multiprocessing = pytest.importorskip("multiprocessing")
    monkeypatch.setattr(_conv_blocks, "_THREAD_BLOCK_BYTES", 2 * 54 * 19 * 8)
    monkeypatch.setattr(_conv_blocks, "_SPLIT_BYTES", 0)
    monkeypatch.setattr(_conv_blocks, "_WORKERS", 2)
    monkeypatch.setattr(_conv_blocks, "_THREAD_BYTES", 0)
    x, w, b, _ = make_inputs(rng, (1, 6, 5, 22, 21), (3, 3), 0)
    y, _ = conv2d_forward(x, w, b, 0)  # starts the pool in this process
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        y_child = pool.apply_async(_forward_in_child, (x, w, b)).get(timeout=60)
    np.testing.assert_array_equal(y_child, y)


def _forward_in_child(x, w, b):
    _conv_blocks._THREAD_BLOCK_BYTES = 2 * 54 * 19 * 8
    _conv_blocks._SPLIT_BYTES = 0
    _conv_blocks._WORKERS = 2
    _conv_blocks._THREAD_BYTES = 0
    return conv2d_forward(x, w, b, 0)[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("pad", [0, 1])
def test_backward_without_dx_gives_the_same_dw_and_db(rng, dtype, pad):
    # need_dx=False (the network's first layer): dx is not computed, dw and db keep their bits
    x, w, b, dy = make_inputs(rng, (2, 3, 4, 9, 8), (3, 3), pad, dtype=dtype)
    y, cache = conv2d_forward(x, w, b, pad)
    dx_full, dw_full, db_full = conv2d_backward(dy, cache)
    dx, dw, db = conv2d_backward(dy, cache, need_dx=False)
    assert dx is None
    np.testing.assert_array_equal(dw, dw_full)
    np.testing.assert_array_equal(db, db_full)
    _, dw_naive, db_naive = conv2d_backward_naive(dy, conv2d_forward_naive(x, w, b, pad)[1])
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    assert rel_error(dw, dw_naive) < tolerance and rel_error(db, db_naive) < tolerance


def test_fast_matches_naive_with_many_dw_rows(rng):
    # K = 8 * 9 = 72 rows of dw^T: two slabs in transposed, the second ragged
    x, w, b, dy = make_inputs(rng, (1, 8, 5, 7, 9), (3, 3), 1)
    grads = conv2d_backward(dy, conv2d_forward(x, w, b, 1)[1])
    grads_naive = conv2d_backward_naive(dy, conv2d_forward_naive(x, w, b, 1)[1])
    for grad, grad_naive in zip(grads, grads_naive):
        assert np.max(np.abs(grad - grad_naive)) < 1e-12


@pytest.mark.parametrize("pad", [0, 1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_deep_layer_takes_dw_from_the_whole_im2col(rng, monkeypatch, dtype, pad):
    # 30 filters over 3x3 or 5x5 output pixels: one block's (K, F) partial sum already holds more
    # values than the whole im2col, so dw comes from one product per image (trick 7)
    x, w, b, dy = make_inputs(rng, (2, 5, 30, 5, 5), (3, 3), pad, dtype=dtype)
    K, (oH, oW) = 5 * 9, dy.shape[2:]
    assert conv2d_module._dw_in_one_product(K, 30, oH, oW, x.itemsize)
    calls = []
    whole = conv2d_module._dw_whole
    monkeypatch.setattr(conv2d_module, "_dw_whole", lambda *a: calls.append(1) or whole(*a))
    monkeypatch.setattr(_conv_blocks, "_THREAD_BYTES", 0)  # products on our threads
    results = {}
    for workers in (1, 2):
        monkeypatch.setattr(_conv_blocks, "_WORKERS", workers)
        results[workers] = conv2d_backward(dy, conv2d_forward(x, w, b, pad)[1])
    assert calls == [1, 1]
    for one, two in zip(results[1], results[2]):
        np.testing.assert_array_equal(one, two)  # bit for bit on one or two threads
    naive = conv2d_backward_naive(dy, conv2d_forward_naive(x, w, b, pad)[1])
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    for fast, slow in zip(results[2], naive):
        assert fast.dtype == dtype and rel_error(fast, slow) < tolerance


def test_whole_im2col_dw_only_where_blocks_would_cost_more():
    def one_product(C, F, H, itemsize=4):
        return conv2d_module._dw_in_one_product(C * 9, F, H - 2, H - 2, itemsize)

    assert one_product(1024, 1024, 30) and one_product(256, 256, 10)  # deep: few pixels
    assert not one_product(32, 32, 570) and not one_product(64, 64, 282)  # shallow
    # 1024 -> 512 at 56x56: taken in float32 (107 MB of im2col), not in float64 (215 MB)
    assert one_product(1024, 512, 56) and not one_product(1024, 512, 56, itemsize=8)
