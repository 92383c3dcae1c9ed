"""Build the course site: `make docs` (python docs/build_site.py).

1. Stage every page into build/site_src/, laid out like the repository so that the
   README's relative links work unchanged:
       index.md                 README.md (the home page)
       notebooks/NN_*.ipynb     the eight notebooks, executed, with their outputs
       notebooks/README.md      how to run them (Jupyter, VS Code, Colab)
       docs/*.md, docs/figures  the guides (step-through, GPU, Numba, assignments)
       benchmarks/results/*.md  the benchmark and real-data tables, and an index of them
       api/*.md                 the API reference, written from the docstrings
2. Run `mkdocs build --strict -f docs/mkdocs.yml` into build/site/. Strict: a broken link,
   a page missing from the nav's targets or a notebook cell that raises fails the build.

Each notebook is executed once: the executed copy is kept in build/executed_notebooks/
with a key (sha256 of the notebook's .py and of every file of minimal_unet/ and kernels/)
and reused while the key matches. tests/test_notebooks.py writes the same copies when it
runs the notebooks, so in CI (`make test`, then `make docs`) nothing runs twice.

Nothing outside build/ is written. The notebooks run as tests/test_notebooks.py runs
them: a fresh `python3` kernel, notebooks/ as working directory, one BLAS thread.
"""

import argparse
import hashlib
import importlib
import inspect
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
BUILD = REPO / "build"
STAGE = BUILD / "site_src"
SITE = BUILD / "site"
EXECUTED = BUILD / "executed_notebooks"
CONFIG = REPO / "docs" / "mkdocs.yml"
NOTEBOOK_BUDGET_S = 300
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
KEY_FIELD = "minimal_unet_source_key"

# The API reference: one page per module, every public function and class.
API_MODULES = ["ops", "model", "gradcheck", "metrics", "weight_map", "infer", "train", "validation"]

GUIDES = ["step_through.md", "speed.md", "real_data.md", "gpu.md", "numba.md", "assignments.md",
          "site.md"]
ASSIGNMENTS_PLACEHOLDER = """# For teachers: the assignments

The assignment guide for teachers (`docs/assignments.md`) is not in this checkout yet.
Until it is, `minimal-unet assignment --help` lists the commands that make, hand out and
grade the assignments.
"""


