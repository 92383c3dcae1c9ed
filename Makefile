# The two quickstart commands: `make demo` and `make test`. Each creates .venv when it is
# missing and installs what it needs; the stamp files re-run pip when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' pyproject.toml)

.PHONY: demo test lint figures benchmarks dist release-check test-versions clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.stamp-demo: pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.stamp-test: pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[test,oracle,gpu,notebooks]"
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
