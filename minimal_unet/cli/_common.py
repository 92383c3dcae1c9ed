"""What every command shares: the one-line error, argument types, and the guards that keep
a user's files safe (outputs never overwrite without a flag, never land in the inputs)."""

import argparse
import math
import os
from pathlib import Path

PROG = "minimal-unet"


class CLIError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: 'minimal-unet train: error: ...' (exit code 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def one_line(error):
    return " ".join(str(error).split()) or type(error).__name__


# ----- argument types ---------------------------------------------------------------------

def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def positive_float(text):
    """A finite number > 0 (nan, inf and -3 are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite positive number, got {text!r}")
    return value


def probability(text):
    """A finite number in [0, 1] (a threshold on P(class 1))."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


# ----- guards for outputs -----------------------------------------------------------------

def fresh_default(path):
    """`path` if it does not exist, else the first free `path-2`, `path-3`, ... (default
    output folders only: a run never lands in an earlier one)."""
    path = Path(path)
    n = 2
    candidate = path
    while candidate.exists():
        candidate = path.with_name(f"{path.name}-{n}")
        n += 1
    return candidate


def _inside(path, folder):
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def refuse_into_inputs(outputs, inputs):
    """Refuse an output path that resolves onto an input file or into an input folder.

    outputs, inputs: paths (files or folders). Symbolic links and '..' are resolved first.
    """
    resolved_inputs = [(p, Path(p).resolve()) for p in inputs]
    for out in outputs:
        target = Path(out).resolve()
        for given, source in resolved_inputs:
            if target == source or (source.is_dir() and _inside(target, source)):
                raise CLIError(f"{out}: this output resolves into the input {given}; "
                               f"choose an --out outside the inputs")


def refuse_existing(paths, flag="--overwrite"):
    """Refuse existing output files, naming the first one and the flag that allows it."""
    existing = [p for p in paths if Path(p).exists()]
    if existing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise CLIError(f"{existing[0]}: exists{more}; refusing to overwrite it (pass {flag} "
                       f"to replace, or choose another --out)")


def check_out_folder(folder):
    """The output folder must be a folder (or not exist yet) in a writable place."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise CLIError(f"{folder}: expected an output folder, got an existing file")
    probe = folder
    while not probe.exists():  # the nearest existing ancestor will receive the mkdir
        probe = probe.parent
    if not probe.is_dir():
        raise CLIError(f"{folder}: cannot be created, {probe} is a file")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise CLIError(f"{folder}: expected a writable output folder, {probe} is read-only")
    return folder


def is_nonempty_folder(folder):
    folder = Path(folder)
    return folder.is_dir() and any(folder.iterdir())
