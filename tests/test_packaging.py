"""The wheel ships the kernel sources as minimal_unet/_kernels/, and both installs find them.

1. Build a wheel from a copy of the sources (pip wheel --no-deps --no-build-isolation, with
   this venv's setuptools) and read its file list: every kernels/cuda/*.cu, kernels/numba/*.py
   and the emulator header are inside `minimal_unet/_kernels/`, there is no top-level
   `kernels` package, and every module of minimal_unet/ made it (the package list in
   pyproject.toml is explicit, so a new subpackage missing from it fails here).
2. Install the wheel (--no-deps) into a fresh venv, whose only other path is this venv's
   site-packages, put *after* its own through a .pth file (for numpy), and check there that
   `kernels_root()` lies inside the fresh venv and every kernel file reads back unchanged.
3. Install the copy editable (pip install -e, as `make test` does) into another fresh venv
   and check that `kernels_root()` is the copy's `kernels/` folder.
"""

import json
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # about 10-20 s: a wheel build and two venvs

REPO = Path(__file__).resolve().parents[1]
CUDA_FILES = sorted(p.name for p in (REPO / "kernels" / "cuda").glob("*.cu"))
NUMBA_FILES = sorted(p.name for p in (REPO / "kernels" / "numba").glob("*.py"))
PACKAGE_MODULES = sorted(
    p.relative_to(REPO).as_posix()
    for p in (REPO / "minimal_unet").rglob("*.py")
    if "__pycache__" not in p.parts
)

# Run inside the fresh venv: where is everything, and what do the kernel files hold?
PROBE = """
import json, minimal_unet
from minimal_unet.backends import sources
root = sources.kernels_root()
print(json.dumps({
    "package": minimal_unet.__file__,
    "root": str(root),
    "cuda": {p.name: p.read_text() for p in sorted((root / "cuda").glob("*.cu"))},
    "numba": {p.name: p.read_text() for p in sorted((root / "numba").glob("*.py"))},
    "relu": sources.read_cuda_source("relu"),
    "emu_header": (root / "emu" / "cuda_emu.h").is_file(),
}))
"""


def _run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory):
    """The files a build reads, copied so that build/ and *.egg-info land outside the repo."""
    copy = tmp_path_factory.mktemp("src") / "minimal_unet_src"
    ignore = shutil.ignore_patterns("__pycache__", "*.so", "*.egg-info")
    for name in ("minimal_unet", "kernels"):
        shutil.copytree(REPO / name, copy / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, copy / name)
    return copy


@pytest.fixture(scope="module")
def wheel(source_copy, tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
          "-w", str(out), str(source_copy)])
    (path,) = out.glob("minimal_unet-*.whl")
    return path


def _fresh_venv(path):
    """A venv without pip whose sys.path ends with this venv's site-packages (deps, pip)."""
    venv.create(path, with_pip=False)
    python = path / "bin" / "python"
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    # A .pth line is appended to sys.path after the fresh site-packages itself.
    (Path(site.strip()) / "zz_parent_venv.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return python, Path(site.strip())


def test_wheel_carries_the_kernels_inside_the_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert CUDA_FILES and NUMBA_FILES
    for name in CUDA_FILES:
        assert f"minimal_unet/_kernels/cuda/{name}" in names
    for name in NUMBA_FILES:
        assert f"minimal_unet/_kernels/numba/{name}" in names
    assert "minimal_unet/_kernels/emu/cuda_emu.h" in names
    assert not [n for n in names if n.startswith("kernels/")]
    missing = [m for m in PACKAGE_MODULES if m not in names]
    assert not missing, f"not in the wheel (add the subpackage to pyproject.toml): {missing}"
    (top_level,) = [n for n in names if n.endswith(".dist-info/top_level.txt")]
    assert zipfile.ZipFile(wheel).read(top_level).decode().split() == ["minimal_unet"]


def test_wheel_metadata_carries_the_spdx_license(wheel):
    # PEP 639: `license = "MIT"` becomes License-Expression, the text ships in the wheel; the
    # old `license = {text = ...}` table (deprecated by setuptools) gives a License: line.
    archive = zipfile.ZipFile(wheel)
    names = archive.namelist()
    (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    headers = archive.read(metadata).decode().split("\n\n", 1)[0].splitlines()
    assert "License-Expression: MIT" in headers
    assert not [h for h in headers if h.startswith("License:")]
    (license_file,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    assert archive.read(license_file) == (REPO / "LICENSE").read_bytes()


def test_installed_wheel_finds_its_kernels(wheel, tmp_path):
    python, site = _fresh_venv(tmp_path / "venv")
    _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)])
    found = json.loads(_run([str(python), "-c", PROBE], cwd=tmp_path))
    assert Path(found["package"]).is_relative_to(site)
    assert Path(found["root"]) == site / "minimal_unet" / "_kernels"
    assert sorted(found["cuda"]) == CUDA_FILES and sorted(found["numba"]) == NUMBA_FILES
    for name, text in found["cuda"].items():
        assert text == (REPO / "kernels" / "cuda" / name).read_text()
    for name, text in found["numba"].items():
        assert text == (REPO / "kernels" / "numba" / name).read_text()
    assert found["relu"] == (REPO / "kernels" / "cuda" / "relu.cu").read_text()
    assert found["emu_header"]


def test_editable_install_finds_the_checkout_kernels(source_copy, tmp_path):
    python, _ = _fresh_venv(tmp_path / "venv")
    _run([str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-q",
          "-e", str(source_copy)])
    found = json.loads(_run([str(python), "-c", PROBE], cwd=tmp_path))
    assert Path(found["package"]) == source_copy / "minimal_unet" / "__init__.py"
    assert Path(found["root"]) == source_copy / "kernels"
    assert sorted(found["cuda"]) == CUDA_FILES
