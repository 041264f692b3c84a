# Two-command set-up: `make demo` runs the main job, `make test` the tests.
# Both install the pinned environment into .venv first if it is missing or
# out of date (see tools/misc/install_env.sh and requirements/pins.txt).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.mmhornet-installed
INSTALL_INPUTS := requirements/pins.txt requirements/runtime.txt \
	requirements/mminstall.txt requirements/tests.txt \
	requirements/deploy.txt setup.py \
	tools/misc/install_env.sh pyproject.toml \
	$(wildcard mmhornet/ops/csrc/*.cpp)
LINT_PATHS := mmhornet tools tests configs demo setup.py
PYTEST_ARGS ?=

.PHONY: install test test-quick demo lint

install: $(STAMP)

$(STAMP): $(INSTALL_INPUTS)
	VENV=$(VENV) bash tools/misc/install_env.sh
	touch $@

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

test-quick: install
	$(PY) -m pytest -m 'not slow' $(PYTEST_ARGS)

demo: install
	$(PY) demo/run_demo.py

lint: install
	$(PY) -m flake8 $(LINT_PATHS)
	$(PY) -m isort --check-only --diff $(LINT_PATHS)
	$(PY) -m yapf --diff --recursive $(LINT_PATHS)
