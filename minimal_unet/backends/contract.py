"""The backend contract: what every backend (numpy, cupy, numba) provides, in one place.

A backend is a module with these names (the signatures of `minimal_unet.ops`):

    OPS      conv2d_forward(x, w, b, pad=0) -> y, cache
             conv2d_backward(dy, cache, need_dx=True) -> dx, dw, db   (dx None when
                                                           need_dx is False)
             relu_forward(x) -> y, cache                    relu_backward(dy, cache) -> dx
             maxpool2d_forward(x) -> y, cache               maxpool2d_backward(dy, cache) -> dx
             upconv2d_forward(x, w, b) -> y, cache
             upconv2d_backward(dy, cache) -> dx, dw, db
             crop_and_concat_forward(skip, up) -> y, cache
             crop_and_concat_backward(dy, cache) -> dskip, dup
             dropout_forward(x, p, rng, train=True) -> y, cache
             dropout_backward(dy, cache) -> dx
             softmax_cross_entropy(logits, target, weight=None) -> loss, dlogits
    HELPERS  asarray, asnumpy, zeros_like, add, sgd_momentum_update, adam_update,
             ensure_available, name

The caches are the NumPy reference's layouts (CACHE_LAYOUTS), with device arrays in place
of host arrays: code that reads a cache (a student's, a test's) works on every backend.
The loss is a host NumPy scalar of the logits' dtype on every backend (np.float32 or
np.float64): one number copied back per step, which a training loop needs anyway (the
NaN check, the log). dlogits stays on the backend.

Errors: bad input is a TypeError (wrong kind or dtype of array) or a ValueError (shape,
range), with one wording on every backend for the checks written here (`message`, the
wording of the NumPy reference ops).
Out-of-range class indices are a ValueError everywhere (never a NaN loss).
"""

import numpy as np

OPS = (
    "conv2d_forward", "conv2d_backward", "relu_forward", "relu_backward",
    "maxpool2d_forward", "maxpool2d_backward", "upconv2d_forward", "upconv2d_backward",
    "crop_and_concat_forward", "crop_and_concat_backward", "dropout_forward",
    "dropout_backward", "softmax_cross_entropy",
)
HELPERS = ("asarray", "asnumpy", "zeros_like", "add", "sgd_momentum_update", "adam_update",
           "ensure_available", "name")

# op -> the cache its forward returns, as in minimal_unet.ops (arrays on the backend).
CACHE_LAYOUTS = {
    "conv2d": "(x, w, b, pad): the inputs and the int padding",
    "relu": "(y,): the output",
    "maxpool2d": "(argmax, x_shape): argmax uint8 (N, C, H/2, W/2) in 0..3 "
                 "(TL, TR, BL, BR), x_shape a tuple",
    "upconv2d": "(x, w, b): the inputs",
    "crop_and_concat": "(skip_shape, top, left): a tuple and the two int crop offsets",
    "dropout": "(keep, scale): keep bool of x's shape, scale = 1 / (1 - p); "
               "(None, 1.0) for the identity",
}


def message(kind, **values):
    """The one wording of each shared error (kind: a key of _MESSAGES)."""
    return _MESSAGES[kind].format(**values)


_MESSAGES = {
    "bad_target": "target: expected class indices in [0, K) = [0, {K}), got value {value} at "
                  "index {where}",
    "odd_pool": "x: 2x2 max-pool expected even H and W, got H={H}, W={W} (shape {shape})",
    "dropout_p": "p: expected a drop probability in [0, 1), got {p}",
    "dtype": "{name}: expected dtype float32 or float64, got {dtype}",
    "contiguous": "{name}: expected a C-contiguous array, got shape {shape} with strides "
                  "{strides}",
    "array_type": "{name}: expected a {expected}, got {given}",
    "rank": "{name}: expected shape {layout}, got shape {shape} ({ndim}-D)",
}


def first_bad_target(target, K):
    """(value, index) of the first class index outside [0, K) in a host array, or None."""
    bad = np.argwhere((target < 0) | (target >= K))
    if bad.size == 0:
        return None
    where = tuple(int(i) for i in bad[0])
    return int(target[where]), where


def missing_names(backend):
    """The contract names `backend` (a module) lacks; [] when it conforms."""
    return [n for n in OPS + HELPERS if not hasattr(backend, n)]


