"""ops/_threads.py: the fast paths give the same bits on 1 or many threads, BLAS held to one."""

import textwrap
import threading

import numpy as np
import pytest

from minimal_unet.backends import numpy_backend
from minimal_unet.ops import (
    _col2im,
    _conv_blocks,
    _conv_rows,
    _threads,
    _winograd,
    conv2d,
    upconv2d,
)
from minimal_unet.ops.conv2d import conv2d_backward, conv2d_forward
from minimal_unet.ops.crop_concat import crop_and_concat_backward, crop_and_concat_forward
from minimal_unet.ops.maxpool2d import (
    maxpool2d_backward,
    maxpool2d_backward_naive,
    maxpool2d_forward,
    maxpool2d_forward_naive,
)
from minimal_unet.ops.relu import relu_backward, relu_forward
from minimal_unet.ops.upconv2d import upconv2d_backward, upconv2d_forward


def every_op(rng, dtype):
    """Each threaded fast path on small inputs -> a flat list of its outputs."""
    x = rng.standard_normal((2, 5, 8, 10)).astype(dtype)
    x[1, 3, 2:4, 4:6] = np.nan  # one NaN window, in one of the parts only
    dy_pool = rng.standard_normal((2, 5, 4, 5)).astype(dtype)
    w = rng.standard_normal((4, 5, 3, 3)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    dy_conv = rng.standard_normal((2, 4, 6, 8)).astype(dtype)
    w_up = rng.standard_normal((5, 3, 2, 2)).astype(dtype)
    skip = rng.standard_normal((2, 3, 20, 24)).astype(dtype)
    outs = []
    y, cache = relu_forward(x)
    outs += [y, relu_backward(x * 2, cache)]
    y, cache = maxpool2d_forward(x)
    outs += [y, cache[0], maxpool2d_backward(dy_pool, cache)]
    y, cache = conv2d_forward(np.nan_to_num(x), w, b, 0)
    outs += [y, *conv2d_backward(dy_conv, cache)]
    y, cache = upconv2d_forward(np.nan_to_num(x), w_up, b[:3])
    outs += [y, *upconv2d_backward(rng.standard_normal(y.shape).astype(dtype), cache)]
    y, cache = crop_and_concat_forward(skip, y)
    outs += [y, *crop_and_concat_backward(rng.standard_normal(y.shape).astype(dtype), cache)]
    outs.append(numpy_backend.add(x, x * 3))
    return outs


def winograd_everywhere(monkeypatch):
    """conv2d's trick 9 (Winograd) for every_op's 3x3 convolution too, tiny as it is."""
    for name in ("_MIN_C", "_MIN_F", "_MIN_TILES"):
        monkeypatch.setattr(_winograd, name, 1)
    monkeypatch.setattr(_winograd, "_BLOCK_BYTES", 256)


def rows_everywhere(monkeypatch):
    """conv2d's trick 10 (a kernel's rows as kH products) for every_op's convolution too."""
    monkeypatch.setattr(_conv_rows, "_MIN_C", 1)
    monkeypatch.setattr(_conv_rows, "_MIN_PIXELS", 1)
    monkeypatch.setattr(_conv_rows, "_BLOCK_BYTES", 256)


def col2im_everywhere(monkeypatch):
    """conv2d's trick 11 (dx by col2im) for every_op's convolution too."""
    monkeypatch.setattr(_col2im, "_MIN_F", 1)
    monkeypatch.setattr(_col2im, "_MAX_PIXELS", 10**9)
    monkeypatch.setattr(_col2im, "_BLOCK_BYTES", 256)


TRICKS = {"im2col": lambda monkeypatch: None, "winograd": winograd_everywhere,
          "rows": rows_everywhere, "col2im": col2im_everywhere}


@pytest.mark.parametrize("trick", list(TRICKS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_many_threads_give_the_bits_of_one(monkeypatch, dtype, trick):
    TRICKS[trick](monkeypatch)
    monkeypatch.setattr(_threads, "_MIN_BYTES", 16)  # cut even these tiny arrays into parts
    monkeypatch.setattr(_conv_blocks, "_THREAD_BLOCK_BYTES", 256)  # and the convolutions into many
    monkeypatch.setattr(_conv_blocks, "_LONG_THREAD_BLOCK_BYTES", 256)
    monkeypatch.setattr(_conv_blocks, "_SPLIT_BYTES", 0)
    monkeypatch.setattr(_conv_blocks, "_THREAD_BYTES", 0)  # blocks, on our threads
    monkeypatch.setattr(_conv_blocks, "_WORKERS", None)  # conv2d follows MINIMAL_UNET_THREADS
    results = {}
    for threads in ("1", "3"):
        monkeypatch.setenv("MINIMAL_UNET_THREADS", threads)
        results[threads] = every_op(np.random.default_rng(0), dtype)
    assert len(_threads.chunks(5 * 8 * 10, 4)) == 3  # the parts really were cut
    for one, three in zip(results["1"], results["3"]):
        np.testing.assert_array_equal(one, three)  # bit for bit, NaN where NaN


def test_threaded_maxpool_still_equals_the_naive_twin(monkeypatch):
    monkeypatch.setattr(_threads, "_MIN_BYTES", 16)
    monkeypatch.setenv("MINIMAL_UNET_THREADS", "4")
    rng = np.random.default_rng(1)
    x = rng.integers(0, 3, (3, 4, 6, 8)).astype(np.float64)  # many ties
    x[2, 1, 0, 0] = np.nan
    y, cache = maxpool2d_forward(x)
    y_naive, cache_naive = maxpool2d_forward_naive(x)
    np.testing.assert_array_equal(y, y_naive)
    np.testing.assert_array_equal(cache[0], cache_naive[0])
    dy = rng.standard_normal(y.shape)
    dy[0, 0, 0, 0] = np.inf
    np.testing.assert_array_equal(maxpool2d_backward(dy, cache),
                                  maxpool2d_backward_naive(dy, cache_naive))


def test_chunks_cover_the_range_in_order_and_skip_small_arrays(monkeypatch):
    monkeypatch.setattr(_threads, "_MIN_BYTES", 100)
    parts = _threads.chunks(10, 40, threads=4)
    assert [(p.start, p.stop) for p in parts] == [(0, 2), (2, 5), (5, 7), (7, 10)]
    assert _threads.chunks(10, 10, threads=4) == [slice(0, 10)]  # 100 bytes: one part
    assert _threads.chunks(3, 1000, threads=8) == [slice(0, 1), slice(1, 2), slice(2, 3)]


def test_run_keeps_block_order_and_holds_blas_to_one_thread():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    controller = threadpoolctl.ThreadpoolController().select(user_api="blas")
    before = [lib.num_threads for lib in controller.lib_controllers]

    def task(block):
        inside = threadpoolctl.ThreadpoolController().select(user_api="blas")
        return block, [lib.num_threads for lib in inside.lib_controllers]

    results = _threads.run(task, list(range(7)), threads=3)
    assert [block for block, _ in results] == list(range(7))
    assert all(counts == [1] * len(before) for _, counts in results)
    after = threadpoolctl.ThreadpoolController().select(user_api="blas")
    assert [lib.num_threads for lib in after.lib_controllers] == before  # restored


def test_results_in_order_runs_a_few_blocks_ahead_not_all():
    pytest.importorskip("threadpoolctl")
    consumed, lead = [0], []

    def task(block):
        lead.append(block - consumed[0])  # how far ahead of the caller this block starts
        return block

    got = []
    for result in _threads.results_in_order(task, list(range(40)), threads=2):
        got.append(result)
        consumed[0] += 1
    assert got == list(range(40))
    assert max(lead) <= 4  # 2 * threads ahead at most: conv2d's dw blocks are not all held


def test_run_does_not_hold_its_threads_in_lockstep():
    """run's threads meet once, at the end: the helper works through its blocks while the
    caller is still in its first one (results_in_order would stop it 1-2 blocks ahead)."""
    pytest.importorskip("threadpoolctl")
    helper_far_ahead = threading.Event()
    seen = []

    def task(block):
        if block == 0:  # the caller's first block waits for the helper's fourth
            seen.append(helper_far_ahead.wait(timeout=2.0))
        if block == 7:
            helper_far_ahead.set()
        return block

    assert _threads.run(task, list(range(10)), threads=2) == list(range(10))
    assert seen == [True]


def test_an_error_in_a_helper_block_of_run_reaches_the_caller():
    pytest.importorskip("threadpoolctl")

    def task(block):
        if block == 3:  # a helper's block (3 % 2 = 1)
            raise ZeroDivisionError(f"block {block}")
        return block

    with pytest.raises(ZeroDivisionError, match="block 3"):
        _threads.run(task, list(range(8)), threads=2)
    assert _threads.run(lambda block: block + 1, [0, 1, 2], threads=2) == [1, 2, 3]


def test_an_error_in_any_block_reaches_the_caller_and_the_pool_lives_on():
    pytest.importorskip("threadpoolctl")

    def task(block):
        if block == 5:  # worker 5 % 3 = 2: a helper thread, not the caller
            raise ZeroDivisionError(f"block {block}")
        return block

    got = []
    with pytest.raises(ZeroDivisionError, match="block 5"):
        for result in _threads.results_in_order(task, list(range(12)), threads=3):
            got.append(result)
    assert got == [0, 1, 2, 3, 4]  # every block before it, in order
    assert _threads.run(lambda block: block * 2, list(range(9)), threads=3) == list(range(0, 18, 2))


def test_a_caller_that_stops_reading_leaves_no_helper_behind():
    pytest.importorskip("threadpoolctl")
    started = []

    def task(block):
        started.append(block)
        return block

    results = _threads.results_in_order(task, list(range(100)), threads=2)
    assert [next(results) for _ in range(3)] == [0, 1, 2]
    results.close()  # the caller leaves: the helper must stop, not block on its queue
    assert max(started) <= 6  # it never ran on to the end (close() waited for it to stop)
    assert _threads.run(lambda block: -block, [1, 2, 3, 4], threads=2) == [-1, -2, -3, -4]


def test_default_is_one_thread_per_usable_core(monkeypatch):
    monkeypatch.delenv("MINIMAL_UNET_THREADS", raising=False)
    monkeypatch.setattr(_threads.os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)
    assert _threads.workers() == 3  # the cores this process may use, not the machine's
    monkeypatch.delattr(_threads.os, "sched_getaffinity")
    monkeypatch.setattr(_threads.os, "cpu_count", lambda: 6)
    assert _threads.workers() == 6
    monkeypatch.setenv("MINIMAL_UNET_THREADS", "1")
    assert _threads.workers() == 1


def test_parts_depend_on_the_shape_alone(monkeypatch):
    # the cut of a product between threads: about _PART_BYTES each, an even count when
    # more than one, whatever MINIMAL_UNET_THREADS says
    cuts = []
    for threads in ("1", "2", "7"):
        monkeypatch.setenv("MINIMAL_UNET_THREADS", threads)
        cuts.append(_threads.parts(256, 4 * 28 * 28 * 4))  # dec3 at base 32: 3.2 MB
    assert cuts[0] == cuts[1] == cuts[2] and len(cuts[0]) == 2
    assert sum(p.stop - p.start for p in cuts[0]) == 256
    assert _threads.parts(10, 1) == [slice(0, 10)]  # small: one part
    assert len(_threads.parts(3, 2 << 20)) == 3  # never more parts than rows (odd kept)


def test_big_layers_get_small_blocks_by_shape_alone(monkeypatch):
    monkeypatch.setenv("MINIMAL_UNET_THREADS", "2")
    # a layer whose whole im2col reaches _THREAD_BYTES is cut for the threads, whatever
    # the thread count; the cut depends on the shapes only, so the bits do too
    K, oH, oW = 288, 568, 568  # 32 -> 32 at 570x570, float32: 372 MB of im2col
    cb = _conv_blocks
    small = cb.block_bytes(cb._THREAD_BYTES - 1, K)
    big = cb.block_bytes(cb._THREAD_BYTES, K)
    assert (small, big) == (cb._BLOCK_BYTES, cb._THREAD_BLOCK_BYTES)
    assert big < small
    blocks = cb.row_blocks(K, oH, oW, 4, big)
    assert len(blocks) % 2 == 0 and sum(rows for _, rows in blocks) == oH
    assert max(rows for _, rows in blocks) * K * oW * 4 <= 1.2 * cb._THREAD_BLOCK_BYTES
    # products of 128 channels of 3x3 at most get the short blocks, longer ones the long
    long_K = 2304  # 256 -> 256 at 138x138, float32: 170 MB of im2col
    assert cb.block_bytes(cb._THREAD_BYTES, 1152) == cb._THREAD_BLOCK_BYTES
    assert cb.block_bytes(cb._THREAD_BYTES, long_K) == cb._LONG_THREAD_BLOCK_BYTES
    assert cb._THREAD_BLOCK_BYTES < cb._LONG_THREAD_BLOCK_BYTES <= cb._BLOCK_BYTES
    blocks = cb.row_blocks(long_K, 136, 136, 4, cb._LONG_THREAD_BLOCK_BYTES)
    assert len(blocks) % 2 == 0 and sum(rows for _, rows in blocks) == 136
    assert (max(rows for _, rows in blocks) * long_K * 136 * 4
            <= 1.2 * cb._LONG_THREAD_BLOCK_BYTES)
    # in a network with such a layer, every layer is cut the same way, for our threads
    with _threads.every_product_on_our_threads():
        assert cb.block_bytes(1, K) == big
        assert cb.block_bytes(1, long_K) == cb._LONG_THREAD_BLOCK_BYTES
        assert cb.block_threads(1) == cb._WORKERS


def _blas_threads_seen(monkeypatch, work):
    """[BLAS threads at each np.matmul call] while `work()` runs (BLAS set to two first)."""
    seen = []
    real_matmul = np.matmul

    def spy(*args, **kwargs):
        seen.append(_threads._blas_controller().info()[0]["num_threads"])
        return real_matmul(*args, **kwargs)

    assert conv2d.np is upconv2d.np is np  # the one np.matmul both call
    monkeypatch.setattr(np, "matmul", spy)
    with _threads._blas_controller().limit(limits=2):  # BLAS would use two threads
        work()
    monkeypatch.setattr(np, "matmul", real_matmul)
    return seen


@pytest.mark.parametrize("trick", list(TRICKS))
def test_every_product_on_our_threads_never_wakes_blas_threads(monkeypatch, trick):
    # inside every_product_on_our_threads each product runs with BLAS held to one thread:
    # a woken OpenBLAS thread spins ~0.1 s on a core ours need (_threads docstring); with
    # trick 9, its filter transform too (a BLAS product there had made layers 2x slower)
    if _threads._blas_controller() is None:
        pytest.skip("threadpoolctl finds no BLAS to hold")
    TRICKS[trick](monkeypatch)
    monkeypatch.setenv("MINIMAL_UNET_THREADS", "2")
    monkeypatch.setattr(_conv_blocks, "_WORKERS", None)

    def inside():
        with _threads.every_product_on_our_threads():
            every_op(np.random.default_rng(0), np.float32)  # tiny: one block per layer

    assert set(_blas_threads_seen(monkeypatch, inside)) == {1}
    assert not _threads.every_product()  # restored on the way out
    # outside it, the small layers' products stay one call on BLAS's own threads
    assert 2 in _blas_threads_seen(
        monkeypatch, lambda: every_op(np.random.default_rng(0), np.float32))
    monkeypatch.setenv("MINIMAL_UNET_THREADS", "1")  # BLAS gets its threads back, always
    assert set(_blas_threads_seen(monkeypatch, inside)) == {2}


def _matmul_operators(function):
    """Lines of `function` that use the @ operator (decorators aside)."""
    import inspect
    import io
    import tokenize

    tokens = list(tokenize.generate_tokens(io.StringIO(
        textwrap.dedent(inspect.getsource(function))).readline))
    starts = (tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT)
    return [token.line.strip() for i, token in enumerate(tokens)
            if token.type == tokenize.OP and token.string in ("@", "@=")
            and i > 0 and tokens[i - 1].type not in starts]


def test_fast_paths_multiply_through_np_matmul_only():
    # The test above spies on np.matmul; a product written `a @ b` would slip past it, as
    # trick 9's first filter transform did (it woke BLAS's threads, and the layer ran at
    # one thread's speed on two). So the fast paths use no @: every product is np.matmul.
    fast_paths = [conv2d._correlate, _winograd.correlate, conv2d.conv2d_forward,
                  conv2d.conv2d_backward, conv2d._dx_part, conv2d._dw_whole,
                  _winograd.weight_gradient, _conv_rows.correlate, _conv_rows.weight_gradient,
                  _conv_rows.horizontal_cols, _col2im.dx, _winograd.transformed_filters,
                  _winograd.input_tiles, _winograd.correlate_rows,
                  _winograd.filter_gradient_rows, _winograd.filter_gradients,
                  upconv2d.upconv2d_forward, upconv2d.upconv2d_backward]
    for function in fast_paths:
        assert _matmul_operators(function) == [], function.__qualname__
    # ... and the check finds one where there is one (the reading aid and a naive twin)
    assert _matmul_operators(_winograd.tile_correlation)
    assert _matmul_operators(upconv2d.upconv2d_backward_naive)


def test_unet_with_a_large_layer_sends_every_product_to_our_threads(monkeypatch):
    from minimal_unet.model import UNet, UNetConfig

    if _threads._blas_controller() is None:
        pytest.skip("threadpoolctl finds no BLAS to hold")
    monkeypatch.setenv("MINIMAL_UNET_THREADS", "2")
    net = UNet(UNetConfig(depth=2, base_channels=4), seed=0)
    x = np.random.default_rng(0).standard_normal((1, 1, 44, 44)).astype(np.float32)

    def step():
        logits = net.forward(x)
        net.backward(np.ones_like(logits))

    # 44 px, base 4: the largest im2col (enc0.conv2, 4 * 9 * 40 * 40 floats) is 230 kB
    assert 2 in _blas_threads_seen(monkeypatch, step)  # no large layer: BLAS's threads
    assert not _threads.every_product()
    monkeypatch.setattr(_conv_blocks, "_THREAD_BYTES", 200_000)  # now enc0.conv2 is "large"
    assert set(_blas_threads_seen(monkeypatch, step)) == {1}  # every product on ours
    assert _threads.every_product()  # set by the forward pass, until the next one
    monkeypatch.setattr(_conv_blocks, "_THREAD_BYTES", 300_000)  # no large layer again
    net.forward(x)
    assert not _threads.every_product()


@pytest.mark.parametrize("setting", ["0", "-2", "two"])
def test_bad_thread_setting_is_a_clear_error(monkeypatch, setting):
    monkeypatch.setenv("MINIMAL_UNET_THREADS", setting)
    with pytest.raises(ValueError, match=f"MINIMAL_UNET_THREADS: expected a whole number "
                                         f">= 1, got '{setting}'"):
        _threads.workers()
