"""A trained net's file (model_file.py): what the header holds, what a bad one gives.

UNet.save / UNet.load round trips and the errors of broken files are tested through the
net in test_model.py and tests/faults; here the module's own contract."""

import json

import numpy as np
import pytest

from minimal_unet import checkpoint, model_file
from minimal_unet.model import UNet, UNetConfig

CFG = UNetConfig(depth=1, base_channels=2)


def _arrays(path):
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def _with_meta(tmp_path, arrays, meta):
    path = tmp_path / "edited.npz"
    with open(path, "wb") as f:
        np.savez(f, **{**arrays, checkpoint.META_KEY: np.array(json.dumps(meta))})
    return path


def test_the_header_holds_the_documented_fields_and_the_rest_are_parameters(tmp_path):
    net = UNet(CFG, seed=3, dtype=np.float64)
    net.input_offset = (0.5, -0.25)
    net.save(tmp_path / "m.npz")
    arrays = _arrays(tmp_path / "m.npz")
    meta = json.loads(str(arrays.pop(checkpoint.META_KEY)))
    assert sorted(meta) == ["config", "dtype", "format", "input_offset", "rng_state", "seed"]
    assert meta["format"] == model_file.FORMAT and meta["dtype"] == "float64"
    assert meta["seed"] == 3 and meta["input_offset"] == [0.5, -0.25]
    assert UNetConfig(**meta["config"]) == CFG
    assert meta["rng_state"] == net.rng.bit_generator.state
    assert sorted(arrays) == sorted(net.params)

    stored = model_file.read(tmp_path / "m.npz", UNetConfig)
    assert (stored.config, stored.dtype, stored.seed) == (CFG, "float64", 3)
    assert stored.input_offset == (0.5, -0.25)
    for name, p in net.params.items():
        np.testing.assert_array_equal(stored.state[name], p)


@pytest.mark.parametrize("rng_state", [None, {"bit_generator": "PCG64"}, 5,
                                       {"bit_generator": "NoSuchGenerator", "state": {}}])
def test_a_bad_rng_state_is_refused_by_name(tmp_path, rng_state):
    net = UNet(CFG)
    net.save(tmp_path / "m.npz")
    arrays = _arrays(tmp_path / "m.npz")
    meta = json.loads(str(arrays[checkpoint.META_KEY]))
    meta["rng_state"] = rng_state
    path = _with_meta(tmp_path, arrays, meta)
    with pytest.raises(checkpoint.CorruptFileError, match="bad 'rng_state' in its metadata"):
        model_file.read(path, UNetConfig)
    with pytest.raises(checkpoint.CorruptFileError, match="edited.npz: bad 'rng_state'"):
        UNet.load(path)
    del meta["rng_state"]  # a file without one loads with the generator its seed gives
    assert UNet.load(_with_meta(tmp_path, arrays, meta)).rng.bit_generator.state == \
        UNet(CFG).rng.bit_generator.state


def test_checked_state_casts_copies_nothing_in_place_and_names_the_first_bad_value():
    net = UNet(CFG, dtype=np.float32)
    before = net.state_dict()
    state = {k: np.full(v.shape, 0.5) for k, v in before.items()}  # float64
    new = model_file.checked_state(net.params, state, np.float32)
    assert all(a.dtype == np.float32 and a.flags.c_contiguous for a in new.values())
    state["head.weight"][1, 0, 0, 0] = np.inf
    state["head.weight"][1, 1, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"'head.weight' expected finite values, got inf at "
                                         r"index \(1, 0, 0, 0\) \(2 non-finite\)"):
        model_file.checked_state(net.params, state, np.float32)
    for name, p in net.params.items():  # neither call touched the net
        np.testing.assert_array_equal(p, before[name])
