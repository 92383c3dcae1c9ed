"""Atomic, pickle-free checkpoints of a training run.

A checkpoint is one `.npz` file. It holds

    every array of the training state       (parameters, optimiser buffers, ...)
    one JSON document, key "__meta__"       (step, RNG states, configs, history, and the
                                             non-array parts of any nested state)

Nested state (a dict of dicts, lists, numbers, strings and arrays, such as an optimiser's
`state_dict()`) is split by `split_state` into a JSON tree plus a flat dict of arrays: each
array is replaced in the tree by `{"__array__": "<key>"}`, and `join_state` puts it back.
So nothing is ever pickled and the file is read with `np.load(..., allow_pickle=False)`.

Writing is atomic: the file is written under a temporary name in the same folder, flushed
and fsync'ed, then renamed over the old checkpoint with `os.replace`. A crash mid-write
leaves the previous checkpoint untouched; a reader never sees half a file.

NumPy random generators are saved through `bit_generator.state`, a dict of Python ints
and strings, which JSON stores exactly (JSON ints have no size limit in Python).

What a training run's checkpoint holds is `training_state` (parameters, optimiser, both
random generators, both configs, step and history); `restore_state` loads one back into a
net, optimiser and sampler, naming both sides of any mismatch before changing anything.
"""

import dataclasses
import json
import os
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

CHECKPOINT_NAME = "checkpoint.npz"
META_KEY = "__meta__"
ARRAY_TAG = "__array__"


def split_state(tree, prefix="state"):
    """Split a nested state into (json_tree, arrays).

    tree: dicts with string keys, lists/tuples, None, bool, int, float, str, NumPy scalars
          and np.ndarray leaves.
    Returns json_tree (the same structure with each array replaced by {"__array__": key})
    and arrays (dict key -> np.ndarray), keys made from the path, e.g. "state/velocity/w1".
    """
    arrays = {}

    def walk(node, path):
        if isinstance(node, np.ndarray):
            arrays[path] = node
            return {ARRAY_TAG: path}
        if isinstance(node, dict):
            return {str(k): walk(v, f"{path}/{k}") for k, v in node.items()}
        if isinstance(node, list | tuple):
            return [walk(v, f"{path}/{i}") for i, v in enumerate(node)]
        if isinstance(node, np.generic):
            return node.item()  # NumPy scalar -> Python int/float/bool
        if node is None or isinstance(node, bool | int | float | str):
            return node
        raise TypeError(
            f"checkpoint state at {path!r}: expected dict, list, number, str or ndarray, "
            f"got {type(node).__name__}"
        )

    return walk(tree, prefix), arrays


def join_state(json_tree, arrays):
    """Inverse of `split_state`: put the arrays back where their tags are."""
    if isinstance(json_tree, dict):
        if set(json_tree) == {ARRAY_TAG}:
            return arrays[json_tree[ARRAY_TAG]]
        return {k: join_state(v, arrays) for k, v in json_tree.items()}
    if isinstance(json_tree, list):
        return [join_state(v, arrays) for v in json_tree]
    return json_tree


def rng_state(rng):
    """The JSON-able state of a numpy Generator (its bit generator's state dict)."""
    return rng.bit_generator.state


def set_rng_state(rng, state):
    """Restore a numpy Generator in place from `rng_state(rng)`."""
    rng.bit_generator.state = state


def atomic_write_bytes(path, write):
    """Call write(file_object) on a temporary file beside `path`, fsync, then rename.

    The temporary file lives in the same folder, so `os.replace` is an atomic rename on
    the same file system. On any error the temporary file is removed and `path` is left
    as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)  # mkstemp makes the file private (0600); give it the usual mode
        os.umask(umask)
        os.chmod(tmp_name, 0o666 & ~umask)
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)
        raise
    # Make the rename itself durable (POSIX: fsync the directory entry).
    if hasattr(os, "O_DIRECTORY"):
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


class CorruptFileError(ValueError):
    """A model or checkpoint file that cannot be read: truncated, empty, not an .npz, or
    with a missing or malformed "__meta__" entry. The message is one line naming the file."""


def read_npz(path, what="checkpoint"):
    """(meta: dict, arrays: dict name -> ndarray) of an .npz with a JSON "__meta__" entry.

    Never unpickles (allow_pickle=False). Every way a file can be broken (zero bytes,
    truncated, random bytes, a CRC error, an object array, a "__meta__" that is not a JSON
    object) is a `CorruptFileError` naming the file and what was expected; a missing file
    is a FileNotFoundError.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: expected a file ({what}), found none")
    size = path.stat().st_size
    if size == 0:
        raise CorruptFileError(f"{path}: expected a {what} (.npz), got an empty file "
                               f"(0 bytes)")
    try:
        with np.load(path, allow_pickle=False) as data:
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise CorruptFileError(f"{path}: expected a {what} (.npz archive), got a "
                                       f"single .npy array")
            if META_KEY not in data.files:
                raise CorruptFileError(f"{path}: not a minimal_unet {what} file (expected a "
                                       f"{META_KEY!r} entry, found {data.files[0:5]})")
            meta_array = data[META_KEY]
            arrays = {key: data[key] for key in data.files if key != META_KEY}
    except CorruptFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError, KeyError,
            UnicodeDecodeError, RuntimeError) as error:
        raise CorruptFileError(
            f"{path}: expected a {what} (.npz) file, got an unreadable one ({size} bytes, "
            f"truncated or corrupt: {type(error).__name__})") from error
    if meta_array.shape != () or meta_array.dtype.kind != "U":
        raise CorruptFileError(f"{path}: expected {META_KEY!r} to be a JSON string, got an "
                               f"array of dtype {meta_array.dtype} shape {meta_array.shape}")
    try:
        meta = json.loads(str(meta_array[()]))
    except json.JSONDecodeError as error:
        raise CorruptFileError(f"{path}: expected {META_KEY!r} to hold JSON, got invalid "
                               f"JSON ({error.msg})") from error
    if not isinstance(meta, dict):
        raise CorruptFileError(f"{path}: expected {META_KEY!r} to be a JSON object, got a "
                               f"JSON {type(meta).__name__}")
    return meta, arrays


