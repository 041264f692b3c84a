# Two-command set-up: `make demo` runs the main job, `make test` the tests.
# Both install the pinned environment into .venv first if it is missing or
# out of date (see tools/misc/install_env.sh and requirements/pins.txt).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.mmhornet-installed
INSTALL_INPUTS := requirements/pins.txt requirements/runtime.txt \
	requirements/mminstall.txt requirements/tests.txt \
	requirements/cls.txt requirements/det.txt requirements/seg.txt \
	requirements/optional.txt requirements/deploy.txt setup.py \
	tools/misc/install_env.sh tools/misc/mmcv_build.py pyproject.toml \
	$(wildcard mmhornet/ops/csrc/*.cpp)
PYTEST_ARGS ?=

.PHONY: install test test-quick demo lint

# The check fails, naming the fix, where torch sees a GPU and the installed
# mmcv has no CUDA operators (a checkout installed on a CPU login node).
install: $(STAMP)
	@$(PY) tools/misc/mmcv_build.py check >/dev/null

$(STAMP): $(INSTALL_INPUTS)
	VENV=$(VENV) bash tools/misc/install_env.sh
	touch $@

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

test-quick: install
	$(PY) -m pytest -m 'not slow' $(PYTEST_ARGS)

demo: install
	$(PY) demo/run_demo.py

# The hooks of .pre-commit-config.yaml over every tracked file. They are
# local hooks that run this environment's tools (its bin/ first on PATH),
# so nothing is downloaded; the fixers (yapf, isort, whitespace, quotes)
# rewrite what they flag, and the diff is shown.
lint: install
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/pre-commit run \
		--all-files --show-diff-on-failure
