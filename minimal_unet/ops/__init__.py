"""The U-Net's layers, each a pair of pure functions written by hand in NumPy.

    y, cache = <op>_forward(x, ...)        grads = <op>_backward(dy, cache)

Arrays are NCHW: (N, C, H, W) = (batch, channels, height, width); conv weights are
(F, C, kH, kW) like PyTorch. Every op works in float32 and float64 and returns the dtype
it was given. Each fast op has a `*_naive` twin beside it: explicit Python loops over the
maths, for reading and stepping through in a debugger, with the same signature.
"""

from minimal_unet.ops.conv2d import (
    conv2d_backward,
    conv2d_backward_naive,
    conv2d_forward,
    conv2d_forward_naive,
)
from minimal_unet.ops.crop_concat import (
    crop_and_concat_backward,
    crop_and_concat_backward_naive,
    crop_and_concat_forward,
    crop_and_concat_forward_naive,
)
from minimal_unet.ops.dropout import (
    dropout_backward,
    dropout_backward_naive,
    dropout_forward,
    dropout_forward_naive,
)
from minimal_unet.ops.maxpool2d import (
    maxpool2d_backward,
    maxpool2d_backward_naive,
    maxpool2d_forward,
    maxpool2d_forward_naive,
)
from minimal_unet.ops.relu import (
    relu_backward,
    relu_backward_naive,
    relu_forward,
    relu_forward_naive,
)
from minimal_unet.ops.softmax_ce import softmax_cross_entropy, softmax_cross_entropy_naive
from minimal_unet.ops.upconv2d import (
    upconv2d_backward,
    upconv2d_backward_naive,
    upconv2d_forward,
    upconv2d_forward_naive,
)

__all__ = [
    "conv2d_forward", "conv2d_backward", "conv2d_forward_naive", "conv2d_backward_naive",
    "relu_forward", "relu_backward", "relu_forward_naive", "relu_backward_naive",
    "maxpool2d_forward", "maxpool2d_backward", "maxpool2d_forward_naive",
    "maxpool2d_backward_naive",
    "upconv2d_forward", "upconv2d_backward", "upconv2d_forward_naive", "upconv2d_backward_naive",
    "crop_and_concat_forward", "crop_and_concat_backward", "crop_and_concat_forward_naive",
    "crop_and_concat_backward_naive",
    "dropout_forward", "dropout_backward", "dropout_forward_naive", "dropout_backward_naive",
    "softmax_cross_entropy", "softmax_cross_entropy_naive",
]
