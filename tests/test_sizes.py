"""Tile-size arithmetic: the paper's numbers, legal sizes, errors and the receptive field."""

import numpy as np
import pytest

from minimal_unet import sizes
from minimal_unet.model import UNet, UNetConfig
from minimal_unet.sizes import (
    is_legal_input_size,
    legal_input_sizes,
    nearest_legal_input_sizes,
)

PAPER = UNetConfig()  # depth 4, base 64, valid, 1 channel in, 2 classes


def valid(depth, **kw):
    return UNetConfig(depth=depth, padding="valid", **kw)


def same(depth, **kw):
    return UNetConfig(depth=depth, padding="same", **kw)


# ----- the paper's numbers (arXiv:1505.04597, Sec. 2 and Fig. 1) -------------------------

def test_paper_tile_572_gives_388():
    assert sizes.output_size(PAPER, 572) == 388
    assert sizes.output_size(PAPER, (572, 572)) == (388, 388)


def test_paper_layer_table_sizes():
    rows = {r.name: r for r in sizes.layer_table(PAPER, 572)}
    expected = {  # name: (C, H) from the paper's figure
        "input": (1, 572), "enc0.conv1": (64, 570), "enc0.conv2": (64, 568),
        "enc0.pool": (64, 284), "enc1.conv2": (128, 280), "enc1.pool": (128, 140),
        "enc2.conv2": (256, 136), "enc2.pool": (256, 68), "enc3.conv2": (512, 64),
        "enc3.pool": (512, 32), "bottom.conv1": (1024, 30), "bottom.conv2": (1024, 28),
        "dec3.up": (512, 56), "dec3.concat": (1024, 56), "dec2.up": (256, 104),
        "dec1.up": (128, 200), "dec0.up": (64, 392), "dec0.conv2": (64, 388),
        "head": (2, 388),
    }
    for name, (c, h) in expected.items():
        assert rows[name].shape == (c, h, h), name
    assert list(rows)[0] == "input" and list(rows)[-1] == "head"
    name, shape, note = sizes.layer_table(PAPER, 572)[-1]  # rows unpack as plain tuples
    assert (name, shape, note) == ("head", (2, 388, 388), "1x1 conv (logits)")
    assert "cropped by 88 per side" in rows["dec0.concat"].note
    text = sizes.format_layer_table(PAPER, 572)
    assert "dec3.concat" in text and "388" in text


def test_paper_skip_crops_4_16_40_88():
    crops = sizes.skip_crops(PAPER, 572)
    assert crops == {3: (4, 4), 2: (16, 16), 1: (40, 40), 0: (88, 88)}


def test_paper_counts_23_convs_and_31_030_658_params():
    assert sizes.n_conv_layers(PAPER) == 23  # 18 of 3x3, 4 up-convs, one 1x1
    assert sizes.n_parameters(PAPER) == 31_030_658


def test_paper_parameter_count_matches_the_built_net():
    net = UNet(PAPER, seed=0, dtype=np.float32)
    assert net.n_parameters() == 31_030_658
    assert sum(p.size for p in net.params.values()) == sizes.n_parameters(PAPER)


def test_paper_parameter_count_matches_torch(torch_unet):
    torch = pytest.importorskip("torch")
    ref = torch_unet(PAPER, dtype=torch.float32, device="meta")  # shapes only, no memory
    assert sum(p.numel() for p in ref.parameters()) == 31_030_658
    shapes = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    assert shapes == sizes.param_shapes(PAPER)  # same names, same order, same shapes
    assert list(shapes) == list(sizes.param_shapes(PAPER))


def test_small_config_parameter_count_by_hand():
    # depth 1, base 2, 1 -> 3 classes: enc0 (1*9*2+2) + (2*9*2+2), bottom (2*9*4+4) +
    # (4*9*4+4), up 4*2*4+2, dec0 (4*9*2+2) + (2*9*2+2), head 2*3+3
    by_hand = 20 + 38 + 76 + 148 + 34 + 74 + 38 + 9
    assert sizes.n_parameters(UNetConfig(depth=1, base_channels=2, n_classes=3)) == by_hand
    assert sizes.n_conv_layers(UNetConfig(depth=1, base_channels=2)) == 8


# ----- legal sizes ---------------------------------------------------------------------------

