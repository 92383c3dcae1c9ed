"""Gradescope's autograder, GitHub Classroom's tests, and the students' `submit` zip.

Gradescope's contract: the autograder zip holds `setup.sh` (run once when the image is
built) and `run_autograder` (run per submission); the submission is unpacked in
/autograder/submission and the results go to /autograder/results/results.json as
{"score", "tests": [{"name", "score", "max_score", "output", "visibility"}]}. Our
`run_autograder` honours AUTOGRADER_ROOT (default /autograder), so it runs anywhere; it
finds the student's `minimal_unet/` in the submission (a zip of the copy, the copy's
folder, or just the edited files, which are laid over a clean copy of the part) and
always writes results.json, even when the submission does not import.

GitHub Classroom: `write_classroom` writes .github/classroom/autograding.json, one
command-grader test per exercise (`python -m minimal_unet.assignment.autograde
--exercise NAME .`, exit code 0 = full marks for that exercise).
"""

import json
import stat
import zipfile
from pathlib import Path

from minimal_unet import __version__
from minimal_unet.assignment.course import load_course

PROJECT = "minimal-unet"

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder's image.
set -euo pipefail
apt-get install -y python3 python3-pip python3-venv >/dev/null 2>&1 || true
python3 -m pip install --upgrade pip
# the teacher's version exactly: the graded tests and the rules come from this package
python3 -m pip install "{project}[course]=={version}"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission. AUTOGRADER_ROOT (default /autograder) lets a
# teacher run it anywhere: it reads $ROOT/submission and writes $ROOT/results/results.json.
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{AUTOGRADER_PYTHON:-python3}}"
exec "$PYTHON" -m minimal_unet.assignment.autograde --gradescope "$ROOT" \\
    --course "$ROOT/source/course.json" {part}
"""


def _new_file(path):
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"--out {path}: expected a new file, got an existing one")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _executable(info_name):
    info = zipfile.ZipInfo(info_name)
    info.external_attr = (stat.S_IFREG | 0o755) << 16
    return info


def write_autograder(out, part=None, course=None):
    """The Gradescope autograder zip for one part (or the whole course)."""
    out = _new_file(out)
    plan = load_course(course)
    plan.exercises(part=part)  # a bad part fails here, before anything is written
    raw = dict(plan.raw)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(_executable("setup.sh"), SETUP_SH.format(project=PROJECT,
                                                                   version=__version__))
        archive.writestr(_executable("run_autograder"), RUN_AUTOGRADER.format(
            part=f"--part {int(part)}" if part is not None else ""))
        private = zipfile.ZipInfo("course.json")  # the bug hunt's key: root may read only
        private.external_attr = (stat.S_IFREG | 0o600) << 16
        private.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(private, json.dumps(raw, indent=2) + "\n")
    return out


def write_classroom(out, part=None, course=None):
    """GitHub Classroom's autograding.json: one command test per exercise of the part."""
    out = _new_file(out)
    plan = load_course(course)
    tests = []
    for exercise in plan.exercises(part=part):
        points = sum(p for _, p, _ in plan.graded_tests([exercise]))
        tests.append({"name": exercise, "setup": 'pip install -e ".[course]"',
                      "run": f"python -m minimal_unet.assignment.autograde --exercise "
                             f"{exercise} .", "input": "", "output": "",
                      "comparison": "included", "timeout": 10, "points": points})
    out.write_text(json.dumps({"tests": tests}, indent=2) + "\n")
    return out


def write_submission(out, student_dir="."):
    """The zip Gradescope wants: the copy's minimal_unet/ (+ bughunt_answers.json)."""
    out = _new_file(out)
    root = Path(student_dir).resolve()
    package = root / "minimal_unet"
    if not (package / "__init__.py").is_file():
        raise FileNotFoundError(f"--dir {root}: expected a student copy with minimal_unet/ "
                                "in it, found none")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                archive.write(path, path.relative_to(root).as_posix())
        answers = root / "bughunt_answers.json"
        if answers.is_file():
            archive.write(answers, answers.name)
    return out
