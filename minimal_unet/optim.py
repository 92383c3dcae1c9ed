"""Optimisers and learning-rate schedules for the U-Net's parameter dict.

The paper trains with Caffe's SGD, momentum 0.99 (batch 1, large tiles):

    v <- momentum * v - lr * g          (the velocity remembers ~1 / (1 - 0.99) = 100 steps)
    p <- p + v

PyTorch's SGD writes the same method as v <- momentum * v + g, p <- p - lr * v; with a
constant lr the two give identical parameters (Caffe's v is -lr times PyTorch's).

    opt = SGD(net.params, lr=0.01, momentum=0.99)
    loss, grads = net.loss_and_grads(x, target)
    opt.step(grads)                                   # updates net.params in place

`lr` may be a number or a schedule: any function step -> lr, e.g.
`lambda step: cosine(step, 0.01, total_steps=10_000)`. `Adam` is an extra (not the paper's
optimiser); both run on every backend through its fused update (`sgd_momentum_update`,
`adam_update`).
The optimisers hold the parameter dict itself and look each array up by name at every
step, so `net.load_state_dict(...)` (which replaces arrays) never leaves them stale.
"""

import math

import numpy as np

from minimal_unet.backends import get_backend

CHUNK = 1 << 17  # elements per slice in sgd_momentum_update (a 0.5-1 MB temporary)


def sgd_momentum_update(param, grad, velocity, lr, momentum):
    """One Caffe SGD step on one array, in place (the NumPy reference of every backend).

        velocity[...] = momentum * velocity - lr * grad
        param += velocity

    param, grad, velocity: float arrays of one shape and dtype; grad is not modified.
    lr, momentum: Python numbers (cast to float so float32 arrays stay float32).
    The term lr * grad needs a temporary; it is taken in slices of CHUNK elements, so the
    step never allocates a second copy of a large parameter.
    """
    for name, a in (("param", param), ("grad", grad), ("velocity", velocity)):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{name}: expected a numpy.ndarray, got {type(a).__name__}")
        if a.dtype not in (np.float32, np.float64):
            raise TypeError(f"{name}: expected dtype float32 or float64, got {a.dtype}")
    if not (param.shape == grad.shape == velocity.shape):
        raise ValueError(f"expected param, grad and velocity of one shape, got param "
                         f"{param.shape}, grad {grad.shape}, velocity {velocity.shape}")
    if not (param.dtype == grad.dtype == velocity.dtype):
        raise TypeError(f"expected param, grad and velocity of one dtype, got param "
                        f"{param.dtype}, grad {grad.dtype}, velocity {velocity.dtype}")
    lr, momentum = float(lr), float(momentum)
    if not (velocity.flags.c_contiguous and grad.flags.c_contiguous):
        velocity *= momentum
        velocity -= lr * grad  # one temporary of grad's size
        param += velocity
        return
    v = velocity.reshape(-1)  # (size,) view: velocity is contiguous
    g = grad.reshape(-1)  # (size,) view
    for start in range(0, v.size, CHUNK):
        v_part = v[start:start + CHUNK]
        v_part *= momentum
        v_part -= lr * g[start:start + CHUNK]  # temporary of at most CHUNK elements
    param += velocity


def adam_update(param, grad, m, v, lr, b1, b2, eps, t):
    """One Adam step on one array, in place (the NumPy reference of every backend).

        m[...] = b1 * m + (1 - b1) * grad            v[...] = b2 * v + (1 - b2) * grad^2
        param -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

    param, grad, m, v: float arrays of one shape and dtype; grad is not modified.
    lr, b1, b2, eps: Python numbers; t: the step number, 1 for the first step.
    """
    for name, a in (("param", param), ("grad", grad), ("m", m), ("v", v)):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{name}: expected a numpy.ndarray, got {type(a).__name__}")
        if a.dtype != param.dtype or a.shape != param.shape:
            raise TypeError(f"{name}: expected dtype {param.dtype} and shape {param.shape} like "
                            f"param, got {a.dtype} {a.shape}")
    if param.dtype not in (np.float32, np.float64):
        raise TypeError(f"param: expected dtype float32 or float64, got {param.dtype}")
    lr, b1, b2, eps = float(lr), float(b1), float(b2), float(eps)
    m *= b1
    m += (1.0 - b1) * grad
    v *= b2
    v += (1.0 - b2) * (grad * grad)
    m_hat = m / (1.0 - b1**t)
    v_hat = v / (1.0 - b2**t)
    param -= lr * m_hat / (np.sqrt(v_hat) + eps)


def _check_lr(lr):
    if not callable(lr) and (isinstance(lr, bool) or not isinstance(lr, (int, float))):
        raise TypeError(f"lr: expected a number or a function step -> lr, got {lr!r}")
    if not callable(lr) and lr < 0:
        raise ValueError(f"lr: expected lr >= 0, got {lr}")


def _check_grads(params, grads):
    missing = [k for k in params if k not in grads]
    extra = [k for k in grads if k not in params]
    if missing or extra:
        raise ValueError(f"grads: expected the parameter names, missing {missing}, "
                         f"unexpected {extra}")


