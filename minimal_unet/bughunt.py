"""Bug hunt: four layers, each with one classic bug, and the check that catches it.

    from minimal_unet import bughunt
    result = bughunt.check("conv2d_backward", bughunt.conv2d_backward_flipped_kernel)
    print(result)                   # conv2d_backward: rel. error 4.1e-01 (tol 1e-06) CAUGHT
    bughunt.check("conv2d_backward", conv2d_backward).caught      # False: the real one passes

The broken variants (same signatures as the layers they replace):

    conv2d_backward_flipped_kernel      dx correlates dy with the kernel as it is; the
                                        right dx uses the kernel flipped by 180 degrees
    unet_backward_missing_skip_sum      enc{i}'s gradient is only the max-pool's; the
                                        gradient that came back through the skip is dropped
    softmax_cross_entropy_no_max_shift  exp(z) without subtracting max z: right for small
                                        logits, inf/nan at 1e4 (exp(1e4) overflows)
    crop_and_concat_forward_off_by_one  the crop window starts one pixel too far down and
                                        right, while the backward pastes at the right place

Each is written by wrapping the library's correct function and changing one visible
thing, so no solution of the course assignment is copied here. The checks:

    conv2d_backward, unet_backward       gradient check (minimal_unet.gradcheck, float64)
    crop_and_concat_forward              gradient check (forward vs the correct backward)
                                         and the centre-crop oracle
    softmax_cross_entropy                the log-sum-exp oracle (scipy) at logits of +-1e4

The exercise: `suspects()` gives, for each layer, two implementations "A" and "B" behind
neutral names, one of them broken. Students find out which with the checks and write
their verdicts to bughunt_answers.json, {"conv2d_backward": "A", ...}.

Which letter is broken is drawn per student copy: `minimal-unet assignment make` draws it
with `secrets` (or takes the teacher's "bughunt.key" from the course file) and writes
  - into the copy, TABLE_FILE (minimal_unet/bughunt_suspects.json): a random token per
    suspect, from which `suspects()` knows what to run (the copy must be able to run
    both; the table names neither);
  - next to the copy, the teacher's course file (`<copy>.teacher.json`) holding the key,
    {layer: broken letter}; the grader and the Gradescope autograder take the key from
    there (`--course`), never from a submission.
No seed shared by every copy decides the letters; `answer_key` is not in the student
copy. In the teacher's checkout (no table) `suspects()` draws the letters from SEED.
"""

import dataclasses
import hashlib
import json
import secrets
from pathlib import Path

import numpy as np

from minimal_unet.gradcheck import check_gradients, directional_check, rel_error
from minimal_unet.model import UNet, UNetConfig
from minimal_unet.ops import (
    conv2d_backward,
    conv2d_forward,
    crop_and_concat_backward,
    crop_and_concat_forward,
    softmax_cross_entropy,
)

SEED = 2024  # the suspects' letters in the teacher's checkout (a student copy has a table)
TABLE_FILE = Path(__file__).resolve().parent / "bughunt_suspects.json"
# Measured (float64, seed 0): the correct layers score 3.2e-10 (conv2d_backward), 3.8e-8
# (unet_backward, a directional check: one number per parameter, where terms cancel),
# 0 and 1.3e-10; the broken ones 0.56 or more (inf for the softmax). TOL sits between.
TOL = 1e-6
LAYERS = ("conv2d_backward", "unet_backward", "softmax_cross_entropy",
          "crop_and_concat_forward")
ANSWER_EXAMPLE = {"conv2d_backward": "A", "unet_backward": "B",
                  "softmax_cross_entropy": "A", "crop_and_concat_forward": "B"}


# ----------------------------------------------------------------------- broken variants


def conv2d_backward_flipped_kernel(dy, cache):
    """conv2d_backward with a kernel-flip bug in dx (dw and db are right). kH == kW, pad < kH.

    dx is the full correlation of dy with the kernel, F and C swapped. Right:
        w_t = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)    # flipped by 180 degrees
    Here (BUG): w_t = w.transpose(1, 0, 2, 3), the kernel as it is.
    """
    x, w, b, pad = cache
    _, dw, db = conv2d_backward(dy, cache)
    F, C, kH, kW = w.shape
    if kH != kW or pad > kH - 1:
        raise ValueError(f"expected a square kernel and pad < kH, got {kH}x{kW}, pad {pad}")
    w_t = np.ascontiguousarray(w.transpose(1, 0, 2, 3))  # (C, F, kH, kW)  BUG: no flip
    dx, _ = conv2d_forward(dy, w_t, np.zeros(C, dtype=dy.dtype), pad=kH - 1 - pad)  # (N, C, H, W)
    return dx, dw, db


