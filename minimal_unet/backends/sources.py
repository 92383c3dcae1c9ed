"""Where the GPU kernel sources are, in a source checkout and in an installed wheel.

The sources live in the repository's top-level `kernels/` folder (`kernels/cuda/*.cu`,
`kernels/numba/*.py`). The wheel installs that folder as `minimal_unet/_kernels/`, so that
no top-level import named `kernels` ever exists (another PyPI package owns that name).
Numba kernel files are loaded by path, under the module name `minimal_unet._kernels.numba.<name>`.
"""

import importlib.util
import sys
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # .../minimal_unet


def kernels_root():
    """The folder holding `cuda/` and `numba/`: the installed copy first, else the checkout's."""
    installed = _PACKAGE_DIR / "_kernels"
    if (installed / "cuda").is_dir():
        return installed
    checkout = _PACKAGE_DIR.parent / "kernels"
    if (checkout / "cuda").is_dir():
        return checkout
    raise FileNotFoundError(
        f"kernel sources not found: expected {installed} (installed wheel) "
        f"or {checkout} (source checkout)"
    )


def cuda_source_path(name):
    """Path of `kernels/cuda/<name>.cu`."""
    path = kernels_root() / "cuda" / f"{name}.cu"
    if not path.is_file():
        raise FileNotFoundError(f"CUDA kernel source {name!r} not found: expected {path}")
    return path


def read_cuda_source(name):
    """Text of `kernels/cuda/<name>.cu`."""
    return cuda_source_path(name).read_text()


def load_numba_module(name):
    """Import `kernels/numba/<name>.py` (once) and return the module."""
    module_name = f"minimal_unet._kernels.numba.{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    path = kernels_root() / "numba" / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"Numba kernel source {name!r} not found: expected {path}")
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
