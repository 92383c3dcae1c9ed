"""minimal_unet: a from-scratch U-Net (Ronneberger et al. 2015) whose every layer's forward
and backward pass is written by hand in NumPy, with CUDA C and Numba CUDA kernels beside it.

Start with `minimal_unet.ops` (the layers), then `minimal_unet.model` (the network).
"""

__version__ = "0.1.0"