def test_paper_legal_sizes_are_16s_plus_60():
    assert sizes.legal_input_sizes(PAPER, 1, 700) == [16 * s + 60 for s in range(8, 41)]
    assert sizes.legal_input_sizes(PAPER, 1, 700)[0] == 188
    assert sizes.output_size(PAPER, 188) == 4
    for n in (188, 572, 636):
        assert sizes.output_size(PAPER, n) == n - 184


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
def test_valid_legal_sizes_follow_the_derived_formula(depth):
    # Derivation: walking up from a bottom size s, n_d = s and n_i = 2 n_{i+1} + 4, so
    # n = 2^d s + 4 (2^d - 1). Walking down from the bottom output s - 4 through d
    # decoder levels (m -> 2m - 4): out = 2^d (s - 4) - 4 (2^d - 1) = n - 12 * 2^d + 8.
    # s_min: the smallest s with out >= 1.
    cfg = valid(depth)
    period, offset = 2**depth, 4 * (2**depth - 1)
    s_min = next(s for s in range(1, 100) if period * (s - 4) - offset >= 1)
    expected = [period * s + offset for s in range(s_min, s_min + 6)]
    assert sizes.legal_input_sizes(cfg, 1, expected[-1]) == expected
    for n in expected:
        assert sizes.output_size(cfg, n) == n - 12 * period + 8


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_same_legal_sizes_are_multiples_of_2_to_the_depth(depth):
    cfg = same(depth)
    assert sizes.legal_input_sizes(cfg, 1, 100) == list(range(2**depth, 101, 2**depth))
    assert sizes.output_size(cfg, (2**depth * 3, 2**depth * 5)) == (2**depth * 3, 2**depth * 5)
    assert all(c == (0, 0) for c in sizes.skip_crops(cfg, 2**depth * 3).values())


def test_nearest_legal_sizes():
    assert sizes.nearest_legal_input_sizes(PAPER, 570) == (556, 572)
    assert sizes.nearest_legal_input_sizes(PAPER, 572) == (572, 572)
    assert sizes.nearest_legal_input_sizes(PAPER, 100) == (None, 188)
    assert sizes.nearest_legal_input_size(PAPER, 563) == 556  # 7 below vs 9 above
    assert sizes.nearest_legal_input_size(PAPER, 564) == 572  # tie: the larger
    assert sizes.nearest_legal_input_size(PAPER, 100) == 188
    assert sizes.nearest_legal_input_size(same(3), 13) == 16


def test_illegal_size_error_names_the_nearest_legal_sizes():
    with pytest.raises(ValueError, match=r"H = 570 .*556 or 572"):
        sizes.output_size(PAPER, 570)
    with pytest.raises(ValueError, match=r"W = 573 .*572 or 588"):
        sizes.output_size(PAPER, (572, 573))
    with pytest.raises(ValueError, match=r"188 \(the smallest\)"):
        sizes.layer_table(PAPER, 100)


@pytest.mark.parametrize("n", [0, -4, 16, 17])
def test_non_positive_output_is_an_error(n):
    # depth 1 valid: 16 -> 12 -> pool 6 -> 2 -> up 4 -> 0: no output pixel left
    with pytest.raises(ValueError, match="nearest legal sizes: 18"):
        sizes.output_size(valid(1), n)


def test_non_square_sizes():
    assert sizes.output_size(PAPER, (572, 604)) == (388, 420)
    shapes = {r.name: r.shape for r in sizes.layer_table(PAPER, (572, 604))}
    assert shapes["enc0.pool"] == (64, 284, 300)
    assert shapes["head"] == (2, 388, 420)


def test_bad_size_types():
    with pytest.raises(TypeError, match="int or a pair"):
        sizes.output_size(PAPER, 572.0)
    with pytest.raises(TypeError, match="int or a pair"):
        sizes.output_size(PAPER, (572, "572"))


def test_dropout_row_only_when_dropout():
    names = [r.name for r in sizes.layer_table(UNetConfig(depth=1, dropout=0.5), 18)]
    assert "bottom.dropout" in names
    assert "bottom.dropout" not in [r.name for r in sizes.layer_table(valid(1), 18)]


# ----- receptive field -------------------------------------------------------------------

def test_receptive_field_depth_1_by_hand():
    # Output pixel o of dec0.conv2 reads concat [o, o + 4]; the up part maps to bottom
    # output [o // 2, (o + 4) // 2], the bottom's two convs widen it by 4, the pool maps
    # [a, b] to [2a, 2b + 1] and enc0's two convs add 4: o = 0 -> [0, 2 * 6 + 1 + 4] =
    # [0, 17]. The skip part [o + 4, o + 8] only reaches [4, 12]. Span 18 for o = 0 and 1.
    cfg = valid(1)
    assert sizes.receptive_field_interval(cfg, 0) == (0, 17)
    assert sizes.receptive_field_interval(cfg, 1) == (0, 17)
    assert sizes.receptive_field(cfg) == 18


def test_receptive_field_depth_3_by_hand():
    # Depth 3, crops 4/16/40 (skip sizes minus up sizes). Output pixel 0: concat [0, 4],
    # dec1 output [0, 2] -> concat [0, 6], dec2 output [0, 3] -> concat [0, 7], bottom
    # output [0, 3] -> bottom input [0, 7] -> enc2 out [0, 15] -> [0, 19] -> enc1 out
    # [0, 39] -> [0, 43] -> enc0 out [0, 87] -> input [0, 91]: 92 pixels. Output pixel 7:
    # concat [7, 11] -> dec1 out [3, 5] -> concat [3, 9] -> dec2 out [1, 4] -> concat
    # [1, 8] -> bottom out [0, 4] -> [0, 8] -> [0, 17] -> [0, 21] -> [0, 43] -> [0, 47]
    # -> [0, 95] -> [0, 99]: 100 pixels. The skip paths stay inside both.
    cfg = valid(3)
    assert sizes.receptive_field_interval(cfg, 0) == (0, 91)
    assert sizes.receptive_field_interval(cfg, 7) == (0, 99)
    assert sizes.receptive_field(cfg) == 100


