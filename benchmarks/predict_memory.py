"""Peak memory of `minimal-unet predict` against the image size (issue 10: bounded memory).

Each size runs in a fresh child process (`python -m minimal_unet predict` on one random
uint8 PNG with a tiny float32 U-Net), and the child's peak resident set size is read
from getrusage(RUSAGE_CHILDREN) after it exits. Printed per size: the peak, the peak
above the smallest size's (imports, model, and the tile's working set), and that excess
in units of the float32 probability map (H * W * 4 bytes). Bounded memory means the
excess stays a small constant multiple of the output (the issue's rule: ~3x), instead of
growing with the old padded copies, float64 temporaries and int64 label maps.

    python benchmarks/predict_memory.py [--sizes 256 1000 2000 3000 5000] [--tile-size N]
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def child_peak_bytes(args, env=None):
    """Run `python -m minimal_unet ARGS` in a child; (peak RSS in bytes, seconds).

    RUSAGE_CHILDREN holds the largest peak among waited-for children, so each measurement
    runs through a fresh intermediate Python process that reports its own child's peak.
    """
    probe = ("import resource, subprocess, sys\n"
             "r = subprocess.run([sys.executable, '-m', 'minimal_unet', *sys.argv[1:]],"
             " capture_output=True, text=True)\n"
             "sys.stderr.write(r.stderr)\n"
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)\n"
             "sys.exit(r.returncode)\n")
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    t0 = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", probe, *map(str, args)],
                            capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if result.returncode != 0:
        raise RuntimeError(f"predict failed: {result.stderr.strip()[-500:]}")
    return int(result.stdout.strip().splitlines()[-1]), seconds


def predict_peak(model, size, workdir, tile_size=None):
    """Peak RSS (bytes) and seconds of predicting one random size x size image."""
    image = workdir / f"img_{size}.png"
    rng = np.random.default_rng(size)
    Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8)).save(image)
    out = workdir / f"out_{size}"
    args = ["predict", model, image, "--out", out]
    if tile_size:
        args += ["--tile-size", tile_size]
    peak, seconds = child_peak_bytes(args)
    image.unlink()
    return peak, seconds


def save_tiny_model(path):
    sys.path.insert(0, str(REPO))
    from minimal_unet.model import UNet, UNetConfig

    UNet(UNetConfig(depth=2, base_channels=4), seed=0, dtype=np.float32).save(path)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1000, 2000, 3000, 5000])
    parser.add_argument("--tile-size", type=int, help="default: predict's own choice")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        model = save_tiny_model(workdir / "model.npz")
        rows = []
        for size in sorted(args.sizes):
            peak, seconds = predict_peak(model, size, workdir, args.tile_size)
            rows.append((size, peak, seconds))
        base = rows[0][1]
        print(f"predict peak RSS, tiny float32 U-Net (depth 2, 4 channels), "
              f"tile {args.tile_size or 'default'}; baseline = the {rows[0][0]} px run")
        print(f"{'image':>11} {'peak MB':>9} {'above base':>11} {'output MB':>10} "
              f"{'excess/output':>14} {'seconds':>8}")
        for size, peak, seconds in rows:
            output = size * size * 4
            excess = peak - base
            print(f"{size:>5}x{size:<5} {peak / 2**20:9.1f} {excess / 2**20:11.1f} "
                  f"{output / 2**20:10.1f} {excess / output:14.2f} {seconds:8.1f}")
        # RUSAGE_SELF for the record: this driver never holds an image.
        print(f"(driver peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
