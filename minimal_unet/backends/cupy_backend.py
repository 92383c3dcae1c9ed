"""The CuPy backend: our CUDA C kernels (kernels/cuda/*.cu) launched on CuPy device arrays.

Shape legend (as in every op module):
    N  batch size   C  channels   H, W  height, width   F  filters   kH, kW  kernel size
    oH, oW  output height, width  K = C*kH*kW (im2col rows)          S = oH*oW (columns)

Every function has the name, signature and maths of its NumPy twin in `minimal_unet.ops`
(see there for the formulas); the arrays are `cupy.ndarray`s and the caches hold device
arrays. Each launcher is thin: it checks dtypes (float32/float64), C-contiguity and shapes,
allocates the output, casts every scalar to a fixed-width NumPy type (np.int32, the array's
float type, np.uint64) and launches. The matrix products of convolution and
up-convolution go to cuBLAS through `cp.matmul`; everything else is one of our kernels.

Each .cu file is compiled once per dtype: `kernel_source(name, dtype)` puts
`#define real_t float` (or double) in front of the file, as CuPy's examples/gemm does.

    ops = minimal_unet.backends.get_backend("cupy")   # raises if there is no GPU

Not the same draws as NumPy: `dropout_forward` takes a 64-bit seed from the caller's
Generator and builds the mask with a counter-based hash (kernels/cuda/dropout.cu), whose
exact NumPy twin is `dropout_keep_mask` below.
"""

import functools

import numpy as np

from minimal_unet.backends import BackendUnavailableError
from minimal_unet.backends.contract import first_bad_target, message
from minimal_unet.backends.sources import cuda_source_path

try:
    import cupy as cp
except ImportError:  # checked in ensure_available(); the module stays importable
    cp = None

name = "cupy"
THREADS = 256  # threads per block of every 1-D launch (and of the two block reductions)
NVRTC_OPTIONS = ("--std=c++14",)
C_TYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
_INT32_MAX = 2**31 - 1
# A 1-D launch computes `int idx = blockIdx.x * blockDim.x + threadIdx.x`: every thread's
# index, including those of the last block past `total`, must fit an int.
MAX_1D_ELEMENTS = 2**31 - THREADS
MAX_GRID_YZ = 65535


# ---------------------------------------------------------------- availability, loading
INSTALL = ("pip install 'minimal-unet[gpu]' (a CUDA 13 driver, compute capability >= 7.5) or "
           "'minimal-unet[cuda12]' (a CUDA 12 driver)")


def _one_line(error):
    return " ".join(str(error).split()) or type(error).__name__


def ensure_available():
    """Raise BackendUnavailableError (one line: what is missing, which extra installs it)
    unless this machine really runs the backend: a CUDA device and a driver new enough for
    this CuPy, a compute capability its CUDA supports, cuBLAS loading, and one of our
    kernels compiling (NVRTC) and giving the right answer. Proven once per process."""
    if cp is None:
        raise BackendUnavailableError(f"cupy backend: the cupy package is not installed: {INSTALL}")
    _prove()


@functools.cache
def _prove():
    try:
        count = cp.cuda.runtime.getDeviceCount()
    except Exception as error:  # CUDARuntimeError: no driver, too old a driver, ...
        raise BackendUnavailableError(
            f"cupy backend: needs a CUDA GPU and its driver: {_one_line(error)}") from None
    if count == 0:
        raise BackendUnavailableError("cupy backend: needs a CUDA GPU: none was found")
    runtime, driver = cp.cuda.runtime.runtimeGetVersion(), cp.cuda.runtime.driverGetVersion()
    if driver < runtime // 1000 * 1000:  # minor-version compatibility within a major
        raise BackendUnavailableError(
            f"cupy backend: the driver supports CUDA {driver // 1000}.{driver % 1000 // 10} but "
            f"this cupy is built for CUDA {runtime // 1000}: update the driver, or {INSTALL}")
    cc = int(cp.cuda.Device(0).compute_capability)  # e.g. 90 for 9.0
    if runtime >= 13000 and cc < 75:
        raise BackendUnavailableError(
            f"cupy backend: CUDA 13 needs compute capability >= 7.5, this GPU has "
            f"{cc // 10}.{cc % 10}: pip install 'minimal-unet[cuda12]'")
    try:
        a = cp.ones((2, 2), dtype=cp.float32)
        if float((a @ a)[0, 0]) != 2.0:  # cuBLAS
            raise RuntimeError("a 2x2 product came out wrong")
    except Exception as error:
        raise BackendUnavailableError(
            f"cupy backend: cuBLAS does not work ({_one_line(error)}): the CUDA libraries come "
            f"with {INSTALL}") from None
    try:
        x = cp.asarray(np.array([-1.0, 2.0, np.nan], dtype=np.float32))
        y, _ = relu_forward(x)
        got = _to_host(y)
        if got[0] != 0 or got[1] != 2 or not np.isnan(got[2]):
            raise RuntimeError(f"relu_forward gave {got}")
    except Exception as error:
        raise BackendUnavailableError(
            f"cupy backend: our kernels do not compile or run ({_one_line(error)}): NVRTC "
            f"comes with {INSTALL}") from None


