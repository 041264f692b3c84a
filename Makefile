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

.PHONY: install test test-avx2 test-quick demo lint gpu-check

# The check fails, naming the fix, where torch sees a GPU and the installed
# mmcv has no CUDA operators (a checkout installed on a CPU login node).
install: $(STAMP)
	@$(PY) tools/misc/mmcv_build.py check >/dev/null

$(STAMP): $(INSTALL_INPUTS)
	VENV=$(VENV) bash tools/misc/install_env.sh
	touch $@

test: install
	$(PY) -m pytest $(PYTEST_ARGS)
	$(MAKE) test-avx2

# The tests whose results depend on the CPU's instruction set (bfloat16,
# fused and custom operators, --amp), again with oneDNN and ATen capped at
# AVX2: a machine with AVX-512 or AMX then fails where an AVX2 CPU would.
test-avx2: install
	ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 \
		$(PY) -m pytest -m cpu_isa $(PYTEST_ARGS)

test-quick: install
	$(PY) -m pytest -m 'not slow' $(PYTEST_ARGS)

demo: install
	$(PY) demo/run_demo.py

# The GPU check (docs/gpu_check.md): on a CUDA machine, installs TensorRT
# for torch's CUDA major version if it is missing, then runs every part and
# prints one table; exits non-zero if a part failed or there is no GPU.
gpu-check: install
	@$(PY) -c 'import torch, sys; sys.exit(not torch.cuda.is_available())' \
		|| { $(PY) tools/misc/gpu_check.py; exit 2; }
	$(PY) -c 'import tensorrt' 2>/dev/null || $(PY) -m pip install \
		-c requirements/pins.txt "tensorrt-cu$$($(PY) -c 'import torch; print(torch.version.cuda.split(".")[0])')" \
		|| echo 'gpu-check: installing tensorrt failed; its parts will say so'
	$(PY) tools/misc/gpu_check.py $(GPU_CHECK_ARGS)

# The hooks of .pre-commit-config.yaml over every tracked file. They are
# local hooks that run this environment's tools (its bin/ first on PATH),
# so nothing is downloaded; the fixers (yapf, isort, whitespace, quotes)
# rewrite what they flag, and the diff is shown.
lint: install
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/pre-commit run \
		--all-files --show-diff-on-failure