def test_receptive_field_paper_net():
    # The bottom block alone: r <- r + 2 j per 3x3 conv, r <- r + j and j <- 2 j per pool:
    # 1+2+2=5, pool 6 (j=2), +4+4=14, pool 16 (j=4), 32, pool 36 (j=8), 68, pool 76 (j=16),
    # +32+32 = 140 pixels. The decoder widens it to 188 or 204 px depending on where the
    # output pixel sits on the 16-pixel pooling grid (4 of every 16 see 188).
    spans = [b - a + 1 for a, b in (sizes.receptive_field_interval(PAPER, o) for o in range(16))]
    assert sorted(spans) == [188] * 4 + [204] * 12
    assert sizes.receptive_field(PAPER) == 204
    assert sizes.receptive_field_interval(PAPER, 0) == (0, 187)  # fits the 188 tile


@pytest.mark.parametrize("cfg, shape", [(valid(2), (44, 60)), (valid(3), (92, 100)),
                                        (same(2), (8, 36))])
def test_receptive_field_matches_perturbing_the_real_net(cfg, shape):
    # With positive weights and biases every ReLU is on and every output increases with
    # every input it depends on (through a max-pool when the input becomes the maximum),
    # so adding a large value to input column j changes exactly the output columns whose
    # receptive field holds j. An independent, empirical check of receptive_field_interval.
    cfg = UNetConfig(depth=cfg.depth, padding=cfg.padding, base_channels=1)
    net = UNet(cfg, seed=0, dtype=np.float64)
    for name, p in net.params.items():
        p[...] = np.abs(p) + (0.1 if name.endswith(".bias") else 0.0)
    x = np.random.default_rng(0).uniform(0.0, 1.0, (1, 1) + shape)
    base = net.forward(x, train=False)
    H, W = shape
    depends = np.zeros((W, base.shape[3]), dtype=bool)  # input column j -> output column o
    for j in range(W):
        bumped = x.copy()
        bumped[..., j] += 1000.0
        changed = net.forward(bumped, train=False) != base  # (1, K, oH, oW)
        depends[j] = changed.any(axis=(0, 1, 2))
    p = 0 if cfg.padding == "valid" else 1
    for o in range(min(2**cfg.depth, base.shape[3])):
        o_col = o + (2**cfg.depth if p else 0)  # "same": away from the left border
        first, last = sizes.receptive_field_interval(cfg, o_col)
        columns = np.flatnonzero(depends[:, o_col])
        assert (columns[0], columns[-1]) == (max(first, 0), min(last, W - 1)), o
        assert columns.size == columns[-1] - columns[0] + 1  # one contiguous span


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_legal_size_searches_match_brute_force_and_are_fast_when_deep(padding):
    for depth in (1, 2, 3, 4, 5):
        config = UNetConfig(depth=depth, padding=padding)
        brute = [n for n in range(1, 1200) if is_legal_input_size(config, n)]
        assert legal_input_sizes(config, 1, 1199) == brute
        for n in range(1, 1000, 7):
            below = [m for m in brute if m <= n]
            above = [m for m in brute if m >= n]
            assert nearest_legal_input_sizes(config, n) == (below[-1] if below else None,
                                                            above[0])
    deep = UNetConfig(depth=40, padding=padding)  # used to hang: one walk per candidate
    below, above = nearest_legal_input_sizes(deep, 572)
    assert below is None and is_legal_input_size(deep, above)
    assert legal_input_sizes(deep, 1, 10**6) == []


@pytest.mark.parametrize("cfg, shape", [
    (UNetConfig(depth=2, base_channels=4, n_classes=3), (2, 1, 44, 48)),
    (UNetConfig(in_channels=3, depth=1, base_channels=2, padding="same"), (1, 3, 8, 6)),
])
def test_largest_im2col_matches_the_convs_a_forward_pass_runs(cfg, shape):
    from minimal_unet.trace import Trace

    trace = Trace()
    UNet(cfg, dtype=np.float64).forward(np.zeros(shape), trace=trace)
    convs = [n[:-len(".in")] for n in trace.names() if n.endswith(".in")
             and (".conv" in n or n == "head.in")]
    by_hand = []
    for name in convs:
        x, y = trace[f"{name}.in"], trace[f"{name}.out"]
        k = 1 if name == "head" else 3
        by_hand.append(x.shape[0] * x.shape[1] * k * k * y.shape[2] * y.shape[3] * 8)
    assert len(convs) == sizes.n_conv_layers(cfg) - cfg.depth  # every layer but the up-convs
    assert sizes.largest_im2col_bytes(cfg, shape, 8) == max(by_hand)


def test_largest_im2col_of_the_paper_tile_is_enc0_conv2():
    # 64 channels in, 3x3, 568 x 568 out, float32: 743 MB, more than dec0.conv1's 128 x 9
    # x 390 x 390 x 4 (701 MB)
    assert sizes.largest_im2col_bytes(UNetConfig(), (1, 1, 572, 572), 4) == 64 * 9 * 568**2 * 4
