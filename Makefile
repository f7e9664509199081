# sevenp.dbops — `make demo` and `make test` do all of their own set-up on a fresh Debian 12 machine.
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c

ROOT        := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VENV        := $(ROOT)/.venv
PY          := $(VENV)/bin/python
COLL_ROOT   := $(ROOT)/build
COLL_LINK   := $(COLL_ROOT)/ansible_collections/sevenp/dbops
PG_BIN_DIR  ?= /usr/lib/postgresql/15/bin
# The OS user that owns the throwaway PostgreSQL clusters of the demo and the tests (PostgreSQL refuses root).
PG_OS_USER  ?= dbops-pg
APT_PACKAGES := postgresql-15 postgresql-client-15 zstd lz4 git python3-boto3 shellcheck sqitch libdbd-pg-perl \
                pgbouncer haproxy pgbackrest
# Python >= 3.12: ansible-core 2.21 needs it. Prefer an explicit PYTHON, then pyenv's (under PYENV_ROOT, $HOME or the
# user's passwd home: HOME may point elsewhere, and pyenv's shims then find no Python), then python3.12/3.13 on PATH.
PYENV_ROOTS := $(sort $(PYENV_ROOT) $(HOME)/.pyenv $(shell getent passwd "$$(id -u)" | cut -d: -f6)/.pyenv)
PYTHON ?= $(shell for p in $(foreach r,$(PYENV_ROOTS),$(r)/versions/3.12*/bin/python3 $(r)/versions/3.13*/bin/python3) python3.12 python3.13 python3; do \
            "$$p" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && { command -v "$$p"; break; }; done)

export ANSIBLE_CONFIG := $(ROOT)/ansible.cfg
export ANSIBLE_PYTHON_INTERPRETER := $(PY)
export DBOPS_PG_BIN_DIR := $(PG_BIN_DIR)
export DBOPS_PG_OS_USER := $(PG_OS_USER)
# Third-party migration tools the adoption tests run for real (npm packages, under build/tools, never global).
TOOLS_DIR      := $(COLL_ROOT)/tools
DBMATE_VERSION := 2.36.0
export DBOPS_DBMATE := $(TOOLS_DIR)/node_modules/.bin/dbmate
export PATH := $(VENV)/bin:$(PATH)

.PHONY: help setup system-deps venv link tools demo demo-stop test lint typecheck sanity unit integration molecule bench ee-context clean

help:
	@echo "make demo   - set up, start local PostgreSQL + embedded MongoDB-compatible server (blue), a green pair, PgBouncer"
	@echo "              and HAProxy for the blue-green cutover, apply the sample migrations"
	@echo "make test   - set up, then lint, sanity, unit, integration and molecule tests"
	@echo "make bench  - run the benchmarks in bench/ (not part of make test)"
	@echo "make ee-context - the execution environment's build context (build/ee/context)"

setup: system-deps venv link tools

system-deps:
	missing=""
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done
	if [ -n "$$missing" ]; then
	  echo "installing Debian packages:$$missing"
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
	  $$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $$missing
	fi
	if [ "$$(id -u)" = 0 ] && ! id $(PG_OS_USER) >/dev/null 2>&1; then
	  useradd --system --create-home --shell /bin/bash $(PG_OS_USER)
	fi

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -n "$(PYTHON)" || { echo "Python >= 3.12 not found: set PYTHON=/path/to/python3.12"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

tools: system-deps
	if ! "$(DBOPS_DBMATE)" --version 2>/dev/null | grep -q "$(DBMATE_VERSION)"; then
	  # npm comes with Node.js; Debian's own npm package only when there is none (it conflicts with other Node builds).
	  if ! command -v npm >/dev/null; then
	    if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
	    $$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends npm
	  fi
	  mkdir -p $(TOOLS_DIR)
	  npm install --no-audit --no-fund --loglevel=error --prefix $(TOOLS_DIR) dbmate@$(DBMATE_VERSION)
	fi

link:
	mkdir -p $(dir $(COLL_LINK))
	ln -sfn ../../.. $(COLL_LINK)

demo: setup
	$(PY) tests/support/demo.py up
	ansible-playbook -i inventories/local playbooks/migrate.yml
	$(PY) tests/support/demo.py report

demo-stop:
	$(PY) tests/support/demo.py down

test: setup lint sanity unit integration molecule

lint: typecheck
	ruff check .
	yamllint -s .
	ansible-lint --profile production

# The engine and the Ansible-side glue, type-checked under the name Ansible imports them by.
typecheck: link
	cd $(COLL_ROOT) && $(PY) -m mypy --config-file $(ROOT)/pyproject.toml -p ansible_collections.sevenp.dbops.plugins.module_utils

sanity:
	bash tests/sanity/run.sh

unit:
	$(PY) -m pytest tests/unit -q

integration:
	# Two workers: the tests start their own servers on free ports under their own temp dirs, so they can share a machine.
	# By file: the tests of a file share one set of servers (module fixtures) and some run in order on it.
	$(PY) -m pytest tests/integration -q -n 2 --dist loadfile

molecule:
	bash molecule/run.sh

# The execution environment's build context (execution-environment.yml): the collection's tarball, then
# ansible-builder's Containerfile and files; build the image with podman/docker build build/ee/context.
ee-context: venv
	rm -rf $(ROOT)/build/ee && mkdir -p $(ROOT)/build/ee/dist
	ansible-galaxy collection build --force --output-path $(ROOT)/build/ee/dist $(ROOT)
	cp $(ROOT)/build/ee/dist/sevenp-dbops-*.tar.gz $(ROOT)/build/ee/sevenp-dbops.tar.gz
	ansible-builder create -f $(ROOT)/execution-environment.yml -c $(ROOT)/build/ee/context \
	  --output-filename Containerfile

bench: setup
	bash bench/run_all.sh

clean:
	rm -rf build tests/output .pytest_cache reports/*.json