class SGD:
    """Caffe SGD with momentum on a dict of parameters (updated in place).

    params: dict name -> array on `backend` (e.g. net.params). lr: number or step -> lr.
    velocity: dict name -> array like the parameter, zero at the start.
    """

    def __init__(self, params, lr, momentum=0.99, backend="numpy"):
        _check_lr(lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum: expected 0 <= momentum < 1, got {momentum}")
        self.ops = get_backend(backend)  # the one line that picks the backend
        self.params = params
        self.lr = lr
        self.momentum = momentum
        self.velocity = {name: self.ops.zeros_like(p) for name, p in params.items()}
        self.step_count = 0

    def current_lr(self):
        """The learning rate the next step will use."""
        return float(self.lr(self.step_count)) if callable(self.lr) else float(self.lr)

    def step(self, grads):
        """Update every parameter from `grads` (dict with the same names as params)."""
        _check_grads(self.params, grads)
        lr = self.current_lr()
        for name, param in self.params.items():
            self.ops.sgd_momentum_update(param, grads[name], self.velocity[name], lr,
                                         self.momentum)
        self.step_count += 1

    def state_dict(self):
        """{"step": int, "momentum": float, "velocity": {name: numpy array (a copy)}}."""
        velocity = {k: np.array(self.ops.asnumpy(v)) for k, v in self.velocity.items()}
        return {"step": self.step_count, "momentum": self.momentum, "velocity": velocity}

    def load_state_dict(self, state):
        """Restore from `state_dict()`; a missing, extra or mis-shaped name is a ValueError."""
        velocity = state["velocity"]
        _check_grads(self.params, velocity)
        for name, v in velocity.items():
            shape = tuple(self.velocity[name].shape)
            if tuple(np.shape(v)) != shape:
                raise ValueError(f"velocity[{name!r}]: expected shape {shape}, got "
                                 f"{np.shape(v)}")
        for name, v in velocity.items():
            dtype = self.velocity[name].dtype
            self.velocity[name] = self.ops.asarray(np.ascontiguousarray(v, dtype=dtype))
        self.step_count = int(state["step"])
        self.momentum = float(state["momentum"])


class Adam:
    """Adam (Kingma & Ba 2015) on a dict of parameters; an extra, not the paper's optimiser.

        m <- b1 m + (1 - b1) g            v <- b2 v + (1 - b2) g^2
        p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)     (t = 1, 2, ...)

    params: dict name -> array on `backend` (e.g. net.params); every step is one fused
    update per array on that backend (`ops.adam_update`).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, backend="numpy"):
        _check_lr(lr)
        b1, b2 = betas
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"betas: expected two numbers in [0, 1), got {betas}")
        self.ops = get_backend(backend)
        self.params = params
        self.lr, self.betas, self.eps = lr, (float(b1), float(b2)), float(eps)
        self.m = {name: self.ops.zeros_like(p) for name, p in params.items()}
        self.v = {name: self.ops.zeros_like(p) for name, p in params.items()}
        self.step_count = 0

    def step(self, grads):
        _check_grads(self.params, grads)
        lr = float(self.lr(self.step_count)) if callable(self.lr) else float(self.lr)
        b1, b2 = self.betas
        t = self.step_count + 1
        for name, param in self.params.items():
            self.ops.adam_update(param, grads[name], self.m[name], self.v[name], lr, b1, b2,
                                 self.eps, t)
        self.step_count = t

    def state_dict(self):
        """{"step": int, "m": {name: numpy array}, "v": {name: numpy array}} (host copies)."""
        return {"step": self.step_count,
                "m": {k: np.array(self.ops.asnumpy(a)) for k, a in self.m.items()},
                "v": {k: np.array(self.ops.asnumpy(a)) for k, a in self.v.items()}}

    def load_state_dict(self, state):
        for key in ("m", "v"):
            _check_grads(self.params, state[key])
            for name, a in state[key].items():
                if tuple(np.shape(a)) != tuple(self.params[name].shape):
                    raise ValueError(f"{key}[{name!r}]: expected shape "
                                     f"{tuple(self.params[name].shape)}, got {np.shape(a)}")

        def on_backend(k, a):
            return self.ops.asarray(np.ascontiguousarray(a, dtype=self.params[k].dtype))

        self.m = {k: on_backend(k, a) for k, a in state["m"].items()}
        self.v = {k: on_backend(k, a) for k, a in state["v"].items()}
        self.step_count = int(state["step"])


# Learning-rate schedules: plain functions of the step (0, 1, 2, ...) returning the lr.

def constant(step, lr):
    """lr at every step."""
    return float(lr)


def step_decay(step, lr, drop=0.1, every=1000):
    """lr * drop ** floor(step / every): multiplied by `drop` every `every` steps."""
    if every < 1:
        raise ValueError(f"every: expected a positive number of steps, got {every}")
    return float(lr) * drop ** (step // every)


def cosine(step, lr, total_steps, lr_min=0.0):
    """lr_min + (lr - lr_min) (1 + cos(pi t / T)) / 2, t = min(step, T): lr down to lr_min."""
    if total_steps < 1:
        raise ValueError(f"total_steps: expected a positive number, got {total_steps}")
    t = min(step, total_steps)
    return lr_min + (lr - lr_min) * 0.5 * (1.0 + math.cos(math.pi * t / total_steps))


def poly(step, lr, total_steps, power=0.9):
    """lr (1 - t / T) ** power, t = min(step, T) (the 'poly' policy of Caffe)."""
    if total_steps < 1:
        raise ValueError(f"total_steps: expected a positive number, got {total_steps}")
    t = min(step, total_steps)
    return float(lr) * (1.0 - t / total_steps) ** power


def momentum_warmup(step, momentum, start=0.9, warmup_steps=0):
    """Momentum before update `step`: linear from `start` to `momentum` over `warmup_steps`
    updates, then flat (0 warm-up steps: `momentum` from the first update). A short warm-up
    keeps the first steps of SGD 0.99 from piling up ~100 large early gradients."""
    if warmup_steps < 0:
        raise ValueError(f"warmup_steps: expected >= 0, got {warmup_steps}")
    if warmup_steps == 0 or step >= warmup_steps:
        return float(momentum)
    return float(start + step / warmup_steps * (momentum - start))
