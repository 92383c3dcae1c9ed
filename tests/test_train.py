"""Training loop, checkpoints and exact resume, on tiny synthetic data and a tiny net."""

import csv
import json

import numpy as np
import pytest

from minimal_unet import checkpoint
from minimal_unet import train as train_module
from minimal_unet.data.readers import Sample
from minimal_unet.data.synthetic import make_synthetic
from minimal_unet.model import UNet, UNetConfig
from minimal_unet.train import (
    TrainConfig,
    TrainingDiverged,
    prepare_sample,
    sample_batch,
    train,
    training_sample,
)

TINY = UNetConfig(depth=2, base_channels=4, dropout=0.3)  # dropout: its rng must resume too


@pytest.fixture(scope="module")
def samples():
    return make_synthetic(3, size=(48, 48), seed=0)


def tiny_cfg(tmp_path, **overrides):
    fields = dict(steps=6, lr=0.01, tile_size=60, seed=3, val_every=3, checkpoint_every=2,
                  out_dir=str(tmp_path), progress=False)
    fields.update(overrides)
    return TrainConfig(**fields)


# ----- checkpoints -----------------------------------------------------------------------

def test_checkpoint_round_trip_without_pickle(tmp_path):
    rng = np.random.default_rng(7)
    rng.random(5)  # advance it: the state must be the current one, not the seed's
    state = {"step": 12, "params": {"a.weight": np.arange(6.0).reshape(2, 3)},
             "optimizer": {"step": 12, "momentum": 0.99,
                           "velocity": {"a.weight": np.ones((2, 3), np.float32)}},
             "rng": checkpoint.rng_state(rng), "history": [{"loss": 0.5}], "none": None,
             "scalar": np.float32(0.25)}
    path = tmp_path / "c.npz"
    checkpoint.save_checkpoint(path, state)
    loaded = checkpoint.load_checkpoint(path)
    np.testing.assert_array_equal(loaded["params"]["a.weight"], state["params"]["a.weight"])
    assert loaded["optimizer"]["velocity"]["a.weight"].dtype == np.float32
    assert loaded["step"] == 12 and loaded["history"] == [{"loss": 0.5}]
    assert loaded["none"] is None and loaded["scalar"] == 0.25
    fresh = np.random.default_rng(0)
    checkpoint.set_rng_state(fresh, loaded["rng"])
    np.testing.assert_array_equal(fresh.random(4), rng.random(4))
    with np.load(path, allow_pickle=False) as data:  # readable without pickle
        assert "__meta__" in data.files


def test_checkpoint_write_is_atomic(tmp_path):
    path = tmp_path / "c.npz"
    checkpoint.save_checkpoint(path, {"x": np.zeros(3)})
    before = path.read_bytes()
    with pytest.raises(TypeError, match="got object"):
        checkpoint.save_checkpoint(path, {"x": np.ones(3), "bad": object()})

    def crash(f):
        f.write(b"half a file")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        checkpoint.atomic_write_bytes(path, crash)
    assert path.read_bytes() == before  # the old checkpoint survived both failures
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npz"]  # no temporary left
    with pytest.raises(FileNotFoundError, match="expected a file"):
        checkpoint.load_checkpoint(tmp_path / "missing.npz")


# ----- data preparation ------------------------------------------------------------------

