"""The course plan: parts in curriculum order, points, public/hidden tests, the rules.

    plan = load_course()                  # the defaults shipped with the package
    plan = load_course("course.json")     # a teacher's edited copy (see write_default_course)

The course file is JSON:

    {"title": "...", "seconds_per_exercise": 60, "memory_mb": 3072,
     "parts": [{"part": 1, "title": "Layers, forward", "exercises": ["relu_forward_naive", ...]},
               ...],
     "tests": {"relu::forward_hand_values": {"points": 1, "hidden": false}, ...},
     "exercises": {"weight_map": {"points": 10}},
     "bughunt": {"part": 6, "points_per_layer": 1,
                 "key": {"conv2d_backward": "A", ...}}}      (the teacher's copy only)

Keys left out keep their defaults. "bughunt.key" (which suspect is broken, per layer) is
drawn by `assignment make` for each copy and written to the teacher's course file next
to it (`<copy>.teacher.json`); give it here to make further copies with the same key.
An exercise's points are the sum of its tests' points,
unless "exercises" gives it a total: its tests' points are then scaled to that total.
`hidden` tests are not in the student copy, `check` does not run them, and Gradescope
shows them after the marks are published.

The rules (what graded code may not call) are computed here from the library's own
source, per exercise: see `forbidden_for` and `BLOCKED_IMPORTS`.
"""

import ast
import copy
import importlib
import json
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]

DEFAULT_PARTS = (
    (1, "Layers, forward", ("relu_forward_naive", "conv2d_forward_naive",
                            "maxpool2d_forward_naive", "upconv2d_forward_naive",
                            "crop_and_concat_forward_naive")),
    (2, "Layers, backward", ("relu_backward_naive", "conv2d_backward_naive",
                             "maxpool2d_backward_naive", "upconv2d_backward_naive",
                             "crop_and_concat_backward_naive")),
    (3, "The loss and gradient checking", ("softmax_cross_entropy_naive",
                                           "numerical_gradient")),
    (4, "The weight map", ("weight_map",)),
    (5, "The U-Net's backward pass", ("UNet._block_backward", "UNet.backward")),
    (6, "Bug hunt", ()),
)
DEFAULT_EXERCISES = tuple(e for _, _, exercises in DEFAULT_PARTS for e in exercises)
DEFAULTS = {"title": "minimal_unet: a U-Net by hand", "seconds_per_exercise": 60,
            "memory_mb": 3072, "tests": {}, "exercises": {},
            "bughunt": {"part": 6, "points_per_layer": 1}}

# Modules graded code may not import (the child's import blocker): other libraries'
# implementations of the layers, and the course's own answer material.
BLOCKED_IMPORTS = ("torch", "torchvision", "tensorflow", "jax", "keras", "skimage", "cv2",
                   "sklearn", "scipy.signal", "cupy", "numba", "minimal_unet.bughunt",
                   "minimal_unet.torch_twin")
# Callables no graded exercise may call: other libraries' convolutions and filters, the
# near-solutions in the package, and the gradient oracles.
ALWAYS_FORBIDDEN = {
    **{f"scipy.ndimage:{name}": "scipy.ndimage's filters do the layer for you"
       for name in ("convolve", "correlate", "convolve1d", "correlate1d", "maximum_filter",
                    "maximum_filter1d", "generic_filter", "uniform_filter", "zoom")},
    "minimal_unet.weight_map:weight_map_freiburg": "a variant of the weight map exercise",
    "minimal_unet.gradcheck:numerical_gradient": "an oracle of the graded tests",
    "minimal_unet.gradcheck:check_gradients": "an oracle of the graded tests",
    "minimal_unet.gradcheck:directional_check": "an oracle of the graded tests",
}
OP_MODULES = ("relu", "conv2d", "maxpool2d", "upconv2d", "crop_concat", "softmax_ce", "dropout",
              "_im2col", "_winograd")  # ... and the fast paths' gathers and Winograd tiles
# What the sandbox child imports before the traps go in (so that every alias is found).
CHILD_MODULES = ("minimal_unet.ops", "minimal_unet.model", "minimal_unet.gradcheck",
                 "minimal_unet.weight_map", "minimal_unet.backends.numpy_backend")


def _functions_and_uses(path):
    """({top-level function name}, {name: names loaded inside each *_naive function})."""
    tree = ast.parse(Path(path).read_text())
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    uses = {n.name: {m.id for m in ast.walk(n) if isinstance(m, ast.Name)}
            for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.endswith("_naive")}
    return functions, uses