def kernel_source(file, dtype):
    """Source of kernels/cuda/<file>.cu compiled for `dtype` (real_t #defined in front).

    The `#line` directive keeps the compiler's line numbers those of the .cu file.
    """
    dtype = np.dtype(dtype)
    if dtype not in C_TYPES:
        raise TypeError(f"kernel dtype: expected float32 or float64, got {dtype}")
    path = cuda_source_path(file)
    return f'#define real_t {C_TYPES[dtype]}\n#line 1 "{path}"\n' + path.read_text()


@functools.cache
def _module(file, dtype_name):
    return cp.RawModule(code=kernel_source(file, dtype_name), options=NVRTC_OPTIONS)


def _get_kernel(file, kernel, dtype):
    """The compiled kernel `kernel` of kernels/cuda/<file>.cu for `dtype` (cached)."""
    return _module(file, np.dtype(dtype).name).get_function(kernel)


def _launch_1d(file, kernel, dtype, total, args):
    """Launch with one thread per element of a flat range of `total` elements."""
    if total > MAX_1D_ELEMENTS:
        raise ValueError(f"{kernel}: expected at most 2**31 - {THREADS} elements, got {total}")
    if total == 0:  # a zero-size grid is an invalid launch on a GPU
        return
    blocks = (total + THREADS - 1) // THREADS
    _get_kernel(file, kernel, dtype)((blocks,), (THREADS,), args)


# ---------------------------------------------------------------- checks and scalars
def _check(name, a, ndim=None, layout=None):
    """Raise unless `a` is a C-contiguous float32/float64 device array of rank `ndim`."""
    if not isinstance(a, cp.ndarray):
        raise TypeError(f"{name}: expected a cupy.ndarray, got {type(a).__name__}")
    if a.dtype not in C_TYPES:
        raise TypeError(message("dtype", name=name, dtype=a.dtype))
    if ndim is not None and a.ndim != ndim:
        raise ValueError(message("rank", name=name, layout=layout, shape=a.shape, ndim=a.ndim))
    if not a.flags.c_contiguous:
        raise ValueError(message("contiguous", name=name, shape=a.shape, strides=a.strides))


def _check_like(name, a, ref, ref_name):
    _check(name, a)
    if a.dtype != ref.dtype:
        raise TypeError(f"{name}: expected dtype {ref.dtype} like {ref_name}, got {a.dtype}")
    if a.shape != ref.shape:
        raise ValueError(f"{name}: expected shape {ref.shape} like {ref_name}, got {a.shape}")


def _i32(*values):
    return tuple(np.int32(v) for v in values)


def _real(value, dtype):
    """A Python number as a fixed-width float of the arrays' dtype (float -> float32/64)."""
    return np.dtype(dtype).type(value)


