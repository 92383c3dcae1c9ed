"""ops/_threads.py: the fast paths give the same bits on 1 or many threads, BLAS held to one."""

import numpy as np
import pytest

from minimal_unet.backends import numpy_backend
from minimal_unet.ops import _threads, conv2d
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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_many_threads_give_the_bits_of_one(monkeypatch, dtype):
    monkeypatch.setattr(_threads, "_MIN_BYTES", 16)  # cut even these tiny arrays into parts
    monkeypatch.setattr(conv2d, "_THREAD_BLOCK_BYTES", 256)  # and the convolutions into many
    monkeypatch.setattr(conv2d, "_SPLIT_BYTES", 0)
    monkeypatch.setattr(conv2d, "_THREAD_BYTES", 0)  # blocks, on our threads
    monkeypatch.setattr(conv2d, "_WORKERS", None)  # conv2d follows MINIMAL_UNET_THREADS
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


def test_default_is_one_thread_per_usable_core(monkeypatch):
    monkeypatch.delenv("MINIMAL_UNET_THREADS", raising=False)
    monkeypatch.setattr(_threads.os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)
    assert _threads.workers() == 3  # the cores this process may use, not the machine's
    monkeypatch.delattr(_threads.os, "sched_getaffinity")
    monkeypatch.setattr(_threads.os, "cpu_count", lambda: 6)
    assert _threads.workers() == 6
    monkeypatch.setenv("MINIMAL_UNET_THREADS", "1")
    assert _threads.workers() == 1


def test_big_layers_get_small_blocks_by_shape_alone():
    # a layer whose whole im2col reaches _THREAD_BYTES is cut for the threads, whatever
    # the thread count; the cut depends on the shapes only, so the bits do too
    small = conv2d._block_bytes(conv2d._THREAD_BYTES - 1)
    big = conv2d._block_bytes(conv2d._THREAD_BYTES)
    assert (small, big) == (conv2d._BLOCK_BYTES, conv2d._THREAD_BLOCK_BYTES)
    assert big < small
    K, oH, oW = 288, 568, 568  # 32 -> 32 at 570x570, float32: 372 MB of im2col
    blocks = conv2d._row_blocks(K, oH, oW, 4, big)
    assert len(blocks) % 2 == 0 and sum(rows for _, rows in blocks) == oH
    assert max(rows for _, rows in blocks) * K * oW * 4 <= 1.2 * conv2d._THREAD_BLOCK_BYTES


@pytest.mark.parametrize("setting", ["0", "-2", "two"])
def test_bad_thread_setting_is_a_clear_error(monkeypatch, setting):
    monkeypatch.setenv("MINIMAL_UNET_THREADS", setting)
    with pytest.raises(ValueError, match=f"MINIMAL_UNET_THREADS: expected a whole number "
                                         f">= 1, got '{setting}'"):
        _threads.workers()
