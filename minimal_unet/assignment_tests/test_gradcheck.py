"""Graded: numerical_gradient (functions whose gradients are known in closed form)."""

import numpy as np
import pytest
from _oracles import rel_err, student

GC = "minimal_unet.gradcheck"


@pytest.mark.exercise("numerical_gradient")
def test_scalar_function_and_input_restored(rng):
    x = rng.standard_normal((3, 4))
    before = x.copy()
    grad = student(GC, "numerical_gradient")(lambda v: np.sum(v**3), x)
    assert grad.shape == x.shape and grad.dtype == np.float64
    assert rel_err(grad, 3 * before**2) < 1e-8  # d/dx sum x^3 = 3 x^2
    np.testing.assert_array_equal(x, before)  # perturbed in place, restored exactly


@pytest.mark.exercise("numerical_gradient")
def test_centred_difference_with_the_given_step(rng):
    # For x^3 the centred difference is exactly 3 x^2 + h^2: only a centred formula with
    # the caller's h gives this (a one-sided one is off by 3 x h).
    x = rng.standard_normal(5)
    grad = student(GC, "numerical_gradient")(lambda v: np.sum(v**3), x, h=0.1)
    np.testing.assert_allclose(grad, 3 * x**2 + 0.01, rtol=1e-9, atol=1e-9)


@pytest.mark.exercise("numerical_gradient")
def test_array_output_contracted_with_dy(rng):
    A = rng.standard_normal((4, 3))
    x, dy = rng.standard_normal(3), rng.standard_normal(4)
    grad = student(GC, "numerical_gradient")(lambda v: A @ v, x, dy=dy)
    assert rel_err(grad, A.T @ dy) < 1e-8  # d/dx <A x, dy> = A^T dy
