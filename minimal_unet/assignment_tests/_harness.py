"""The graded tests' registry: `@graded("exercise")` and the helpers every test uses.

A graded test is a plain function `test(box, rng)`: `box` is the exercise's sandbox
(minimal_unet.assignment.sandbox.Sandbox), `rng` a fixed-seed generator. The test sends
inputs to the student's code with `run(box, target, *args)` and judges what comes back
with NumPy, in the grader's process. `hidden=True` marks a test the course file may keep
from the students (it is not in their copy, `check` does not run it, Gradescope shows it
after publication); the course file can override it and the points (default 1).
"""

import dataclasses

import numpy as np

TESTS = []


@dataclasses.dataclass(frozen=True)
class GradedTest:
    id: str  # "<file>::<function>", the key of the course file's "tests"
    exercise: str
    func: object
    hidden: bool
    doc: str


def graded(exercise, hidden=False):
    """Register the decorated function as a graded test of `exercise`."""

    def register(func):
        module = func.__module__.rsplit(".", 1)[-1]
        TESTS.append(GradedTest(f"{module}::{func.__name__}", exercise, func, hidden,
                                (func.__doc__ or "").strip().splitlines()[0:1]))
        return func

    return register


def run(box, target, *args, **kwargs):
    """The student's `target` ('module:function') on args, in the sandbox: its result."""
    return box.call("call", target, *args, **kwargs)[0]


def run_keeping_args(box, target, *args, **kwargs):
    """(result, the arguments as the student's function left them)."""
    return box.call("call", target, *args, **kwargs)


def rel_err(a, b):
    """max |a - b| / max(|a| + |b|): one number for the whole array, 0 for two zeros."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"expected shape {b.shape}, got {a.shape}"
    scale = np.max(np.abs(a) + np.abs(b)) if a.size else 0.0
    return float(np.max(np.abs(a - b)) / scale) if scale > 0 else 0.0


def equal(actual, expected, what="the result"):
    """assert_array_equal with a message a student can act on."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: expected shape {expected.shape}, " \
        f"got {actual.shape}"
    if not np.array_equal(actual, expected):
        where = tuple(int(i) for i in np.argwhere(actual != expected)[0])
        raise AssertionError(f"{what}: expected {expected[where]!r} at index {where}, "
                             f"got {actual[where]!r}")
