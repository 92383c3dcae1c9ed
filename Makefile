# The two quickstart commands: `make demo` and `make test`. Each creates .venv when it is
# missing and installs what it needs; the stamp files re-run pip when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' pyproject.toml)

.PHONY: demo test lint figures benchmarks docs gpu-check dist release-check test-versions clean

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

$(VENV)/.stamp-release: pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[release]"
	touch $@

# The wheel and sdist of this version in dist/ (rebuilt), their metadata checked.
dist: $(VENV)/.stamp-release
	rm -f dist/minimal_unet-$(VERSION)-py3-none-any.whl dist/minimal_unet-$(VERSION).tar.gz
	$(PY) -m build --outdir dist .
	$(PY) -m twine check --strict dist/minimal_unet-$(VERSION)-py3-none-any.whl \
		dist/minimal_unet-$(VERSION).tar.gz

# The wheel in a fresh venv outside the checkout: kernels found, demo, assignment make.
release-check: dist
	.ci/release_check.sh $(PYTHON)

# The core suite on the oldest claimed Python with the floor versions of our dependencies,
# and on the newest Python here with the newest releases (venvs in .venv-versions/).
test-versions:
	.ci/test_versions.sh

clean:
	rm -rf $(VENV) .venv-versions build dist *.egg-info runs