def _skip_gradient_dropped(d_from_pool, d_from_skip):
    """UNet._sum_skip_gradient with the skip connection's gradient dropped."""
    return d_from_pool.copy()  # BUG: should be d_from_pool + d_from_skip


def unet_backward_missing_skip_sum(net, dlogits):
    """net.backward(dlogits) with the skip-gradient sum missing.

    UNet.backward adds the two gradients of each encoder output in the named seam
    `net._sum_skip_gradient(d_from_pool, d_from_skip)`; here, for this one call, the seam
    keeps only d_from_pool (an instance attribute shadowing the method).
    """
    net._sum_skip_gradient = _skip_gradient_dropped
    try:
        return net.backward(dlogits)
    finally:
        del net._sum_skip_gradient


def unet_backward(net, dlogits):
    """The correct counterpart of unet_backward_missing_skip_sum: net.backward(dlogits)."""
    return net.backward(dlogits)


def softmax_cross_entropy_no_max_shift(logits, target, weight=None):
    """softmax_cross_entropy without subtracting max_k z_k before exp (BUG).

    Algebraically the same, so a gradient check at small logits passes; at |z| ~ 1e4,
    exp(z) is inf in float64 and the loss is inf or nan.
    """
    N, K, H, W = logits.shape
    M = N * H * W
    target_index = target[:, np.newaxis]  # (N, 1, H, W)
    pixel_weight = 1.0 if weight is None else weight[:, np.newaxis]  # (N, 1, H, W)
    with np.errstate(all="ignore"):  # the overflow is the bug on show, not a warning
        exp = np.exp(logits)  # (N, K, H, W)  BUG: exp(logits - logits.max(axis=1))
        sum_exp = exp.sum(axis=1, keepdims=True)  # (N, 1, H, W)
        nll = np.log(sum_exp) - np.take_along_axis(logits, target_index, axis=1)
        probs = exp / sum_exp  # (N, K, H, W)
        loss = (pixel_weight * nll).mean()
        onehot = np.zeros_like(probs)
        np.put_along_axis(onehot, target_index, 1.0, axis=1)
        dlogits = pixel_weight * (probs - onehot) / M  # (N, K, H, W)
    return logits.dtype.type(loss), dlogits.astype(logits.dtype)


def crop_and_concat_forward_off_by_one(skip, up):
    """crop_and_concat_forward whose crop window is shifted by one pixel (BUG).

    Right:  skip[:, :, top:top + Hu, left:left + Wu]
    Here:   skip[:, :, top + 1:top + 1 + Hu, left + 1:left + 1 + Wu]
    Needs a crop of at least 1 pixel per side (else the window leaves the skip map).
    """
    _, cache = crop_and_concat_forward(skip, up)  # checks the shapes, gives top and left
    _, top, left = cache
    _, _, Hu, Wu = up.shape
    if top < 1 or left < 1:
        raise ValueError(f"expected a crop of >= 1 pixel per side, got top {top}, left {left}")
    cropped = skip[:, :, top + 1:top + 1 + Hu, left + 1:left + 1 + Wu]  # BUG: + 1
    return np.concatenate([cropped, up], axis=1), cache  # (N, Cs + Cu, Hu, Wu)


# ----------------------------------------------------------------------- the checks


@dataclasses.dataclass
class CheckResult:
    """The outcome of one check: the largest relative error, and whether it caught a bug."""

    layer: str
    error: float
    caught: bool
    detail: str

    def __str__(self):
        verdict = "CAUGHT" if self.caught else "passes"
        return f"{self.layer}: rel. error {self.error:.1e} (tol {TOL:.0e}) {verdict}  {self.detail}"


def _worst(layer, errors, extra=""):
    name, error = max(errors.items(), key=lambda item: item[1])
    error = float(error) if np.isfinite(error) else np.inf
    return CheckResult(layer, error, not error < TOL, f"worst: {name}{extra}")