# ---------------------------------------------------------------- conv2d (im2col + cuBLAS)
def _check_conv(x, w, b, pad):
    _check("x", x, 4, "(N, C, H, W)")
    _check("w", w, 4, "(F, C, kH, kW)")
    _check("b", b, 1, "(F,)")
    if not (w.dtype == x.dtype == b.dtype):
        raise TypeError(f"expected x, w, b of one dtype, got {x.dtype}, {w.dtype}, {b.dtype}")
    if isinstance(pad, bool) or not isinstance(pad, (int, np.integer)) or pad < 0:
        raise ValueError(f"pad: expected an integer >= 0, got {pad!r}")
    N, C, H, W = x.shape
    F, Cw, kH, kW = w.shape
    if Cw != C or b.shape != (F,):
        raise ValueError(f"expected w (F, {C}, kH, kW) and b (F,), got {w.shape} and {b.shape}")
    oH, oW = H + 2 * pad - kH + 1, W + 2 * pad - kW + 1
    if oH < 1 or oW < 1:
        raise ValueError(f"kernel {kH}x{kW} larger than padded input {H + 2 * pad}x{W + 2 * pad}")
    return N, C, H, W, F, kH, kW, oH, oW


def _im2col(x, kH, kW, pad):
    N, C, H, W = x.shape
    oH, oW = H + 2 * pad - kH + 1, W + 2 * pad - kW + 1
    cols = cp.empty((N, C * kH * kW, oH * oW), dtype=x.dtype)  # (N, K, S)
    args = (x, cols, *_i32(N, C, H, W, kH, kW, pad))
    _launch_1d("im2col", "im2col", x.dtype, cols.size, args)
    return cols


def conv2d_forward(x, w, b, pad=0):
    """y = w * x + b (valid cross-correlation, stride 1): im2col kernel, then cuBLAS.

    x (N, C, H, W), w (F, C, kH, kW), b (F,) -> y (N, F, oH, oW); cache (x, w, b, pad).
    """
    N, C, H, W, F, kH, kW, oH, oW = _check_conv(x, w, b, pad)
    cols = _im2col(x, kH, kW, pad)  # (N, K, S)
    w_rows = w.reshape(F, C * kH * kW)  # (F, K)
    y = cp.matmul(w_rows, cols)  # (F, K) @ (N, K, S) -> (N, F, S)
    y += b.reshape(1, F, 1)
    return y.reshape(N, F, oH, oW), (x, w, b, pad)  # (N, F, oH, oW)


