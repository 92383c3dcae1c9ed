"""Corrupt model and checkpoint files, resume mismatches, stale temporaries, divergence and
kill -9: one line each, and never lost work."""

import io
import json
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from minimal_unet import checkpoint
from minimal_unet.data.synthetic import make_synthetic
from minimal_unet.model import UNet
from minimal_unet.train import TrainConfig, TrainingDiverged, parameter_norm, train

from .conftest import REPO, TINY, assert_error, assert_unchanged, run_cli, snapshot


def _rewrite_meta(src, dst, meta):
    """A copy of the .npz `src` whose __meta__ is replaced by `meta` (any JSON value)."""
    with np.load(src, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["__meta__"] = np.array(json.dumps(meta))
    np.savez(dst, **arrays)


def _broken_copies(good, folder, name):
    """{kind: path}: truncated, empty, random bytes, JSON-list meta, non-JSON meta,
    an object-array meta (would need pickle) -- all under the same file name."""
    data = good.read_bytes()
    rng = np.random.default_rng(0)
    kinds = {"truncated": data[: len(data) // 2], "empty": b"",
             "random": rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(),
             "overwritten": b"PK\x03\x04" + data[4:100] + b"\x00" * 64}
    paths = {}
    for kind, payload in kinds.items():
        paths[kind] = folder / kind / name
        paths[kind].parent.mkdir(parents=True)
        paths[kind].write_bytes(payload)
    paths["meta_list"] = folder / "meta_list" / name
    paths["meta_list"].parent.mkdir()
    _rewrite_meta(good, paths["meta_list"], [1, 2, 3])
    for kind, meta in (("meta_bad_config", {"format": "minimal_unet.UNet/1",
                                            "config": {"depth": 0}, "dtype": "float32"}),
                       ("meta_bad_seed", {"format": "minimal_unet.UNet/1", "config": {},
                                          "dtype": "float32", "seed": "x"}),
                       ("meta_not_json", "{not json")):
        paths[kind] = folder / kind / name
        paths[kind].parent.mkdir()
        if isinstance(meta, str):
            with np.load(good, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
            arrays["__meta__"] = np.array(meta)
            np.savez(paths[kind], **arrays)
        else:
            _rewrite_meta(good, paths[kind], meta)
    paths["meta_pickle"] = folder / "meta_pickle" / name
    paths["meta_pickle"].parent.mkdir()
    with np.load(good, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["__meta__"] = np.array([{"format": "x"}], dtype=object)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    paths["meta_pickle"].write_bytes(buffer.getvalue())
    return paths


def test_every_corrupt_model_file_is_one_line(model_file, dataset, tmp_path):
    paths = _broken_copies(model_file, tmp_path, "model.npz")
    before = snapshot(tmp_path, dataset)
    for kind, path in paths.items():
        result = run_cli("predict", path, dataset / "images", "--out", tmp_path / f"o_{kind}")
        err = assert_error(result, 2, str(path))
        assert "allow_pickle" not in err, (kind, err)  # never advise loading unsafely
        assert not (tmp_path / f"o_{kind}").exists()
    assert_unchanged(before)


def test_non_finite_model_weight_is_refused_naming_the_parameter(model_file, dataset,
                                                                  tmp_path):
    with np.load(model_file, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["enc1.conv2.weight"] = arrays["enc1.conv2.weight"].copy()
    arrays["enc1.conv2.weight"][2, 1, 0, 1] = np.nan
    bad = tmp_path / "nan_model.npz"
    np.savez(bad, **arrays)
    result = run_cli("predict", bad, dataset / "images", "--out", tmp_path / "o")
    assert_error(result, 2, str(bad), "enc1.conv2.weight", "(2, 1, 0, 1)", "finite")
    assert not (tmp_path / "o").exists()


def test_every_corrupt_checkpoint_is_one_line(trained_run, tmp_path):
    data, run = trained_run
    paths = _broken_copies(run / "checkpoint.npz", tmp_path, "checkpoint.npz")
    for kind, path in paths.items():
        before = snapshot(path.parent)
        result = run_cli("train", data, "--preset", "tiny", "--steps", 3, "--resume",
                         "--out", path.parent, "--no-progress")
        err = assert_error(result, 2, str(path))
        assert "allow_pickle" not in err, (kind, err)
        assert_unchanged(before)


@pytest.mark.parametrize("flags, names", [
    (["--optimizer", "adam"], ["'sgd'", "'adam'"]),
    (["--steps", "1"], ["2 completed steps", "--steps 1"]),
    (["--dtype", "float64"], ["float32", "float64"]),
    (["--preset", "small", "--tile-size", "92"], ["'base_channels': 4",
                                                  "'base_channels': 16"]),
])
def test_resume_mismatches_name_both_sides(trained_run, tmp_path, flags, names):
    data, run = trained_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    before = snapshot(copy)
    args = ["train", data, "--preset", "tiny", "--steps", 3, "--resume", "--out", copy,
            "--no-progress", *flags]
    result = run_cli(*args)
    assert_error(result, 2, str(copy / "checkpoint.npz"), *names)
    assert_unchanged(before)


def test_stale_temporaries_are_cleaned_on_resume(trained_run, tmp_path):
    data, run = trained_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    stale = [copy / ".checkpoint.npz.k1ll3d.tmp", copy / ".history.json.x9.tmp",
             copy / ".tmp-abc.npz"]
    for p in stale:
        p.write_bytes(b"half a file")
    keep = copy / "notes.tmp"  # not ours: never touched
    keep.write_text("mine")
    result = run_cli("train", data, "--preset", "tiny", "--steps", 3, "--resume", "--out",
                     copy, "--no-progress")
    assert result.returncode == 0, result.stderr
    assert not any(p.exists() for p in stale) and keep.read_text() == "mine"


def test_sizes_depth_40_is_bounded():
    t0 = time.perf_counter()
    result = run_cli("sizes", "--depth", 40, timeout=60)
    assert_error(result, 2, "--depth", "1..12", "40")
    assert time.perf_counter() - t0 < 60  # answered, not hung (the timeout would raise)
    deep = run_cli("sizes", "--depth", 12, "--base", 1, timeout=120)
    assert deep.returncode == 0 and "49148" in deep.stdout, deep.stderr


# ----- divergence ---------------------------------------------------------------------

def test_exploding_parameters_keep_the_newest_clean_checkpoint(tmp_path, monkeypatch):
    """Parameters that explode (x1000 from step 5 on, loss still finite) are caught at
    step 5, before its checkpoint; the step-4 checkpoint stays, and resuming it with a
    smaller lr trains on."""
    samples = make_synthetic(2, size=(48, 48), seed=0)
    net = UNet(TINY, seed=0, dtype=np.float64)
    initial = parameter_norm(net)
    cfg = TrainConfig(steps=8, lr=0.01, tile_size=60, val_every=0, checkpoint_every=2,
                      out_dir=str(tmp_path), progress=False)
    from minimal_unet import optim
    real_step = optim.SGD.step

    def exploding_step(self, grads):
        real_step(self, grads)
        if self.step_count >= 5:
            for p in self.params.values():
                p *= 1000.0

    monkeypatch.setattr(optim.SGD, "step", exploding_step)
    with pytest.raises(TrainingDiverged) as caught:
        train(net, samples, [], cfg)
    message = str(caught.value)
    assert "at step 5" in message and "exploding" in message and "at step 4" in message
    assert "--resume" in message
    state = checkpoint.load_checkpoint(tmp_path / "checkpoint.npz")
    assert state["step"] == 4
    kept = UNet(TINY, dtype=np.float64)
    kept.load_state_dict(state["params"])
    assert parameter_norm(kept) < 10 * initial  # not exploded
    monkeypatch.setattr(optim.SGD, "step", real_step)
    cfg_small = TrainConfig(steps=8, lr=0.001, tile_size=60, val_every=0, checkpoint_every=2,
                            out_dir=str(tmp_path), progress=False)
    resumed = UNet(TINY, seed=0, dtype=np.float64)
    history = train(resumed, samples, [], cfg_small, resume=True)
    assert history["train"][-1]["step"] == 8


def test_absurd_lr_through_the_cli_exits_1_with_the_resume_hint(dataset, tmp_path):
    out = tmp_path / "run"
    result = run_cli("train", dataset, "--preset", "tiny", "--steps", 30, "--lr", "1e6",
                     "--checkpoint-every", 1, "--val-every", 0, "--out", out, "--no-progress")
    err = assert_error(result, 1, "training diverged at step")
    assert ("--resume" in err and "checkpoint" in err) or "no checkpoint was written" in err
    if (out / "checkpoint.npz").exists():
        state = checkpoint.load_checkpoint(out / "checkpoint.npz")
        assert all(np.isfinite(p).all() for p in state["params"].values())


# ----- kill -9 ------------------------------------------------------------------------

def test_kill_9_mid_training_then_resume_is_bit_identical(dataset, tmp_path):
    import os
    args = ["--preset", "tiny", "--steps", 60, "--dtype", "float64", "--checkpoint-every", 1,
            "--val-every", 0, "--no-progress"]
    whole = run_cli("train", dataset, *args, "--out", tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = tmp_path / "killed"
    child = subprocess.Popen([sys.executable, "-m", "minimal_unet", "train", str(dataset),
                              *map(str, args), "--out", str(out)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and child.poll() is None:
        path = out / "checkpoint.npz"
        try:
            if path.exists() and checkpoint.load_checkpoint(path)["step"] >= 3:
                break
        except (ValueError, OSError):
            pass  # a rename in flight
        time.sleep(0.02)
    assert child.poll() is None, "the run ended before it could be killed"
    child.send_signal(signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL
    step = checkpoint.load_checkpoint(out / "checkpoint.npz")["step"]
    assert 3 <= step < 60
    resumed = run_cli("train", dataset, *args, "--out", out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    a = UNet.load(tmp_path / "whole" / "model.npz").state_dict()
    b = UNet.load(out / "model.npz").state_dict()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