def describe(value, asnumpy):
    """The layout of a cache (or any result): kinds, dtypes and shapes, no array values.

    Two backends conform when describe() of their caches are equal.
    """
    if isinstance(value, tuple):
        if all(isinstance(v, int | np.integer) for v in value) and value:
            return ("shape", tuple(int(v) for v in value))
        return tuple(describe(v, asnumpy) for v in value)
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return ("bool", bool(value))
    if isinstance(value, int | np.integer):
        return ("int", int(value))
    if isinstance(value, float | np.floating):
        return ("float", float(value))
    host = np.asarray(asnumpy(value))
    return ("array", host.dtype.name, host.shape)


def check_loss(loss, dtype):
    """Raise AssertionError unless `loss` is a host NumPy scalar of `dtype`."""
    if not isinstance(loss, np.floating) or loss.dtype != np.dtype(dtype):
        raise AssertionError(f"loss: expected a host numpy scalar of dtype {np.dtype(dtype)}, "
                             f"got {type(loss).__name__} {getattr(loss, 'dtype', '')}")


# ---------------------------------------------------------------- parity with NumPy
# Shapes per op: "tiny" for the simulator (every GPU thread is a Python thread), "blocks"
# for the emulator and a GPU: several blocks, partial last blocks, odd sizes at tile edges,
# reductions of more than 256 terms per block.
SHAPES = {
    "tiny": {"conv": ((2, 3, 7, 6), 4, 3, 1), "map": (2, 3, 6, 4), "up": (1, 3, 2, 3, 4),
             "crop": ((2, 3, 8, 10), (2, 2, 4, 6)), "loss": (2, 3, 5, 4), "param": (3, 4, 5)},
    "blocks": {"conv": ((2, 3, 21, 19), 5, 3, 0), "map": (2, 3, 22, 18),
               "up": (2, 3, 5, 9, 7), "crop": ((2, 3, 19, 21), (2, 2, 15, 13)),
               "loss": (2, 3, 30, 25), "param": (7, 9, 11)},
}
PARITY_OPS = ("conv2d", "relu", "maxpool2d", "upconv2d", "crop_and_concat", "dropout",
              "softmax_cross_entropy", "sgd_momentum_update", "adam_update")
TOLERANCE = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


