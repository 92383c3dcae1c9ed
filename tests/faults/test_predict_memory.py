"""Bounded memory for predict: the peak depends on the tile, not the image (issue 10).

A child process predicts one large image; its peak RSS above the same command on a small
image with the same tile (imports, model and the tile's working set cancel out) must stay
within 3x the float32 output map. Before the streaming predict the excess was ~6.2x (a
padded copy, float64 normalisation temporaries, all K maps, int64 labels); now ~2x.
benchmarks/predict_memory.py prints the whole curve. A bound, not a time.
"""

import os
import subprocess
import sys

import numpy as np
from PIL import Image

from .conftest import REPO

PROBE = ("import resource, subprocess, sys\n"
         "r = subprocess.run([sys.executable, '-m', 'minimal_unet', *sys.argv[1:]],"
         " capture_output=True, text=True)\n"
         "sys.stderr.write(r.stderr)\n"
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)\n"
         "sys.exit(r.returncode)\n")


def peak_of_predict(model, size, tmp_path):
    """Peak RSS in bytes of `minimal-unet predict` on a random size x size uint8 PNG."""
    image = tmp_path / f"img_{size}.png"
    rng = np.random.default_rng(size)
    Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8)).save(image)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-c", PROBE, "predict", str(model), str(image),
                             "--out", str(tmp_path / f"out_{size}"), "--tile-size", "572"],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip().splitlines()[-1])


def test_predict_peak_memory_is_bounded_by_the_output(model_file, tmp_path):
    small = peak_of_predict(model_file, 128, tmp_path)
    size = 2000
    large = peak_of_predict(model_file, size, tmp_path)
    output = size * size * 4  # the float32 probability map
    slack = 8 * 2**20  # allocator and page-cache noise
    assert large - small <= 3 * output + slack, (
        f"{size}x{size}: {(large - small) / 2**20:.1f} MB above the small run, "
        f"bound {(3 * output + slack) / 2**20:.1f} MB")