def forbidden_for(exercise, package_dir=PACKAGE_DIR):
    """{'module:callable': why} the exercise's code may not call (the teacher's source).

    A naive layer may not call any fast layer of minimal_unet.ops (its own twin
    included) nor the fast path's helpers; the helpers its own solution uses (input
    checks, crop offsets) stay allowed. Every exercise: ALWAYS_FORBIDDEN, except the
    exercise itself.
    """
    rules = dict(ALWAYS_FORBIDDEN)
    if exercise.endswith("_naive"):
        for module in OP_MODULES:
            functions, uses = _functions_and_uses(package_dir / "ops" / f"{module}.py")
            allowed = uses.get(exercise, set())
            for name in sorted(functions):
                if name.endswith("_naive") or name.startswith("_check") or name in allowed:
                    continue
                twin = name == exercise[: -len("_naive")]
                rules[f"minimal_unet.ops.{module}:{name}"] = (
                    "the fast twin of this exercise" if twin else "a fast layer of the library")
    rules.pop(f"minimal_unet.gradcheck:{exercise}", None)
    return rules


def write_default_course(path):
    """Write the default course file (every test listed) to `path`; refuse to overwrite."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"--out {path}: expected a new file, got an existing one")
    path.write_text(json.dumps(load_course().raw, indent=2) + "\n")
    return path


class Course:
    """The plan of a course: parts, exercises, tests with points and visibility."""

    def __init__(self, raw):
        self.raw = raw
        self.parts = {int(p["part"]): p for p in raw["parts"]}
        self.order = [e for p in raw["parts"] for e in p["exercises"]]
        self.part_of = {e: int(p["part"]) for p in raw["parts"] for e in p["exercises"]}
        self.tests = raw["tests"]
        self.seconds = float(raw["seconds_per_exercise"])
        self.memory_mb = int(raw["memory_mb"])
        self.bughunt = raw["bughunt"]

    def exercises(self, part=None, exercises=None):
        """The exercises of `part` (int), or the list `exercises`, in curriculum order."""
        if exercises:
            unknown = sorted(set(exercises) - set(self.order))
            if unknown:
                raise ValueError(f"--exercises: expected names from the course "
                                 f"({', '.join(self.order)}), got {', '.join(unknown)}")
            return [e for e in self.order if e in exercises]
        if part is None:
            return list(self.order)
        if int(part) not in self.parts:
            raise ValueError(f"--part: expected one of {sorted(self.parts)}, got {part}")
        return list(self.parts[int(part)]["exercises"])

    def graded_tests(self, exercises):
        """[(GradedTest, points, hidden)] of the given exercises, in curriculum order."""
        tests = registered_tests()
        rows = []
        for exercise in exercises:
            mine = []
            for test in tests:
                if test.exercise == exercise:
                    entry = self.tests.get(test.id, {})
                    mine.append((test, float(entry.get("points", 1)),
                                 bool(entry.get("hidden", test.hidden))))
            total = self.raw["exercises"].get(exercise, {}).get("points")
            subtotal = sum(points for _, points, _ in mine)
            if total is not None and subtotal > 0:
                mine = [(t, points * float(total) / subtotal, h) for t, points, h in mine]
            rows.extend(mine)
        return rows


def registered_tests(package="minimal_unet.assignment_tests"):
    """Every GradedTest of the graded test modules (importing them registers them)."""
    tests_package = importlib.import_module(package)
    for name in tests_package.MODULES:
        importlib.import_module(f"{package}.{name}")
    return list(importlib.import_module(f"{package}._harness").TESTS)


def load_course(path=None):
    """The default course, updated with the JSON course file at `path` if given."""
    raw = copy.deepcopy(DEFAULTS)
    raw["parts"] = [{"part": n, "title": t, "exercises": list(e)} for n, t, e in DEFAULT_PARTS]
    raw["tests"] = {t.id: {"exercise": t.exercise, "points": 1, "hidden": t.hidden}
                    for t in registered_tests()}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"--course {path}: expected a course JSON file, found none")
        try:
            given = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"--course {path}: expected JSON, got an error: {error}") from None
        unknown = sorted(set(given) - set(raw))
        if unknown:
            raise ValueError(f"--course {path}: expected keys from {sorted(raw)}, got {unknown}")
        for key, value in given.items():
            if key in ("tests", "bughunt", "exercises"):
                for name, entry in value.items():
                    known = {"tests": raw["tests"], "exercises": DEFAULT_EXERCISES}.get(key)
                    if known is not None and name not in known:
                        raise ValueError(f"--course {path}: unknown {key[:-1]} {name!r}")
                    if isinstance(entry, dict):
                        raw[key].setdefault(name, {}).update(entry)
                    else:
                        raw[key][name] = entry
            else:
                raw[key] = value
    return Course(raw)
