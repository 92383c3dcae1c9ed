"""One-off measurement (2026-12-07, Zen 4 VM): where a step of the ISBI training loop goes.

The `--preset isbi2012` recipe (`isbi-adam-aligned`), prepared as recipe_run.run_recipe
prepares it; 12 steps (the first 2 not counted), each split into sample_batch (pick an
image, augment it: flips/rot90, elastic, grey values; cut the tile), forward + loss, and
backward + Adam; medians. Then a profile of 5 more sample_batch calls. Prints only.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07/loop_parts.py DATA/isbi2012-em
"""

import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from minimal_unet import recipe_run  # noqa: E402
from minimal_unet import train as training  # noqa: E402
from minimal_unet.memory import keep_freed_memory  # noqa: E402
from minimal_unet.model import UNet  # noqa: E402
from minimal_unet.recipes import get_recipe  # noqa: E402
from minimal_unet.sizes import output_size  # noqa: E402
from minimal_unet.targets import sampling_odds  # noqa: E402


def main(data):
    keep_freed_memory()
    recipe = get_recipe("isbi-adam-aligned")
    train, _ = recipe_run.load_split(data, "isbi2012")
    net = UNet(recipe_run.unet_config(recipe), seed=0)
    cfg = recipe_run.train_config(recipe, seed=0, steps=100, progress=False,
                                  **recipe_run.pixel_lengths(recipe))
    in_size = recipe.tile_size
    out_size = output_size(net.config, in_size)
    normalize = recipe_run.make_normalizer(recipe, train)
    net.input_offset = recipe_run.input_offset(recipe, train)
    prepared = recipe_run.prepare(train, recipe, cfg, normalize)
    odds = sampling_odds(prepared, cfg)
    rng = np.random.default_rng(0)
    optimizer = training.make_optimizer(net, cfg)
    optimizer.lr = 1e-4
    parts = {"sample": [], "forward+loss": [], "backward+adam": [], "step": []}
    for i in range(12):
        t0 = time.perf_counter()
        x, target, weight = training.sample_batch(prepared, cfg, in_size, out_size, rng,
                                                  net.dtype, odds)
        t1 = time.perf_counter()
        loss, dlogits = net.ops.softmax_cross_entropy(net.forward(x, train=True), target, weight)
        t2 = time.perf_counter()
        optimizer.step(net.backward(dlogits))
        t3 = time.perf_counter()
        if i >= 2:
            for name, seconds in (("sample", t1 - t0), ("forward+loss", t2 - t1),
                                  ("backward+adam", t3 - t2), ("step", t3 - t0)):
                parts[name].append(seconds)
    print({name: round(statistics.median(v), 3) for name, v in parts.items()})
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(5):
        training.sample_batch(prepared, cfg, in_size, out_size, rng, net.dtype, odds)
    profile.disable()
    pstats.Stats(profile).sort_stats("cumulative").print_stats(8)


if __name__ == "__main__":
    main(sys.argv[1])
