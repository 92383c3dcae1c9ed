"""Graded: numerical_gradient (functions whose gradients are known in closed form)."""

import numpy as np

from minimal_unet.assignment_tests._harness import equal, graded, rel_err


@graded("numerical_gradient")
def scalar_function_and_input_restored(box, rng):
    """d/dx sum x^3 = 3 x^2; x restored exactly."""
    x = rng.standard_normal((3, 4))
    grad, x_after = box.call("numerical_gradient_cube", x.copy())
    assert grad.shape == x.shape and grad.dtype == np.float64, \
        f"expected a float64 gradient of shape {x.shape}, got {grad.dtype} {grad.shape}"
    error = rel_err(grad, 3 * x**2)
    assert error < 1e-8, f"relative error {error:.1e} against 3 x^2"
    equal(x_after, x, "x after the call (perturbed in place, it must be restored exactly)")


@graded("numerical_gradient")
def centred_difference_with_the_given_step(box, rng):
    """For x^3 a centred difference gives exactly 3 x^2 + h^2 (one-sided: off by 3 x h)."""
    x = rng.standard_normal(5)
    grad, _ = box.call("numerical_gradient_cube", x, h=0.1)
    np.testing.assert_allclose(grad, 3 * x**2 + 0.01, rtol=1e-9, atol=1e-9,
                               err_msg="expected the centred difference with the caller's h")


@graded("numerical_gradient", hidden=True)
def array_output_contracted_with_dy(box, rng):
    """d/dx <A x, dy> = A^T dy."""
    A = rng.standard_normal((4, 3))
    x, dy = rng.standard_normal(3), rng.standard_normal(4)
    grad = box.call("numerical_gradient_linear", A, x, dy)
    error = rel_err(grad, A.T @ dy)
    assert error < 1e-8, f"relative error {error:.1e} against A^T dy"