def conv2d_forward_direct(x, w, b, pad=0):
    """The same convolution with the shared-memory tiled kernel (conv2d_direct.cu).

    For comparison with conv2d_forward; needs kH, kW <= 5. Same outputs and cache.
    """
    N, C, H, W, F, kH, kW, oH, oW = _check_conv(x, w, b, pad)
    if kH > 5 or kW > 5:
        raise ValueError(f"conv2d_forward_direct: expected kH, kW <= 5, got {kH}x{kW}")
    if N * F > MAX_GRID_YZ:
        raise ValueError(f"conv2d_forward_direct: expected N*F <= {MAX_GRID_YZ} (grid.z), "
                         f"got {N}*{F} = {N * F}")
    y = cp.empty((N, F, oH, oW), dtype=x.dtype)
    if y.size == 0:  # a zero-size grid is an invalid launch on a GPU
        return y, (x, w, b, pad)
    tile = 16
    grid = ((oW + tile - 1) // tile, (oH + tile - 1) // tile, N * F)
    args = (x, w, b, y, *_i32(N, C, H, W, F, kH, kW, pad))
    _get_kernel("conv2d_direct", "conv2d_direct_forward", x.dtype)(grid, (tile, tile), args)
    return y, (x, w, b, pad)


def _bias_grad(dy):
    """db[f] = sum_{n,h,w} dy[n,f,h,w], a deterministic block reduction per channel."""
    N, F, H, W = dy.shape
    db = cp.empty((F,), dtype=dy.dtype)
    if F == 0:  # a zero-size grid is an invalid launch on a GPU
        return db
    _get_kernel("bias_grad", "bias_grad", dy.dtype)((F,), (THREADS,), (dy, db, *_i32(N, F, H * W)))
    return db


def conv2d_backward(dy, cache, need_dx=True):
    """dx, dw, db of conv2d_forward; im2col is recomputed from the cached x.

    dw = sum_n dy[n] @ cols[n]^T;  dcols = w^T @ dy[n], scattered back by col2im (a gather).
    dx is None when need_dx is False (the first layer's input is the image).
    """
    x, w, b, pad = cache
    N, C, H, W = x.shape
    F, _, kH, kW = w.shape
    oH, oW = H + 2 * pad - kH + 1, W + 2 * pad - kW + 1
    _check("dy", dy, 4, "(N, F, oH, oW)")
    if dy.shape != (N, F, oH, oW) or dy.dtype != x.dtype:
        raise ValueError(f"dy: expected {(N, F, oH, oW)} {x.dtype}, got {dy.shape} {dy.dtype}")
    dy_rows = dy.reshape(N, F, oH * oW)  # (N, F, S)
    cols = _im2col(x, kH, kW, pad)  # (N, K, S)
    dw = cp.matmul(dy_rows, cols.transpose(0, 2, 1)).sum(axis=0)  # (N, F, K) -> (F, K)
    if not need_dx:
        return None, dw.reshape(w.shape), _bias_grad(dy)
    dcols = cp.matmul(w.reshape(F, C * kH * kW).T, dy_rows)  # (K, F) @ (N, F, S) -> (N, K, S)
    dx = cp.empty_like(x)  # (N, C, H, W)
    _launch_1d("im2col", "col2im", x.dtype, dx.size, (dcols, dx, *_i32(N, C, H, W, kH, kW, pad)))
    return dx, dw.reshape(w.shape), _bias_grad(dy)  # dw (F, C, kH, kW), db (F,)


# ---------------------------------------------------------------- relu, maxpool
def relu_forward(x):
    """y = max(x, 0) (NaN stays NaN); cache = (y,)."""
    _check("x", x)
    y = cp.empty_like(x)
    _launch_1d("relu", "relu_forward", x.dtype, x.size, (x, y, *_i32(x.size)))
    return y, (y,)


def relu_backward(dy, cache):
    """dx = dy * (y > 0)."""
    (y,) = cache
    _check_like("dy", dy, y, "the forward output")
    dx = cp.empty_like(dy)
    _launch_1d("relu", "relu_backward", dy.dtype, dy.size, (dy, y, dx, *_i32(dy.size)))
    return dx


def maxpool2d_forward(x):
    """2x2 stride-2 max-pool: x (N, C, H, W) -> y (N, C, H/2, W/2); cache (argmax uint8, shape)."""
    _check("x", x, 4, "(N, C, H, W)")
    N, C, H, W = x.shape
    if H % 2 or W % 2:
        raise ValueError(message("odd_pool", H=H, W=W, shape=tuple(x.shape)))
    y = cp.empty((N, C, H // 2, W // 2), dtype=x.dtype)
    argmax = cp.empty((N, C, H // 2, W // 2), dtype=np.uint8)  # window position 0..3
    args = (x, y, argmax, *_i32(N * C, H, W))
    _launch_1d("maxpool2d", "maxpool2d_forward", x.dtype, y.size, args)
    return y, (argmax, tuple(x.shape))


def maxpool2d_backward(dy, cache):
    """dx[n,c,h,w] = dy[n,c,h/2,w/2] where (h, w) was its window's arg-max, else 0."""
    argmax, x_shape = cache
    _check("dy", dy, 4, "(N, C, H/2, W/2)")
    if dy.shape != argmax.shape:
        raise ValueError(f"dy: expected shape {argmax.shape}, got {dy.shape}")
    N, C, H, W = x_shape
    dx = cp.empty(x_shape, dtype=dy.dtype)
    args = (dy, argmax, dx, *_i32(N * C, H, W))
    _launch_1d("maxpool2d", "maxpool2d_backward", dy.dtype, dx.size, args)
    return dx


# ---------------------------------------------------------------- up-convolution
def upconv2d_forward(x, w, b):
    """2x2 stride-2 transposed conv: y[n,o,2i+a,2j+c] = b[o] + sum_ci x[n,ci,i,j] w[ci,o,a,c].

    x (N, Ci, H, W), w (Ci, Co, 2, 2), b (Co,) -> y (N, Co, 2H, 2W); cache (x, w, b).
    cuBLAS computes every product, upconv_scatter puts them in place and adds b.
    """
    _check("x", x, 4, "(N, Ci, H, W)")
    _check("w", w, 4, "(Ci, Co, 2, 2)")
    _check("b", b, 1, "(Co,)")
    N, Ci, H, W = x.shape
    Co = w.shape[1]
    if w.shape != (Ci, Co, 2, 2) or b.shape != (Co,):
        raise ValueError(f"expected w ({Ci}, Co, 2, 2) and b (Co,), got {w.shape}, {b.shape}")
    if not (w.dtype == x.dtype == b.dtype):
        raise TypeError(f"expected x, w, b of one dtype, got {x.dtype}, {w.dtype}, {b.dtype}")
    x_rows = x.reshape(N, Ci, H * W)  # (N, Ci, H*W)
    cols = cp.matmul(w.reshape(Ci, Co * 4).T, x_rows)  # (Co*4, Ci) @ (N, Ci, HW) -> (N, Co*4, HW)
    y = cp.empty((N, Co, 2 * H, 2 * W), dtype=x.dtype)
    _launch_1d("upconv2d", "upconv_scatter", x.dtype, y.size, (cols, b, y, *_i32(N, Co, H, W)))
    return y, (x, w, b)


def upconv2d_backward(dy, cache):
    """dx, dw, db of upconv2d_forward.

    dcols = space-to-depth(dy) (upconv_gather); dx[n] = w @ dcols[n];
    dw = sum_n x[n] @ dcols[n]^T; db = sum_{n,h,w} dy.
    """
    x, w, b = cache
    N, Ci, H, W = x.shape
    Co = w.shape[1]
    _check("dy", dy, 4, "(N, Co, 2H, 2W)")
    if dy.shape != (N, Co, 2 * H, 2 * W) or dy.dtype != x.dtype:
        expected = (N, Co, 2 * H, 2 * W)
        raise ValueError(f"dy: expected {expected} {x.dtype}, got {dy.shape} {dy.dtype}")
    dcols = cp.empty((N, Co * 4, H * W), dtype=dy.dtype)  # (N, Co*4, HW)
    _launch_1d("upconv2d", "upconv_gather", dy.dtype, dy.size, (dy, dcols, *_i32(N, Co, H, W)))
    w_rows = w.reshape(Ci, Co * 4)  # (Ci, Co*4)
    dx = cp.matmul(w_rows, dcols)  # (Ci, Co*4) @ (N, Co*4, HW) -> (N, Ci, HW)
    x_rows = x.reshape(N, Ci, H * W)  # (N, Ci, HW)
    dw = cp.matmul(x_rows, dcols.transpose(0, 2, 1)).sum(axis=0)  # (N, Ci, Co*4) -> (Ci, Co*4)
    return dx.reshape(x.shape), dw.reshape(w.shape), _bias_grad(dy)


# ---------------------------------------------------------------- crop and concatenate
def crop_and_concat_forward(skip, up):
    """y = concat([centre crop of skip to up's H, W, up], axis=1); cache (skip.shape, top, left)."""
    _check("skip", skip, 4, "(N, Cs, Hs, Ws)")
    _check("up", up, 4, "(N, Cu, Hu, Wu)")
    N, Cs, Hs, Ws = skip.shape
    Nu, Cu, Hu, Wu = up.shape
    if skip.dtype != up.dtype:
        raise TypeError(f"expected skip and up of one dtype, got {skip.dtype} and {up.dtype}")
    if Nu != N or Hs < Hu or Ws < Wu or (Hs - Hu) % 2 or (Ws - Wu) % 2:
        raise ValueError(
            f"expected skip (N, Cs, Hs, Ws) at least as large as up (N, Cu, Hu, Wu) with an "
            f"even size difference, got skip {skip.shape} and up {up.shape}"
        )
    y = cp.empty((N, Cs + Cu, Hu, Wu), dtype=up.dtype)
    args = (skip, up, y, *_i32(N, Cs, Hs, Ws, Cu, Hu, Wu))
    _launch_1d("crop_concat", "crop_concat_forward", up.dtype, y.size, args)
    return y, (tuple(skip.shape), (Hs - Hu) // 2, (Ws - Wu) // 2)


def crop_and_concat_backward(dy, cache):
    """dskip (skip's full shape, 0 outside the crop) and dup = dy[:, Cs:]."""
    (N, Cs, Hs, Ws), top, left = cache
    Hu, Wu = Hs - 2 * top, Ws - 2 * left
    _check("dy", dy, 4, "(N, Cs+Cu, Hu, Wu)")
    Cu = dy.shape[1] - Cs
    if dy.shape[0] != N or Cu < 1 or dy.shape[2:] != (Hu, Wu):
        raise ValueError(f"dy: expected shape (N, Cs + Cu, Hu, Wu) = ({N}, {Cs} + Cu with "
                         f"Cu >= 1, {Hu}, {Wu}), got {dy.shape}")
    dskip = cp.empty((N, Cs, Hs, Ws), dtype=dy.dtype)
    dup = cp.empty((N, Cu, Hu, Wu), dtype=dy.dtype)
    args = (dy, dskip, *_i32(N, Cs, Hs, Ws, Cu, Hu, Wu))
    _launch_1d("crop_concat", "crop_concat_backward_skip", dy.dtype, dskip.size, args)
    args = (dy, dup, *_i32(N, Cs, Cu, Hu, Wu))
    _launch_1d("crop_concat", "crop_concat_backward_up", dy.dtype, dup.size, args)
    return dskip, dup


# ---------------------------------------------------------------- dropout (hash RNG)
def dropout_keep_mask(seed, shape, p):
    """The exact NumPy twin of dropout.cu's mask: True where the element is kept.

    u[i] = top 24 bits of splitmix64(seed + (i+1) * 0x9E3779B97F4A7C15) * 2^-24, keep = u >= p,
    i the C-order flat index. uint64 arithmetic wraps around, as in C.
    """
    golden = np.uint64(0x9E3779B97F4A7C15)
    i = np.arange(1, int(np.prod(shape)) + 1, dtype=np.uint64)  # (size,)
    z = np.uint64(seed) + i * golden
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(40)).astype(np.float64) * 2.0**-24  # (size,) in [0, 1)
    return (u >= p).reshape(shape)


def dropout_forward(x, p, rng, train=True):
    """Inverted dropout; the mask comes from a 64-bit seed drawn from `rng` (see module doc).

    Returns y (x's shape) and cache = (keep, scale): keep bool of x's shape, scale =
    1 / (1 - p); (None, 1.0) for the identity (train False or p == 0), as the NumPy op.
    """
    _check("x", x)
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0 <= p < 1:
        raise ValueError(message("dropout_p", p=p))
    if not train or p == 0:
        return x.copy(), (None, 1.0)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    seed = rng.integers(0, 2**64, dtype=np.uint64)  # host scalar, no transfer
    scale = 1.0 / (1.0 - p)
    y = cp.empty_like(x)
    keep = cp.empty(x.shape, dtype=np.bool_)
    args = (x, y, keep, np.uint64(seed), np.float64(p), _real(scale, x.dtype), *_i32(x.size))
    _launch_1d("dropout", "dropout_forward", x.dtype, x.size, args)
    return y, (keep, scale)


def dropout_backward(dy, cache):
    """dx = (dy * keep) * scale (a copy of dy for the identity)."""
    keep, scale = cache
    _check("dy", dy)
    if keep is None:  # the forward pass was the identity
        return dy.copy()
    if dy.shape != keep.shape:
        raise ValueError(f"dy: expected shape {keep.shape}, got {dy.shape}")
    dx = cp.empty_like(dy)
    args = (dy, keep, dx, _real(scale, dy.dtype), *_i32(dy.size))
    _launch_1d("dropout", "dropout_backward", dy.dtype, dy.size, args)
    return dx


# ---------------------------------------------------------------- loss
def softmax_cross_entropy(logits, target, weight=None):
    """Mean over N*H*W pixels of weight * -log softmax(logits)[target], and dlogits.

    logits (N, K, H, W); target (N, H, W) integers in [0, K) (out of range: NaN loss);
    weight (N, H, W) or None. Returns the loss as a host NumPy scalar of the logits' dtype
    (the contract of every backend: one number copied back) and dlogits on the device.
    """
    _check("logits", logits, 4, "(N, K, H, W)")
    N, K, H, W = logits.shape
    if not isinstance(target, cp.ndarray) or target.dtype.kind not in "iu":
        given = getattr(target, "dtype", type(target).__name__)
        raise TypeError(f"target: expected an integer cupy.ndarray, got {given}")
    if target.shape != (N, H, W):
        raise ValueError(f"target: expected shape {(N, H, W)}, got {target.shape}")
    if weight is not None:
        _check("weight", weight)
        if weight.shape != (N, H, W) or weight.dtype != logits.dtype:
            raise ValueError(
                f"weight: expected shape {(N, H, W)} and dtype {logits.dtype}, "
                f"got {weight.shape} {weight.dtype}"
            )
    target32 = cp.ascontiguousarray(target.astype(cp.int32, copy=False))  # (N, H, W)
    if target.size and bool(((target < 0) | (target >= K)).any()):  # one host sync
        value, where = first_bad_target(_to_host(target), K)
        raise ValueError(message("bad_target", K=K, value=value, where=where))
    has_weight = np.int32(weight is not None)
    weight_arg = weight if weight is not None else cp.empty((1,), dtype=logits.dtype)
    P = N * H * W
    pixel_loss = cp.empty((P,), dtype=logits.dtype)
    dlogits = cp.empty_like(logits)
    args = (logits, target32, weight_arg, has_weight, pixel_loss, dlogits, *_i32(N, K, H * W))
    _launch_1d("softmax_ce", "softmax_ce_pixels", logits.dtype, P, args)
    if P == 0:  # the mean over no pixel, as NumPy's; no zero-size launch
        return logits.dtype.type(np.nan), dlogits
    # Deterministic mean: G blocks -> G partial sums -> one block -> sum / P.
    blocks = min(1024, (P + THREADS - 1) // THREADS)
    partial = cp.empty((blocks,), dtype=logits.dtype)
    reduce = _get_kernel("softmax_ce", "sum_reduce", logits.dtype)
    reduce((blocks,), (THREADS,), (pixel_loss, partial, np.int32(P), _real(1, logits.dtype)))
    loss = cp.empty((1,), dtype=logits.dtype)
    reduce((1,), (THREADS,), (partial, loss, np.int32(blocks), _real(1 / P, logits.dtype)))
    return _to_host(loss)[0], dlogits


# ---------------------------------------------------------------- optimiser, array helpers
def sgd_momentum_update(param, grad, velocity, lr, momentum):
    """In place: velocity = momentum * velocity - lr * grad; param += velocity (one kernel)."""
    _check("param", param)
    _check_like("grad", grad, param, "param")
    _check_like("velocity", velocity, param, "param")
    args = (param, grad, velocity, _real(lr, param.dtype), _real(momentum, param.dtype))
    _launch_1d("sgd_momentum", "sgd_momentum", param.dtype, param.size, (*args, *_i32(param.size)))


def adam_update(param, grad, m, v, lr, b1, b2, eps, t):
    """In place, one Adam step (kernels/cuda/adam.cu); see minimal_unet.optim.adam_update."""
    _check("param", param)
    for arg_name, a in (("grad", grad), ("m", m), ("v", v)):
        _check_like(arg_name, a, param, "param")
    b1, b2 = float(b1), float(b2)
    scalars = (lr, b1, 1.0 - b1, b2, 1.0 - b2, 1.0 - b1**t, 1.0 - b2**t, eps)
    args = (param, grad, m, v, *(_real(value, param.dtype) for value in scalars))
    _launch_1d("adam", "adam", param.dtype, param.size, (*args, *_i32(param.size)))


def _to_host(a):
    """A device array as a host NumPy array (NumPy arrays, as in the emulator, pass)."""
    return a.get() if hasattr(a, "get") else np.asarray(a)


def asarray(a):
    """Host array -> device array (cupy.asarray)."""
    return cp.asarray(a)


def asnumpy(a):
    """Device array -> host numpy array (cupy.asnumpy); host values pass through."""
    return _to_host(a)


def zeros_like(a):
    return cp.zeros_like(a)


def add(a, b):
    return a + b