def test_prepare_sample_normalises_and_uses_instances():
    mask = np.zeros((20, 20), np.int64)
    mask[4:16, 3:17] = 1
    instances = np.zeros((20, 20), np.int32)
    instances[4:16, 3:10] = 1
    instances[4:16, 11:17] = 2  # two touching cells split by a 1 px gap at column 10
    mask[:, 10] = 0
    image = np.random.default_rng(0).random((20, 20)).astype(np.float32) * 0.3 + 0.5
    cfg = TrainConfig()
    x, m, w_inst = prepare_sample(Sample(image, mask, instances, "a"), cfg)
    assert abs(x.mean()) < 1e-12 and abs(x.std() - 1) < 1e-12
    np.testing.assert_array_equal(m, mask)
    # From the mask alone the two cells are two connected components too: same weights.
    _, _, w_mask = prepare_sample(Sample(image, mask, None, "a"), cfg)
    np.testing.assert_allclose(w_inst, w_mask)
    # The paper's border term makes the gap between the cells heavier than far background.
    assert w_inst[10, 10] > w_inst[0, 0] + 5
    # Merged instances (one id for both) lose the border term in the gap.
    merged = np.where(instances > 0, 1, 0).astype(np.int32)
    merged[4:16, 10] = 0
    merged[8, 10] = 1  # a bridge joins the two halves into one object
    _, _, w_one = prepare_sample(Sample(image, mask, merged, "a"), cfg)
    assert w_one[12, 10] < w_inst[12, 10] - 5


def test_sample_batch_is_replayable(samples):
    cfg = TrainConfig(batch_size=2, tile_size=60)
    prepared = [prepare_sample(s, cfg) for s in samples]
    a = sample_batch(prepared, cfg, 60, 20, np.random.default_rng(5), np.float32)
    b = sample_batch(prepared, cfg, 60, 20, np.random.default_rng(5), np.float32)
    c = sample_batch(prepared, cfg, 60, 20, np.random.default_rng(6), np.float32)
    assert a[0].shape == (2, 1, 60, 60) and a[0].dtype == np.float32
    assert a[1].shape == (2, 20, 20) and a[1].dtype == np.int64 and a[2].shape == (2, 20, 20)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])


def test_config_errors():
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="rmsprop")
    with pytest.raises(ValueError, match="steps"):
        TrainConfig(steps=0)
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(lr=-1.0)


# ----- the loop --------------------------------------------------------------------------

def test_train_writes_logs_figures_and_checkpoint(tmp_path, samples):
    net = UNet(TINY, seed=0, dtype=np.float32)
    before = net.state_dict()
    history = train(net, samples[0:2], samples[2:3], tiny_cfg(tmp_path))
    assert [r["step"] for r in history["train"]] == [1, 2, 3, 4, 5, 6]
    assert [r["step"] for r in history["val"]] == [3, 6]
    assert set(history["val"][0]) == {"step", "pixel_error", "foreground_iou", "dice",
                                      "adapted_rand_error"}
    assert all(np.isfinite(r["loss"]) for r in history["train"])
    assert any(not np.array_equal(before[k], v) for k, v in net.state_dict().items())
    with open(tmp_path / "train_log.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and float(rows[2]["loss"]) == history["train"][2]["loss"]
    assert rows[2]["val_pixel_error"] != "" and rows[1]["val_pixel_error"] == ""
    assert json.loads((tmp_path / "history.json").read_text()) == history
    for name in ("learning_curves.png", "predictions.png", "checkpoint.npz"):
        assert (tmp_path / name).stat().st_size > 1000
    state = checkpoint.load_checkpoint(tmp_path / "checkpoint.npz")
    assert state["step"] == 6 and state["model_config"] == TINY.to_dict()


def test_resume_is_bit_identical_in_float64(tmp_path, samples, monkeypatch):
    cfg_full = tiny_cfg(tmp_path / "full", steps=7, checkpoint_every=3)
    full = UNet(TINY, seed=0, dtype=np.float64)
    history_full = train(full, samples[0:2], samples[2:3], cfg_full)

    # The same run, crashed during step 5: the last checkpoint is from step 3.
    cfg = tiny_cfg(tmp_path / "part", steps=7, checkpoint_every=3)
    calls = {"n": 0}
    real_sample_batch = train_module.sample_batch

    def crashing_sample_batch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt("simulated crash")
        return real_sample_batch(*args, **kwargs)

    monkeypatch.setattr(train_module, "sample_batch", crashing_sample_batch)
    with pytest.raises(KeyboardInterrupt):
        train(UNet(TINY, seed=0, dtype=np.float64), samples[0:2], samples[2:3], cfg)
    monkeypatch.setattr(train_module, "sample_batch", real_sample_batch)
    assert checkpoint.load_checkpoint(tmp_path / "part" / "checkpoint.npz")["step"] == 3

    resumed = UNet(TINY, seed=99, dtype=np.float64)  # other weights: the checkpoint wins
    history = train(resumed, samples[0:2], samples[2:3], cfg, resume=True)
    for name, p in full.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[name], p, err_msg=name)
    assert [r["loss"] for r in history["train"]] == [r["loss"] for r in history_full["train"]]
    assert history["val"] == history_full["val"]
    assert resumed.rng.bit_generator.state == full.rng.bit_generator.state


