"""The sandbox child: runs ONE exercise's student code, answers the grader's calls.

    python -I _child.py STUDENT_DIR PROBES_PY SETUP_JSON

Started by `minimal_unet.assignment.sandbox.Sandbox`, never imported into a process that
then runs student code. `-I` (isolated mode) ignores PYTHONPATH and the user's site folder
and keeps this script's folder off sys.path, so the only `minimal_unet` importable here is
the student's (STUDENT_DIR goes first on sys.path).

Before the student's package is imported, the child
  - limits its own address space (RLIMIT_AS, soft = hard, so it cannot be raised again),
  - keeps fd 1 as its private reply channel and points its stdout at stderr,
  - installs an import blocker for the modules the rules forbid (torch, scikit-image,
    scipy.signal, ...).
After the import it replaces every forbidden callable (the exercise's fast twin, the
oracles, weight_map_freiburg, scipy.ndimage's convolutions...) with a trap: calling one
raises ForbiddenCall naming it, and the reply carries the call even when the student's
code catches the exception. The traps are backed by a watch on the code itself
(`CodeWatch`, a sys.settrace 'call' hook that stops tracing inside every frame it lets
through): a function whose code comes from the same file under the same qualified name as
a forbidden one is caught when it starts, so `importlib.reload` of an op module, or
loading its file again under another name, brings no fast twin back.

Protocol: the parent writes requests (8-byte length + pickle of (probe, args, kwargs));
the child answers each with 8-byte length + JSON header + NumPy .npz of the arrays. The
parent decodes replies with `decode_reply` (json + np.load(allow_pickle=False)), so a
reply can carry arrays and plain values only. The grader judges in the parent.
"""

import importlib
import importlib.abc
import importlib.util
import io
import json
import os
import pickle
import struct
import sys
import traceback

HEADER = struct.Struct("<Q")


# ----------------------------------------------------------------------- wire format


