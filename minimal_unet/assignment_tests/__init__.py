"""The graded tests of the course assignment (see minimal_unet.assignment).

They are not run from here: `assignment grade` copies these files into a temporary folder
and runs them with `_driver.py` in a subprocess whose sys.path starts with the student's
copy, so that `import minimal_unet` inside a test is the student's package. Each test is
an independent oracle (hand values, its own finite differences and reference forwards in
`_oracles.py`, PyTorch where installed) and names its exercise with
`@pytest.mark.exercise("<name>")`.
"""
