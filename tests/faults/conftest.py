"""The fault suite: every case of issue 10 reproduced through the CLI in a subprocess.

Each test asserts the exit code, a one-line error (no traceback) naming what is wrong, and
that every file that existed before the command is byte-identical afterwards.
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from minimal_unet.data.synthetic import make_synthetic
from minimal_unet.model import UNet, UNetConfig

REPO = Path(__file__).resolve().parents[2]
TINY = UNetConfig(depth=2, base_channels=4)  # the CLI's "tiny" preset


def run_cli(*args, cwd=None, timeout=300):
    """`python -m minimal_unet ARGS` in a child process that imports this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep)
    return subprocess.run([sys.executable, "-m", "minimal_unet", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env)


def snapshot(*roots):
    """{path: sha256} of every file under the roots (files or folders)."""
    found = {}
    for root in map(Path, roots):
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for p in paths:
            found[p] = hashlib.sha256(p.read_bytes()).hexdigest()
    return found


def assert_unchanged(before):
    """Every file of a `snapshot` still exists with the same bytes."""
    for path, digest in before.items():
        assert path.is_file(), f"{path} was removed"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"{path} was changed"


def assert_error(result, code, *fragments):
    """Exit code `code`, exactly one line on stderr, no traceback, naming every fragment."""
    err = result.stderr.strip()
    assert result.returncode == code, (result.returncode, result.stdout[-2000:], err[-2000:])
    assert err.count("\n") == 0 and "Traceback" not in err, err
    assert err.startswith("minimal-unet ") and "error:" in err, err
    for fragment in fragments:
        assert str(fragment) in err, (fragment, err)
    return err


def write_folder_dataset(root, n=3, size=48, seed=1):
    """root/images/*.png (uint8) and root/masks/*.png (0/255) of synthetic cells."""
    root = Path(root)
    for sub in ("images", "masks"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for s in make_synthetic(n, size=(size, size), seed=seed):
        Image.fromarray((s.image * 255).round().astype(np.uint8)).save(
            root / "images" / f"{s.name}.png")
        Image.fromarray((s.mask * 255).astype(np.uint8)).save(root / "masks" / f"{s.name}.png")
    return root


@pytest.fixture
def dataset(tmp_path):
    """A fresh folder data set per test (tests may add broken files to it)."""
    return write_folder_dataset(tmp_path / "data")


@pytest.fixture(scope="session")
def model_file(tmp_path_factory):
    """An (untrained) tiny float32 U-Net saved by UNet.save: enough for predict."""
    path = tmp_path_factory.mktemp("model") / "model.npz"
    UNet(TINY, seed=0, dtype=np.float32).save(path)
    return path


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """A 2-step tiny training run by the CLI: its --out folder (checkpoint at step 2)."""
    data = write_folder_dataset(tmp_path_factory.mktemp("data"))
    out = tmp_path_factory.mktemp("runs") / "run"
    result = run_cli("train", data, "--preset", "tiny", "--steps", 2, "--checkpoint-every",
                     1, "--val-every", 0, "--out", out, "--no-progress")
    assert result.returncode == 0, result.stderr
    return data, out
