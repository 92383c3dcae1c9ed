"""A trained UNet on disk: its weights and a JSON header in one .npz, no pickle anywhere.

    net.save("model.npz")            # UNet.save -> write(net, path), atomically
    net = UNet.load("model.npz")     # UNet.load -> read(path, UNetConfig), every field checked

Every entry of the .npz but one is a parameter, named like the PyTorch state_dict. The one
other (`checkpoint.META_KEY`) is a JSON string in a 0-d unicode array:

    format        FORMAT; anything else (a training checkpoint, another program's .npz) is
                  refused by name
    config        the UNetConfig as a dict: the architecture
    dtype         "float32" or "float64"
    seed          the seed of the initial weights and of the dropout masks
    rng_state     net.rng's bit-generator state, so dropout masks go on where they stopped
    input_offset  [dy, dx] px each image is resampled by before it is normalised
                  (data/offset.py); files written before it existed load with (0, 0)

A broken file (empty, truncated, not an .npz, bad header, a parameter of the wrong shape or
with NaN) is a ValueError (`checkpoint.CorruptFileError`) whose one-line message names the
file and the field.
"""

import dataclasses
import json
import math

import numpy as np

from minimal_unet import checkpoint

FORMAT = "minimal_unet.UNet/1"  # stored in every saved file, checked on load


@dataclasses.dataclass(frozen=True)
class Stored:
    """What `read` found in a model file, every field checked."""

    config: object  # a UNetConfig
    dtype: str  # "float32" or "float64"
    seed: int
    rng_state: dict | None  # None: a file written without one
    input_offset: tuple  # (dy, dx) px
    state: dict  # parameter name -> NumPy array, as stored


def checked_state(params, state, dtype):
    """`state` (name -> array) checked against `params` (name -> array of the net) and cast
    to `dtype`: name -> contiguous NumPy array.

    A missing or unexpected name, a wrong shape, a non-float array or a NaN/Inf value is an
    error naming the key (and the index of the first bad value).
    """
    missing = [k for k in params if k not in state]
    extra = [k for k in state if k not in params]
    if missing:
        raise ValueError(f"state dict: missing key {missing[0]!r} (missing: {missing})")
    if extra:
        raise ValueError(f"state dict: unexpected key {extra[0]!r} (unexpected: {extra}); "
                         "is it from another architecture?")
    new = {}
    for name, p in params.items():
        a = np.asarray(state[name])
        if a.shape != tuple(p.shape):
            raise ValueError(f"state dict: key {name!r} expected shape {tuple(p.shape)}, "
                             f"got {a.shape} (another architecture?)")
        if not np.issubdtype(a.dtype, np.floating):
            raise TypeError(f"state dict: key {name!r} expected a float array, "
                            f"got dtype {a.dtype}")
        finite = np.isfinite(a)
        if not finite.all():
            where = tuple(int(i) for i in np.argwhere(~finite)[0])
            raise ValueError(f"state dict: key {name!r} expected finite values, got "
                             f"{a[where]} at index {where} ({int((~finite).sum())} "
                             f"non-finite)")
        new[name] = np.ascontiguousarray(a, dtype=dtype)
    return new


def write(net, path):
    """Write `net` (weights, config, dtype, seed, rng state, input offset) to `path` like a
    checkpoint: temporary file, fsync, rename, the same permissions."""
    meta = {"format": FORMAT, "config": net.config.to_dict(), "dtype": net.dtype.name,
            "seed": net.seed, "rng_state": net.rng.bit_generator.state,
            "input_offset": [float(v) for v in net.input_offset]}
    arrays = net.state_dict()
    arrays[checkpoint.META_KEY] = np.array(json.dumps(meta))
    checkpoint.atomic_write_bytes(path, lambda f: np.savez(f, **arrays))


def read(path, make_config, config=None):
    """The `Stored` contents of the model file at `path`; `make_config(**dict)` builds its
    architecture (UNetConfig), which must equal `config` when one is given.

    The parameters are checked against the architecture by the caller (`checked_state`
    needs the net's own shapes); every header field is checked here.
    """
    meta, state = checkpoint.read_npz(path, what="model")
    bad = checkpoint.CorruptFileError
    if meta.get("format") != FORMAT:
        raise bad(f"{path}: expected format {FORMAT!r}, got {meta.get('format')!r}")
    if not isinstance(meta.get("config"), dict):
        raise bad(f"{path}: expected a 'config' object in its metadata, got "
                  f"{type(meta.get('config')).__name__}")
    try:
        stored = make_config(**meta["config"])
    except (TypeError, ValueError) as error:
        raise bad(f"{path}: bad 'config' in its metadata ({error})") from None
    if config is not None and config != stored:
        raise ValueError(f"{path}: holds another architecture: {stored}, expected {config}")
    if meta.get("dtype") not in ("float32", "float64"):
        raise bad(f"{path}: expected dtype 'float32' or 'float64' in its metadata, got "
                  f"{meta.get('dtype')!r}")
    seed = meta.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise bad(f"{path}: expected a non-negative int 'seed' in its metadata, got {seed!r}")
    rng_state = meta.get("rng_state")
    if "rng_state" in meta:
        try:  # the net's generator is default_rng's PCG64: try the state on a fresh one
            np.random.default_rng().bit_generator.state = rng_state
        except (TypeError, ValueError, KeyError) as error:
            raise bad(f"{path}: bad 'rng_state' in its metadata "
                      f"({type(error).__name__})") from None
    offset = meta.get("input_offset", [0.0, 0.0])  # files written before it: none
    if not (isinstance(offset, list) and len(offset) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool)
                    and math.isfinite(v) for v in offset)):
        raise bad(f"{path}: expected 'input_offset' [dy, dx] of two finite numbers in its "
                  f"metadata, got {offset!r}")
    return Stored(config=stored, dtype=meta["dtype"], seed=seed, rng_state=rng_state,
                  input_offset=(float(offset[0]), float(offset[1])), state=state)