def check_conv2d_backward(backward, seed=0):
    """Gradient check of `backward` (signature of conv2d_backward) against conv2d_forward."""
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((2, 2, 5, 4)), rng.standard_normal((3, 2, 3, 3))
    b = rng.standard_normal(3)
    y, cache = conv2d_forward(x, w, b, pad=1)
    dy = rng.standard_normal(y.shape)
    dx, dw, db = backward(dy, cache)
    errors = check_gradients(lambda x, w, b: conv2d_forward(x, w, b, pad=1)[0],
                             {"x": x, "w": w, "b": b}, {"x": dx, "w": dw, "b": db}, dy=dy)
    return _worst("conv2d_backward", errors)


def check_unet_backward(backward, seed=0):
    """Directional gradient check of every parameter of a tiny float64 U-Net (depth 2).

    backward(net, dlogits) -> grads, like net.backward(dlogits).
    """
    rng = np.random.default_rng(seed)
    net = UNet(UNetConfig(depth=2, base_channels=2), seed=seed, dtype=np.float64)
    x = rng.standard_normal((1, 1, 44, 44))  # the smallest legal tile for depth 2
    dlogits = rng.standard_normal(net.forward(x).shape)
    grads = backward(net, dlogits)
    errors = directional_check(lambda **params: net.forward(x), net.params, grads, rng,
                               dy=dlogits)
    return _worst("unet_backward", errors)


def check_softmax_cross_entropy(loss_fn, seed=0):
    """The log-sum-exp oracle (scipy) at logits of +-1e4 and at small logits."""
    from scipy.special import logsumexp

    rng = np.random.default_rng(seed)
    errors = {}
    for name, scale in (("small logits", 3.0), ("logits ~ 1e4", 1e4)):
        logits = rng.standard_normal((2, 3, 2, 2)) * scale
        target = rng.integers(0, 3, size=(2, 2, 2))
        nll = logsumexp(logits, axis=1) - np.take_along_axis(logits, target[:, None], 1)[:, 0]
        loss, dlogits = loss_fn(logits, target)
        error = rel_error(loss, nll.mean())
        errors[name] = error if np.isfinite(loss) and np.all(np.isfinite(dlogits)) else np.inf
    return _worst("softmax_cross_entropy", errors)


def check_crop_and_concat_forward(forward, seed=0):
    """The centre-crop oracle, and a gradient check against the correct backward."""
    rng = np.random.default_rng(seed)
    skip, up = rng.standard_normal((1, 2, 8, 6)), rng.standard_normal((1, 3, 4, 2))
    y, cache = forward(skip, up)
    expected = np.concatenate([skip[:, :, 2:6, 2:4], up], axis=1)  # crop 2 per side
    dy = rng.standard_normal(y.shape)
    dskip, dup = crop_and_concat_backward(dy, cache)
    errors = check_gradients(lambda skip, up: forward(skip, up)[0], {"skip": skip, "up": up},
                             {"skip": dskip, "up": dup}, dy=dy)
    errors["centre-crop oracle"] = rel_error(y, expected)
    return _worst("crop_and_concat_forward", errors)


CHECKS = {"conv2d_backward": check_conv2d_backward, "unet_backward": check_unet_backward,
          "softmax_cross_entropy": check_softmax_cross_entropy,
          "crop_and_concat_forward": check_crop_and_concat_forward}
BROKEN = {"conv2d_backward": conv2d_backward_flipped_kernel,
          "unet_backward": unet_backward_missing_skip_sum,
          "softmax_cross_entropy": softmax_cross_entropy_no_max_shift,
          "crop_and_concat_forward": crop_and_concat_forward_off_by_one}
CORRECT = {"conv2d_backward": conv2d_backward, "unet_backward": unet_backward,
           "softmax_cross_entropy": softmax_cross_entropy,
           "crop_and_concat_forward": crop_and_concat_forward}


def check(layer, implementation):
    """Run the check of `layer` (one of LAYERS) on `implementation`; returns a CheckResult."""
    if layer not in CHECKS:
        raise ValueError(f"layer: expected one of {', '.join(LAYERS)}, got {layer!r}")
    return CHECKS[layer](implementation)


# ----------------------------------------------------------------------- the exercise


def _suspect(layer, letter, implementation):
    """`implementation` behind a neutral name: its own name would give the answer away."""

    def suspect(*args, **kwargs):
        return implementation(*args, **kwargs)

    suspect.__name__ = suspect.__qualname__ = f"{layer}_suspect_{letter}"
    suspect.__doc__ = f"Suspect {letter} for {layer}: same signature as {layer}."
    return suspect


