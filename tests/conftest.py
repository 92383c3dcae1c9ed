"""Shared fixtures. The PyTorch reference U-Net lives in minimal_unet/torch_twin.py."""

import pytest

from minimal_unet.torch_twin import build_torch_unet


@pytest.fixture
def torch_unet():
    """The builder build_torch_unet(config, dtype=torch.float64, device=None)."""
    pytest.importorskip("torch", reason="PyTorch (the oracle extra) is not installed")
    return build_torch_unet