def save_checkpoint(path, state):
    """Write a nested training `state` (see `split_state`) atomically to `path` (.npz)."""
    json_tree, arrays = split_state(state)
    meta = np.array(json.dumps(json_tree))  # a 0-d unicode array: no pickle needed
    payload = {key: np.ascontiguousarray(a) for key, a in arrays.items()}
    payload[META_KEY] = meta
    atomic_write_bytes(path, lambda f: np.savez(f, **payload))


def load_checkpoint(path):
    """Read a checkpoint written by `save_checkpoint`; returns the nested state."""
    json_tree, arrays = read_npz(path, "checkpoint")
    try:
        return join_state(json_tree, arrays)
    except (KeyError, TypeError) as error:
        raise CorruptFileError(f"{path}: expected a checkpoint whose {META_KEY!r} names its "
                               f"arrays, got a reference to a missing one ({error})") from error


def remove_stale_temporaries(folder):
    """Delete leftovers of killed atomic writes in `folder` (".<name>.*.tmp" files made by
    `atomic_write_bytes`, ".tmp-*.npz" made by older model saves). Returns their paths."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = [p for p in folder.iterdir()
             if p.is_file() and ((p.name.startswith(".") and p.name.endswith(".tmp"))
                                 or (p.name.startswith(".tmp-") and p.name.endswith(".npz")))]
    for p in stale:
        p.unlink()
    return stale


def latest_checkpoint(folder):
    """Path of the checkpoint in `folder`, or None when there is none yet."""
    path = Path(folder) / CHECKPOINT_NAME
    return path if path.is_file() else None


# ----- what a training run's checkpoint holds ------------------------------------------

CHECKPOINT_VERSION = 1


def training_state(net, optimizer, sampler_rng, cfg, step, history):
    """Everything needed to resume exactly, as a nested dict for `save_checkpoint`."""
    return {
        "version": CHECKPOINT_VERSION,
        "step": step,  # the number of completed steps
        "params": net.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": {"sampler": rng_state(sampler_rng),
                "net": rng_state(net.rng)},
        "model_config": net.config.to_dict(),
        "dtype": net.dtype.name,
        "train_config": dataclasses.asdict(cfg),
        "history": history,
    }


def restore_state(state, net, optimizer, sampler_rng, cfg=None, source="checkpoint"):
    """Load a checkpoint's state into net, optimiser and sampler; returns (step, history).

    Every mismatch between the checkpoint and this run (version, architecture, dtype,
    optimizer, a --steps below the checkpoint's step) is a ValueError naming both sides;
    nothing is changed unless all pass.
    """
    if not isinstance(state, dict):
        raise ValueError(f"{source}: expected a training state (a JSON object), "
                         f"got {type(state).__name__}")
    if state.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"{source}: expected checkpoint version {CHECKPOINT_VERSION}, "
                         f"got {state.get('version')!r}")
    needed = ("step", "params", "optimizer", "rng", "model_config", "dtype", "history")
    missing = [k for k in needed if k not in state]
    if missing:
        raise ValueError(f"{source}: expected a training state with {', '.join(needed)}; "
                         f"missing {', '.join(missing)}")
    if state["model_config"] != net.config.to_dict():
        raise ValueError(f"{source}: holds a net {state['model_config']}, this run builds "
                         f"{net.config.to_dict()}")
    if state["dtype"] != net.dtype.name:
        raise ValueError(f"{source}: holds dtype {state['dtype']}, this run uses "
                         f"{net.dtype.name}")
    saved_cfg = state.get("train_config") or {}
    step = int(state["step"])
    if cfg is not None:
        saved_optimizer = saved_cfg.get("optimizer")
        if saved_optimizer is not None and saved_optimizer != cfg.optimizer:
            raise ValueError(f"{source}: was trained with optimizer {saved_optimizer!r}, this "
                             f"run asks for {cfg.optimizer!r}; resume with the same optimizer")
        if cfg.steps < step:
            raise ValueError(f"{source}: already holds {step} completed steps, this run asks "
                             f"for --steps {cfg.steps}; expected steps >= {step}")
    try:
        net_backup = net.state_dict()
        net.load_state_dict(state["params"])
        try:
            optimizer.load_state_dict(state["optimizer"])
        except (KeyError, TypeError) as error:
            net.load_state_dict(net_backup)
            raise ValueError(f"{source}: its optimizer state does not fit a "
                             f"{type(optimizer).__name__} (missing {error})") from None
        set_rng_state(sampler_rng, state["rng"]["sampler"])
        set_rng_state(net.rng, state["rng"]["net"])
    except (KeyError, TypeError) as error:
        raise ValueError(f"{source}: malformed training state ({type(error).__name__}: "
                         f"{error})") from None
    return step, state["history"]
