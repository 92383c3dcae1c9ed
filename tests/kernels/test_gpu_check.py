"""benchmarks/gpu.py --check (make gpu-check) without a GPU: it fails cleanly, and its parts
are right where they can run here (the paper-step comparison on the emulated CuPy backend).
"""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gpu_script():
    spec = importlib.util.spec_from_file_location("gpu_benchmark_script",
                                                  REPO / "benchmarks" / "gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_check_without_a_gpu_fails_in_one_line_and_writes_nothing(tmp_path):
    pytest.importorskip("cupy", reason="cupy (the gpu extra) is not installed")
    from minimal_unet.backends import BackendUnavailableError, get_backend

    try:
        get_backend("cupy")
        pytest.skip("a working GPU is present")
    except BackendUnavailableError:
        pass
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu.py"), "--check",
                             "--out", str(tmp_path / "results")],
                            capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 1
    assert result.stderr.startswith("benchmarks/gpu.py --check needs a CUDA GPU and found none")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "results").exists()


def test_paper_step_comparison_catches_a_wrong_backend(gpu_script, monkeypatch):
    # The step of benchmarks/gpu.py at a small legal size (188 -> 4, depth 4, base 2) on the
    # CuPy backend with emulated kernels: it passes, and fails once a kernel is wrong.
    if shutil.which("g++") is None:
        pytest.skip("the emulator needs g++")
    from minimal_unet.backends import cupy_backend, emu

    monkeypatch.setattr(cupy_backend, "cp", np)
    monkeypatch.setattr(cupy_backend, "_get_kernel", emu.get_kernel)
    monkeypatch.setattr(cupy_backend, "ensure_available", lambda: None)
    result = gpu_script.paper_step_vs_numpy("cupy", size=188, base=2)
    assert result["passed"], result
    real_relu = cupy_backend.relu_forward

    def leaky(x):  # a bug a GPU run must catch: a small leak in ReLU
        y, cache = real_relu(x)
        y = y + np.float32(1e-2) * np.minimum(x, 0)
        return y, (y,)

    monkeypatch.setattr(cupy_backend, "relu_forward", leaky)
    result = gpu_script.paper_step_vs_numpy("cupy", size=188, base=2)
    assert not result["passed"] and result["relative_errors"]["worst_gradient"] > 1e-3


def test_check_passes_only_when_every_part_passed(gpu_script, tmp_path):
    ok = {"returncode": 0, "summary": "10 passed", "seconds": 1.0}
    report = {"device": "NVIDIA H200", "compute_capability": "9.0", "driver_cuda": "13.0",
              "runtime_cuda": "13.0", "date": "2026-12-01 21:00:00 +0000",
              "backends": {"cupy": "proven", "numba": "proven"}, "tests": ok,
              "sanitizer": {"path": "/usr/local/cuda/bin/compute-sanitizer", "memcheck": ok,
                            "racecheck": ok, "synccheck": ok},
              "paper_step": {"cupy": {"passed": True, "relative_errors": {}}},
              "benchmark": {"returncode": 0}}
    assert gpu_script.check_passed(report)
    for broken in ({"backends": {"cupy": "proven", "numba": "numba backend: no NVVM"}},
                   {"tests": dict(ok, returncode=1)},
                   {"sanitizer": dict(report["sanitizer"], racecheck=dict(ok, returncode=1))},
                   {"sanitizer": dict(report["sanitizer"], synccheck=dict(ok, returncode=None))},
                   {"paper_step": {"cupy": {"passed": False, "error": "boom"}}},
                   {"benchmark": {"returncode": 1}}):
        assert not gpu_script.check_passed({**report, **broken}), broken
    report["passed"] = True
    gpu_script.write_check_report(report, tmp_path)
    text = (tmp_path / "gpu_check.md").read_text()
    assert "NVIDIA H200" in text and "driver CUDA 13.0" in text and "2026-12-01" in text
    assert (tmp_path / "gpu_check.json").is_file()