def _broken_letters(seed):
    rng = np.random.default_rng(seed)
    return {layer: "A" if rng.integers(0, 2) else "B" for layer in LAYERS}


def draw_key():
    """{layer: broken letter}, drawn with `secrets` (for one student copy)."""
    return {layer: secrets.choice("AB") for layer in LAYERS}


def check_key(key, where="bug hunt key"):
    """`key` as {layer: "A" | "B"} for every layer, or a one-line ValueError."""
    if not isinstance(key, dict) or sorted(key) != sorted(LAYERS) or \
            any(letter not in ("A", "B") for letter in key.values()):
        raise ValueError(f"{where}: expected {{layer: 'A' or 'B'}} for {', '.join(LAYERS)}, "
                         f"got {key!r}")
    return dict(key)


def _is_broken(copy_id, layer, token):
    return hashlib.sha256(f"{copy_id}:{layer}:{token}".encode()).digest()[0] & 1 == 1


def _token(copy_id, layer, broken):
    while True:
        token = secrets.token_hex(8)
        if _is_broken(copy_id, layer, token) == broken:
            return token


def write_table(path, key, copy_id=None):
    """The copy's suspects table (a random token per suspect); returns the copy's id."""
    key = check_key(key)
    copy_id = copy_id or secrets.token_hex(8)
    table = {"copy": copy_id, "suspects": {
        layer: {letter: _token(copy_id, layer, letter == key[layer]) for letter in "AB"}
        for layer in LAYERS}}
    Path(path).write_text(json.dumps(table, indent=1) + "\n")
    return copy_id


def _table_letters(path):
    table = json.loads(Path(path).read_text())
    letters = {}
    for layer in LAYERS:
        tokens = table["suspects"][layer]
        letters[layer] = next(letter for letter in "AB"
                              if _is_broken(table["copy"], layer, tokens[letter]))
    return letters


def suspects(seed=None, table=None):
    """{layer: {"A": implementation, "B": implementation}}: one correct, one broken.

    Which letter is broken: from the copy's table (TABLE_FILE, written by `assignment
    make`) when there is one and no seed is given, else drawn from `seed` (default SEED,
    the teacher's checkout). `table`: another table file.
    """
    table = Path(table) if table is not None else TABLE_FILE
    if seed is None and table.is_file():
        letters = _table_letters(table)
    else:
        letters = _broken_letters(SEED if seed is None else seed)
    pairs = {}
    for layer, broken in letters.items():
        pairs[layer] = {letter: _suspect(layer, letter, (BROKEN if letter == broken
                                                          else CORRECT)[layer])
                        for letter in ("A", "B")}
    return pairs


def answer_key(seed=None, table=None):
    """{layer: letter of the broken suspect}, found by running the checks on both suspects."""
    key = {}
    for layer, pair in suspects(seed, table).items():
        caught = [letter for letter, implementation in pair.items()
                  if check(layer, implementation).caught]
        if len(caught) != 1:
            raise RuntimeError(f"bug hunt {layer}: expected exactly one suspect to fail its "
                               f"check, got {caught or 'none'}")
        key[layer] = caught[0]
    return key


def grade_answers(answers, key):
    """Score {layer: "A" | "B"} against the teacher's key {layer: broken letter}."""
    key = check_key(key)
    if not isinstance(answers, dict):
        raise TypeError(f"answers: expected a dict {{layer: 'A' or 'B'}}, "
                        f"got {type(answers).__name__}")
    answers = {k: v for k, v in answers.items() if k not in ("seed", "copy")}
    unknown = sorted(set(answers) - set(LAYERS))
    if unknown:
        raise ValueError(f"answers: unknown layers {unknown}, expected keys from {LAYERS}")
    rows = [{"layer": layer, "answer": answers.get(layer),
             "correct": answers.get(layer) == key[layer]} for layer in LAYERS]
    points = sum(row["correct"] for row in rows)
    return {"rows": rows, "points": points, "max_points": len(LAYERS)}


def format_answers(result):
    """The bug-hunt score as a text table."""
    lines = [f"{'bug hunt layer':<26}{'answer':>8}  verdict"]
    for row in result["rows"]:
        verdict = "right" if row["correct"] else "wrong"
        lines.append(f"{row['layer']:<26}{row['answer']!s:>8}  {verdict}")
    lines.append(f"{'bug hunt total':<26}{result['points']:>8}/{result['max_points']}")
    return "\n".join(lines)
