"""The bug-hunt fixtures: each broken variant is caught by its check, the correct layer
passes the same check, and the exercise is graded from the checks' verdicts."""

from pathlib import Path

import numpy as np
import pytest

from minimal_unet import bughunt
from minimal_unet.model import UNet, UNetConfig
from minimal_unet.ops import (
    conv2d_backward,
    conv2d_forward,
    crop_and_concat_forward,
    softmax_cross_entropy,
)


@pytest.mark.parametrize("layer", bughunt.LAYERS)
def test_the_broken_variant_is_caught(layer):
    result = bughunt.check(layer, bughunt.BROKEN[layer])
    assert result.caught, str(result)
    assert result.error > 1e-3  # not a borderline catch


@pytest.mark.parametrize("layer", bughunt.LAYERS)
def test_the_correct_layer_passes_the_same_check(layer):
    result = bughunt.check(layer, bughunt.CORRECT[layer])
    assert not result.caught, str(result)
    assert result.error < bughunt.TOL


def test_flipped_kernel_breaks_only_dx():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((1, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), np.zeros(3)
    y, cache = conv2d_forward(x, w, b, pad=1)
    dy = rng.standard_normal(y.shape)
    right, wrong = conv2d_backward(dy, cache), bughunt.conv2d_backward_flipped_kernel(dy, cache)
    np.testing.assert_array_equal(wrong[1], right[1])  # dw
    np.testing.assert_array_equal(wrong[2], right[2])  # db
    assert not np.allclose(wrong[0], right[0])  # dx
    # With a kernel symmetric under the 180-degree flip the bug is invisible:
    w_sym = w + w[:, :, ::-1, ::-1]
    y, cache = conv2d_forward(x, w_sym, b, pad=1)
    np.testing.assert_allclose(bughunt.conv2d_backward_flipped_kernel(dy, cache)[0],
                               conv2d_backward(dy, cache)[0], rtol=1e-12, atol=1e-12)


def test_no_max_shift_is_right_for_small_logits_and_overflows_for_large():
    rng = np.random.default_rng(2)
    target = rng.integers(0, 3, size=(1, 2, 2))
    small = rng.standard_normal((1, 3, 2, 2))
    loss, dlogits = bughunt.softmax_cross_entropy_no_max_shift(small, target)
    loss_ref, dlogits_ref = softmax_cross_entropy(small, target)
    np.testing.assert_allclose(loss, loss_ref, rtol=1e-12)
    np.testing.assert_allclose(dlogits, dlogits_ref, rtol=1e-10, atol=1e-14)
    loss, _ = bughunt.softmax_cross_entropy_no_max_shift(small * 1e4, target)
    assert not np.isfinite(loss)
    assert np.isfinite(softmax_cross_entropy(small * 1e4, target)[0])


def test_off_by_one_crop_reads_the_shifted_window_and_needs_a_crop():
    skip = np.arange(36.0).reshape(1, 1, 6, 6)
    up = np.zeros((1, 1, 2, 2))
    y, cache = bughunt.crop_and_concat_forward_off_by_one(skip, up)
    np.testing.assert_array_equal(y[0, 0], [[21.0, 22.0], [27.0, 28.0]])  # right: 14 15 20 21
    assert cache == crop_and_concat_forward(skip, up)[1]
    with pytest.raises(ValueError, match="expected a crop of >= 1 pixel per side"):
        bughunt.crop_and_concat_forward_off_by_one(skip, np.zeros((1, 1, 6, 6)))


def test_missing_skip_sum_changes_only_the_encoder_and_restores_the_backend():
    rng = np.random.default_rng(3)
    net = UNet(UNetConfig(depth=1, base_channels=2), seed=0, dtype=np.float64)
    honest_ops = net.ops
    x = rng.standard_normal((1, 1, 18, 18))
    dlogits = rng.standard_normal(net.forward(x).shape)
    wrong = bughunt.unet_backward_missing_skip_sum(net, dlogits)
    assert net.ops is honest_ops
    net.forward(x)
    right = net.backward(dlogits)
    for name in right:
        if name.startswith("enc"):
            assert not np.allclose(wrong[name], right[name]), name
        else:
            np.testing.assert_array_equal(wrong[name], right[name])


def test_the_skip_sum_seam_is_restored_when_backward_raises():
    net = UNet(UNetConfig(depth=1, base_channels=2), seed=0, dtype=np.float64)
    honest_ops = net.ops
    with pytest.raises(RuntimeError, match="call net.forward"):
        bughunt.unet_backward_missing_skip_sum(net, np.zeros((1, 2, 2, 2)))
    assert net.ops is honest_ops and "_sum_skip_gradient" not in vars(net)


def test_the_missing_skip_sum_changes_only_the_seam():
    # The broken backward differs from the right one exactly by the skip gradients: the
    # decoder's, bottom's and head's gradients are identical, the encoders' differ.
    rng = np.random.default_rng(5)
    net = UNet(UNetConfig(depth=2, base_channels=2), seed=0, dtype=np.float64)
    x = rng.standard_normal((1, 1, 44, 44))
    dlogits = rng.standard_normal(net.forward(x).shape)
    right = net.backward(dlogits)
    net.forward(x)
    broken = bughunt.unet_backward_missing_skip_sum(net, dlogits)
    for name in net.params:
        same = np.array_equal(right[name], broken[name])
        assert same == (not name.startswith("enc")), name


def test_suspects_answer_key_and_grading():
    pairs = bughunt.suspects(seed=0)
    key = bughunt.answer_key(seed=0)
    for layer in bughunt.LAYERS:
        assert bughunt.check(layer, pairs[layer][key[layer]]).caught
        other = "B" if key[layer] == "A" else "A"
        assert not bughunt.check(layer, pairs[layer][other]).caught
        for letter, suspect in pairs[layer].items():  # the names give nothing away
            assert suspect.__name__ == f"{layer}_suspect_{letter}"
            assert "flipped" not in (suspect.__doc__ or "") + suspect.__name__
    assert bughunt.grade_answers(key, key)["points"] == 4
    one_wrong = dict(key, unet_backward="B" if key["unet_backward"] == "A" else "A")
    result = bughunt.grade_answers(one_wrong, key)
    assert result["points"] == 3 and result["max_points"] == 4
    assert "bug hunt total" in bughunt.format_answers(result)
    assert bughunt.grade_answers({}, key)["points"] == 0


@pytest.mark.parametrize("key", [{"conv2d_backward": "A", "unet_backward": "A",
                                  "softmax_cross_entropy": "B", "crop_and_concat_forward": "B"},
                                 {"conv2d_backward": "B", "unet_backward": "B",
                                  "softmax_cross_entropy": "A", "crop_and_concat_forward": "A"}])
def test_a_copys_table_gives_the_drawn_key_and_names_no_suspect(tmp_path, key):
    # the table `assignment make` writes: the checks (run on the suspects it gives) find
    # exactly the key it was written from; the file itself says neither broken nor correct
    table = tmp_path / "bughunt_suspects.json"
    bughunt.write_table(table, key)
    text = table.read_text()
    assert "broken" not in text and "correct" not in text and '"A"' in text
    assert bughunt.answer_key(table=table) == key
    other = tmp_path / "other.json"
    bughunt.write_table(other, key)
    assert other.read_text() != text  # fresh tokens per copy


def test_the_key_is_drawn_per_copy_not_from_a_seed():
    keys = {tuple(sorted(bughunt.draw_key().items())) for _ in range(64)}
    assert len(keys) > 1  # 16 possible keys: 64 equal draws would be a fixed key
    with pytest.raises(ValueError, match=r"expected \{layer: 'A' or 'B'\}"):
        bughunt.check_key({"conv2d_backward": "C"})


def test_the_notebook_uses_the_copys_table():
    notebook = (Path(__file__).resolve().parents[1] / "notebooks" /
                "04_gradient_checking.py").read_text()
    assert "bughunt.suspects()" in notebook and "seed=" not in notebook.split(
        "bughunt.suspects(")[1].split(")")[0]
    assert not bughunt.TABLE_FILE.exists()  # the teacher's checkout: suspects from SEED
    assert bughunt.answer_key() == bughunt.answer_key(seed=bughunt.SEED)


def test_the_answers_file_may_carry_extra_entries():
    key = bughunt.answer_key(seed=2024)
    assert bughunt.grade_answers(dict(key, seed=2024), key)["points"] == 4


def test_bad_answers_and_layers_are_errors():
    with pytest.raises(ValueError, match="unknown layers \\['relu'\\]"):
        bughunt.grade_answers({"relu": "A"}, bughunt.answer_key(seed=0))
    with pytest.raises(TypeError, match="expected a dict"):
        bughunt.grade_answers(["A"], bughunt.answer_key(seed=0))
    with pytest.raises(ValueError, match="expected one of conv2d_backward"):
        bughunt.check("relu", bughunt.CORRECT["conv2d_backward"])
