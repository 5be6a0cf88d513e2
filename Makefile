# Every target sets itself up: a fresh machine with Python 3.10+ needs nothing else.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CHANNEL ?= build_artifacts

.PHONY: build test test-tools generate check bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(STAMP)

## build: every output, tested, into an indexed channel in build_artifacts/
build: $(STAMP)
	$(BIN)/microarch-level generate --check
	$(BIN)/microarch-level build --output $(CHANNEL)

## test: build, then the whole test suite as this machine is, then the tests that read the CPU
## (seen opening /proc/cpuinfo, tests/cpu_reads.py) again seeing a level-2 CPU (a real sample
## over /proc/cpuinfo); both must pass with the same outcome for every test of the second
test: build
	$(BIN)/python tests/run_suite.py $(PYTEST_ARGS)

## test-tools: the install tests with the real package managers, e.g.
##   make test-tools MICROARCH_LEVEL_MICROMAMBA=/opt/micromamba-2.0.5/bin/micromamba
## (each tool named by MICROARCH_LEVEL_<TOOL>, else found on PATH; PYTEST_ARGS='-k conda' narrows)
TOOL_VARS := MICROARCH_LEVEL_CONDA MICROARCH_LEVEL_MAMBA MICROARCH_LEVEL_MICROMAMBA MICROARCH_LEVEL_PIXI
export $(TOOL_VARS)
test-tools: build
	$(BIN)/python tests/run_tools.py $(PYTEST_ARGS)

## generate: rewrite every file derived from archspec
generate: $(STAMP)
	$(BIN)/microarch-level generate

## check: fail when generated files, or the builds in conda-smithy's .ci_support, differ from what archspec says
check: $(STAMP)
	$(BIN)/microarch-level generate --check

## bench: measure activation, build and solve costs (writes benchmarks/RESULTS.md)
bench: build
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) $(CHANNEL) .pytest_cache .hypothesis
