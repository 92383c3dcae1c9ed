"""The backend contract (minimal_unet.backends.contract) on the numba backend in the simulator.

The same parity check as tests/kernels/test_backend_contract.py runs for the emulated CuPy
backend and the GPUs, here at the "tiny" shapes (every simulated GPU thread is a Python
thread), in the simulator's own process. The simulator launches few threads per block,
so even tiny shapes use grid-stride loops, several blocks and partial blocks.
"""

import numpy as np
import pytest

from minimal_unet.backends import contract


# dropout's hash wraps modulo 2^64 on purpose; on NumPy scalars (the simulator) that warns.
@pytest.mark.filterwarnings("ignore:overflow encountered in scalar:RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", contract.PARITY_OPS)
def test_parity_with_numpy(nb, op, dtype):
    contract.check_parity(nb, op, dtype, size="tiny")


def test_numba_backend_exports_the_contract(nb):
    assert contract.missing_names(nb) == []


def test_bad_target_has_the_reference_wording(nb):
    logits, target = np.zeros((1, 2, 2, 2)), np.array([[[0, 1], [2, 0]]])
    with pytest.raises(ValueError) as error:
        nb.softmax_cross_entropy(nb.asarray(logits), nb.asarray(target))
    assert str(error.value) == contract.message("bad_target", K=2, value=2, where=(0, 1, 0))


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_optimisers_step_on_numba_arrays_as_on_numpy(nb, name):
    from minimal_unet import optim

    rng = np.random.default_rng(3)
    params = {"w": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    kwargs = {"lr": 0.01}
    host = {k: v.copy() for k, v in params.items()}
    dev = {k: nb.asarray(v) for k, v in params.items()}
    opt_host = getattr(optim, name)(host, backend="numpy", **kwargs)
    opt_dev = getattr(optim, name)(dev, backend="numba", **kwargs)
    for _ in range(2):
        opt_host.step(grads)
        opt_dev.step({k: nb.asarray(g) for k, g in grads.items()})
    for k in params:
        np.testing.assert_allclose(nb.asnumpy(dev[k]), host[k], rtol=1e-12, atol=1e-12)
    state = opt_dev.state_dict()
    assert all(isinstance(a, np.ndarray) for part in state.values() if isinstance(part, dict)
               for a in part.values())
    opt_dev.load_state_dict(state)  # back onto the device
    opt_dev.step({k: nb.asarray(g) for k, g in grads.items()})
