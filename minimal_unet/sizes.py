"""Tile-size arithmetic of the U-Net: which input sizes are legal, what comes out, and why.

Every function takes a `UNetConfig` (only its fields `in_channels`, `n_classes`, `depth`,
`base_channels` and `padding` are read) and works one spatial axis at a time, so a
non-square input (H, W) is simply two independent 1-D walks.

Sizes along one axis, with d = depth and p = 0 ("valid", the paper) or 1 ("same"):

    3x3 conv:        n -> n - 2 + 2p
    2x2 max-pool:    n -> n / 2            (n must be even)
    2x2 up-conv:     n -> 2 n
    crop per side:   (skip - up) / 2       (skip >= up, the difference even)

"valid": walking down from an input n, each level does n -> (n - 4) / 2, and the bottom
block leaves b - 4 from b. Walking back up from the bottom size b gives
n = 2^d b + 4 (2^d - 1), so the legal inputs are the n with

    n = 2^d s + 4 (2^d - 1),  s >= s_min        (d = 4: n = 16 s + 60, s >= 8)

and the output is n - 12 * 2^d + 8 (d = 4: n - 184, so 572 -> 388). s_min is the
smallest bottom size whose final output is positive: 2^d (s - 4) - 4 (2^d - 1) >= 1.
"same": every conv keeps the size, so n must be divisible by 2^d (n >= 2^d) and the
output equals the input; no skip connection is cropped.

Receptive field: the span of input pixels that can change one output pixel, found exactly
by walking an interval of pixels backwards through the layers (see `receptive_field`).
"""

from typing import NamedTuple

KERNEL = 3  # every 3x3 convolution of the two-conv blocks


class LayerRow(NamedTuple):
    """One row of `layer_table`: a layer's name, its output shape (C, H, W) and a note."""

    name: str
    shape: tuple
    note: str


def _pad(config):
    return 0 if config.padding == "valid" else 1


def level_channels(config, i):
    """Channels of level i (i = depth is the bottom): base_channels * 2**i."""
    return config.base_channels * 2**i


def param_shapes(config):
    """Ordered {name: shape} of every parameter, in the order of a PyTorch state_dict.

    enc{i}.conv{1,2} for i = 0..depth-1, bottom.conv{1,2}, then for i = depth-1..0
    dec{i}.up (C_in, C_out, 2, 2) and dec{i}.conv{1,2}, then head (the 1x1 conv).
    """
    shapes = {}
    in_ch = config.in_channels

    def conv(name, c_in, c_out, k):
        shapes[f"{name}.weight"] = (c_out, c_in, k, k)
        shapes[f"{name}.bias"] = (c_out,)

    for i in range(config.depth):
        c = level_channels(config, i)
        conv(f"enc{i}.conv1", in_ch, c, KERNEL)
        conv(f"enc{i}.conv2", c, c, KERNEL)
        in_ch = c
    c_bottom = level_channels(config, config.depth)
    conv("bottom.conv1", in_ch, c_bottom, KERNEL)
    conv("bottom.conv2", c_bottom, c_bottom, KERNEL)
    for i in reversed(range(config.depth)):
        c_below, c = level_channels(config, i + 1), level_channels(config, i)
        shapes[f"dec{i}.up.weight"] = (c_below, c, 2, 2)  # (C_in, C_out, 2, 2) like torch
        shapes[f"dec{i}.up.bias"] = (c,)
        conv(f"dec{i}.conv1", 2 * c, c, KERNEL)  # skip (c channels) first, then up (c)
        conv(f"dec{i}.conv2", c, c, KERNEL)
    conv("head", level_channels(config, 0), config.n_classes, 1)
    return shapes


def n_parameters(config):
    """Number of scalar parameters (weights and biases). Paper net: 31,030,658."""
    total = 0
    for shape in param_shapes(config).values():
        count = 1
        for dim in shape:
            count *= dim
        total += count
    return total


def n_conv_layers(config):
    """Convolution layers, counting up-convs and the 1x1 head: 4 d + 2 + 3 d + 1 (paper 23)."""
    return sum(1 for name in param_shapes(config) if name.endswith(".weight"))


class _IllegalSize(Exception):
    """Raised inside a 1-D walk; turned into a ValueError naming the nearest legal sizes."""


