"""A record of every named intermediate of one forward and backward pass.

    tr = Trace()
    logits = net.forward(x, trace=tr)       # records "enc0.conv1.in", "enc0.conv1.out", ...
    grads = net.backward(dlogits, trace=tr) # records "head.grad_in", "enc0.grad_from_skip", ...
    print(tr.summary())                     # name, shape, dtype, min, max, mean per entry
    tr["dec0.concat.out"]                   # the very array the next conv consumed

The trace stores references, not copies: `tr["enc0.relu1.out"] is tr["enc0.conv2.in"]`
holds, and so does `tr["head.out"] is logits`. That is what makes it a faithful record
(and why a trace of the paper net costs no memory beyond keeping arrays alive a little
longer). The names the U-Net records are listed in `minimal_unet.model`'s docstring.

Arrays of a GPU backend are copied to the host only by `summary()`, and only to compute
its statistics: CuPy arrays through `.get()`, Numba device arrays through
`.copy_to_host()`.
"""

import numpy as np


def _to_host(a):
    if hasattr(a, "get"):  # cupy.ndarray
        return a.get()
    if hasattr(a, "copy_to_host"):  # numba DeviceNDArray
        return a.copy_to_host()
    return np.asarray(a)


class Trace:
    """An ordered mapping name -> array, filled in the order the computation runs."""

    def __init__(self):
        self._arrays = {}  # dicts keep insertion order: the order of the computation

    def record(self, name, array):
        """Store a reference to `array` under `name` (each name once per trace)."""
        if not isinstance(name, str):
            raise TypeError(f"trace name: expected a str, got {type(name).__name__}")
        if name in self._arrays:
            raise ValueError(
                f"trace already holds {name!r}: use a fresh Trace for each forward/backward pass"
            )
        self._arrays[name] = array

    def names(self):
        """Recorded names, in the order they were recorded."""
        return list(self._arrays)

    def __getitem__(self, name):
        if name not in self._arrays:
            close = [n for n in self._arrays if name.split(".")[0] == n.split(".")[0]]
            hint = f"; names of that block: {', '.join(close)}" if close else ""
            raise KeyError(f"trace has no entry {name!r} ({len(self._arrays)} recorded){hint}")
        return self._arrays[name]

    def __contains__(self, name):
        return name in self._arrays

    def __len__(self):
        return len(self._arrays)

    def __iter__(self):
        return iter(self._arrays)

    def items(self):
        return self._arrays.items()

    def summary(self):
        """A text table: name, shape, dtype, min, max, mean of every entry, in order."""
        width = max([len("name")] + [len(n) for n in self._arrays])
        lines = [f"{'name':<{width}}  {'shape':<22}{'dtype':<9}"
                 f"{'min':>12}{'max':>12}{'mean':>12}"]
        for name, array in self._arrays.items():
            a = _to_host(array)
            shape = "x".join(str(s) for s in a.shape)
            if a.size:
                stats = f"{a.min():>12.4g}{a.max():>12.4g}{a.mean(dtype=np.float64):>12.4g}"
            else:
                stats = f"{'-':>12}{'-':>12}{'-':>12}"
            lines.append(f"{name:<{width}}  {shape:<22}{str(a.dtype):<9}{stats}")
        return "\n".join(lines)
