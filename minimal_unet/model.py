"""The U-Net of Ronneberger et al. (2015), forward and backward written out by hand.

    net = UNet(UNetConfig(), seed=0)                 # the paper net: 572 -> 388, 31.0 M params
    logits = net.forward(x)                          # x (N, 1, 572, 572) float32
    loss, dlogits = softmax_cross_entropy(logits, target)
    grads = net.backward(dlogits)                    # dict, same keys as net.params

No autograd: `forward` keeps each op's cache (the layer inputs, nested per block) and
`backward` walks the layers in reverse, level by level. Every op is called through the
backend module chosen once in __init__ (`self.ops = get_backend(backend)`), so the same
code runs on NumPy, CuPy or Numba CUDA.

Architecture (d = depth, c_i = base_channels * 2**i, c_d the bottom; K = n_classes):

    enc{i}, i = 0..d-1:  conv1 3x3 -> ReLU -> conv2 3x3 -> ReLU   (output kept as skip i)
                         -> 2x2 max-pool
    bottom:              conv1 3x3 -> ReLU -> conv2 3x3 -> ReLU [-> dropout]
    dec{i}, i = d-1..0:  up 2x2 stride 2 (c_{i+1} -> c_i) -> concat(cropped skip i, up)
                         -> conv1 3x3 -> ReLU -> conv2 3x3 -> ReLU
    head:                1x1 conv c_0 -> K (logits)

Parameters (`net.params`, an ordered dict named like the PyTorch state_dict):

    name                       shape                      init std (biases are zero)
    enc{i}.conv1.weight        (c_i, C_in or c_{i-1}, 3, 3)    sqrt(2 / (C * 3 * 3))
    enc{i}.conv2.weight        (c_i, c_i, 3, 3)            sqrt(2 / (c_i * 9))
    bottom.conv1.weight        (c_d, c_{d-1}, 3, 3)        sqrt(2 / (c_{d-1} * 9))
    bottom.conv2.weight        (c_d, c_d, 3, 3)            sqrt(2 / (c_d * 9))
    dec{i}.up.weight           (c_{i+1}, c_i, 2, 2)        sqrt(2 / c_{i+1})   (see below)
    dec{i}.conv1.weight        (c_i, 2 c_i, 3, 3)          sqrt(2 / (2 c_i * 9)); skip first
    dec{i}.conv2.weight        (c_i, c_i, 3, 3)            sqrt(2 / (c_i * 9))
    head.weight                (K, c_0, 1, 1)              sqrt(2 / c_0)
    <each>.bias                (out channels,)             0

Initialisation is the paper's: Gaussian with std sqrt(2 / fan_in), drawn in float64 from
`numpy.random.default_rng(seed)` in the table's order and then cast, so float32 and float64
nets of one seed hold the same numbers. Fan-in is the number of products summed into one
output: C * kH * kW for a conv. For the stride-2 2x2 up-conv each output pixel sees exactly
one input pixel per channel, y[o, 2i+a, 2j+c] = sum_ci x[ci, i, j] w[ci, o, a, c], so its
fan-in is C_in (not C_in * 2 * 2; Caffe's MSRA filler, which divides the weight count by
the first dimension, would use C_out * 2 * 2 = 2 C_in for the paper's layers).

Dropout (config.dropout > 0): the paper puts it "at the end of the contracting path"; we
put one dropout layer on the bottom block's output, just before the first up-conv. Its
mask is drawn from `net.rng`, the generator that drew the initial weights (seeded from
`seed`; save and restore `net.rng.bit_generator.state` to resume a run exactly).

Traced names (pass `trace=Trace()`; references, not copies):
    forward:  {block}.conv{1,2}.in/.out, {block}.relu{1,2}.out  (block = enc{i}, bottom,
              dec{i}), enc{i}.pool.out, bottom.dropout.out, dec{i}.up.in/.out,
              dec{i}.concat.out, head.in, head.out (the logits)
    backward: head.grad_in, {block}.relu{1,2}.grad_in, {block}.conv{1,2}.grad_in,
              dec{i}.concat.grad_in, dec{i}.up.grad_in, enc{i}.grad_from_skip,
              enc{i}.pool.grad_in, enc{i}.grad_from_pool, enc{i}.grad (their sum),
              bottom.dropout.grad_in, input.grad
"""

