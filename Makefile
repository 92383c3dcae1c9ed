# The two quickstart commands: `make demo` and `make test`. Each creates .venv when it is
# missing and installs what it needs; the stamp files re-run pip when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: demo test lint figures benchmarks docs gpu-check clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.stamp-demo: pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.stamp-test: pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[test,oracle,gpu-ci,notebooks]"
	touch $@ $(VENV)/.stamp-demo

demo: $(VENV)/.stamp-demo
	$(PY) -m minimal_unet demo

lint: $(VENV)/.stamp-test
	$(PY) -m ruff check .

# The Numba CUDA simulator is chosen by NUMBA_ENABLE_CUDASIM at import time, so its tests
# run in a pytest process of their own.
test: $(VENV)/.stamp-test lint
	$(PY) -m pytest tests --ignore=tests/cudasim
	NUMBA_ENABLE_CUDASIM=1 $(PY) -m pytest tests/cudasim

figures: $(VENV)/.stamp-test
	$(PY) docs/make_figures.py

benchmarks: $(VENV)/.stamp-test
	$(PY) benchmarks/ops.py
	$(PY) benchmarks/step.py

# The course site (docs/site.md): pages staged into build/site_src, `mkdocs build --strict`
# into build/site. tests/test_site.py checks it in headless Chromium (Debian's package,
# installed here when missing).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(VENV)/.stamp-docs: pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[notebooks,gpu-ci,docs]"
	touch $@ $(VENV)/.stamp-demo

docs: $(VENV)/.stamp-docs
	command -v chromium >/dev/null || { $(SUDO) apt-get update && \
		$(SUDO) apt-get install -y --no-install-recommends chromium; }
	$(PY) docs/build_site.py

# On a GPU machine: every GPU test, compute-sanitizer (when present), one paper-size step
# per GPU backend against NumPy, and the GPU benchmark; JSON + markdown under
# benchmarks/results/. GPU_EXTRA=cuda12 for a CUDA 12 driver (docs/gpu.md).
GPU_EXTRA ?= gpu
$(VENV)/.stamp-gpu-$(GPU_EXTRA): pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[test,oracle,$(GPU_EXTRA)]"
	touch $@

gpu-check: $(VENV)/.stamp-gpu-$(GPU_EXTRA)
	$(PY) benchmarks/gpu.py --check

clean:
	rm -rf $(VENV) build dist *.egg-info runs
