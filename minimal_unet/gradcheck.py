"""Check a hand-written backward pass against centred finite differences.

Usable on any function of NumPy arrays, including a student's own layer:

    from minimal_unet.gradcheck import check_gradients, format_report
    from minimal_unet.ops import conv2d_backward, conv2d_forward

    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 3)), ...
    y, cache = conv2d_forward(x, w, b)
    dy = rng.standard_normal(y.shape)             # a random upstream gradient dL/dy
    dx, dw, db = conv2d_backward(dy, cache)
    errors = check_gradients(lambda x, w, b: conv2d_forward(x, w, b)[0],
                             {"x": x, "w": w, "b": b}, {"x": dx, "w": dw, "b": db}, dy=dy)
    print(format_report(errors))                  # every error should be < 1e-7

The finite difference of a scalar function L at x, one element at a time:

    dL/dx[i] ~ (L(x + h e_i) - L(x - h e_i)) / (2h)        (error O(h^2) + O(eps |L| / h))

For a function with an array output y = f(x) and an upstream gradient dy, the scalar is
L(x) = sum(f(x) * dy), whose gradient is exactly what a backward pass returns for dy.

Why float64: with h = 1e-6 the step is only ~8 float32 ulps of a value near 1, and the
difference of two float32 outputs loses all but one or two digits, so a float32 check
cannot tell a right gradient from a slightly wrong one. The functions here warn
(UserWarning) when given float32; run the check in float64 and test float32 separately
against the float64 result.

The inputs are perturbed in place and restored exactly afterwards (also when f raises).
"""

import warnings

import numpy as np

TINY = np.finfo(np.float64).tiny


def _check_perturbable(name, x):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name}: expected a float64 array to perturb, got dtype {x.dtype}")
    if x.dtype != np.float64:
        warnings.warn(
            f"{name}: finite differences in {x.dtype} are too coarse to verify a gradient "
            "(expected float64); cast the inputs with .astype(np.float64)",
            UserWarning,
            stacklevel=3,
        )


def _as_scalar(value, dy):
    """L = value itself when dy is None (value must be a scalar), else sum(value * dy)."""
    if dy is None:
        if np.ndim(value) != 0:
            raise ValueError(
                "f: expected a scalar output when dy is None, got an output of shape "
                f"{np.shape(value)}; pass the upstream gradient dy to contract it with"
            )
        return float(value)
    if np.shape(value) != np.shape(dy):
        raise ValueError(f"f: expected an output of dy's shape {dy.shape}, got {np.shape(value)}")
    return float(np.sum(value * dy))


def numerical_gradient(f, x, dy=None, h=1e-6):
    """Centred finite-difference gradient of f with respect to x, one element at a time.

    Args:
        f: function of x. Returns a scalar when dy is None, else an array of dy's shape.
        x: float64 array, perturbed in place (f must read it) and restored exactly.
        dy: optional upstream gradient; the scalar differentiated is then sum(f(x) * dy).
        h: step size.
    Returns:
        grad: array of x's shape and dtype, grad[i] = (L(x + h e_i) - L(x - h e_i)) / 2h.
    Cost: 2 * x.size calls of f, so keep x small (or use directional_check).
    """
    _check_perturbable("x", x)
    # BEGIN SOLUTION
    # HINT: perturb x[index] by +h and -h, restore it in a finally; (L+ - L-) / 2h
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        try:
            x[index] = original + h
            loss_plus = _as_scalar(f(x), dy)
            x[index] = original - h
            loss_minus = _as_scalar(f(x), dy)
        finally:
            x[index] = original  # restore exactly, whatever happened
        grad[index] = (loss_plus - loss_minus) / (2 * h)
    return grad
    # END SOLUTION


