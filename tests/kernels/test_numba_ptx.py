"""Every Numba kernel compiles to PTX for real GPUs (sm_75 and sm_90) without a GPU.

The simulator runs the kernels' Python as Python, so code Numba cannot compile for a
device (an unsupported call, a type that does not unify, a Python object) would pass
there and fail on the first GPU. numba.cuda.compile_ptx compiles the same functions with
NVVM for compute capability 7.5 (the oldest CUDA 13 supports: T4, RTX 20xx) and 9.0
(H100/H200), with the argument types the numba backend launches them with.
"""

import numpy as np
import pytest

numba = pytest.importorskip("numba", reason="numba (the gpu extra) is not installed")
if numba.config.ENABLE_CUDASIM:
    pytest.skip("the simulator is on: PTX needs the real compiler", allow_module_level=True)

from numba import cuda, types  # noqa: E402

from minimal_unet.backends.sources import kernels_root, load_numba_module  # noqa: E402

CCS = [(7, 5), (9, 0)]


def _nvvm_available():
    try:
        cuda.compile_ptx(lambda a: None, (types.float32[::1],), cc=(7, 5))
        return True
    except Exception:  # NVVM (libnvvm) not found
        return False


pytestmark = pytest.mark.skipif(not _nvvm_available(), reason="NVVM (libnvvm) is not available")


def signatures(real):
    """{(file, kernel): (dispatcher, argument types)} as numba_backend launches them."""
    R = numba.from_dtype(np.dtype(real))

    def A(ndim, dtype=R):
        return types.Array(dtype, ndim, "C")

    i64, i32 = types.int64, types.int32
    k = {name: load_numba_module(name) for name in (
        "adam", "bias", "crop_concat", "dropout", "elementwise", "im2col", "matmul",
        "maxpool2d", "relu", "sgd_momentum", "softmax_ce", "upconv2d")}
    return {
        ("adam", "adam"): (k["adam"].adam, (A(1),) * 4 + (R,) * 8),
        ("bias", "add_bias"): (k["bias"].add_bias, (A(3), A(1))),
        ("bias", "bias_grad"): (k["bias"].make_bias_grad_kernel(np.dtype(real), 256),
                                (A(3), A(1))),
        ("crop_concat", "crop_concat_forward"): (k["crop_concat"].crop_concat_forward,
                                                 (A(4), A(4), A(4), i64, i64)),
        ("crop_concat", "crop_concat_backward_skip"): (
            k["crop_concat"].crop_concat_backward_skip, (A(4), A(4), i64, i64)),
        ("crop_concat", "crop_concat_backward_up"): (k["crop_concat"].crop_concat_backward_up,
                                                     (A(4), A(4))),
        ("dropout", "dropout_forward"): (k["dropout"].dropout_forward,
                                         (A(1), A(1), A(1, types.boolean), types.uint64,
                                          types.float64, R)),
        ("dropout", "dropout_backward"): (k["dropout"].dropout_backward,
                                          (A(1), A(1, types.boolean), A(1), R)),
        ("elementwise", "add"): (k["elementwise"].add, (A(1), A(1), A(1))),
        ("elementwise", "fill"): (k["elementwise"].fill, (A(1), R)),
        ("im2col", "im2col"): (k["im2col"].im2col, (A(4), A(3), i64, i64, i64)),
        ("im2col", "col2im"): (k["im2col"].col2im, (A(3), A(4), i64, i64, i64)),
        ("matmul", "matmul_tiled"): (k["matmul"].make_matmul_kernel(np.dtype(real), 16),
                                     (A(2), A(2), A(2), i32, i32, i32)),
        ("maxpool2d", "maxpool2d_forward"): (k["maxpool2d"].maxpool2d_forward,
                                             (A(4), A(4), A(4, types.uint8))),
        ("maxpool2d", "maxpool2d_backward"): (k["maxpool2d"].maxpool2d_backward,
                                              (A(4), A(4, types.uint8), A(4))),
        ("relu", "relu_forward"): (k["relu"].relu_forward, (A(1), A(1))),
        ("relu", "relu_backward"): (k["relu"].relu_backward, (A(1), A(1), A(1))),
        ("sgd_momentum", "sgd_momentum"): (k["sgd_momentum"].sgd_momentum,
                                           (A(1), A(1), A(1), R, R)),
        ("softmax_ce", "softmax_ce_pixels"): (
            k["softmax_ce"].softmax_ce_pixels,
            (A(3), A(2, types.int64), A(2), i32, types.float64, A(2), A(3), A(1, i32))),
        ("softmax_ce", "sum_reduce"): (k["softmax_ce"].make_sum_reduce_kernel(np.dtype(real),
                                                                             256),
                                       (A(1), A(1), R)),
        ("upconv2d", "upconv_scatter"): (k["upconv2d"].upconv_scatter, (A(3), A(1), A(4))),
        ("upconv2d", "upconv_gather"): (k["upconv2d"].upconv_gather, (A(4), A(3))),
    }


KERNELS = sorted(signatures(np.float32))


def test_every_kernel_file_and_kernel_is_in_the_table():
    files = {path.stem for path in (kernels_root() / "numba").glob("*.py")}
    assert files == {file for file, _ in KERNELS}
    for file in files:  # every module-level @cuda.jit kernel is listed
        module = load_numba_module(file)
        for name, value in vars(module).items():
            if hasattr(value, "py_func") and not getattr(value, "_device", False) \
                    and getattr(value, "targetoptions", {}).get("device") is not True \
                    and not name.endswith("_device"):
                assert (file, name) in KERNELS, f"{file}.{name} is not compiled to PTX here"


@pytest.mark.parametrize("cc", CCS, ids=lambda cc: f"sm_{cc[0]}{cc[1]}")
@pytest.mark.parametrize("file, kernel", KERNELS)
def test_kernel_compiles_to_ptx(file, kernel, cc, monkeypatch):
    # A kernel calling a device function (dropout's hash) compiles that function for "the
    # current device"; without a GPU that is the target we compile for.
    from types import SimpleNamespace

    from numba.cuda import dispatcher as cuda_dispatcher

    monkeypatch.setattr(cuda_dispatcher, "get_current_device",
                        lambda: SimpleNamespace(compute_capability=cc))
    for real in (np.float32, np.float64):
        dispatcher, sig = signatures(real)[(file, kernel)]
        ptx, _ = cuda.compile_ptx(dispatcher.py_func, sig, cc=cc)
        assert f".target sm_{cc[0]}{cc[1]}" in ptx
        assert ".entry" in ptx  # a kernel, not a device function
        if real == np.float64:
            assert ".f64" in ptx  # the dtype took effect
