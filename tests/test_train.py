"""Training loop, checkpoints and exact resume, on tiny synthetic data and a tiny net."""

import csv
import json

import numpy as np
import pytest

from minimal_unet import checkpoint
from minimal_unet import train as train_module
from minimal_unet.data.synthetic import make_synthetic
from minimal_unet.model import UNet, UNetConfig
from minimal_unet.targets import prepare_sample
from minimal_unet.train import (
    TrainConfig,
    TrainingDiverged,
    sample_batch,
    train,
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


# ----- re-exports ------------------------------------------------------------------------

def test_validation_helpers_are_re_exported_from_train():
    # They live in validation.py; `from minimal_unet.train import X` must keep working.
    from minimal_unet import validation

    for name in ("evaluate_samples", "validation_tile", "validation_metrics",
                 "evaluate_held_out", "mean_metrics", "write_logs", "write_figures"):
        assert getattr(train_module, name) is getattr(validation, name), name
