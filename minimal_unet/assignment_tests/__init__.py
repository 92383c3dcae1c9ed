"""The graded tests of the course assignment (see minimal_unet.assignment).

One module per layer; each test is registered with `@graded("<exercise>")` (_harness.py)
and runs in the GRADER's process: it sends inputs to the student's code, which runs in a
sandboxed child process (minimal_unet.assignment.sandbox), and judges the arrays that come
back with the oracles of `_oracles.py` (hand values, reference forwards written
differently from the library's, directional finite differences). `_probes.py` is what the
child runs; it is loaded there by file path, never imported here.
"""

MODULES = ("relu", "conv2d", "maxpool2d", "upconv2d", "crop_concat", "softmax_ce",
           "gradcheck", "weight_map", "unet_backward")
