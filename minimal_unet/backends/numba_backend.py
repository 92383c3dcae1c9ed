"""The Numba CUDA backend: the ops of `minimal_unet.ops` as our Numba kernels, on device arrays.

    ops = get_backend("numba")
    x = ops.asarray(x_host)                       # numba device array (cuda.to_device)
    y, cache = ops.conv2d_forward(x, w, b, pad=0)
    y_host = ops.asnumpy(y)                       # copy_to_host

Every function here is a thin launcher: it checks that its arrays are C-contiguous Numba
device arrays of the expected dtypes and shapes (the same errors as the NumPy ops), casts
every scalar to a fixed-width NumPy type, allocates the outputs, and launches kernels from
`kernels/numba/<name>.py` (each file's header gives the thread-to-index mapping). Nothing
is copied between host and device except where a docstring says so.

The loss comes back as a host scalar: `softmax_cross_entropy` returns a NumPy scalar of the
logits' dtype (like the NumPy op), so it copies one number to the host (and syncs) per call;
dlogits stays on the device.

Runs on a CUDA GPU, or on the CPU in Numba's simulator when NUMBA_ENABLE_CUDASIM=1 is set
before numba is imported (each GPU thread then is a Python thread that pdb can step through).
"""

import functools
import numbers

import numpy as np

from minimal_unet.backends import BackendUnavailableError
from minimal_unet.backends.contract import first_bad_target, message
from minimal_unet.backends.sources import load_numba_module
from minimal_unet.ops._checks import check_same_dtype, check_shape

try:
    from numba import config as numba_config
    from numba import cuda
except ImportError:  # the "gpu" extra is not installed: ensure_available() says so
    numba_config = None
    cuda = None

name = "numba"

SIMULATOR = numba_config is not None and bool(numba_config.ENABLE_CUDASIM)
if SIMULATOR:  # divergent barriers and out-of-range indices fail as on hardware (simcheck)
    from minimal_unet.backends import simcheck

    simcheck.install()

# Launch shapes, chosen once. On a GPU, one thread per element (the grid covers the array)
# and 16x16 matmul tiles. The simulator runs every GPU thread as a Python thread, so there
# we start few threads and let the kernels' grid-stride loops do the rest: the same kernels
# and the same results, with a fraction of the threads.
if SIMULATOR:
    THREADS, MAX_BLOCKS, TILE, REDUCE_THREADS, REDUCE_BLOCKS = 32, 2, 8, 32, 2
else:
    THREADS, MAX_BLOCKS, TILE, REDUCE_THREADS, REDUCE_BLOCKS = 256, 2**31 - 1, 16, 256, 1024

FLOAT_DTYPES = (np.float32, np.float64)


INSTALL = ("pip install 'minimal-unet[gpu]' (a CUDA 13 driver, compute capability >= 7.5) or "
           "'minimal-unet[cuda12]' (a CUDA 12 driver)")


def ensure_available():
    """Raise BackendUnavailableError (one line: what is missing, which extra installs it)
    unless numba runs here: the simulator, or a CUDA device with a driver, NVVM compiling
    one of our kernels for it, and the kernel giving the right answer. Proven once."""
    if cuda is None:
        raise BackendUnavailableError(
            f"numba backend: the numba package is not installed (nor numba-cuda): {INSTALL}")
    if not cuda.is_available():
        raise BackendUnavailableError(
            "numba backend: no CUDA GPU found (numba.cuda.is_available() is False) and the "
            "simulator is off; set NUMBA_ENABLE_CUDASIM=1 before importing numba to run the "
            "kernels on the CPU in Numba's CUDA simulator")
    if not SIMULATOR:
        _prove()