def test_resume_without_checkpoint_errors(tmp_path, samples):
    with pytest.raises(FileNotFoundError, match="expected a checkpoint"):
        train(UNet(TINY, seed=0), samples[0:1], [], tiny_cfg(tmp_path), resume=True)


def test_resume_rejects_other_architecture(tmp_path, samples):
    train(UNet(TINY, seed=0), samples[0:1], [], tiny_cfg(tmp_path, steps=2))
    other = UNet(UNetConfig(depth=2, base_channels=8), seed=0)
    with pytest.raises(ValueError, match="holds a net"):
        train(other, samples[0:1], [], tiny_cfg(tmp_path, steps=4), resume=True)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, samples, monkeypatch):
    net = UNet(TINY, seed=0, dtype=np.float32)
    real_loss = net.ops.softmax_cross_entropy
    calls = {"n": 0}

    def loss_turning_nan(logits, target, weight=None):
        calls["n"] += 1
        loss, dlogits = real_loss(logits, target, weight)
        return (np.float32(np.nan) if calls["n"] == 5 else loss), dlogits

    monkeypatch.setattr(net.ops, "softmax_cross_entropy", loss_turning_nan)
    cfg = tiny_cfg(tmp_path, steps=8, checkpoint_every=2)
    with pytest.raises(TrainingDiverged, match="at step 5: the loss became nan"):
        train(net, samples[0:2], [], cfg)
    state = checkpoint.load_checkpoint(tmp_path / "checkpoint.npz")
    assert state["step"] == 4  # the last good one, not overwritten with NaN weights
    assert all(np.all(np.isfinite(p)) for p in state["params"].values())
    assert len(state["history"]["train"]) == 4


def test_absurd_learning_rate_diverges(tmp_path, samples):
    net = UNet(UNetConfig(depth=2, base_channels=4), seed=0, dtype=np.float32)
    cfg = tiny_cfg(tmp_path, steps=30, lr=1e12, momentum=0.9, val_every=0,
                   checkpoint_every=0, augment=False)
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged, match=r"at step \d+"):
        train(net, samples[0:1], [], cfg)


def test_time_budget_stops_after_one_step(tmp_path, samples):
    net = UNet(TINY, seed=0)
    cfg = tiny_cfg(tmp_path, steps=50, max_seconds=0.0, val_every=0, checkpoint_every=0)
    history = train(net, samples[0:2], samples[2:3], cfg)
    assert [r["step"] for r in history["train"]] == [1]
    assert [r["step"] for r in history["val"]] == [1]  # the final validation still runs
    assert checkpoint.load_checkpoint(tmp_path / "checkpoint.npz")["step"] == 1


@pytest.mark.parametrize("field, value", [
    ("lr", float("inf")), ("lr", float("nan")), ("lr", 0.0), ("momentum", 1.0),
    ("momentum", float("nan")), ("threshold", -0.1), ("threshold", float("nan")),
    ("w0", -1.0), ("sigma", float("inf")), ("diverge_norm_factor", 0.0),
    ("momentum_start", 1.0), ("momentum_warmup_steps", -1), ("balance_power", -0.5),
    ("balance_power", float("nan")),
])
def test_config_refuses_non_finite_and_out_of_range_numbers(field, value):
    with pytest.raises(ValueError, match=f"TrainConfig.{field}"):
        TrainConfig(**{field: value})