def encode_value(value, arrays):
    """JSON-able description of `value`; its arrays appended to `arrays`."""
    import numpy as np

    if isinstance(value, np.generic):  # first: np.float64 is also a Python float
        value = np.asarray(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError(f"expected arrays of numbers, got an array of dtype {value.dtype}")
        arrays.append(value)
        return {"array": len(arrays) - 1}
    if isinstance(value, tuple | list):
        return {"tuple" if isinstance(value, tuple) else "list":
                [encode_value(v, arrays) for v in value]}
    if isinstance(value, dict):
        return {"dict": [[str(k), encode_value(v, arrays)] for k, v in value.items()]}
    raise TypeError(f"expected arrays, numbers, tuples, lists or dicts, got {type(value).__name__}")


def encode_reply(reply):
    import numpy as np

    arrays = []
    reply = dict(reply)
    if "value" in reply:
        reply["value"] = encode_value(reply["value"], arrays)
    header = json.dumps(reply).encode()
    blob = io.BytesIO()
    np.savez(blob, *arrays)
    blob = blob.getvalue()
    return HEADER.pack(len(header)) + header + HEADER.pack(len(blob)) + blob


def _decode_value(desc, arrays):
    if isinstance(desc, dict):
        if "array" in desc:
            return arrays[f"arr_{int(desc['array'])}"]
        if "tuple" in desc:
            return tuple(_decode_value(v, arrays) for v in desc["tuple"])
        if "list" in desc:
            return [_decode_value(v, arrays) for v in desc["list"]]
        if "dict" in desc:
            return {str(k): _decode_value(v, arrays) for k, v in desc["dict"]}
        raise ValueError(f"reply: unknown value description {sorted(desc)}")
    return desc


def decode_reply(payload):
    """(reply dict) from the bytes of one reply; only arrays and plain values come out."""
    import numpy as np

    (n,) = HEADER.unpack(payload[:HEADER.size])
    reply = json.loads(payload[HEADER.size:HEADER.size + n].decode())
    if not isinstance(reply, dict):
        raise ValueError("reply: expected a JSON object")
    if "value" in reply:
        blob = payload[HEADER.size + n + HEADER.size:]
        with np.load(io.BytesIO(blob), allow_pickle=False) as arrays:
            arrays = {k: arrays[k] for k in arrays.files}
        reply["value"] = _decode_value(reply["value"], arrays)
    return reply


# ----------------------------------------------------------------------- traps


class ForbiddenCall(BaseException):  # noqa: N818  (BaseException: `except Exception` misses it)
    """Raised by a trapped callable: the rules forbid it in this exercise."""


HITS = []  # what the student's code called that it may not (reported with every reply)


class _Blocker(importlib.abc.MetaPathFinder):
    def __init__(self, blocked):
        self.blocked = blocked

    def find_spec(self, fullname, path=None, target=None):
        for name in self.blocked:
            if fullname == name or fullname.startswith(name + "."):
                message = f"import {fullname} (the rules forbid {name} in graded code)"
                HITS.append(message)
                raise ModuleNotFoundError(f"forbidden: {message}", name=fullname)
        return None


def _make_trap(label, why):
    def trap(*args, **kwargs):
        message = f"called {label}{f' ({why})' if why else ''}"
        HITS.append(message)
        raise ForbiddenCall(f"forbidden: {message}")

    trap.__name__ = trap.__qualname__ = "forbidden"
    return trap


class CodeWatch:
    """Catch the start of any function compiled from a forbidden (file, name, first line).

    A 'call' trace hook (per frame: it returns None, so no line of any frame is traced);
    new code objects (a reloaded module's) are recognised by their file, name and first
    line, not by identity (co_qualname would do, but Python 3.10 lacks it). Runs in
    every thread started after `start`.
    """

    def __init__(self, forbidden_code):
        self.keys = {}  # (real path, name, first line) -> label
        for (filename, name, line), label in forbidden_code.items():
            self.keys[(os.path.realpath(filename), name, line)] = label
        self.paths = {}  # co_filename -> its real path (cached: one realpath per file)

    def __call__(self, frame, event, arg):
        if event != "call":
            return None
        code = frame.f_code
        path = self.paths.get(code.co_filename)
        if path is None:
            path = self.paths[code.co_filename] = os.path.realpath(code.co_filename)
        label = self.keys.get((path, code.co_name, code.co_firstlineno))
        if label is not None:
            message = f"called {label}"
            HITS.append(message)
            raise ForbiddenCall(f"forbidden: {message}")
        return None

    def start(self):
        import threading

        sys.settrace(self)
        threading.settrace(self)


def _code_key(function):
    """(file, name, first line) of a Python function's code, or None (a builtin, a C
    function)."""
    code = getattr(function, "__code__", None)
    return None if code is None else (code.co_filename, code.co_name, code.co_firstlineno)


def _resolve(target):
    """'pkg.module:Name.attr' -> (owner object, attribute name, original)."""
    module_name, _, qualname = target.partition(":")
    owner = importlib.import_module(module_name)
    *path, attr = qualname.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, attr, getattr(owner, attr)


def install_traps(forbidden):
    """Replace each forbidden callable everywhere the student's package holds it.

    Returns {(file, name, first line): label} of the forbidden Python functions, for
    CodeWatch.
    """
    originals, codes = {}, {}
    for target, why in forbidden.items():
        try:
            owner, attr, original = _resolve(target)
        except (ImportError, AttributeError):
            continue  # not in this copy (e.g. an optional module): nothing to trap
        label = target.replace(":", ".")
        trap = _make_trap(label, why)
        setattr(owner, attr, trap)
        originals[id(original)] = (original, trap)
        key = _code_key(getattr(original, "__wrapped__", original))
        if key is not None:
            codes[key] = f"{label}{f' ({why})' if why else ''}"
    for name, module in list(sys.modules.items()):
        if module is None or not (name.startswith("minimal_unet") or name.startswith("scipy")):
            continue
        owners = [module] + [v for v in vars(module).values()
                             if isinstance(v, type) and v.__module__ == name]
        for owner in owners:
            for key, value in list(vars(owner).items()):
                hit = originals.get(id(value))
                if hit is not None and hit[0] is value:
                    try:
                        setattr(owner, key, hit[1])
                    except (AttributeError, TypeError):
                        pass
    return codes


# ----------------------------------------------------------------------- main loop


def _limit_processes(count):
    """RLIMIT_NPROC (POSIX): no fork bomb. Set only for an unprivileged user of its own."""
    if count and os.name == "posix":
        import resource

        try:
            resource.setrlimit(resource.RLIMIT_NPROC, (int(count), int(count)))
        except (ValueError, OSError):
            pass


PRELOAD_STDLIB = ("json", "math", "cmath", "random", "itertools", "functools", "collections",
                  "dataclasses", "typing", "warnings", "traceback", "linecache", "inspect",
                  "copy", "numbers", "operator", "textwrap", "re", "string", "pathlib",
                  "contextlib", "enum", "abc", "time", "statistics", "fractions", "decimal",
                  "tempfile", "threading", "importlib.util", "importlib.machinery", "ast",
                  "dis", "tokenize", "pprint", "heapq", "bisect", "array", "struct", "zlib",
                  "ctypes", "gc", "weakref", "types", "unittest", "difflib",
                  # NumPy's testing helpers import unittest lazily (NumPy 1.24 on
                  # Python 3.10 does so only when numpy.testing is first imported)
                  "numpy.testing")


def _preload_then_drop(teacher_root, modules, uid, gid):
    """Load the modules student code may need while still root, then become uid/gid.

    The interpreter's own files may be unreadable by the unprivileged user (a Python
    under /root): the standard library and the dependencies are imported first, by
    importing the TEACHER's package (then forgotten: the student's is imported after).
    """
    for name in PRELOAD_STDLIB:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    sys.path.insert(0, teacher_root)
    try:
        for name in ("minimal_unet", *modules):
            try:
                importlib.import_module(name)
            except ImportError:
                pass
    finally:
        sys.path.remove(teacher_root)
        for name in [n for n in sys.modules if n == "minimal_unet" or
                     n.startswith("minimal_unet.")]:
            del sys.modules[name]
        sys.path_importer_cache.pop(teacher_root, None)
        importlib.invalidate_caches()
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() == 0 or os.geteuid() == 0:
        raise SystemExit("sandbox: could not drop root")


def _limit_memory(megabytes):
    if megabytes and os.name == "posix":
        import resource

        limit = int(megabytes) * 1024 * 1024
        for kind in (resource.RLIMIT_AS, resource.RLIMIT_DATA):  # macOS may refuse AS
            try:
                resource.setrlimit(kind, (limit, limit))
                return
            except (ValueError, OSError):
                continue


def _student_frames(tb, student_dir):
    grader = (os.sep + os.path.join("minimal_unet", "assignment") + os.sep,
              os.sep + os.path.join("minimal_unet", "assignment_tests") + os.sep)
    frames = [f for f in traceback.extract_tb(tb)
              if os.path.abspath(f.filename).startswith(student_dir + os.sep)
              and not any(part in os.path.abspath(f.filename) for part in grader)]
    return [[os.path.relpath(f.filename, student_dir), f.lineno, f.name, f.line or ""]
            for f in frames]


def _error_reply(error, student_dir):
    return {"ok": False, "error_type": type(error).__name__,
            "message": str(error).strip()[:500], "frames": _student_frames(
                error.__traceback__, student_dir), "forbidden": list(HITS)}


def _read_exact(stream, n):
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def main():
    student_dir, probes_path, setup_json = sys.argv[1:4]
    student_dir = os.path.realpath(student_dir)
    setup = json.loads(setup_json)
    _limit_memory(setup.get("memory_mb"))
    _limit_processes(setup.get("max_processes"))
    reply_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    requests = sys.stdin.buffer

    def send(reply):
        try:
            payload = encode_reply(reply)
        except (TypeError, ValueError) as error:
            payload = encode_reply(_error_reply(error, student_dir))
        reply_out.write(payload)
        reply_out.flush()

    sys.meta_path.insert(0, _Blocker(setup.get("blocked", [])))  # first: preload too
    if setup.get("drop"):
        _preload_then_drop(setup["preload"], setup.get("modules", []), *setup["drop"])
    sys.path.insert(0, student_dir)
    spec = importlib.util.spec_from_file_location("_graded_probes", probes_path)
    probes = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(probes)
        import minimal_unet

        where = os.path.realpath(minimal_unet.__file__)
        if not where.startswith(student_dir + os.sep):
            raise ImportError(f"minimal_unet came from {where}, expected it from {student_dir}")
        for module in setup.get("modules", []):
            importlib.import_module(module)
        watch = CodeWatch(install_traps(setup.get("forbidden", {})))
    except BaseException as error:  # noqa: BLE001  (the student's import may raise anything)
        send({"ok": False, "hello": True, "error_type": type(error).__name__,
              "message": f"the package does not import: {str(error).strip()[:400]}",
              "frames": _student_frames(error.__traceback__, student_dir),
              "forbidden": list(HITS)})
        return
    send({"ok": True, "hello": True, "forbidden": list(HITS)})
    while True:
        raw = _read_exact(requests, HEADER.size)
        if raw is None:
            return
        request = _read_exact(requests, HEADER.unpack(raw)[0])
        probe, args, kwargs = pickle.loads(request)
        del HITS[:]
        watch.start()  # again: a trace hook that raised is unset by Python
        try:
            value = getattr(probes, probe)(*args, **kwargs)
        except BaseException as error:  # noqa: BLE001
            send(_error_reply(error, student_dir))
            continue
        send({"ok": not HITS, "value": value, "forbidden": list(HITS),
              **({"error_type": "ForbiddenCall", "message": "forbidden: " + HITS[0]}
                 if HITS else {})})


if __name__ == "__main__":
    main()
