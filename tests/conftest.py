"""Shared fixtures. The PyTorch reference U-Net lives in minimal_unet/torch_twin.py."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from minimal_unet.data.synthetic import make_synthetic
from minimal_unet.ops import _threads
from minimal_unet.torch_twin import build_torch_unet

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load_benchmark(name):
    """benchmarks/<name>.py as a module (the scripts import each other by name)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(f"{name}_benchmark", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _ops_threading_starts_default(monkeypatch):
    """Every test starts with conv2d / upconv2d in their default threading: a UNet forward
    pass of a large network leaves `_threads.set_every_product(True)` behind it."""
    monkeypatch.setattr(_threads, "_EVERY_PRODUCT", False)


@pytest.fixture(scope="session")
def load_benchmark():
    """load_benchmark(name) -> benchmarks/<name>.py as a module."""
    return _load_benchmark


@pytest.fixture(scope="session")
def real_data():
    """benchmarks/real_data.py as a module."""
    return _load_benchmark("real_data")


@pytest.fixture(scope="session")
def dsb_like(tmp_path_factory):
    """22 synthetic 64x64 images in the DSB layout: the split keeps the last 20 for
    validation."""
    root = tmp_path_factory.mktemp("dsb")
    for folder in ("images", "masks", "instances"):
        (root / folder).mkdir()
    for s in make_synthetic(22, size=(64, 64), seed=0):
        Image.fromarray((s.image * 255).astype(np.uint8)).save(root / "images" / f"{s.name}.png")
        Image.fromarray((s.mask * 255).astype(np.uint8)).save(root / "masks" / f"{s.name}.png")
        Image.fromarray(s.instances.astype(np.uint16)).save(root / "instances" / f"{s.name}.png")
    return root


@pytest.fixture
def torch_unet():
    """The builder build_torch_unet(config, dtype=torch.float64, device=None)."""
    pytest.importorskip("torch", reason="PyTorch (the oracle extra) is not installed")
    return build_torch_unet