def test_existing_checkpoint_needs_resume_or_overwrite(tmp_path, samples):
    cfg = tiny_cfg(tmp_path, steps=2, val_every=0)
    train(UNet(TINY, seed=0), samples[0:1], [], cfg)
    before = (tmp_path / "checkpoint.npz").read_bytes()
    with pytest.raises(FileExistsError, match="--resume.*--overwrite"):
        train(UNet(TINY, seed=0), samples[0:1], [], cfg)
    assert (tmp_path / "checkpoint.npz").read_bytes() == before
    train(UNet(TINY, seed=1), samples[0:1], [], cfg, overwrite=True)
    assert (tmp_path / "checkpoint.npz").read_bytes() != before


def test_same_net_validates_even_when_its_training_tile_is_too_small_to_tile(tmp_path,
                                                                           samples):
    # A "same" net trains on 48 px tiles, but tiling it needs 2 x 24 px of context: the
    # validation falls back to the default tile instead of failing after training.
    net = UNet(UNetConfig(depth=2, base_channels=4, padding="same"), seed=0)
    cfg = tiny_cfg(tmp_path, steps=2, tile_size=48, val_every=1)
    history = train(net, samples[0:2], samples[2:3], cfg)
    assert [r["step"] for r in history["val"]] == [1, 2]


def test_momentum_warmup_is_applied_before_each_step(tmp_path, samples, monkeypatch):
    seen = []
    real_step = train_module.optim.SGD.step

    def spy(self, grads):
        seen.append(self.momentum)
        return real_step(self, grads)

    monkeypatch.setattr(train_module.optim.SGD, "step", spy)
    cfg = tiny_cfg(tmp_path, steps=4, momentum=0.99, momentum_start=0.9,
                   momentum_warmup_steps=2, val_every=0, checkpoint_every=0)
    train(UNet(TINY, seed=0), samples[0:1], [], cfg)
    assert seen == pytest.approx([0.9, 0.945, 0.99, 0.99])  # 0.9 + t/2 * 0.09, then flat
    seen.clear()
    train(UNet(TINY, seed=0), samples[0:1], [], tiny_cfg(tmp_path / "off", steps=2,
                                                          val_every=0, checkpoint_every=0))
    assert seen == [0.99, 0.99]  # no warm-up: the paper's 0.99 from the first step


def test_separate_touching_cuts_training_masks_only_where_instances_touch():
    ids = np.zeros((8, 12), np.int32)
    ids[1:7, 1:6] = 1
    ids[1:7, 6:11] = 2  # touches instance 1 along column 5|6
    sample = Sample(np.zeros((8, 12), np.float32), (ids > 0).astype(np.int64), ids, "t")
    cut = training_sample(sample, TrainConfig(separate_touching=True))
    assert np.all(cut.mask[1:7, 6] == 0) and np.all(cut.mask[1:7, 5] == 1)
    assert np.count_nonzero(sample.mask) - np.count_nonzero(cut.mask) == 6
    assert training_sample(sample, TrainConfig()) is sample  # off: untouched
    # prepare_sample trains on the cut mask; its weight map sees the gap too
    _, mask, weight = prepare_sample(sample, TrainConfig(separate_touching=True))
    np.testing.assert_array_equal(mask, cut.mask)
    _, plain_mask, plain_weight = prepare_sample(sample, TrainConfig())
    assert weight[3, 6] != plain_weight[3, 6] and plain_mask[3, 6] == 1


