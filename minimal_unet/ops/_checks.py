"""Input checks shared by every op: each failure names what was expected and what was given.

The ops accept float32 and float64 arrays only; integer arrays are a TypeError (a silent
cast would hide a bug in the caller), wrong ranks and mismatched shapes are ValueErrors.
"""

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def check_float_array(name, a, ndim=None, layout=None):
    """Raise unless `a` is a float32/float64 ndarray of rank `ndim`.

    `layout` is a human-readable shape such as "(N, C, H, W)" used in the message.
    """
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {type(a).__name__}")
    if a.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected dtype float32 or float64, got {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        expected = layout if layout is not None else f"{ndim}-D"
        raise ValueError(f"{name}: expected shape {expected}, got shape {a.shape} ({a.ndim}-D)")


def check_same_dtype(**arrays):
    """Raise unless every keyword array has the same dtype (output dtype follows input)."""
    dtypes = {name: a.dtype for name, a in arrays.items()}
    if len(set(dtypes.values())) > 1:
        given = ", ".join(f"{n}={d}" for n, d in dtypes.items())
        raise TypeError(f"expected all arrays to share one float dtype, got {given}")


def check_shape(name, a, expected_shape):
    """Raise unless `a.shape == expected_shape`."""
    if tuple(a.shape) != tuple(expected_shape):
        raise ValueError(f"{name}: expected shape {tuple(expected_shape)}, got {a.shape}")
