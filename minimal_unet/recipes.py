"""Named training recipes for real data: every knob of a run in one plain dataclass.

    recipe = RECIPES["isbi-balanced"]
    net_config = unet_config(recipe)                   # UNetConfig
    cfg = train_config(recipe, seed=1, steps=500)      # TrainConfig (train.py's knobs)

A recipe is what a study compares: one recipe, several seeds, one budget. The recipes
live here, in one place, so that a benchmark run, a study and a `minimal-unet train`
preset all read the same numbers (see `cli_preset`).

Knobs (defaults: the peers' PyTorch recipe, arXiv 1505.04597 Sec. 3 for the net):
    net         depth, base_channels, tile_size (input side, must be legal for the net),
                dropout: drop probability on the bottom block's output (Sec. 3.1: "drop-out
                layers at the end of the contracting path"; model.py; 0: none)
    loss        weight_map: "paper" (class balance + border term w0 exp(-(d1+d2)^2 /
                2 sigma^2), Sec. 3 eq. 2), "balanced" (class balance only), "freiburg",
                "none"; w0, sigma; balance_power: the class term of "paper" and
                "balanced" raised to it (1: full balance, 0.5: halfway, 0: none);
                balance_over: the class frequencies come from each "image" or from the
                pooled training "dataset"; rim_w, rim_sigma: extra weight on object
                pixels near their edge (targets.rim_term; 0: off), only on images whose
                object share is at least rim_min_share (0: every image); halo_w: the same
                on background pixels near an object, only on images whose object share
                is under halo_max_share (1: every image); sample_power: pick
                images with odds (object share)^power (targets.sampling_odds; 0: uniform)
    optimiser   optimizer, lr, schedule ("constant", "step", "cosine", "poly"),
                step_every / step_drop (the "step" schedule), momentum (paper: 0.99),
                momentum_warmup_steps: momentum grows linearly from momentum_start to
                momentum over that many steps (0: off)
    data        normalization: "image" (each image to zero mean, unit std) or "dataset"
                (the training images' pooled mean and std, for training and inference)
                or "percentile" (each image's 1st and 99.8th percentiles to 0 and 1);
                augment, elastic_sigma, elastic_grid (Sec. 3.1: 3x3 grid, 10 px),
                gray_values; separate_touching: cut a 1 px gap where two instances touch
                before the mask and weight map are made (data sets with instance ids);
                align_labels: every image (training and prediction) resampled by the
                sub-pixel offset between the training images and their labels
                (data/offset.py), so that flips and rotations keep labels on their
                structures
    batch_size
    resolution  upscale: the net trains and predicts at `upscale` times each image's
                resolution (data/resolution.py); its probabilities are averaged
                back over each upscale x upscale block and scored at the original one.
                sigma, rim_sigma and elastic_sigma stay in the original pixels (scaled
                for the net); tile_size is the net's input tile, in upscaled pixels

Knobs that `train.train` does not implement (TRAINER_EXTRAS) are applied by the
benchmark's own loop (benchmarks/real_data.py); a recipe that sets one cannot become a
`minimal-unet train` preset until train.py learns it (`cli_preset` says so).

Schedules under a wall-clock budget: "cosine" and "poly" run over the fraction of the
budget spent (`scheduled_lr`), since the number of steps is not known in advance.
"""

import dataclasses
import math

from minimal_unet import optim
from minimal_unet.model import UNetConfig
from minimal_unet.sizes import output_size

NORMALIZATIONS = ("image", "dataset", "percentile")

