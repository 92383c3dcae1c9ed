"""The top-level API: the main names import from `minimal_unet`, lazily, without optional
packages."""

import json
import subprocess
import sys
import types

import numpy as np

import minimal_unet

# Packages a plain `import minimal_unet` must not pull in: the optional extras and the
# heavy core dependencies, which load when a name that needs them is first used.
NOT_AT_IMPORT = ("numpy", "scipy", "matplotlib", "PIL", "tifffile", "tqdm", "torch", "cupy",
                 "numba", "numba_cuda", "cuda", "skimage", "jupytext", "nbclient", "IPython")
OPTIONAL = ("torch", "cupy", "numba", "numba_cuda", "cuda", "skimage", "jupytext", "nbclient",
            "IPython")


def _imported_in_fresh_python(code):
    """Top-level package names in sys.modules after running `code` in a new interpreter."""
    probe = code + "\nimport sys, json; print(json.dumps(sorted({m.split('.')[0] " \
                   "for m in sys.modules})))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_import_minimal_unet_imports_no_other_package():
    loaded = _imported_in_fresh_python("import minimal_unet")
    assert "minimal_unet" in loaded
    assert not loaded & set(NOT_AT_IMPORT), sorted(loaded & set(NOT_AT_IMPORT))


def test_every_top_level_name_imports_without_optional_packages():
    loaded = _imported_in_fresh_python(
        "from minimal_unet import *\n"
        "from minimal_unet import UNet, UNetConfig, Trace, get_backend, softmax_cross_entropy, "
        "gradcheck, check_gradients\n"
        "get_backend('numpy')")
    assert {"minimal_unet", "numpy"} <= loaded
    assert not loaded & set(OPTIONAL), sorted(loaded & set(OPTIONAL))


def test_all_lists_each_name_once_and_each_resolves():
    names = minimal_unet.__all__
    assert len(names) == len(set(names))
    assert {"UNet", "UNetConfig", "Trace", "get_backend", "softmax_cross_entropy",
            "gradcheck"} <= set(names)
    for name in names:
        assert getattr(minimal_unet, name) is not None, name
    assert set(names) <= set(dir(minimal_unet))


def test_top_level_names_are_the_module_objects():
    from minimal_unet import (
        Trace,
        UNet,
        UNetConfig,
        backends,
        get_backend,
        model,
        ops,
        softmax_cross_entropy,
        trace,
    )

    assert UNet is model.UNet and UNetConfig is model.UNetConfig
    assert Trace is trace.Trace
    assert get_backend is backends.get_backend
    assert softmax_cross_entropy is ops.softmax_cross_entropy


def test_gradcheck_is_the_module_even_after_submodule_imports():
    # A function named `gradcheck` would be replaced by the submodule on `import
    # minimal_unet.gradcheck`; the name is the module, the same object either way.
    import minimal_unet.gradcheck
    from minimal_unet import check_gradients, gradcheck

    assert isinstance(gradcheck, types.ModuleType)
    assert gradcheck is sys.modules["minimal_unet.gradcheck"] is minimal_unet.gradcheck
    assert check_gradients is gradcheck.check_gradients


def test_unknown_name_is_an_attribute_error():
    try:
        minimal_unet.no_such_name  # noqa: B018
    except AttributeError as error:
        assert "no_such_name" in str(error)
    else:
        raise AssertionError("minimal_unet.no_such_name did not raise AttributeError")


def test_submodules_not_listed_still_import():
    from minimal_unet import sizes

    assert sizes.output_size(minimal_unet.UNetConfig(), 572) == 388


def test_the_top_level_names_work_together():
    from minimal_unet import Trace, UNet, UNetConfig, softmax_cross_entropy

    net = UNet(UNetConfig(depth=1, base_channels=2), seed=0, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((1, 1, 20, 20))
    trace = Trace()
    logits = net.forward(x, trace=trace)
    loss, dlogits = softmax_cross_entropy(logits, np.zeros((1,) + logits.shape[2:], np.int64))
    assert np.isfinite(loss) and dlogits.shape == logits.shape
    assert len(list(trace)) > 0