def test_balance_over_dataset_pools_the_class_counts_of_every_training_mask():
    # A sparse image (2 object pixels of 16) and a crowded one (6 of 16): pooled, 8 object
    # and 24 background pixels, so every image weighs background 32 / (2 * 24) and objects
    # 32 / (2 * 8); per image, the sparse one weighs its objects 16 / 4 and the crowded
    # one 16 / 12.
    sparse_ids, crowded_ids = np.zeros((4, 4), np.int32), np.zeros((4, 4), np.int32)
    sparse_ids[0, :2] = 1
    crowded_ids[0, :3], crowded_ids[3, 1:4] = 1, 2
    samples = [Sample(np.zeros((4, 4), np.float32), (ids > 0).astype(np.int64), ids, name)
               for ids, name in ((sparse_ids, "sparse"), (crowded_ids, "crowded"))]
    for power in (1.0, 0.5):
        cfg = TrainConfig(weight_map="balanced", balance_power=power, balance_over="dataset")
        table = train_module.dataset_class_weights(samples, cfg)
        np.testing.assert_allclose(table, np.array([32 / 48, 32 / 16]) ** power, rtol=1e-12)
        for s in samples:
            got = train_module.sample_weight_map(s, cfg, class_weights=table)
            np.testing.assert_allclose(got, table[s.mask], rtol=1e-12)
            _, _, prepared = prepare_sample(s, cfg, class_weights=table)
            np.testing.assert_array_equal(prepared, got)
    per_image = TrainConfig(weight_map="balanced")
    assert train_module.dataset_class_weights(samples, per_image) is None
    sparse = train_module.sample_weight_map(samples[0], per_image)
    crowded = train_module.sample_weight_map(samples[1], per_image)
    assert sparse[0, 0] == pytest.approx(16 / 4) and crowded[0, 0] == pytest.approx(16 / 12)
    with pytest.raises(ValueError, match="TrainConfig.balance_over"):
        TrainConfig(balance_over="batch")


def test_rim_term_weighs_object_pixels_by_their_distance_to_background():
    # A 5x5 square: its outer ring is 1 px from background, the next ring 2 px (EDT), the
    # centre 3 px; background gets nothing. rim_w exp(-(d - 1)^2 / (2 rim_sigma^2)).
    mask = np.zeros((7, 7), np.int64)
    mask[1:6, 1:6] = 1
    d = np.zeros((7, 7))
    d[1:6, 1:6] = 1.0
    d[2:5, 2:5] = 2.0
    d[3, 3] = 3.0
    expected = np.where(mask == 1, 3.0 * np.exp(-((d - 1.0) ** 2) / (2.0 * 2.0**2)), 0.0)
    np.testing.assert_allclose(train_module.rim_term(mask, 3.0, 2.0), expected, rtol=1e-12)
    assert not train_module.rim_term(np.ones((3, 3), np.int64), 3.0, 2.0).any()  # no edge
    # In the loss weights: added to the weight map, off (unchanged map) when rim_w is 0.
    sample = Sample(np.zeros((7, 7), np.float32), mask, None, "square")
    plain = train_module.sample_weight_map(sample, TrainConfig(weight_map="balanced"))
    rim = train_module.sample_weight_map(
        sample, TrainConfig(weight_map="balanced", rim_w=3.0, rim_sigma=2.0))
    np.testing.assert_allclose(rim - plain, expected, rtol=1e-12)
    unweighted = train_module.sample_weight_map(sample, TrainConfig(weight_map="none", rim_w=3.0))
    np.testing.assert_allclose(unweighted - 1.0, expected, rtol=1e-12)  # on every map
    # rim_min_share: only on images whose object share (here 25 / 49 = 0.51) reaches it
    for share, gets_rim in ((0.5, True), (25 / 49, True), (0.52, False), (1.0, False)):
        got = train_module.sample_weight_map(sample, TrainConfig(
            weight_map="balanced", rim_w=3.0, rim_sigma=2.0, rim_min_share=share))
        np.testing.assert_allclose(got - plain, expected if gets_rim else 0.0, rtol=1e-12)
    # halo_w: the same term on the background's edge pixels, on images under halo_max_share
    halo = train_module.rim_term(mask == 0, 2.0, 2.0)  # the ring around the square
    assert halo[0, 0] > 0 and halo[1, 1] == 0 and halo[0, 3] == pytest.approx(2.0)
    for share, gets_halo in ((0.52, True), (25 / 49, False), (0.5, False)):
        got = train_module.sample_weight_map(sample, TrainConfig(
            weight_map="balanced", halo_w=2.0, rim_sigma=2.0, halo_max_share=share))
        np.testing.assert_allclose(got - plain, halo if gets_halo else 0.0, rtol=1e-12)
    for field, value in (("rim_w", -1.0), ("rim_sigma", 0.0), ("rim_min_share", -0.1),
                         ("rim_min_share", 1.5), ("halo_w", -1.0), ("halo_max_share", 2.0)):
        with pytest.raises(ValueError, match=f"TrainConfig.{field}"):
            TrainConfig(**{field: value})