def _close(label, actual, expected):
    """Raise AssertionError unless actual (host) matches expected in dtype, shape, values."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.dtype != expected.dtype or actual.shape != expected.shape:
        raise AssertionError(f"{label}: expected {expected.dtype} {expected.shape}, got "
                             f"{actual.dtype} {actual.shape}")
    if expected.dtype.kind != "f":
        np.testing.assert_array_equal(actual, expected, err_msg=label)
        return
    rtol = TOLERANCE[expected.dtype]
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=label)


def check_parity(ops, op, dtype, size="blocks", seed=0):
    """Run `op` on backend `ops` and on NumPy; raise AssertionError at the first difference.

    Compares outputs, gradients and the cache layouts (describe()); for dropout, whose
    random draws differ by design (a counter hash on the GPUs), y and dx must follow the
    backend's own keep mask exactly and keep about 1 - p of the units.
    """
    from minimal_unet import ops as ref
    from minimal_unet import optim

    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    shapes = SHAPES[size]

    def rand(*shape):
        return rng.standard_normal(shape).astype(dtype)

    dev, host = ops.asarray, ops.asnumpy

    def same_layout(label, cache, cache_ref):
        got, want = describe(cache, host), describe(cache_ref, np.asarray)
        if got != want:
            raise AssertionError(f"{label} cache: expected layout {want}, got {got}")

    def forward_backward(name, inputs, kwargs=None):
        kwargs = kwargs or {}
        y, cache = getattr(ops, f"{name}_forward")(*(dev(a) for a in inputs), **kwargs)
        y_ref, cache_ref = getattr(ref, f"{name}_forward")(*inputs, **kwargs)
        _close(f"{name} forward", host(y), y_ref)
        same_layout(name, cache, cache_ref)
        dy = rand(*y_ref.shape)
        grads = getattr(ops, f"{name}_backward")(dev(dy), cache)
        grads_ref = getattr(ref, f"{name}_backward")(dy, cache_ref)
        if not isinstance(grads_ref, tuple):
            grads, grads_ref = (grads,), (grads_ref,)
        for i, (g, g_ref) in enumerate(zip(grads, grads_ref, strict=True)):
            _close(f"{name} backward output {i}", host(g), g_ref)

    if op == "conv2d":
        (N, C, H, W), F, k, pad = shapes["conv"]
        inputs = (rand(N, C, H, W), rand(F, C, k, k), rand(F))
        forward_backward("conv2d", inputs, {"pad": pad})
        # need_dx=False (the first layer of a training step): no dx, the same dw and db bits
        y, cache = ops.conv2d_forward(*(dev(a) for a in inputs), pad=pad)
        dy = dev(rand(*host(y).shape))
        _, dw_full, db_full = ops.conv2d_backward(dy, cache)
        dx, dw, db = ops.conv2d_backward(dy, cache, need_dx=False)
        if dx is not None:
            raise AssertionError(f"conv2d backward, need_dx=False: expected dx None, "
                                 f"got {type(dx).__name__}")
        for label, got, want in (("dw", dw, dw_full), ("db", db, db_full)):
            if not np.array_equal(host(got), host(want)):
                raise AssertionError(f"conv2d backward, need_dx=False: {label} differs from "
                                     f"the need_dx=True call's")
    elif op == "relu":
        x = rand(*shapes["map"])
        x.flat[::7] = np.nan  # NaN stays NaN, its gradient is 0 (as PyTorch)
        forward_backward("relu", (x,))
    elif op == "maxpool2d":
        # Many ties, and NaNs: a window with a NaN gives NaN and routes its gradient to
        # the window's first NaN (TL, TR, BL, BR), on every backend as in NumPy.
        x = (rng.integers(-2, 3, size=shapes["map"]) / 2).astype(dtype)
        x.flat[::11] = np.nan
        forward_backward("maxpool2d", (x,))
    elif op == "upconv2d":
        N, Ci, Co, H, W = shapes["up"]
        forward_backward("upconv2d", (rand(N, Ci, H, W), rand(Ci, Co, 2, 2), rand(Co)))
    elif op == "crop_and_concat":
        skip, up = shapes["crop"]
        forward_backward("crop_and_concat", (rand(*skip), rand(*up)))
    elif op == "dropout":
        x, p = rand(*shapes["map"]), 0.3
        y, cache = ops.dropout_forward(dev(x), p, np.random.default_rng(seed))
        same_layout("dropout", cache, ref.dropout_forward(x, p, np.random.default_rng(seed))[1])
        keep, scale = host(cache[0]), cache[1]
        _close("dropout forward", host(y), (np.multiply(x, keep) * scale).astype(dtype))
        dy = rand(*x.shape)
        _close("dropout backward", host(ops.dropout_backward(dev(dy), cache)),
               ref.dropout_backward(dy, (keep, scale)))
        if abs(keep.mean() - (1 - p)) > 5 * np.sqrt(p * (1 - p) / keep.size):
            raise AssertionError(f"dropout keeps {keep.mean():.3f} of the units, expected "
                                 f"about {1 - p}")
        y_id, cache_id = ops.dropout_forward(dev(x), p, None, train=False)
        _close("dropout identity", host(y_id), x)
        same_layout("dropout identity", cache_id, (None, 1.0))
    elif op == "softmax_cross_entropy":
        N, K, H, W = shapes["loss"]
        logits = rand(N, K, H, W) * 3
        logits[0, :, 0, 0] = [1e4, -1e4, 0][:K] + [0] * (K - 3)  # stays finite
        target = rng.integers(0, K, size=(N, H, W))
        for weight in (None, rng.uniform(0.1, 2, size=(N, H, W)).astype(dtype)):
            w_dev = None if weight is None else dev(weight)
            loss, dlogits = ops.softmax_cross_entropy(dev(logits), dev(target), w_dev)
            loss_ref, dlogits_ref = ref.softmax_cross_entropy(logits, target, weight)
            check_loss(loss, dtype)
            _close("loss", loss, loss_ref)
            _close("dlogits", host(dlogits), dlogits_ref)
    elif op in ("sgd_momentum_update", "adam_update"):
        shape = shapes["param"]
        arrays = [rand(*shape) for _ in range(4)]
        arrays[3] = np.abs(arrays[3])  # Adam's v >= 0
        expected = [a.copy() for a in arrays]
        on_dev = [dev(a) for a in arrays]
        if op == "sgd_momentum_update":
            ops.sgd_momentum_update(on_dev[0], on_dev[1], on_dev[2], 0.01, 0.99)
            optim.sgd_momentum_update(expected[0], expected[1], expected[2], 0.01, 0.99)
        else:
            ops.adam_update(*on_dev, 1e-3, 0.9, 0.999, 1e-8, 3)
            optim.adam_update(*expected, 1e-3, 0.9, 0.999, 1e-8, 3)
        for i, (a, e) in enumerate(zip(on_dev, expected, strict=True)):
            _close(f"{op} array {i}", host(a), e)
    else:
        raise ValueError(f"op: expected one of {', '.join(PARITY_OPS)}, got {op!r}")