@functools.cache
def _prove():
    try:
        major, minor = cuda.get_current_device().compute_capability
        x = cuda.to_device(np.array([-1.0, 2.0, np.nan], dtype=np.float32))
        y, _ = relu_forward(x)
        got = y.copy_to_host()
        if got[0] != 0 or got[1] != 2 or not np.isnan(got[2]):
            raise RuntimeError(f"relu_forward gave {got}")
    except Exception as error:
        raise BackendUnavailableError(
            f"numba backend: our kernels do not compile or run ("
            f"{' '.join(str(error).split()) or type(error).__name__}): NVVM and the CUDA "
            f"libraries come with {INSTALL}") from None


# ----- checks and launch helpers -----------------------------------------------------------

def _check_device(name, a, ndim=None, layout=None, floating=True):
    """Raise unless `a` is a C-contiguous Numba device array (float32/float64 if floating)."""
    if not cuda.devicearray.is_cuda_ndarray(a):
        raise TypeError(f"{name}: expected a Numba device array (make one with "
                        f"numba_backend.asarray), got {type(a).__name__}")
    if floating and a.dtype not in FLOAT_DTYPES:
        raise TypeError(message("dtype", name=name, dtype=a.dtype))
    if ndim is not None and a.ndim != ndim:
        raise ValueError(message("rank", name=name, layout=layout, shape=a.shape, ndim=a.ndim))
    if not a.is_c_contiguous():
        raise ValueError(message("contiguous", name=name, shape=a.shape, strides=a.strides))