def rel_error(a, b):
    """Relative error of two arrays, scaled by their largest magnitude.

        rel_error(a, b) = max_i |a_i - b_i| / max(max_i (|a_i| + |b_i|), tiny)

    One number for the whole array: the largest disagreement as a fraction of the largest
    entry. Unlike an elementwise ratio it does not blow up on entries that are ~0 in both
    (such as the gradient of a ReLU that was off), and it is 0 for two zero arrays. In
    float64 a correct gradient checked with h = 1e-6 scores ~1e-9 to 1e-11; 1e-7 or more
    means a bug. `tiny` is the smallest positive float64.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(
            f"rel_error: expected arrays of the same shape, got {a.shape} and {b.shape}"
        )
    if a.size == 0:
        return 0.0
    largest_difference = np.max(np.abs(a - b))
    largest_magnitude = np.max(np.abs(a) + np.abs(b))
    return float(largest_difference / max(largest_magnitude, TINY))


def _check_names(inputs, analytic):
    missing = [name for name in analytic if name not in inputs]
    if missing:
        raise ValueError(
            f"analytic: expected gradients only for names in inputs {sorted(inputs)}, "
            f"got unknown names {missing}"
        )
    for name, grad in analytic.items():
        if np.shape(grad) != np.shape(inputs[name]):
            raise ValueError(
                f"analytic[{name!r}]: expected the input's shape {np.shape(inputs[name])}, "
                f"got {np.shape(grad)}"
            )


def check_gradients(f, inputs, analytic, dy=None, h=1e-6):
    """Compare analytic gradients with full finite differences, one input at a time.

    Args:
        f: function called as f(**inputs); returns a scalar, or an array of dy's shape.
        inputs: dict name -> float64 array (each perturbed in place and restored).
        analytic: dict name -> the backward pass's gradient for that input.
        dy: optional upstream gradient the array output is contracted with.
        h: finite-difference step.
    Returns:
        dict name -> rel_error(numerical, analytic), for every name in `analytic`.
    """
    _check_names(inputs, analytic)
    errors = {}
    for name, grad in analytic.items():
        numerical = numerical_gradient(lambda _x: f(**inputs), inputs[name], dy=dy, h=h)
        errors[name] = rel_error(numerical, grad)
    return errors


def directional_check(f, inputs, analytic, rng, h=1e-6, dy=None):
    """Check each gradient along one random direction: two calls of f per input.

    For a tensor too large for full finite differences: draw v ~ N(0, 1) of the input's
    shape and compare the directional derivative with the analytic gradient's projection,

        (L(x + h v) - L(x - h v)) / (2h)   vs   <grad, v> = sum(grad * v).

    A wrong gradient almost surely fails this, since a random v is almost never orthogonal
    to the error. Arguments as check_gradients, plus rng (a numpy Generator for v).
    Returns:
        dict name -> relative error |numerical - analytic| / max(|numerical| + |analytic|, tiny).
    """
    _check_names(inputs, analytic)
    errors = {}
    for name, grad in analytic.items():
        x = inputs[name]
        _check_perturbable(name, x)
        v = rng.standard_normal(x.shape)  # random direction, x's shape
        original = x.copy()
        try:
            x[...] = original + h * v
            loss_plus = _as_scalar(f(**inputs), dy)
            x[...] = original - h * v
            loss_minus = _as_scalar(f(**inputs), dy)
        finally:
            x[...] = original
        numerical = (loss_plus - loss_minus) / (2 * h)
        projected = float(np.sum(np.asarray(grad, dtype=np.float64) * v))
        errors[name] = rel_error(numerical, projected)
    return errors


def format_report(errors, tol=1e-7):
    """A small text table of relative errors, one row per input, marked ok or FAIL.

    Returns the table as a string; `print(format_report(errors))` shows it.
    """
    width = max([len("input")] + [len(name) for name in errors])
    lines = [f"{'input':<{width}}  {'rel. error':>10}  result (tol {tol:.0e})"]
    for name, error in errors.items():
        verdict = "ok" if error < tol else "FAIL"
        lines.append(f"{name:<{width}}  {error:>10.2e}  {verdict}")
    return "\n".join(lines)
