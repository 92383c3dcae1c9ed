"""The numba backend's launchers reject bad input with clear errors, before any launch,
and ensure_available() names what is missing.

Runs in the Numba CUDA simulator (NUMBA_ENABLE_CUDASIM=1).
"""

import numpy as np
import pytest

from minimal_unet.backends import BackendUnavailableError


def dev(nb, shape, dtype=np.float64):
    return nb.asarray(np.ones(shape, dtype=dtype))


def test_host_arrays_are_rejected_with_a_hint(nb):
    with pytest.raises(TypeError, match=r"x: expected a Numba device array .*asarray.*ndarray"):
        nb.relu_forward(np.ones((1, 1, 2, 2)))


def test_integer_arrays_are_a_type_error(nb):
    with pytest.raises(TypeError, match="x: expected dtype float32 or float64, got int32"):
        nb.relu_forward(dev(nb, (1, 1, 2, 2), np.int32))


def test_mixed_dtypes_are_a_type_error(nb):
    with pytest.raises(TypeError, match="x=float64, w=float32"):
        nb.conv2d_forward(dev(nb, (1, 1, 4, 4)), dev(nb, (1, 1, 3, 3), np.float32),
                          dev(nb, (1,)))


def test_non_contiguous_arrays_are_a_value_error(nb):
    x = nb.asarray(np.ones((1, 1, 4, 6)))[:, :, :, ::2]  # a strided view
    with pytest.raises(ValueError, match="x: expected a C-contiguous array"):
        nb.maxpool2d_forward(x)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda nb: nb.conv2d_forward(dev(nb, (1, 2, 4, 4)), dev(nb, (1, 3, 3, 3)),
                                      dev(nb, (1,))), ValueError, "expected 2 input channels"),
        (lambda nb: nb.conv2d_forward(dev(nb, (1, 1, 4, 4)), dev(nb, (2, 1, 3, 3)),
                                      dev(nb, (3,))), ValueError, r"b: expected shape \(2,\)"),
        (lambda nb: nb.conv2d_forward(dev(nb, (1, 1, 2, 2)), dev(nb, (1, 1, 3, 3)),
                                      dev(nb, (1,))), ValueError, "larger than the padded"),
        (lambda nb: nb.conv2d_forward(dev(nb, (1, 1, 4, 4)), dev(nb, (1, 1, 3, 3)),
                                      dev(nb, (1,)), pad=-1), ValueError, "pad: expected"),
        (lambda nb: nb.conv2d_forward(dev(nb, (1, 1, 4, 4)), dev(nb, (1, 1, 3, 3)),
                                      dev(nb, (1,)), pad=1.0), TypeError, "pad: expected"),
        (lambda nb: nb.conv2d_forward(dev(nb, (4, 4)), dev(nb, (1, 1, 3, 3)), dev(nb, (1,))),
         ValueError, r"x: expected shape \(N, C, H, W\)"),
        (lambda nb: nb.maxpool2d_forward(dev(nb, (1, 1, 3, 4))), ValueError, "even H and W"),
        (lambda nb: nb.upconv2d_forward(dev(nb, (1, 2, 3, 3)), dev(nb, (3, 1, 2, 2)),
                                        dev(nb, (1,))), ValueError, "w: expected shape"),
        (lambda nb: nb.crop_and_concat_forward(dev(nb, (1, 1, 5, 5)), dev(nb, (1, 1, 2, 2))),
         ValueError, "even difference in H"),
        (lambda nb: nb.crop_and_concat_forward(dev(nb, (1, 1, 2, 2)), dev(nb, (1, 1, 4, 4))),
         ValueError, "skip: expected H >= up's H"),
        (lambda nb: nb.crop_and_concat_forward(dev(nb, (1, 1, 4, 4)), dev(nb, (2, 1, 2, 2))),
         ValueError, "same batch size"),
        (lambda nb: nb.dropout_forward(dev(nb, (1, 4)), 1.0, np.random.default_rng(0)),
         ValueError, r"p: expected a drop probability in \[0, 1\)"),
        (lambda nb: nb.dropout_forward(dev(nb, (1, 4)), 0.5, 42), TypeError,
         "rng: expected a numpy.random.Generator"),
        (lambda nb: nb.add(dev(nb, (2, 3)), dev(nb, (3, 2))), ValueError,
         r"b: expected shape \(2, 3\)"),
        (lambda nb: nb.sgd_momentum_update(dev(nb, (3,)), dev(nb, (3,)), dev(nb, (4,)), 0.1,
                                           0.9), ValueError, "velocity: expected shape"),
        (lambda nb: nb.sgd_momentum_update(dev(nb, (3,)), dev(nb, (3,)), dev(nb, (3,)), "0.1",
                                           0.9), TypeError, "lr: expected a real number"),
    ],
)
def test_bad_shapes_and_values_are_rejected(nb, call, error, message):
    with pytest.raises(error, match=message):
        call(nb)


