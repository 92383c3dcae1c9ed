"""The teaching notebooks: each one runs headless from top to bottom, and each committed
.ipynb is exactly what `jupytext --to ipynb` makes of its .py (the source of truth).

    notebooks/NN_name.py     jupytext "percent" script, edited by hand
    notebooks/NN_name.ipynb  generated from it, committed without outputs

A notebook runs in a fresh `python3` kernel (the kernel spec of the running interpreter's
environment; jupyter_client starts it with this very interpreter) with notebooks/ as its
working directory, as a reader who opens it in Jupyter would. A cell that raises fails
the test with the cell's traceback, and the whole notebook must finish within
NOTEBOOK_BUDGET_S: the time left of that budget is the timeout of each next cell.

The kernel runs with one BLAS/OpenMP thread. The notebooks' matrices are small, and on a
busy shared machine idle BLAS threads spin-waiting for a core made a training step of
notebook 6 about 20x slower (0.75 s instead of 0.04 s); one thread changes at most the
rounding of BLAS sums, well inside the tolerances the notebooks assert.
"""

import os
import time
from pathlib import Path

import pytest

# Optional packages of the "notebooks" extra (pip install -e ".[notebooks]").
jupytext = pytest.importorskip("jupytext", reason="jupytext (the notebooks extra) is missing")
nbclient = pytest.importorskip("nbclient", reason="nbclient (the notebooks extra) is missing")
nbformat = pytest.importorskip("nbformat", reason="nbformat (the notebooks extra) is missing")

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOK_BUDGET_S = 180  # per notebook, kernel start included
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
EXPECTED = [
    "01_convolution",
    "02_pool_upconv_concat",
    "03_loss_and_weight_map",
    "04_gradient_checking",
    "05_assembling_the_unet",
    "06_training",
    "07_overlap_tile",
    "08_gpu_path",
]
SCRIPTS = sorted(NOTEBOOK_DIR.glob("*.py"))


def test_the_eight_notebooks_are_there():
    """A missing or renamed notebook fails here instead of silently dropping out of the
    parametrized tests below."""
    assert [p.stem for p in SCRIPTS] == EXPECTED


def _cells(notebook):
    """(cell type, source) of every cell: what a reader sees before running it."""
    return [(cell.cell_type, cell.source) for cell in notebook.cells]


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_notebook_opens_with_a_description(script):
    """The first cell is markdown saying what the notebook teaches, what to know first,
    and how long it runs."""
    notebook = jupytext.read(script)
    kind, source = _cells(notebook)[0]
    assert kind == "markdown", f"{script.name}: first cell is {kind}, expected markdown"
    text = source.lower()
    for needed in ("teach", "know first", "runs in"):
        assert needed in text, f"{script.name}: opening cell does not say {needed!r}"


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_ipynb_is_in_sync_with_its_script(script):
    """Regenerating the .ipynb from the .py gives the committed cells, with no outputs."""
    ipynb = script.with_suffix(".ipynb")
    assert ipynb.is_file(), f"{ipynb.name} is missing: run jupytext --to ipynb {script.name}"
    committed = nbformat.read(ipynb, as_version=4)
    regenerated = jupytext.reads(jupytext.writes(jupytext.read(script), fmt="ipynb"),
                                 fmt="ipynb")
    assert _cells(committed) == _cells(regenerated), (
        f"{ipynb.name} is out of date: run jupytext --to ipynb {script.name}")
    for index, cell in enumerate(committed.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{ipynb.name} cell {index} holds outputs"
            assert cell.execution_count is None, f"{ipynb.name} cell {index} was executed"


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_notebook_runs_headless(script):
    """Every cell runs without an error (their own asserts included) within the budget."""
    notebook = jupytext.read(script)
    deadline = time.monotonic() + NOTEBOOK_BUDGET_S

    def time_left(_cell):
        return max(1, int(deadline - time.monotonic()))

    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=NOTEBOOK_BUDGET_S,
        timeout_func=time_left,
        startup_timeout=60,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},  # the kernel's working dir
    )
    # raises CellExecutionError (with the traceback) on a failing cell
    client.execute(env={**os.environ, **SINGLE_THREADED})
    errors = [output for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.outputs if output.output_type == "error"]
    assert errors == []
    ran = [cell.execution_count for cell in notebook.cells if cell.cell_type == "code"]
    assert ran and all(count is not None for count in ran), "some code cells did not run"
