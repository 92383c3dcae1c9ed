"""The teaching notebooks: each one runs headless from top to bottom, and each committed
.ipynb is exactly what `jupytext --to ipynb` makes of its .py (the source of truth).

    notebooks/NN_name.py     jupytext "percent" script, edited by hand
    notebooks/NN_name.ipynb  generated from it, committed without outputs

Each notebook's first code cell is the setup cell: a no-op where minimal_unet imports,
otherwise it installs it (%pip) from MINIMAL_UNET_SOURCE with the extras that notebook
needs; the tests below run it both ways (the install with a stand-in for %pip).

A notebook runs in a fresh `python3` kernel (the kernel spec of the running interpreter's
environment; jupyter_client starts it with this very interpreter) with notebooks/ as its
working directory, as a reader who opens it in Jupyter would. A cell that raises fails
the test with the cell's traceback, and the whole notebook must finish within
NOTEBOOK_BUDGET_S: the time left of that budget is the timeout of each next cell.

The kernel runs with one BLAS/OpenMP thread. The notebooks' matrices are small, and on a
busy shared machine idle BLAS threads spin-waiting for a core made a training step of
notebook 6 about 20x slower (0.75 s instead of 0.04 s); one thread changes at most the
rounding of BLAS sums, well inside the tolerances the notebooks assert.

Every executed notebook is also kept for the course site (docs/build_site.py), under
build/executed_notebooks/ with the key of its sources, so `make docs` after `make test`
runs no notebook twice. The notebooks run on the data every reader has (notebook 3's
synthetic cells); notebook 3 runs once more on the real DSB 2018 nuclei when
../shared/datasets holds them.
"""

import importlib.util
import os
import re
import time
from pathlib import Path

import pytest

# Optional packages of the "notebooks" extra (pip install -e ".[notebooks]").
jupytext = pytest.importorskip("jupytext", reason="jupytext (the notebooks extra) is missing")
nbclient = pytest.importorskip("nbclient", reason="nbclient (the notebooks extra) is missing")
nbformat = pytest.importorskip("nbformat", reason="nbformat (the notebooks extra) is missing")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
DSB2018 = REPO.parent / "shared" / "datasets" / "dsb2018-nuclei"  # tests may read it
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


def _load_site_builder():
    """docs/build_site.py, for the executed copies it reuses (not an importable package)."""
    spec = importlib.util.spec_from_file_location("build_site", REPO / "docs" / "build_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


site_builder = _load_site_builder()


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


def _run(script, extra_env=None):
    """Every cell runs without an error (their own asserts included) within the budget;
    returns the executed notebook."""
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
    env = {key: value for key, value in os.environ.items() if key != "MINIMAL_UNET_DSB2018"}
    # raises CellExecutionError (with the traceback) on a failing cell
    client.execute(env={**env, **SINGLE_THREADED, **(extra_env or {})})
    errors = [output for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.outputs if output.output_type == "error"]
    assert errors == []
    ran = [cell.execution_count for cell in notebook.cells if cell.cell_type == "code"]
    assert ran and all(count is not None for count in ran), "some code cells did not run"
    return notebook


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_notebook_runs_headless(script):
    key = site_builder.source_key(script)
    notebook = _run(script)
    site_builder.save_executed(notebook, script, key)  # for `make docs`


def test_notebook_3_on_the_real_nuclei():
    """The data set is an argument (MINIMAL_UNET_DSB2018): with it, notebook 3 uses it."""
    if not (DSB2018 / "images").is_dir():
        pytest.skip(f"the DSB 2018 nuclei are not in {DSB2018}")
    notebook = _run(NOTEBOOK_DIR / "03_loss_and_weight_map.py",
                    {"MINIMAL_UNET_DSB2018": str(DSB2018)})
    printed = "".join(output.get("text", "") for cell in notebook.cells
                      if cell.cell_type == "code" for output in cell.outputs)
    assert "using: DSB 2018 nuclei" in printed


def _setup_cell(script):
    """Source of the first code cell, as the kernel gets it."""
    return next(source for kind, source in _cells(jupytext.read(script)) if kind == "code")


def _extras(script):
    return "[gpu]" if script.stem.startswith("08_") else ""


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_setup_cell_names_one_source(script):
    """The first code cell is the setup cell; all eight are the same cell, apart from the
    extras and modules that notebook needs, so the source is named once and alike. It never
    names a bare PyPI requirement: minimal-unet is not on PyPI and the name could be
    someone else's."""
    cell = _setup_cell(script)
    first = _setup_cell(SCRIPTS[0])
    assert "MINIMAL_UNET_SOURCE = " in cell, f"{script.name}: first code cell is not the setup"

    def code(source):  # the cell's code, less the two lines that name what it needs
        return [line for line in source.splitlines() if not line.lstrip().startswith("#")
                and not line.startswith(("EXTRAS = ", "NEEDED = "))]

    assert code(cell) == code(first), f"{script.name}: setup cell differs from notebook 1's"
    assert f'EXTRAS = "{_extras(script)}"' in cell
    source = re.search(r'^MINIMAL_UNET_SOURCE = "(.*)"$', cell, re.M).group(1)
    assert "://" in source or source.endswith(".whl"), source
    assert "pip install minimal-unet" not in cell and "pip install minimal_unet" not in cell


class _FakeIPython:
    """Stands in for the kernel: records the line magics the setup cell calls."""

    def __init__(self):
        self.magics = []

    def run_line_magic(self, name, line):
        self.magics.append((name, line))


def _run_setup(script, monkeypatch, tmp_path, importable):
    import IPython

    shell = _FakeIPython()
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: real_find_spec(name, *args) if importable else None)
    monkeypatch.chdir(tmp_path)
    exec(compile(_setup_cell(script), script.name, "exec"), {})
    return shell.magics


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_setup_cell_is_a_no_op_where_the_package_imports(script, monkeypatch, tmp_path):
    if script.stem.startswith("08_"):
        pytest.importorskip("numba", reason="numba (the gpu extra) is missing")
    assert _run_setup(script, monkeypatch, tmp_path, importable=True) == []


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_setup_cell_installs_the_wheel_with_its_extras(script, monkeypatch, tmp_path):
    """On a fresh kernel the cell %pip-installs the uploaded wheel with the notebook's
    extras; with no wheel and no URL it stops with an error saying what to upload."""
    with pytest.raises(FileNotFoundError, match="upload the wheel"):
        _run_setup(script, monkeypatch, tmp_path, importable=False)
    wheel = tmp_path / "minimal_unet-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    magics = _run_setup(script, monkeypatch, tmp_path, importable=False)
    assert magics == [("pip", f'install --quiet "{wheel}{_extras(script)}"')]