# Recipe fields that are not TrainConfig / UNetConfig fields, with their "off" values.
TRAINER_EXTRAS = {"normalization": "image", "upscale": 1}
NET_FIELDS = ("depth", "base_channels", "dropout")
RECIPE_ONLY = ("name", "note", *TRAINER_EXTRAS)


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Every knob of a training run on real data (JSON-able; see the module docstring)."""

    name: str
    note: str = ""
    depth: int = 4
    base_channels: int = 32
    dropout: float = 0.0
    tile_size: int = 572
    weight_map: str = "balanced"
    balance_power: float = 1.0
    balance_over: str = "image"
    w0: float = 10.0
    sigma: float = 5.0
    rim_w: float = 0.0
    rim_sigma: float = 2.0
    rim_min_share: float = 0.0
    halo_w: float = 0.0
    halo_max_share: float = 1.0
    sample_power: float = 0.0
    optimizer: str = "sgd"
    lr: float = 0.003
    schedule: str = "constant"
    step_every: int = 1000
    step_drop: float = 0.1
    momentum: float = 0.99
    momentum_start: float = 0.9
    momentum_warmup_steps: int = 0
    normalization: str = "image"
    augment: bool = True
    elastic_sigma: float = 10.0
    elastic_grid: int = 3
    gray_values: bool = True
    separate_touching: bool = False
    align_labels: bool = False
    batch_size: int = 1
    upscale: int = 1

    def __post_init__(self):
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"Recipe.normalization: expected one of {NORMALIZATIONS}, "
                             f"got {self.normalization!r}")
        if isinstance(self.upscale, bool) or not isinstance(self.upscale, int) \
                or self.upscale < 1:
            raise ValueError(f"Recipe.upscale: expected an int >= 1, got {self.upscale!r}")
        if self.momentum_warmup_steps < 0:
            raise ValueError(f"Recipe.momentum_warmup_steps: expected >= 0, got "
                             f"{self.momentum_warmup_steps}")
        # TrainConfig checks the rest (weight map, schedule, lr, ...) in `train_config`:
        # importing train.py here would load matplotlib and tqdm for every CLI command.
        try:
            output_size(unet_config(self), self.tile_size)
        except ValueError as error:  # name the field, keep the legal sizes it lists
            raise ValueError(f"Recipe.tile_size: {error}") from error

    def to_dict(self):
        return dataclasses.asdict(self)

    def extras_in_use(self):
        """Names of the TRAINER_EXTRAS this recipe switches on (train.train lacks them)."""
        return [k for k, off in TRAINER_EXTRAS.items() if getattr(self, k) != off]


def with_defaults(knobs):
    """A recipe's knobs as recorded (a dict, e.g. Recipe.to_dict() in an older run's record
    or saved state), with every knob added to Recipe since then at its default: each new
    knob's default is "off", so the run had it at that value."""
    defaults = {f.name: f.default for f in dataclasses.fields(Recipe)
                if f.default is not dataclasses.MISSING}
    return {**defaults, **knobs}


def unet_config(recipe):
    """The recipe's UNetConfig (depth, base_channels, dropout; valid convs, 2 classes)."""
    return UNetConfig(**{k: getattr(recipe, k) for k in NET_FIELDS})


def train_config(recipe, **overrides):
    """The recipe's TrainConfig; `overrides` set run fields (seed, steps, out_dir, ...)."""
    from minimal_unet.train import TrainConfig  # here, not at the top: see Recipe

    return TrainConfig(**{**trainer_fields(recipe), **overrides})


def trainer_fields(recipe):
    """The recipe's fields that are TrainConfig fields, as a dict."""
    return {k: v for k, v in dataclasses.asdict(recipe).items()
            if k not in NET_FIELDS and k not in RECIPE_ONLY}


