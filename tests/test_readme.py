"""The README's Python examples run as written, in order, in one namespace.

Blocks fenced as ```python run; a block whose info string says more (```python needs-gpu)
is shown to readers but needs hardware CI does not have.
"""

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(text):
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_readme_python_examples_run(capsys):
    blocks = python_blocks(README.read_text())
    assert len(blocks) >= 4, "the README lost its examples"
    namespace = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102
    # The examples' own asserts ran; check what they left behind too.
    net, grads = namespace["net"], namespace["grads"]
    assert list(grads) == list(net.params)
    assert namespace["tr"]["dec0.up.grad_in"].shape[1] == net.params["dec0.up.weight"].shape[1]
    out = capsys.readouterr().out
    assert "enc0.conv1.in" in out
    assert isinstance(namespace["logits"], np.ndarray)