def _blocks(total):
    """Blocks of THREADS threads for `total` elements (at least 1, at most MAX_BLOCKS)."""
    return max(1, min((total + THREADS - 1) // THREADS, MAX_BLOCKS))


def _flat(a):
    return a.reshape(a.size)  # (size,) view of a C-contiguous device array


def _empty(shape, dtype):
    return cuda.device_array(shape, dtype=dtype)


def _matmul(a, b, c, trans_a=False, trans_b=False, accumulate=False):
    """c = op(a) @ op(b) (or c += ...) with our tiled kernel; op(a) = a.T if trans_a.

    op(a) (M, K), op(b) (K, P), c (M, P); the transposes are index swaps inside the kernel.
    """
    matmul = load_numba_module("matmul")
    kernel = matmul.make_matmul_kernel(np.dtype(c.dtype), TILE)
    M, P = c.shape
    n_tiles = -(-M // TILE) * -(-P // TILE)  # ceil(M/TILE) * ceil(P/TILE)
    kernel[min(n_tiles, MAX_BLOCKS), (TILE, TILE)](
        a, b, c, np.int32(trans_a), np.int32(trans_b), np.int32(accumulate))


def _bias_grad(dy_3d):
    """db (F,) = dy (N, F, S) summed over n and s, one block per channel (bias.py)."""
    bias = load_numba_module("bias")
    db = _empty(dy_3d.shape[1], dy_3d.dtype)
    kernel = bias.make_bias_grad_kernel(np.dtype(dy_3d.dtype), REDUCE_THREADS)
    kernel[dy_3d.shape[1], REDUCE_THREADS](dy_3d, db)
    return db


def _copy(a):
    out = _empty(a.shape, a.dtype)
    out.copy_to_device(a)  # device to device
    return out


# ----- array helpers ------------------------------------------------------------------------

def asarray(a):
    """A Numba device array: device arrays pass through, host arrays are copied (to_device)."""
    if cuda.devicearray.is_cuda_ndarray(a):
        return a
    return cuda.to_device(np.ascontiguousarray(a))


def asnumpy(a):
    """A host ndarray: device arrays are copied back (copy_to_host); host values pass."""
    if cuda.devicearray.is_cuda_ndarray(a):
        return a.copy_to_host()
    return np.asarray(a)


def zeros_like(a):
    """A new device array of a's shape and dtype, filled with 0 on the device."""
    _check_device("a", a, floating=False)
    out = _empty(a.shape, a.dtype)
    elementwise = load_numba_module("elementwise")
    elementwise.fill[_blocks(out.size), THREADS](_flat(out), out.dtype.type(0))
    return out


def add(a, b):
    """a + b as a new device array (a and b: one shape, one float dtype)."""
    _check_device("a", a)
    _check_device("b", b)
    check_same_dtype(a=a, b=b)
    check_shape("b", b, a.shape)
    out = _empty(a.shape, a.dtype)
    elementwise = load_numba_module("elementwise")
    elementwise.add[_blocks(out.size), THREADS](_flat(a), _flat(b), _flat(out))
    return out


def sgd_momentum_update(param, grad, velocity, lr, momentum):
    """In place: velocity[...] = momentum * velocity - lr * grad; param += velocity."""
    for arg_name, a in (("param", param), ("grad", grad), ("velocity", velocity)):
        _check_device(arg_name, a)
    check_same_dtype(param=param, grad=grad, velocity=velocity)
    check_shape("grad", grad, param.shape)
    check_shape("velocity", velocity, param.shape)
    for arg_name, value in (("lr", lr), ("momentum", momentum)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{arg_name}: expected a real number, got {type(value).__name__}")
    real_t = param.dtype.type  # lr and momentum in the parameters' dtype
    sgd = load_numba_module("sgd_momentum")
    sgd.sgd_momentum[_blocks(param.size), THREADS](
        _flat(param), _flat(grad), _flat(velocity), real_t(lr), real_t(momentum))


def adam_update(param, grad, m, v, lr, b1, b2, eps, t):
    """In place, one Adam step (kernels/numba/adam.py); see minimal_unet.optim.adam_update."""
    for arg_name, a in (("param", param), ("grad", grad), ("m", m), ("v", v)):
        _check_device(arg_name, a)
    check_same_dtype(param=param, grad=grad, m=m, v=v)
    for arg_name, a in (("grad", grad), ("m", m), ("v", v)):
        check_shape(arg_name, a, param.shape)
    real_t = param.dtype.type
    b1, b2 = float(b1), float(b2)
    scalars = (lr, b1, 1.0 - b1, b2, 1.0 - b2, 1.0 - b1**t, 1.0 - b2**t, eps)
    adam = load_numba_module("adam")
    adam.adam[_blocks(param.size), THREADS](
        _flat(param), _flat(grad), _flat(m), _flat(v), *(real_t(value) for value in scalars))


# ----- conv2d -------------------------------------------------------------------------------

def _conv2d_check(x, w, b, pad):
    _check_device("x", x, 4, "(N, C, H, W)")
    _check_device("w", w, 4, "(F, C, kH, kW)")
    _check_device("b", b, 1, "(F,)")
    check_same_dtype(x=x, w=w, b=b)
    if isinstance(pad, bool) or not isinstance(pad, numbers.Integral):
        raise TypeError(f"pad: expected an int >= 0, got {type(pad).__name__} {pad!r}")
    if pad < 0:
        raise ValueError(f"pad: expected an int >= 0, got {pad}")
    N, C, H, W = x.shape
    F, Cw, kH, kW = w.shape
    if Cw != C:
        raise ValueError(f"w: expected {C} input channels like x (N, C, H, W) = {x.shape}, "
                         f"got w (F, C, kH, kW) = {w.shape}")
    check_shape("b", b, (F,))
    oH, oW = H + 2 * pad - kH + 1, W + 2 * pad - kW + 1
    if oH < 1 or oW < 1:
        raise ValueError(f"kernel {kH}x{kW} is larger than the padded input "
                         f"{H + 2 * pad}x{W + 2 * pad} (H, W = {H}, {W}, pad = {pad})")
    return oH, oW


def _im2col(x, kH, kW, pad, oH, oW):
    """cols (N, C*kH*kW, oH*oW) of x, on the device (im2col.py)."""
    N, C = x.shape[0], x.shape[1]
    cols = _empty((N, C * kH * kW, oH * oW), x.dtype)
    im2col = load_numba_module("im2col")
    im2col.im2col[_blocks(cols.size), THREADS](x, cols, np.int64(kH), np.int64(kW),
                                               np.int64(pad))
    return cols


def conv2d_forward(x, w, b, pad=0):
    """y (N, F, oH, oW) = conv(x, w) + b, oH = H + 2*pad - kH + 1; cache = (x, w, b, pad).

    im2col, then y[n] = w.reshape(F, K) @ cols[n] per sample, then the bias.
    """
    oH, oW = _conv2d_check(x, w, b, pad)
    N = x.shape[0]
    F, C, kH, kW = w.shape
    K, S = C * kH * kW, oH * oW
    cols = _im2col(x, kH, kW, pad, oH, oW)  # (N, K, S)
    y = _empty((N, F, oH, oW), x.dtype)
    w_mat = w.reshape(F, K)  # (F, K)
    y_mat = y.reshape(N, F, S)  # (N, F, S): each y[n] viewed as a matrix
    for n in range(N):
        _matmul(w_mat, cols[n], y_mat[n])  # (F, K) @ (K, S) -> (F, S)
    bias = load_numba_module("bias")
    bias.add_bias[_blocks(y.size), THREADS](y_mat, b)  # y[n, f] += b[f]
    return y, (x, w, b, pad)


def conv2d_backward(dy, cache, need_dx=True):
    """(dx, dw, db) from dy (N, F, oH, oW); cols is recomputed from the cached x.
    dx is None when need_dx is False (the first layer's input is the image)."""
    x, w, b, pad = cache
    oH, oW = _conv2d_check(x, w, b, pad)
    N = x.shape[0]
    F, C, kH, kW = w.shape
    K, S = C * kH * kW, oH * oW
    _check_device("dy", dy, 4, "(N, F, oH, oW)")
    check_same_dtype(dy=dy, x=x)
    check_shape("dy", dy, (N, F, oH, oW))
    dy_mat = dy.reshape(N, F, S)  # (N, F, S)
    db = _bias_grad(dy_mat)  # db[f] = sum_{n,s} dy[n, f, s]
    cols = _im2col(x, kH, kW, pad, oH, oW)  # (N, K, S)
    dw_mat = _empty((F, K), x.dtype)
    for n in range(N):  # dL/dw = sum_n dy[n] cols[n]^T
        _matmul(dy_mat[n], cols[n], dw_mat, trans_b=True, accumulate=n > 0)  # (F,S)@(S,K)
    if not need_dx:
        return None, dw_mat.reshape(F, C, kH, kW), db
    w_mat = w.reshape(F, K)  # (F, K)
    dcols = _empty((N, K, S), x.dtype)
    for n in range(N):  # dL/dcols = w^T dy, scattered back by col2im
        _matmul(w_mat, dy_mat[n], dcols[n], trans_a=True)  # (K, F) @ (F, S) -> (K, S)
    dx = _empty(x.shape, x.dtype)
    im2col = load_numba_module("im2col")
    im2col.col2im[_blocks(dx.size), THREADS](dcols, dx, np.int64(kH), np.int64(kW),
                                             np.int64(pad))
    return dx, dw_mat.reshape(F, C, kH, kW), db


# ----- relu, maxpool ------------------------------------------------------------------------

def relu_forward(x):
    """y = max(x, 0) (NaN stays NaN), any shape; cache = (y,)."""
    _check_device("x", x)
    y = _empty(x.shape, x.dtype)
    relu = load_numba_module("relu")
    relu.relu_forward[_blocks(x.size), THREADS](_flat(x), _flat(y))
    return y, (y,)


def relu_backward(dy, cache):
    """dx = dy * 1[y > 0] with (y,) = cache."""
    (y,) = cache
    _check_device("dy", dy)
    check_same_dtype(dy=dy, y=y)
    check_shape("dy", dy, y.shape)
    dx = _empty(dy.shape, dy.dtype)
    relu = load_numba_module("relu")
    relu.relu_backward[_blocks(dy.size), THREADS](_flat(dy), _flat(y), _flat(dx))
    return dx


def maxpool2d_forward(x):
    """y (N, C, H/2, W/2), 2x2 windows, stride 2; cache = (argmax uint8, x.shape)."""
    _check_device("x", x, 4, "(N, C, H, W)")
    N, C, H, W = x.shape
    if H % 2 or W % 2:
        raise ValueError(message("odd_pool", H=H, W=W, shape=tuple(x.shape)))
    y = _empty((N, C, H // 2, W // 2), x.dtype)
    argmax = _empty((N, C, H // 2, W // 2), np.uint8)
    maxpool = load_numba_module("maxpool2d")
    maxpool.maxpool2d_forward[_blocks(y.size), THREADS](x, y, argmax)
    return y, (argmax, tuple(x.shape))


def maxpool2d_backward(dy, cache):
    """dx (x's shape): dy routed to each window's arg-max, 0 elsewhere."""
    argmax, x_shape = cache
    _check_device("dy", dy, 4, "(N, C, H/2, W/2)")
    check_shape("dy", dy, argmax.shape)
    dx = _empty(x_shape, dy.dtype)
    maxpool = load_numba_module("maxpool2d")
    maxpool.maxpool2d_backward[_blocks(dx.size), THREADS](dy, argmax, dx)
    return dx


# ----- upconv2d, crop_and_concat -----------------------------------------------------------

def _upconv2d_check(x, w, b):
    _check_device("x", x, 4, "(N, C_in, H, W)")
    _check_device("w", w, 4, "(C_in, C_out, 2, 2)")
    _check_device("b", b, 1, "(C_out,)")
    check_same_dtype(x=x, w=w, b=b)
    check_shape("w", w, (x.shape[1], w.shape[1], 2, 2))  # C_in must match x's channels
    check_shape("b", b, (w.shape[1],))


def upconv2d_forward(x, w, b):
    """y (N, C_out, 2H, 2W), y[n,o,2i+a,2j+c] = b[o] + sum_ci x[n,ci,i,j] w[ci,o,a,c].

    A matmul per sample, cols[n] = w.reshape(Ci, Co*4).T @ x[n], then upconv_scatter.
    cache = (x, w, b), as the NumPy op.
    """
    _upconv2d_check(x, w, b)
    N, Ci, H, W = x.shape
    Co = w.shape[1]
    x_mat = x.reshape(N, Ci, H * W)  # (N, Ci, H*W)
    w_mat = w.reshape(Ci, Co * 4)  # (Ci, Co*4)
    cols = _empty((N, Co * 4, H * W), x.dtype)
    for n in range(N):
        _matmul(w_mat, x_mat[n], cols[n], trans_a=True)  # (Co*4, Ci) @ (Ci, H*W)
    y = _empty((N, Co, 2 * H, 2 * W), x.dtype)
    upconv = load_numba_module("upconv2d")
    upconv.upconv_scatter[_blocks(y.size), THREADS](cols, b, y)  # depth to space, + b
    return y, (x, w, b)


def upconv2d_backward(dy, cache):
    """(dx, dw, db) from dy (N, C_out, 2H, 2W)."""
    x, w, _ = cache
    N, Ci, H, W = x.shape
    Co = w.shape[1]
    _check_device("dy", dy, 4, "(N, C_out, 2H, 2W)")
    check_shape("dy", dy, (N, Co, 2 * H, 2 * W))
    check_same_dtype(dy=dy, x=x)
    dcols = _empty((N, Co * 4, H * W), x.dtype)
    upconv = load_numba_module("upconv2d")
    upconv.upconv_gather[_blocks(dy.size), THREADS](dy, dcols)  # space to depth
    x_mat = x.reshape(N, Ci, H * W)  # (N, Ci, H*W)
    w_mat = w.reshape(Ci, Co * 4)  # (Ci, Co*4)
    dx = _empty(x.shape, x.dtype)
    dx_mat = dx.reshape(N, Ci, H * W)  # (N, Ci, H*W)
    dw_mat = _empty((Ci, Co * 4), x.dtype)
    for n in range(N):
        _matmul(w_mat, dcols[n], dx_mat[n])  # (Ci, Co*4) @ (Co*4, H*W) -> (Ci, H*W)
        _matmul(x_mat[n], dcols[n], dw_mat, trans_b=True, accumulate=n > 0)  # (Ci,HW)@(HW,Co*4)
    db = _bias_grad(dy.reshape(N, Co, 4 * H * W))  # db[o] = sum over n, h, w of dy
    return dx, dw_mat.reshape(Ci, Co, 2, 2), db


def crop_and_concat_forward(skip, up):
    """y (N, Cs + Cu, Hu, Wu) = concat([skip centre-cropped to (Hu, Wu), up], axis=1).

    cache = (skip.shape, top, left), the crop offsets top = (Hs - Hu) / 2, left likewise.
    """
    _check_device("skip", skip, 4, "(N, Cs, Hs, Ws)")
    _check_device("up", up, 4, "(N, Cu, Hu, Wu)")
    check_same_dtype(skip=skip, up=up)
    N, Cs, Hs, Ws = skip.shape
    Nu, Cu, Hu, Wu = up.shape
    if Nu != N:
        raise ValueError(f"skip and up: expected the same batch size N, got skip N={N}, "
                         f"up N={Nu}")
    for axis, size_skip, size_up in (("H", Hs, Hu), ("W", Ws, Wu)):
        if size_skip < size_up:
            raise ValueError(f"skip: expected {axis} >= up's {axis} = {size_up} (skip is "
                             f"centre-cropped to up's size), got skip {axis} = {size_skip}")
        if (size_skip - size_up) % 2 != 0:
            raise ValueError(f"skip and up: expected an even difference in {axis} (equal crop "
                             f"on both sides), got skip {axis} = {size_skip}, up {axis} = "
                             f"{size_up}")
    top, left = (Hs - Hu) // 2, (Ws - Wu) // 2
    y = _empty((N, Cs + Cu, Hu, Wu), skip.dtype)
    crop_concat = load_numba_module("crop_concat")
    crop_concat.crop_concat_forward[_blocks(y.size), THREADS](skip, up, y, np.int64(top),
                                                              np.int64(left))
    return y, (tuple(skip.shape), top, left)


def crop_and_concat_backward(dy, cache):
    """(dskip, dup): dskip has skip's full shape, 0 outside the crop; dup = dy[:, Cs:]."""
    skip_shape, top, left = cache
    N, Cs, Hs, Ws = skip_shape
    Hu, Wu = Hs - 2 * top, Ws - 2 * left
    _check_device("dy", dy, 4, "(N, Cs + Cu, Hu, Wu)")
    if dy.shape[0] != N or dy.shape[1] <= Cs or tuple(dy.shape[2:]) != (Hu, Wu):
        raise ValueError(f"dy: expected shape (N, Cs + Cu, Hu, Wu) = ({N}, {Cs} + Cu with "
                         f"Cu >= 1, {Hu}, {Wu}), got {dy.shape}")
    dskip = _empty(skip_shape, dy.dtype)
    dup = _empty((N, dy.shape[1] - Cs, Hu, Wu), dy.dtype)
    crop_concat = load_numba_module("crop_concat")
    crop_concat.crop_concat_backward_skip[_blocks(dskip.size), THREADS](
        dy, dskip, np.int64(top), np.int64(left))
    crop_concat.crop_concat_backward_up[_blocks(dup.size), THREADS](dy, dup)
    return dskip, dup


# ----- dropout, softmax cross-entropy ------------------------------------------------------

def dropout_forward(x, p, rng, train=True):
    """Inverted dropout; the mask comes from a 64-bit seed drawn from `rng` (dropout.py).

    y = (x * keep) * scale, keep True with probability 1 - p, scale = 1 / (1 - p).
    cache = (keep, scale), keep a bool device array of x's shape, as the NumPy op; (None, 1.0)
    when the layer is the identity (train False or p == 0), which returns a copy of x.
    """
    _check_device("x", x)
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"p: expected a real number in [0, 1), got {type(p).__name__}")
    if not 0 <= p < 1:
        raise ValueError(message("dropout_p", p=p))
    if not train or p == 0:
        return _copy(x), (None, 1.0)
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng: expected a numpy.random.Generator (e.g. "
                        f"np.random.default_rng(seed)), got {type(rng).__name__}")
    seed = rng.integers(0, 2**64, dtype=np.uint64)  # np.uint64: the counter RNG's key
    scale = 1.0 / (1.0 - p)
    y = _empty(x.shape, x.dtype)
    keep = _empty(x.shape, np.bool_)
    dropout = load_numba_module("dropout")
    dropout.dropout_forward[_blocks(x.size), THREADS](
        _flat(x), _flat(y), _flat(keep), seed, np.float64(p), x.dtype.type(scale))
    return y, (keep, scale)


def dropout_backward(dy, cache):
    """dx = (dy * keep) * scale (a copy of dy for the identity)."""
    keep, scale = cache
    _check_device("dy", dy)
    if keep is None:
        return _copy(dy)
    check_shape("dy", dy, keep.shape)
    dx = _empty(dy.shape, dy.dtype)
    dropout = load_numba_module("dropout")
    dropout.dropout_backward[_blocks(dy.size), THREADS](_flat(dy), _flat(keep), _flat(dx),
                                                        dy.dtype.type(scale))
    return dx


def softmax_cross_entropy(logits, target, weight=None):
    """(loss, dlogits): the weighted mean of -log softmax(logits)[target] over N*H*W pixels.

    logits (N, K, H, W) float device array; target (N, H, W) integer device array in
    [0, K); weight optional (N, H, W), logits' dtype. loss: a NumPy scalar of the logits'
    dtype on the host (one number copied back); dlogits: device array like logits.
    """
    _check_device("logits", logits, 4, "(N, K, H, W)")
    N, K, H, W = logits.shape
    _check_device("target", target, floating=False)
    if not np.issubdtype(target.dtype, np.integer):
        raise TypeError(f"target: expected an integer array of class indices, "
                        f"got dtype {target.dtype}")
    check_shape("target", target, (N, H, W))
    has_weight = weight is not None
    if has_weight:
        _check_device("weight", weight, 3, "(N, H, W)")
        check_shape("weight", weight, (N, H, W))
        check_same_dtype(logits=logits, weight=weight)
    P, S = N * H * W, H * W
    real_t = logits.dtype.type
    if has_weight:
        weight_2d = weight.reshape(N, S)  # (N, S)
    else:
        weight_2d = _empty((1, 1), logits.dtype)  # a placeholder the kernel never reads
    pixel_loss = _empty((N, S), logits.dtype)
    dlogits = _empty(logits.shape, logits.dtype)
    bad_target = cuda.to_device(np.zeros(1, dtype=np.int32))
    softmax_ce = load_numba_module("softmax_ce")
    softmax_ce.softmax_ce_pixels[_blocks(P), THREADS](
        logits.reshape(N, K, S), target.reshape(N, S), weight_2d, np.int32(has_weight),
        np.float64(1.0 / P), pixel_loss, dlogits.reshape(N, K, S), bad_target)
    if bad_target.copy_to_host()[0]:
        value, where = first_bad_target(target.copy_to_host(), K)
        raise ValueError(message("bad_target", K=K, value=value, where=where))
    # The mean in two deterministic launches: G partial sums, then one block adds them.
    sum_reduce = softmax_ce.make_sum_reduce_kernel(np.dtype(logits.dtype), REDUCE_THREADS)
    G = max(1, min(-(-P // REDUCE_THREADS), REDUCE_BLOCKS))
    partial = _empty(G, logits.dtype)
    sum_reduce[G, REDUCE_THREADS](_flat(pixel_loss), partial, real_t(1))
    total = _empty(1, logits.dtype)
    sum_reduce[1, REDUCE_THREADS](partial, total, real_t(1.0 / P))
    loss = total.copy_to_host()[0]  # NumPy scalar of the logits' dtype
    return loss, dlogits