import dataclasses
import numbers

import numpy as np

from minimal_unet import checkpoint, model_file, sizes
from minimal_unet.backends import get_backend
from minimal_unet.ops import _threads
from minimal_unet.ops._conv_blocks import runs_on_our_threads


@dataclasses.dataclass(frozen=True)
class UNetConfig:
    """The architecture. Defaults are the paper's net (1 input channel, 2 classes)."""

    in_channels: int = 1
    n_classes: int = 2
    depth: int = 4  # number of max-pools
    base_channels: int = 64  # channels of level 0; level i has base_channels * 2**i
    padding: str = "valid"  # "valid" (the paper, 572 -> 388) or "same" (pad 1, size kept)
    dropout: float = 0.0  # drop probability on the bottom block's output

    def __post_init__(self):
        lowest = {"in_channels": 1, "n_classes": 2, "depth": 1, "base_channels": 1}
        for field, low in lowest.items():
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"UNetConfig.{field}: expected an int, got {value!r}")
            if value < low:
                raise ValueError(f"UNetConfig.{field}: expected an int >= {low}, got {value}")
        if self.padding not in ("valid", "same"):
            raise ValueError(
                f"UNetConfig.padding: expected 'valid' or 'same', got {self.padding!r}"
            )
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, numbers.Real):
            raise TypeError(f"UNetConfig.dropout: expected a number, got {self.dropout!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"UNetConfig.dropout: expected 0 <= p < 1, got {self.dropout}")

    def to_dict(self):
        return dataclasses.asdict(self)


def init_params(config, seed, dtype):
    """He-initialised parameters as an ordered dict of NumPy arrays (see the module table)."""
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape in sizes.param_shapes(config).items():
        if name.endswith(".bias"):
            params[name] = np.zeros(shape, dtype=dtype)
            continue
        fan_in = shape[0] if ".up." in name else shape[1] * shape[2] * shape[3]
        w = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)  # float64
        params[name] = w.astype(dtype)
    return params, rng


def _record(trace, name, array):
    if trace is not None:
        trace.record(name, array)


def _keep(caches, name, cache):
    if caches is not None:  # None: inference, caches dropped as soon as the op returns
        caches[name] = cache