def _walk(config, n):
    """Walk one axis of size n through the net: list of (name, channels, size, note).

    Raises _IllegalSize where a conv output is not positive, a pool sees an odd size, or a
    skip connection cannot be centre-cropped to the up-conv output.
    """
    p = _pad(config)
    conv_note = f"3x3 conv + ReLU, {config.padding}"
    rows = [("input", config.in_channels, n, "")]
    skips = []

    def conv(name, c, size):
        out = size - KERNEL + 1 + 2 * p  # oH = H + 2p - kH + 1
        if out < 1:
            raise _IllegalSize(f"{name} would output {out} pixels (input {size})")
        rows.append((name, c, out, conv_note))
        return out

    size = n
    for i in range(config.depth):
        c = level_channels(config, i)
        size = conv(f"enc{i}.conv1", c, size)
        size = conv(f"enc{i}.conv2", c, size)
        skips.append(size)
        if size % 2 != 0:
            raise _IllegalSize(f"enc{i}.pool would see an odd size {size}")
        size //= 2
        rows.append((f"enc{i}.pool", c, size, "2x2 max-pool, stride 2"))
    c = level_channels(config, config.depth)
    size = conv("bottom.conv1", c, size)
    size = conv("bottom.conv2", c, size)
    if config.dropout > 0:
        rows.append(("bottom.dropout", c, size, f"dropout p={config.dropout}"))
    for i in reversed(range(config.depth)):
        c = level_channels(config, i)
        size *= 2
        rows.append((f"dec{i}.up", c, size, "2x2 up-conv, stride 2"))
        skip = skips[i]
        if skip < size or (skip - size) % 2 != 0:
            raise _IllegalSize(f"dec{i}: skip of size {skip} cannot be centre-cropped to {size}")
        crop = (skip - size) // 2
        rows.append((f"dec{i}.concat", 2 * c, size, f"skip {skip} cropped by {crop} per side"))
        size = conv(f"dec{i}.conv1", c, size)
        size = conv(f"dec{i}.conv2", c, size)
    rows.append(("head", config.n_classes, size, "1x1 conv (logits)"))
    return rows


def _as_hw(input_size):
    """An int n means (n, n); a pair (H, W) is taken as given."""
    if isinstance(input_size, (tuple, list)) and len(input_size) == 2:
        h, w = input_size
    else:
        h = w = input_size
    for v in (h, w):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"input size: expected an int or a pair (H, W) of ints, "
                            f"got {input_size!r}")
    return h, w


def is_legal_input_size(config, n):
    """True when an input of n pixels along one axis passes through the net."""
    if n < 1:
        return False
    try:
        _walk(config, n)
    except _IllegalSize:
        return False
    return True


def _candidates_offset(config):
    """Every legal size is 2^d s + offset, s >= 0: offset 4 (2^d - 1) valid, 0 same.

    (Legality is still decided by the walk; this only skips sizes that cannot be legal,
    so the searches below take O(1) walks, not O(2^d), and `sizes --depth 40` answers.)
    """
    return 4 * (2**config.depth - 1) if config.padding == "valid" else 0


def _smallest_legal(config):
    period, offset = 2**config.depth, _candidates_offset(config)
    s = 0
    while not is_legal_input_size(config, period * s + offset):  # s_min <= 8: ends quickly
        s += 1
    return period * s + offset


