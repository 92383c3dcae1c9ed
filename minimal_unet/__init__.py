"""minimal_unet: a from-scratch U-Net (Ronneberger et al. 2015, arXiv:1505.04597) whose every
layer's forward and backward pass is written by hand in NumPy, with CUDA C and Numba CUDA
kernels beside it.

The main names are here at the top level:

    from minimal_unet import UNet, UNetConfig, Trace, get_backend, softmax_cross_entropy

    UNet, UNetConfig          the network and its shape (model)
    Trace                     records every layer's activations and gradients (trace)
    get_backend               "numpy" (the reference), "cupy" or "numba" ops (backends)
    BackendUnavailableError   what get_backend raises for a missing GPU or package
    softmax_cross_entropy     the pixel-wise weighted loss, forward and backward (ops)
    ops                       every layer's forward and backward (the module)
    gradcheck                 finite-difference checks (the module: numerical_gradient,
                              check_gradients, rel_error, format_report, ...)
    check_gradients           compare analytic gradients with central differences
    SGD, Adam                 optimisers (optim)
    TrainConfig               the training recipe (train; run it with train.train)
    predict_proba_tiled       overlap-tile inference with mirroring (infer)
    predict_labels            the same, thresholded to class labels (infer)
    read_dataset              read a folder, an ISBI 2012 folder or a TIFF stack (data)
    make_synthetic            the embedded synthetic cells data set (data)

Each name is imported on first use, so `import minimal_unet` imports nothing else (not
even NumPy), and no optional package (CuPy, Numba, PyTorch, Jupyter) is imported unless a
backend or a tool that needs it is asked for. `gradcheck` is the module, not a function,
because `import minimal_unet.gradcheck` would replace a function of that name anyway.
Start reading with `minimal_unet.ops` (the layers), then `minimal_unet.model` (the network).
"""

import importlib

__version__ = "0.1.0"

# name -> (module, attribute); attribute None: the module itself.
_LAZY = {
    "UNet": ("minimal_unet.model", "UNet"),
    "UNetConfig": ("minimal_unet.model", "UNetConfig"),
    "Trace": ("minimal_unet.trace", "Trace"),
    "get_backend": ("minimal_unet.backends", "get_backend"),
    "BackendUnavailableError": ("minimal_unet.backends", "BackendUnavailableError"),
    "softmax_cross_entropy": ("minimal_unet.ops", "softmax_cross_entropy"),
    "ops": ("minimal_unet.ops", None),
    "gradcheck": ("minimal_unet.gradcheck", None),
    "check_gradients": ("minimal_unet.gradcheck", "check_gradients"),
    "SGD": ("minimal_unet.optim", "SGD"),
    "Adam": ("minimal_unet.optim", "Adam"),
    "TrainConfig": ("minimal_unet.train", "TrainConfig"),
    "predict_proba_tiled": ("minimal_unet.infer", "predict_proba_tiled"),
    "predict_labels": ("minimal_unet.infer", "predict_labels"),
    "read_dataset": ("minimal_unet.data", "read_dataset"),
    "make_synthetic": ("minimal_unet.data", "make_synthetic"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    """Import a top-level name on first use (PEP 562); the module stays cheap to import."""
    if name not in _LAZY:
        raise AttributeError(f"module 'minimal_unet' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