class UNet:
    """The U-Net with hand-written forward and backward passes.

    config: UNetConfig. seed: int for the initial weights and dropout masks.
    dtype: np.float32 or np.float64 (inputs must match). backend: "numpy", "cupy", "numba".
    Attributes: params (ordered dict name -> backend array), ops (the backend module),
    rng (numpy Generator), config, dtype (np.dtype), pad (0 or 1), seed, input_offset:
    (dy, dx) px, the offset its training labels had from their images (data/offset.py;
    (0.0, 0.0) unless trained with align_labels): inference resamples each image by it
    before normalising (infer.prepare_image), as training did. Saved with the weights.
    """

    def __init__(self, config=None, seed=0, dtype=np.float32, backend="numpy"):
        config = UNetConfig() if config is None else config
        if not isinstance(config, UNetConfig):
            raise TypeError(f"config: expected a UNetConfig, got {type(config).__name__}")
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"dtype: expected float32 or float64, got {dtype!r}") from None
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype: expected float32 or float64, got {dtype}")
        self.ops = get_backend(backend)  # the one line that chooses where the maths runs
        self.config, self.seed, self.dtype = config, seed, dtype
        self.pad = 0 if config.padding == "valid" else 1
        params, self.rng = init_params(config, seed, dtype)
        self.params = {name: self.ops.asarray(p) for name, p in params.items()}
        self.input_offset = (0.0, 0.0)  # see the class docstring
        self._caches = None  # filled by forward, consumed by backward

    def __repr__(self):
        return (f"UNet({self.config}, dtype={self.dtype}, backend={self.ops.name!r}, "
                f"{self.n_parameters():,} parameters)")

    def n_parameters(self):
        return sum(int(np.prod(p.shape)) for p in self.params.values())

    # ----- forward ---------------------------------------------------------------------

    def check_input(self, x):
        """Raise unless x is (N, in_channels, H, W) of the net's dtype with legal H, W."""
        if not hasattr(x, "shape") or not hasattr(x, "dtype"):
            raise TypeError(f"x: expected an array (N, C, H, W), got {type(x).__name__}")
        if len(x.shape) != 4:
            raise ValueError(f"x: expected shape (N, C, H, W), got shape {tuple(x.shape)}")
        if x.dtype != self.dtype:
            raise TypeError(f"x: dtype {x.dtype} does not match the net's dtype {self.dtype}; "
                            f"cast with x.astype(np.{self.dtype})")
        if x.shape[1] != self.config.in_channels:
            raise ValueError(f"x: expected {self.config.in_channels} input channel(s) "
                             f"(N, {self.config.in_channels}, H, W), got shape {tuple(x.shape)}")
        sizes.check_input_size(self.config, (int(x.shape[2]), int(x.shape[3])))

    def _block_forward(self, name, x, caches, trace):
        """conv1 -> ReLU -> conv2 -> ReLU; the block's cache nests the four op caches."""
        ops, p = self.ops, self.params
        _record(trace, f"{name}.conv1.in", x)
        h, c_conv1 = ops.conv2d_forward(x, p[f"{name}.conv1.weight"], p[f"{name}.conv1.bias"],
                                        pad=self.pad)
        _record(trace, f"{name}.conv1.out", h)
        h, c_relu1 = ops.relu_forward(h)
        _record(trace, f"{name}.relu1.out", h)
        _record(trace, f"{name}.conv2.in", h)
        h, c_conv2 = ops.conv2d_forward(h, p[f"{name}.conv2.weight"], p[f"{name}.conv2.bias"],
                                        pad=self.pad)
        _record(trace, f"{name}.conv2.out", h)
        h, c_relu2 = ops.relu_forward(h)
        _record(trace, f"{name}.relu2.out", h)
        _keep(caches, name, (c_conv1, c_relu1, c_conv2, c_relu2))
        return h

    def forward(self, x, train=True, trace=None):
        """Logits (N, n_classes, oH, oW) of x (N, in_channels, H, W); keeps the caches.

        train: False turns dropout into the identity. trace: optional Trace to fill.
        """
        return self._forward(x, train, trace, keep_caches=True)

    def _forward(self, x, train, trace, keep_caches):
        self.check_input(x)  # before any op runs
        # A network with a layer large enough for our CPU threads runs every product of
        # this pass, and of the backward pass after it, on them (ops/conv2d.py, trick 3):
        # a step never wakes BLAS's own threads, which spin after use. Set until the next
        # forward pass; NumPy backend only.
        _threads.set_every_product(self.ops.name == "numpy" and runs_on_our_threads(
            sizes.largest_im2col_bytes(self.config, x.shape, self.dtype.itemsize)))
        ops, p, depth = self.ops, self.params, self.config.depth
        caches = {} if keep_caches else None
        self._caches = None  # a new forward invalidates an unused old one

        skips = []
        h = x
        for i in range(depth):  # contracting path
            h = self._block_forward(f"enc{i}", h, caches, trace)
            skips.append(h)  # the skip connection: the same array, no copy
            h, cache = ops.maxpool2d_forward(h)
            _keep(caches, f"enc{i}.pool", cache)
            _record(trace, f"enc{i}.pool.out", h)

        h = self._block_forward("bottom", h, caches, trace)
        if self.config.dropout > 0:
            h, cache = ops.dropout_forward(h, self.config.dropout, self.rng, train=train)
            _keep(caches, "bottom.dropout", cache)
            _record(trace, "bottom.dropout.out", h)

        for i in reversed(range(depth)):  # expanding path
            _record(trace, f"dec{i}.up.in", h)
            up, cache = ops.upconv2d_forward(h, p[f"dec{i}.up.weight"], p[f"dec{i}.up.bias"])
            _keep(caches, f"dec{i}.up", cache)
            _record(trace, f"dec{i}.up.out", up)
            cat, cache = ops.crop_and_concat_forward(skips[i], up)  # (N, 2 c_i, h, w)
            _keep(caches, f"dec{i}.concat", cache)
            _record(trace, f"dec{i}.concat.out", cat)
            del up  # copied into cat; nothing else holds it
            h = self._block_forward(f"dec{i}", cat, caches, trace)
            del cat  # held by dec{i}.conv1's cache

        _record(trace, "head.in", h)
        logits, cache = ops.conv2d_forward(h, p["head.weight"], p["head.bias"], pad=0)
        _keep(caches, "head", cache)
        _record(trace, "head.out", logits)
        self._caches = caches
        return logits

    # ----- backward --------------------------------------------------------------------

    def _block_backward(self, name, d_out, cache, grads, trace, need_dx=True):
        """Backward of conv1 -> ReLU -> conv2 -> ReLU; returns dL/d(block input).

        need_dx False (the first block, whose input is the image, when nobody asked for
        dL/dx) skips conv1's dx product and returns None.
        """
        ops = self.ops
        c_conv1, c_relu1, c_conv2, c_relu2 = cache
        del cache
        # BEGIN SOLUTION
        # HINT: relu2, conv2, relu1, conv1 in reverse; each conv's dW, db go into grads;
        # HINT: conv1's dx only if need_dx (ops.conv2d_backward(..., need_dx=need_dx))
        _record(trace, f"{name}.relu2.grad_in", d_out)
        d = ops.relu_backward(d_out, c_relu2)
        del d_out, c_relu2
        _record(trace, f"{name}.conv2.grad_in", d)
        d, grads[f"{name}.conv2.weight"], grads[f"{name}.conv2.bias"] = (
            ops.conv2d_backward(d, c_conv2))
        del c_conv2
        _record(trace, f"{name}.relu1.grad_in", d)
        d = ops.relu_backward(d, c_relu1)
        del c_relu1
        _record(trace, f"{name}.conv1.grad_in", d)
        d, grads[f"{name}.conv1.weight"], grads[f"{name}.conv1.bias"] = (
            ops.conv2d_backward(d, c_conv1, need_dx=need_dx))
        return d
        # END SOLUTION

    def _sum_skip_gradient(self, d_from_pool, d_from_skip):
        """dL/d(enc{i} output) = the max-pool's gradient + the skip connection's.

        A named seam: minimal_unet.bughunt's missing-skip-sum variant replaces exactly this.
        """
        return self.ops.add(d_from_pool, d_from_skip)

    def backward(self, dlogits, trace=None, return_dx=False):
        """Gradients of the loss for every parameter, from dL/dlogits (logits' shape).

        Consumes the caches of the last `forward` (freeing each as it goes).
        Returns grads (dict with net.params' keys, in order), or (grads, dL/dx) when
        return_dx is True. dL/dx (the image's gradient) is computed only then, or when a
        trace records it: a training step never needs it.
        """
        if self._caches is None:
            raise RuntimeError("backward: no forward caches; call net.forward(x) first "
                               "(each forward allows one backward)")
        caches, self._caches = self._caches, None
        ops, depth = self.ops, self.config.depth
        grads = {}

        # BEGIN SOLUTION
        # HINT: head, dec0..dec{d-1}, bottom, enc{d-1}..enc0; d_enc = d_from_pool + d_from_skip
        _record(trace, "head.grad_in", dlogits)
        d, grads["head.weight"], grads["head.bias"] = ops.conv2d_backward(
            dlogits, caches.pop("head"))

        d_from_skip = {}
        for i in range(depth):  # expanding path, in reverse: dec0 first
            d_cat = self._block_backward(f"dec{i}", d, caches.pop(f"dec{i}"), grads, trace)
            _record(trace, f"dec{i}.concat.grad_in", d_cat)
            d_from_skip[i], d_up = ops.crop_and_concat_backward(d_cat, caches.pop(f"dec{i}.concat"))
            del d_cat
            _record(trace, f"enc{i}.grad_from_skip", d_from_skip[i])
            _record(trace, f"dec{i}.up.grad_in", d_up)
            d, grads[f"dec{i}.up.weight"], grads[f"dec{i}.up.bias"] = ops.upconv2d_backward(
                d_up, caches.pop(f"dec{i}.up"))
            del d_up

        if self.config.dropout > 0:
            _record(trace, "bottom.dropout.grad_in", d)
            d = ops.dropout_backward(d, caches.pop("bottom.dropout"))
        d = self._block_backward("bottom", d, caches.pop("bottom"), grads, trace)

        for i in reversed(range(depth)):  # contracting path, in reverse: deepest first
            _record(trace, f"enc{i}.pool.grad_in", d)
            d_from_pool = ops.maxpool2d_backward(d, caches.pop(f"enc{i}.pool"))
            _record(trace, f"enc{i}.grad_from_pool", d_from_pool)
            # enc{i}'s output fed the pool and the skip: the two gradients add up.
            d_enc = self._sum_skip_gradient(d_from_pool, d_from_skip.pop(i))
            del d_from_pool
            _record(trace, f"enc{i}.grad", d_enc)
            # enc0's input is the image: its dx is needed only when asked for (or traced).
            need_dx = i > 0 or return_dx or trace is not None
            d = self._block_backward(f"enc{i}", d_enc, caches.pop(f"enc{i}"), grads, trace,
                                     need_dx=need_dx)
            del d_enc

        _record(trace, "input.grad", d)
        grads = {name: grads[name] for name in self.params}  # the params' order
        return (grads, d) if return_dx else grads
        # END SOLUTION

    # ----- conveniences ----------------------------------------------------------------

    def loss_and_grads(self, x, target, weight=None):
        """Forward (train=True), softmax cross-entropy, backward: returns (loss, grads).

        x (N, C, H, W); target (N, oH, oW) ints; weight optional (N, oH, oW), x's dtype.
        All on the net's backend.
        """
        logits = self.forward(x, train=True)
        loss, dlogits = self.ops.softmax_cross_entropy(logits, target, weight)
        del logits
        return loss, self.backward(dlogits)

    def predict_proba(self, x):
        """Class probabilities (N, K, oH, oW): softmax of the logits, train=False, no caches.

        The softmax is computed on the host (NumPy) and the result returned on the backend.
        """
        logits = self.ops.asnumpy(self._forward(x, train=False, trace=None, keep_caches=False))
        z = logits - logits.max(axis=1, keepdims=True)  # (N, K, oH, oW), <= 0
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return self.ops.asarray(z)

    # ----- weights in and out ----------------------------------------------------------

    def state_dict(self):
        """Ordered dict name -> NumPy array (a copy), named like the PyTorch state_dict."""
        return {name: np.array(self.ops.asnumpy(p)) for name, p in self.params.items()}

    def load_state_dict(self, state):
        """Replace every parameter from `state` (name -> array; float arrays are cast).

        A missing or unexpected name, a wrong shape, a non-float array or a NaN/Inf value is
        an error naming the key (and the index); nothing is changed unless every entry passes
        (model_file.checked_state).
        """
        new = model_file.checked_state(self.params, state, self.dtype)
        # the same dict object: optimisers holding it see the new arrays
        self.params.update({name: self.ops.asarray(a) for name, a in new.items()})

    def save(self, path):
        """Write weights, config, dtype, seed, rng state and input offset to an .npz at
        `path`, atomically (the format: model_file.py; no pickle anywhere)."""
        model_file.write(self, path)

    @classmethod
    def load(cls, path, backend="numpy", config=None):
        """A UNet from a file written by `save`. `config`, if given, must match the file's.

        Any broken file (empty, truncated, not an .npz, bad metadata, NaN weights) is a
        ValueError (checkpoint.CorruptFileError) whose one-line message names the file.
        """
        stored = model_file.read(path, UNetConfig, config)
        net = cls(stored.config, seed=stored.seed, dtype=stored.dtype, backend=backend)
        try:
            net.load_state_dict(stored.state)
        except (ValueError, TypeError) as error:
            raise checkpoint.CorruptFileError(f"{path}: {error}") from None
        if stored.rng_state is not None:
            net.rng.bit_generator.state = stored.rng_state
        net.input_offset = stored.input_offset
        return net