def scheduled_lr(recipe, step, progress):
    """The learning rate before update number `step` (0-based).

    progress: the fraction of the budget spent, in [0, 1] (step / steps for a step
    budget, train seconds / budget seconds for a wall-clock one). "step" drops by
    step_drop every step_every steps; "cosine" and "poly" follow `progress`, so with a
    step budget they equal optim.cosine / optim.poly over that many steps.
    """
    t = min(max(float(progress), 0.0), 1.0)
    if recipe.schedule == "constant":
        return float(recipe.lr)
    if recipe.schedule == "step":
        return float(recipe.lr) * recipe.step_drop ** (step // recipe.step_every)
    if recipe.schedule == "cosine":
        return float(recipe.lr) * 0.5 * (1.0 + math.cos(math.pi * t))
    return float(recipe.lr) * (1.0 - t) ** 0.9  # "poly", Caffe's power 0.9


def scheduled_momentum(recipe, step):
    """Momentum before update number `step`: linear warm-up from momentum_start, then flat."""
    return optim.momentum_warmup(step, recipe.momentum, recipe.momentum_start,
                                 recipe.momentum_warmup_steps)


# ----- the recipes -----------------------------------------------------------------------

_ISBI = dict(depth=4, base_channels=32, tile_size=572)
_DSB = dict(depth=4, base_channels=32, tile_size=316)

RECIPES = {r.name: r for r in [
    # ISBI 2012 (512x512 EM, membrane = 0, cell = 1).
    Recipe("isbi-peers", "the peers' PyTorch recipe: class balance only, lr 0.003 constant",
           weight_map="balanced", lr=0.003, **_ISBI),
    Recipe("isbi-paper-map", "the paper's weight map w0 10, sigma 5 (the recorded 30 min run)",
           weight_map="paper", w0=10.0, sigma=5.0, lr=0.003, **_ISBI),
    Recipe("isbi-border-w0-3", "border term with a smaller w0 = 3, sigma 5",
           weight_map="paper", w0=3.0, sigma=5.0, lr=0.003, **_ISBI),
    Recipe("isbi-cosine", "class balance, lr 0.006 cosine to 0 over the budget, momentum "
           "warm-up 0.9 -> 0.99 over 200 steps", weight_map="balanced", lr=0.006,
           schedule="cosine", momentum_warmup_steps=200, **_ISBI),
    Recipe("isbi-step", "class balance, lr 0.003, x0.3 every 600 steps",
           weight_map="balanced", lr=0.003, schedule="step", step_every=600, step_drop=0.3,
           **_ISBI),
    Recipe("isbi-adam", "class balance, Adam lr 1e-3 cosine to 0 over the budget (an extra, "
           "not the paper's optimiser: SGD's curves learnt membranes slowly)",
           weight_map="balanced", optimizer="adam", lr=1e-3, schedule="cosine", **_ISBI),
    Recipe("isbi-adam-3e-4", "as isbi-adam with lr 3e-4", weight_map="balanced",
           optimizer="adam", lr=3e-4, schedule="cosine", **_ISBI),
    Recipe("isbi-adam-half-balance", "as isbi-adam-3e-4, class weights raised to 0.5 (full "
           "balance put the best validation threshold near 0.35, not 0.5)",
           weight_map="balanced", balance_power=0.5, optimizer="adam", lr=3e-4,
           schedule="cosine", **_ISBI),
    Recipe("isbi-adam-border", "as isbi-adam-half-balance plus the paper's border term (w0 "
           "10, sigma 5): its errors were cells merged through thin membranes",
           weight_map="paper", w0=10.0, sigma=5.0, balance_power=0.5, optimizer="adam",
           lr=3e-4, schedule="cosine", **_ISBI),
    Recipe("isbi-adam-plain", "as isbi-adam-half-balance without class weights (power 0): "
           "with half balance the 35-min model called 5.2 % of the validation pixels "
           "membrane that are cell and 3.2 % the other way, and its pixel error was lowest "
           "at threshold 0.35-0.4, not 0.5 (benchmarks/results/isbi_errors_2026-12-05/)",
           weight_map="balanced", balance_power=0.0, optimizer="adam", lr=3e-4,
           schedule="cosine", **_ISBI),
    Recipe("isbi-adam-no-elastic", "as isbi-adam-half-balance without the elastic "
           "deformation (flips, rotations by 90 degrees and gray values kept): the models "
           "underfit, their training slices scoring no better than validation (pixel error, "
           "8-fold, best threshold: 0.087 vs 0.079 at 1193 steps, 0.075 vs 0.076 at 3214)",
           weight_map="balanced", balance_power=0.5, elastic_sigma=0.0, optimizer="adam",
           lr=3e-4, schedule="cosine", **_ISBI),
    Recipe("isbi-adam-wide", "as isbi-adam-half-balance with base 64 channels, the paper's "
           "width (3.1x the step time): every recipe at base 32 stopped at the same pixel "
           "error (0.078-0.079 the paper's way at 1193 steps) and its training slices scored "
           "no better than validation, so the net may lack capacity rather than a loss",
           weight_map="balanced", balance_power=0.5, optimizer="adam", lr=3e-4,
           schedule="cosine", **{**_ISBI, "base_channels": 64}),
    Recipe("isbi-adam-aligned", "as isbi-adam-half-balance with every image resampled by "
           "the labels' offset measured on the training pairs (about 0.6 px down, 0.15 px "
           "right): flipped and rotated training pairs had put the labels off the other way "
           "(benchmarks/results/isbi_offset_2026-12-06/)", weight_map="balanced",
           balance_power=0.5, align_labels=True, optimizer="adam", lr=3e-4,
           schedule="cosine", **_ISBI),
    Recipe("isbi-adam-aligned-dropout", "as isbi-adam-aligned with the paper's drop-out "
           "(0.5 on the bottom block's output, Sec. 3.1): the aligned two-hour model scored "
           "0.0613 on its training slices the paper's way and 0.0717 on validation, so a "
           "regulariser is the one lever of the paper not yet tried", weight_map="balanced",
           balance_power=0.5, align_labels=True, dropout=0.5, optimizer="adam", lr=3e-4,
           schedule="cosine", **_ISBI),
    Recipe("isbi-mild-elastic", "class balance, elastic sigma 5 px instead of 10",
           weight_map="balanced", elastic_sigma=5.0, **_ISBI),
    Recipe("isbi-dataset-norm", "class balance, normalised by the training set's mean/std",
           weight_map="balanced", normalization="dataset", **_ISBI),
    # DSB 2018 (256x256 nuclei; instance ids given). lr 0.001: 0.003 collapsed to
    # all-background (benchmarks/results/real_data_dsb2018_lr0.003_collapsed.md).
    Recipe("dsb-paper-map", "the paper's weight map from the instance ids (the recorded run)",
           weight_map="paper", lr=0.001, **_DSB),
    Recipe("dsb-separated", "as dsb-paper-map, touching nuclei cut apart by a 1 px gap",
           weight_map="paper", lr=0.001, separate_touching=True, **_DSB),
    Recipe("dsb-adam-half-balance", "the paper's weight map with the class term raised to "
           "0.5, Adam lr 3e-4 cosine to 0 (ISBI's best optimiser and balance)",
           weight_map="paper", balance_power=0.5, optimizer="adam", lr=3e-4,
           schedule="cosine", **_DSB),
    Recipe("dsb-adam-balance", "as dsb-adam-half-balance with the full class term (power "
           "1): its errors were faint nuclei called background", weight_map="paper",
           balance_power=1.0, optimizer="adam", lr=3e-4, schedule="cosine", **_DSB),
    Recipe("dsb-adam-separated", "as dsb-adam-half-balance, touching nuclei cut apart by a "
           "1 px gap", weight_map="paper", balance_power=0.5, optimizer="adam", lr=3e-4,
           schedule="cosine", separate_touching=True, **_DSB),
    Recipe("dsb-adam-w0-3", "as dsb-adam-half-balance with the border term's w0 = 3: w0 10 "
           "shrank crowded nuclei (a 0.5 mask missed 22-38 % of their pixels in the worst "
           "images)", weight_map="paper", w0=3.0, balance_power=0.5, optimizer="adam",
           lr=3e-4, schedule="cosine", **_DSB),
    Recipe("dsb-adam-percentile", "as dsb-adam-half-balance, each image normalised by its "
           "1st and 99.8th percentiles: the under-called images are the crowded ones, whose "
           "mean and std the nuclei raise", weight_map="paper", balance_power=0.5,
           optimizer="adam", lr=3e-4, schedule="cosine", normalization="percentile", **_DSB),
    Recipe("dsb-adam-pooled", "as dsb-adam-balance with the class frequencies pooled over "
           "the training set: per image, crowded images weighed their nuclei 2.3x and sparse "
           "ones 19x, and the models under-called the first and over-called the second",
           weight_map="paper", balance_power=1.0, balance_over="dataset", optimizer="adam",
           lr=3e-4, schedule="cosine", **_DSB),
    Recipe("dsb-adam-pooled-half", "as dsb-adam-pooled with the class term raised to 0.5",
           weight_map="paper", balance_power=0.5, balance_over="dataset", optimizer="adam",
           lr=3e-4, schedule="cosine", **_DSB),
    Recipe("dsb-adam-rim", "as dsb-adam-half-balance plus 3 on nucleus pixels at their edge "
           "(rim_sigma 2 px): the 0.5 masks shave 2-3 px off large packed nuclei, and the "
           "paper's border term weighs only background", weight_map="paper",
           balance_power=0.5, rim_w=3.0, rim_sigma=2.0, optimizer="adam", lr=3e-4,
           schedule="cosine", **_DSB),
    Recipe("dsb-adam-balance-w0-3", "as dsb-adam-w0-3 with the full class term (power 1)",
           weight_map="paper", w0=3.0, balance_power=1.0, optimizer="adam", lr=3e-4,
           schedule="cosine", **_DSB),
    Recipe("dsb-adam-wide", "as dsb-adam-half-balance with base 64 channels (4x the flops): "
           "every loss and threshold tried moved along one IoU / Rand trade-off, the crowded "
           "images' rims unlearnt even on training images", weight_map="paper",
           balance_power=0.5, optimizer="adam", lr=3e-4, schedule="cosine",
           **{**_DSB, "base_channels": 64}),
    Recipe("dsb-adam-2x", "as dsb-adam-half-balance at twice the resolution (upscale 2, "
           "tile 572: 194 original pixels of output a side): its errors were nucleus edges "
           "1-2 px off, missed on the crowded pictures and grown on the sparse ones, which "
           "no loss weighting fixed on both at once", weight_map="paper", balance_power=0.5,
           optimizer="adam", lr=3e-4, schedule="cosine",
           **{**_DSB, "tile_size": 572, "upscale": 2}),
    Recipe("dsb-adam-crowded", "as dsb-adam-half-balance, images picked with odds (nucleus "
           "share)^1: the 14 crowded training pictures (nuclei >= 20 %), whose masks start at "
           "the foot of a soft edge, come in 44 % of the steps instead of 17.5 %",
           weight_map="paper", balance_power=0.5, sample_power=1.0, optimizer="adam",
           lr=3e-4, schedule="cosine", **_DSB),
    Recipe("dsb-adam-crowded-rim", "dsb-adam-crowded and dsb-adam-rim together: the crowded "
           "pictures in 44 % of the steps and 3 on nucleus pixels at their edge (each alone "
           "lowered the instance Rand a little at a little IoU)", weight_map="paper",
           balance_power=0.5, sample_power=1.0, rim_w=3.0, rim_sigma=2.0, optimizer="adam",
           lr=3e-4, schedule="cosine", **_DSB),
    Recipe("dsb-adam-crowded-rim-only", "as dsb-adam-crowded-rim with the rim weight only "
           "on the crowded pictures (nuclei >= 20 % of the image), whose masks start at the "
           "foot of a soft edge: on every picture it had cost IoU (0.763), the other pictures' "
           "edges sitting where their gradient peaks", weight_map="paper", balance_power=0.5,
           sample_power=1.0, rim_w=3.0, rim_sigma=2.0, rim_min_share=0.2, optimizer="adam",
           lr=3e-4, schedule="cosine", **_DSB),
    Recipe("dsb-adam-crowded-rim-halo", "as dsb-adam-crowded-rim-only plus 3 on background "
           "pixels at the nuclei's edge on the other pictures (nuclei < 20 %): with the rim "
           "on the crowded pictures only, the net had grown the sparse pictures' nuclei by "
           "1-2 px too (IoU 0.771)", weight_map="paper", balance_power=0.5, sample_power=1.0,
           rim_w=3.0, rim_sigma=2.0, rim_min_share=0.2, halo_w=3.0, halo_max_share=0.2,
           optimizer="adam", lr=3e-4, schedule="cosine", **_DSB),
    # Seconds per run: tests and smoke runs.
    Recipe("smoke", "a tiny net for smoke runs and tests", depth=2, base_channels=4,
           tile_size=92, weight_map="balanced", lr=0.01),
]}

# The recipes a `--study` runs by default, per data set (two seeds each in the issue).
STUDIES = {
    "isbi2012": ["isbi-peers", "isbi-paper-map", "isbi-border-w0-3", "isbi-cosine",
                 "isbi-step", "isbi-adam", "isbi-adam-3e-4", "isbi-adam-half-balance",
                 "isbi-adam-border", "isbi-adam-plain", "isbi-adam-no-elastic",
                 "isbi-adam-wide", "isbi-adam-aligned", "isbi-adam-aligned-dropout"],
    "dsb2018": ["dsb-paper-map", "dsb-separated", "dsb-adam-half-balance",
                "dsb-adam-separated", "dsb-adam-balance", "dsb-adam-w0-3",
                "dsb-adam-balance-w0-3", "dsb-adam-percentile", "dsb-adam-pooled",
                "dsb-adam-pooled-half", "dsb-adam-rim", "dsb-adam-wide",
                "dsb-adam-crowded", "dsb-adam-crowded-rim", "dsb-adam-crowded-rim-only",
                "dsb-adam-crowded-rim-halo", "dsb-adam-2x"],
}

# `minimal-unet train --preset NAME` -> the recipe it takes: the best recipe of the studies so
# far. isbi-adam-half-balance led the 940-step study (benchmarks/results/study_isbi2012.md,
# two seeds: ahead of isbi-adam-3e-4 on pixel error and IoU, level on adapted Rand, ahead
# of every SGD recipe on every metric); isbi-adam-aligned, the same with the images
# resampled by the labels' offset, is ahead of it on every metric of the 1193-step study
# (benchmarks/results/study_isbi2012_1193.md, two seeds; pixel error the paper's way 0.0747
# vs 0.0788). Its cosine runs over `--steps`, as it did over the study's step budget.
PRESET_RECIPES = {"isbi2012": "isbi-adam-aligned"}


def get_recipe(name):
    """RECIPES[name], or a ValueError listing the names."""
    if name not in RECIPES:
        raise ValueError(f"recipe: expected one of {sorted(RECIPES)}, got {name!r}")
    return RECIPES[name]


def cli_preset(preset):
    """(UNetConfig fields, TrainConfig fields) of a preset, in the form of cli.PRESETS.

    A recipe that needs a knob train.train lacks (TRAINER_EXTRAS) is a ValueError: the
    preset would silently train something else.
    """
    if preset not in PRESET_RECIPES:
        raise ValueError(f"preset: expected one of {sorted(PRESET_RECIPES)}, got {preset!r}")
    recipe = get_recipe(PRESET_RECIPES[preset])
    extras = recipe.extras_in_use()
    if extras:
        raise ValueError(f"preset {preset!r}: recipe {recipe.name!r} uses {extras}, which "
                         f"train.train does not implement")
    return {k: getattr(recipe, k) for k in NET_FIELDS}, trainer_fields(recipe)