def test_balance_power_raises_the_class_term_only():
    # 4 object pixels of 16: full balance weighs background 16 / (2 * 12), objects 16 / (2 * 4)
    ids = np.zeros((4, 4), np.int32)
    ids[0, :2], ids[3, 2:] = 1, 2  # two objects 3 rows apart: a border term between them
    sample = Sample(np.zeros((4, 4), np.float32), (ids > 0).astype(np.int64), ids, "t")
    full = np.where(sample.mask == 1, 16 / 8, 16 / 24)  # (4, 4) full balance
    border_full = (train_module.sample_weight_map(sample, TrainConfig(weight_map="paper"))
                   - full)
    assert np.all(border_full[sample.mask == 1] == 0) and border_full[1, 1] > 0
    for power in (1.0, 0.5, 0.0):
        got = train_module.sample_weight_map(
            sample, TrainConfig(weight_map="balanced", balance_power=power))
        np.testing.assert_allclose(got, full ** power, rtol=1e-12)
        # the paper's map: the same class term plus the unchanged border term
        paper = train_module.sample_weight_map(
            sample, TrainConfig(weight_map="paper", balance_power=power))
        np.testing.assert_allclose(paper - full ** power, border_full, rtol=1e-12, atol=1e-12)


def test_sample_power_picks_images_by_their_object_share():
    # Object shares 8/16, 2/16 and 0: odds share^p, the empty image at the smallest
    # nonzero share (it still teaches background).
    masks = [np.zeros((4, 4), np.int64) for _ in range(3)]
    masks[0][:2], masks[1][0, :2] = 1, 1
    prepared = [(np.full((4, 4), float(k), np.float32), m, np.ones((4, 4), np.float32))
                for k, m in enumerate(masks)]
    for power in (1.0, 0.5):
        odds = train_module.sampling_odds(prepared, TrainConfig(sample_power=power))
        expected = np.array([0.5, 0.125, 0.125]) ** power
        np.testing.assert_allclose(odds, expected / expected.sum(), rtol=1e-12)
    assert train_module.sampling_odds(prepared, TrainConfig()) is None  # 0: uniform
    # sample_batch draws by those odds: image k is the tile of constant value k
    cfg = TrainConfig(sample_power=1.0, augment=False, tile_size=4)
    odds = train_module.sampling_odds(prepared, cfg)
    rng = np.random.default_rng(0)
    picks = [int(train_module.sample_batch(prepared, cfg, 4, 4, rng, np.float32, odds)[0]
                 [0, 0, 0, 0]) for _ in range(600)]
    np.testing.assert_allclose(np.bincount(picks, minlength=3) / 600, odds, atol=0.06)
    rng = np.random.default_rng(0)
    uniform = [int(train_module.sample_batch(prepared, cfg, 4, 4, rng, np.float32)[0]
                   [0, 0, 0, 0]) for _ in range(600)]
    np.testing.assert_allclose(np.bincount(uniform, minlength=3) / 600, 1 / 3, atol=0.06)
    with pytest.raises(ValueError, match="TrainConfig.sample_power: expected a finite number"):
        TrainConfig(sample_power=-1.0)