def notebook_scripts():
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def source_key(script):
    """sha256 of the notebook's .py and of the package's and kernels' sources (.py, .cu,
    .h): what the notebook's outputs depend on."""
    digest = hashlib.sha256()
    files = [script] + sorted(p for folder in ("minimal_unet", "kernels")
                              for p in (REPO / folder).rglob("*")
                              if p.suffix in (".py", ".cu", ".h") and "__pycache__" not in p.parts)
    for path in files:
        digest.update(str(path.relative_to(REPO)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def executed_copy(script):
    return EXECUTED / f"{script.stem}.ipynb"


def save_executed(notebook, script, key):
    """Keep an executed notebook for the site (written atomically, under build/ only)."""
    import nbformat

    EXECUTED.mkdir(parents=True, exist_ok=True)
    notebook.metadata[KEY_FIELD] = key
    target = executed_copy(script)
    partial = target.with_suffix(".ipynb.partial")
    nbformat.write(notebook, partial)
    partial.replace(target)


def execute_notebook(script, budget_s=NOTEBOOK_BUDGET_S):
    """Run the notebook of `script` top to bottom; returns it with its outputs. A cell that
    raises raises nbclient's CellExecutionError (with the cell's traceback)."""
    import jupytext
    import nbclient

    notebook = jupytext.read(script)
    deadline = time.monotonic() + budget_s
    client = nbclient.NotebookClient(
        notebook, kernel_name="python3", timeout=budget_s,
        timeout_func=lambda _cell: max(1, int(deadline - time.monotonic())),
        startup_timeout=60, resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute(env={**os.environ, **SINGLE_THREADED})
    errors = [output for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.outputs if output.output_type == "error"]
    if errors:
        raise RuntimeError(f"{script.name}: {len(errors)} cell(s) raised")
    return notebook


def executed_notebook(script):
    """Path of an executed copy of the notebook that matches its current sources."""
    import nbformat

    key = source_key(script)
    target = executed_copy(script)
    if target.is_file() and nbformat.read(target, as_version=4).metadata.get(KEY_FIELD) == key:
        print(f"  {script.stem}: reusing {target.relative_to(REPO)}")
        return target
    start = time.monotonic()
    notebook = execute_notebook(script)
    save_executed(notebook, script, key)
    print(f"  {script.stem}: executed in {time.monotonic() - start:.0f} s")
    return target


def public_members(module):
    """(name, object) of the module's public functions and classes: its __all__ when it has
    one, otherwise every public function or class defined in the module itself."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [name for name, obj in vars(module).items()
                 if not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
                 and obj.__module__ == module.__name__]
    return [(name, getattr(module, name)) for name in names]


def _docstring_block(obj):
    doc = inspect.getdoc(obj)
    if not doc:
        raise ValueError(f"{obj.__module__}.{obj.__qualname__} has no docstring")
    # The docstrings are plain text laid out for a terminal (aligned tables, formulas):
    # shown as written, in a text block.
    return f"```text\n{doc}\n```\n"


def _signature(obj):
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"


def api_page(module_name):
    """Markdown for one module: its docstring, then each public function and class (with its
    public methods), each with its signature, docstring and source file."""
    module = importlib.import_module(f"minimal_unet.{module_name}")
    lines = [f"# minimal_unet.{module_name}\n", _docstring_block(module)]
    for name, obj in public_members(module):
        kind = "class" if inspect.isclass(obj) else "function"
        source = Path(inspect.getsourcefile(obj)).relative_to(REPO)
        lines.append(f"## `{name}`\n")
        lines.append(f"```python\n{kind} {name}{_signature(obj)}\n```\n")
        lines.append(f"Defined in `{source}`.\n")
        lines.append(_docstring_block(obj))
        if inspect.isclass(obj):
            for method_name, method in vars(obj).items():
                if method_name.startswith("_") or not callable(method):
                    continue
                lines.append(f"### `{name}.{method_name}`\n")
                lines.append(f"```python\n{method_name}{_signature(method)}\n```\n")
                if inspect.getdoc(method):
                    lines.append(_docstring_block(method))
    return "\n".join(lines)


def benchmark_index():
    pages = sorted((REPO / "benchmarks" / "results").glob("*.md"))
    lines = ["# Benchmarks and real data\n",
             "The recorded results of the scripts in `benchmarks/` (each page says the "
             "command that made it and the machine it ran on).\n"]
    for page in pages:
        title = page.read_text().splitlines()[0].lstrip("# ").strip()
        lines.append(f"- [{title}](results/{page.name}) (`{page.name}`)")
    if (REPO / "docs" / "figures" / "benchmarks.png").is_file():
        lines.append("\n![Benchmarks](../docs/figures/benchmarks.png)")
    return "\n".join(lines) + "\n"


LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)\s]*)?\)")


def copy_link_targets():
    """Copy into the stage every file of the repository that a staged page links to and
    that is not staged yet (a source file the README points at, say), so the link works on
    the site. A link to a file that is not in the repository is left as it is, and
    `mkdocs build --strict` fails on it."""
    for page in list(STAGE.rglob("*.md")):
        for target in LINK.findall(page.read_text()):
            if "://" in target or target.startswith(("mailto:", "/")):
                continue
            staged = (page.parent / target).resolve()
            if staged.exists() or not staged.is_relative_to(STAGE):
                continue
            original = REPO / staged.relative_to(STAGE)
            if original.is_file():
                staged.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(original, staged)


def stage():
    """Write build/site_src from the repository (removed and rebuilt every time)."""
    if STAGE.exists():
        shutil.rmtree(STAGE)
    (STAGE / "notebooks").mkdir(parents=True)
    (STAGE / "docs").mkdir()
    (STAGE / "benchmarks" / "results").mkdir(parents=True)
    (STAGE / "api").mkdir()

    shutil.copy(REPO / "README.md", STAGE / "index.md")
    shutil.copy(NOTEBOOKS / "README.md", STAGE / "notebooks" / "README.md")
    for guide in GUIDES:
        source = REPO / "docs" / guide
        if source.is_file():
            shutil.copy(source, STAGE / "docs" / guide)
        elif guide == "assignments.md":
            print("  docs/assignments.md is missing: staging a placeholder page")
            (STAGE / "docs" / guide).write_text(ASSIGNMENTS_PLACEHOLDER)
        else:
            raise FileNotFoundError(f"docs/{guide} is missing (the site's nav lists it)")
    shutil.copytree(REPO / "docs" / "figures", STAGE / "docs" / "figures")
    shutil.copy(REPO / "docs" / "site.css", STAGE / "docs" / "site.css")
    for page in (REPO / "benchmarks" / "results").glob("*.md"):
        shutil.copy(page, STAGE / "benchmarks" / "results" / page.name)
    (STAGE / "benchmarks" / "index.md").write_text(benchmark_index())
    for module_name in API_MODULES:
        (STAGE / "api" / f"{module_name}.md").write_text(api_page(module_name))
    copy_link_targets()

    print("notebooks (executed once, then reused while their sources are unchanged):")
    for script in notebook_scripts():
        shutil.copy(executed_notebook(script), STAGE / "notebooks" / f"{script.stem}.ipynb")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage-only", action="store_true",
                        help="write build/site_src and stop (no mkdocs build)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))  # document (and run) this checkout's package
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    stage()
    if args.stage_only:
        return 0
    # cwd build/: mkdocs-jupyter keeps its cache in ./.cache
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--clean",
                           "-f", str(CONFIG)], cwd=BUILD,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    if done.returncode != 0:
        print("mkdocs build --strict failed (see its warnings above)", file=sys.stderr)
        return done.returncode
    print(f"site written to {SITE.relative_to(REPO)}/ (open index.html)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
