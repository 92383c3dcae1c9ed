"""A short smoke run on real data: a few ISBI 2012 EM tiles, a tiny net, a few steps."""

from pathlib import Path

import numpy as np
import pytest

from minimal_unet.data.readers import Sample, read_isbi2012
from minimal_unet.data.tiles import extract_tile
from minimal_unet.model import UNet, UNetConfig
from minimal_unet.optim import SGD
from minimal_unet.sizes import output_size
from minimal_unet.train import TrainConfig, prepare_sample, train

DATASETS = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"
ISBI = DATASETS / "isbi2012-em"

pytestmark = pytest.mark.skipif(
    not (ISBI / "train" / "images").is_dir(),
    reason=f"ISBI 2012 data not found at {ISBI} (../shared/datasets absent)")


@pytest.fixture(scope="module")
def isbi():
    samples = read_isbi2012(ISBI, split="train")
    assert len(samples) == 30 and samples[0].image.shape == (512, 512)
    return samples


def test_loss_decreases_on_a_fixed_tile(isbi):
    config = UNetConfig(depth=2, base_channels=8)
    net = UNet(config, seed=0, dtype=np.float32)
    in_size = 92
    out_size = output_size(config, in_size)  # 52
    image, mask, weight = prepare_sample(isbi[0], TrainConfig())
    x = extract_tile(image, 200, 200, in_size, out_size)[None, None].astype(np.float32)
    target = mask[200:200 + out_size, 200:200 + out_size][None]  # (1, 52, 52)
    w = weight[200:200 + out_size, 200:200 + out_size][None].astype(np.float32)
    assert 0 < target.mean() < 1  # both membrane and cell in the tile
    optimizer = SGD(net.params, lr=0.01, momentum=0.9)
    losses = []
    for _ in range(25):
        loss, grads = net.loss_and_grads(x, target, w)
        optimizer.step(grads)
        losses.append(float(loss))
    assert np.all(np.isfinite(losses))
    # Step 1 starts from the random init's large loss; compare with steps 2-6 instead.
    assert np.mean(losses[-5:]) < 0.75 * np.mean(losses[1:6]), losses


def test_train_pipeline_runs_on_isbi_tiles(isbi, tmp_path):
    # Two training slices and one validation crop, a handful of augmented steps.
    crop = isbi[25]
    val = [Sample(crop.image[0:128, 0:128], crop.mask[0:128, 0:128], None, crop.name)]
    net = UNet(UNetConfig(depth=2, base_channels=4), seed=0, dtype=np.float32)
    cfg = TrainConfig(steps=4, lr=0.003, tile_size=92, val_every=4, checkpoint_every=4,
                      out_dir=str(tmp_path), progress=False)
    history = train(net, isbi[0:2], val, cfg)
    assert len(history["train"]) == 4 and all(np.isfinite(r["loss"]) for r in history["train"])
    metrics = history["val"][-1]
    assert 0 <= metrics["pixel_error"] <= 1 and 0 <= metrics["foreground_iou"] <= 1
    assert (tmp_path / "predictions.png").is_file()