def test_backward_checks_the_upstream_gradient(nb):
    y, cache = nb.conv2d_forward(dev(nb, (1, 1, 4, 4)), dev(nb, (2, 1, 3, 3)), dev(nb, (2,)))
    with pytest.raises(ValueError, match=r"dy: expected shape \(1, 2, 2, 2\)"):
        nb.conv2d_backward(dev(nb, (1, 2, 3, 3)), cache)
    _, cache = nb.maxpool2d_forward(dev(nb, (1, 1, 4, 4)))
    with pytest.raises(ValueError, match="dy: expected shape"):
        nb.maxpool2d_backward(dev(nb, (1, 1, 4, 4)), cache)
    _, cache = nb.crop_and_concat_forward(dev(nb, (1, 2, 6, 6)), dev(nb, (1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"dy: expected shape \(N, Cs \+ Cu, Hu, Wu\)"):
        nb.crop_and_concat_backward(dev(nb, (1, 2, 4, 4)), cache)  # no channel left for up


def test_softmax_cross_entropy_rejects_bad_targets(nb):
    logits = dev(nb, (1, 3, 2, 2))
    with pytest.raises(ValueError, match=r"target: expected class indices in \[0, K\) = \[0, 3\)"):
        nb.softmax_cross_entropy(logits, nb.asarray(np.array([[[0, 1], [3, 2]]])))
    with pytest.raises(ValueError, match=r"target: expected class indices"):
        nb.softmax_cross_entropy(logits, nb.asarray(np.array([[[0, -1], [1, 2]]])))
    with pytest.raises(TypeError, match="target: expected an integer array"):
        nb.softmax_cross_entropy(logits, dev(nb, (1, 2, 2)))
    with pytest.raises(ValueError, match=r"target: expected shape \(1, 2, 2\)"):
        nb.softmax_cross_entropy(logits, nb.asarray(np.zeros((1, 2, 3), dtype=np.int64)))
    with pytest.raises(TypeError, match="logits=float64, weight=float32"):
        nb.softmax_cross_entropy(logits, nb.asarray(np.zeros((1, 2, 2), dtype=np.int64)),
                                 dev(nb, (1, 2, 2), np.float32))


def test_ensure_available_names_what_is_missing(nb, monkeypatch):
    nb.ensure_available()  # the simulator counts as available
    monkeypatch.setattr(nb.cuda, "is_available", lambda: False)
    with pytest.raises(BackendUnavailableError, match="no CUDA GPU.*NUMBA_ENABLE_CUDASIM=1"):
        nb.ensure_available()
    monkeypatch.setattr(nb, "cuda", None)
    with pytest.raises(BackendUnavailableError, match="numba package is not installed"):
        nb.ensure_available()


def test_asarray_and_asnumpy_round_trip(nb):
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    x_dev = nb.asarray(x)
    assert nb.asarray(x_dev) is x_dev  # device arrays pass through
    back = nb.asnumpy(x_dev)
    assert isinstance(back, np.ndarray) and back.dtype == np.float32
    np.testing.assert_array_equal(back, x)
    np.testing.assert_array_equal(nb.asnumpy(nb.asarray(x.T)), x.T)  # made contiguous
    assert nb.name == "numba"
