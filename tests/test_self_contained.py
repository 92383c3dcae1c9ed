"""The repository stands on its own: no committed file points at material users never get.

The developers' notes (the paper digest, the peers' measurements) live outside the
repository; the product cites the paper (arXiv:1505.04597, section and figure) and keeps
the peers' numbers in benchmarks/results/peers.md. Tests alone may read the real data sets
at ../shared/datasets (skipping where absent), and CI's script may say it is there.
"""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Split so that this file does not match itself.
_MD = r"\.md"
FORBIDDEN = re.compile("|".join([
    r"\bPAPER" + _MD,                        # the developers' paper digest
    r"\bANCHORS" + _MD,                      # the developers' peer measurements
    r"\.\./" + "shared",                     # the folder beside the checkout
    r"/work/" + "shared",
    r"""["']""" + "shared" + r"""["']\s*/""",  # Path(...) / "shared" / ...
]))
# Where the real data sets may be read from (tests) or mentioned (CI), and nothing else.
DATASET_READ = re.compile(r"""\.\./shared/datasets\b|["']shared["']\s*/\s*["']datasets["']""")
MAY_READ_DATASETS = ("tests/", ".ci/run")


def committed_files():
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                                check=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"not a git checkout, cannot list the committed files ({error})")
    return [name for name in listed.decode().split("\0") if name]


def offending_lines(name, text):
    hits = []
    for number, line in enumerate(text.splitlines(), start=1):
        if name.startswith(MAY_READ_DATASETS):
            line = DATASET_READ.sub("", line)
        if FORBIDDEN.search(line):
            hits.append(f"{name}:{number}: {line.strip()[:120]}")
    return hits


def test_the_pattern_catches_each_kind_of_reference():
    # The test must be able to fail: each form it guards against is caught.
    for line in ("see PAPER" + ".md", "(ANCHORS" + ".md)", "../" + "shared/STYLE.md",
                 "/work/" + "shared/x", 'REPO / ".." / "' + 'shared" / "datasets"'):
        assert offending_lines("minimal_unet/x.py", line), line
    assert offending_lines("tests/x.py", "../" + "shared/ANCHORS" + ".md")
    assert not offending_lines("tests/x.py", 'p = ROOT / ".." / "shared" / "datasets"')
    assert not offending_lines("tests/x.py", "skip: ../shared/datasets absent")
    assert offending_lines("README.md", "train ../shared/datasets/isbi2012-em")
    assert not offending_lines("kernels/x.cu", "copies the patch to shared memory")


def test_no_committed_file_refers_to_material_outside_the_repository():
    hits = []
    for name in committed_files():
        if name == "tests/test_self_contained.py":
            continue
        path = ROOT / name
        if not path.is_file():
            continue  # deleted in the work tree, not yet committed
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # figures and other binaries
        hits += offending_lines(name, text)
    assert not hits, ("files refer to material outside the repository (cite arXiv:1505.04597 "
                      "or benchmarks/results/peers.md instead):\n" + "\n".join(hits))