def nearest_legal_input_sizes(config, n):
    """(below, above): the largest legal size <= n (None if none) and the smallest >= n."""
    period, offset = 2**config.depth, _candidates_offset(config)
    smallest = _smallest_legal(config)
    if n >= smallest:
        below = offset + (n - offset) // period * period  # legal: every candidate >= smallest
    else:
        below = None
    above = max(smallest, offset + -(-(n - offset) // period) * period)
    return below, above


def nearest_legal_input_size(config, n):
    """The legal size closest to n (the larger one on a tie: it keeps more output)."""
    below, above = nearest_legal_input_sizes(config, n)
    if below is None or above - n <= n - below:
        return above
    return below


def legal_input_sizes(config, lo, hi):
    """All legal sizes n with lo <= n <= hi, ascending."""
    period = 2**config.depth
    first = nearest_legal_input_sizes(config, max(lo, 1))[1]
    return [n for n in range(first, hi + 1, period) if is_legal_input_size(config, n)]


def check_input_size(config, input_size):
    """Raise ValueError unless (H, W) is legal, naming the nearest legal sizes per axis."""
    for axis, n in zip(("H", "W"), _as_hw(input_size)):
        try:
            if n < 1:
                raise _IllegalSize(f"size {n} is not positive")
            _walk(config, n)
        except _IllegalSize as err:
            below, above = nearest_legal_input_sizes(config, n)
            nearest = f"{below} or {above}" if below is not None else f"{above} (the smallest)"
            raise ValueError(
                f"input {axis} = {n} is not a legal size for depth {config.depth}, "
                f"padding {config.padding!r} ({err}); nearest legal sizes: {nearest}"
            ) from None


def output_size(config, input_size):
    """Output size for an input size (int n -> int; (H, W) -> (oH, oW)). ValueError if illegal."""
    check_input_size(config, input_size)
    h, w = _as_hw(input_size)
    out = (_walk(config, h)[-1][2], _walk(config, w)[-1][2])
    return out if isinstance(input_size, (tuple, list)) else out[0]


def skip_crops(config, input_size):
    """Crop per side of each skip connection, {level i: (crop_H, crop_W)}; paper 4/16/40/88."""
    check_input_size(config, input_size)
    h, w = _as_hw(input_size)
    crops = {}
    for row_h, row_w in zip(_walk(config, h), _walk(config, w)):
        if row_h[0].endswith(".concat"):
            level = int(row_h[0][3:-len(".concat")])
            crops[level] = (_crop_of(row_h[3]), _crop_of(row_w[3]))
    return crops


def _crop_of(note):
    return int(note.split("cropped by ")[1].split(" ")[0])


def layer_table(config, input_size):
    """Every layer's output as LayerRow(name, (C, H, W), note), from the input to the head.

    ReLUs keep the shape and share a row with their conv. Paper tile 572: ..., dec3.concat
    notes 'skip 64 cropped by 4 per side', ..., head (2, 388, 388).
    """
    check_input_size(config, input_size)
    h, w = _as_hw(input_size)
    rows = []
    for (name, c, oh, note), (_, _, ow, note_w) in zip(_walk(config, h), _walk(config, w)):
        if note != note_w:  # only crops can differ between the axes
            note = f"H: {note}; W: {note_w}"
        rows.append(LayerRow(name, (c, oh, ow), note))
    return rows


def largest_im2col_bytes(config, x_shape, itemsize):
    """Bytes of the largest whole im2col matrix (N * C_in * kH * kW * oH * oW values) of
    any convolution of the net for an input of x_shape (N, C, H, W); the net chooses its
    threads by it (ops/conv2d.py, trick 3)."""
    largest, c_in = 0, x_shape[1]
    for row in layer_table(config, (int(x_shape[2]), int(x_shape[3]))):
        c, h, w = row.shape
        k = 1 if row.name == "head" else 3
        if ".conv" in row.name or row.name == "head":
            largest = max(largest, x_shape[0] * c_in * k * k * h * w * itemsize)
        c_in = c
    return largest


def format_layer_table(config, input_size):
    """layer_table as aligned text, one layer per line."""
    lines = [f"{'layer':<16}{'C x H x W':>22}  note"]
    for row in layer_table(config, input_size):
        shape = " x ".join(str(s) for s in row.shape)
        lines.append(f"{row.name:<16}{shape:>22}  {row.note}")
    return "\n".join(lines)


def receptive_field_interval(config, o):
    """(first, last) input pixel, along one axis, that output pixel o can depend on.

    Exact: the interval [o, o] is walked backwards through the layers,
        3x3 conv (pad p): [a, b] -> [a - p, b - p + 2]
        2x2 max-pool:     [a, b] -> [2a, 2b + 1]
        2x2 up-conv:      [a, b] -> [floor(a/2), floor(b/2)]   (each output sees one input)
        crop-and-concat:  the up part [a, b], and the skip part [a + crop, b + crop]
    taking the hull of the two paths at every concatenation. "valid": indices into the
    input (the crops are the same for every legal size). "same": indices relative to an
    unbounded input (they may be negative; at the borders the zero padding cuts them).
    """
    p = _pad(config)
    d = config.depth
    crops = {i: 0 for i in range(d)}
    if config.padding == "valid":
        n = nearest_legal_input_size(config, 1)
        crops = {i: c[0] for i, c in skip_crops(config, n).items()}

    def double_conv(a, b):  # two 3x3 convs, output interval -> input interval
        return a - 2 * p, b - 2 * p + 4

    def from_encoder_output(i, a, b):  # interval on enc{i}'s output -> network input
        a, b = double_conv(a, b)
        for _level in reversed(range(i)):  # back through each pool, then its two convs
            a, b = double_conv(2 * a, 2 * b + 1)
        return a, b

    def from_decoder_output(i, a, b):  # interval on dec{i}'s output -> network input
        a, b = double_conv(a, b)  # now on dec{i}.concat
        skip = from_encoder_output(i, a + crops[i], b + crops[i])
        a_up, b_up = a // 2, b // 2  # on the input of dec{i}.up
        if i == d - 1:  # that input is the bottom block's output
            a_up, b_up = double_conv(a_up, b_up)
            up = from_encoder_output(d - 1, 2 * a_up, 2 * b_up + 1)
        else:
            up = from_decoder_output(i + 1, a_up, b_up)
        return min(skip[0], up[0]), max(skip[1], up[1])

    return from_decoder_output(0, o, o)


def receptive_field(config):
    """Largest span (pixels along one axis) of input that one output pixel depends on.

    The span depends on where the output pixel sits on the pooling grid (period 2^d), so
    this is the largest over one period. Paper net: 204 px (188 px for 4 output pixels of
    every 16); the bottom block alone sees 140 px.
    """
    spans = []
    for o in range(2**config.depth):
        first, last = receptive_field_interval(config, o)
        spans.append(last - first + 1)
    return max(spans)
