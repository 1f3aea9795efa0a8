# kvm-balancer: the two commands are `make demo` and `make test`.
# Each sets up what it needs on a fresh Debian machine: Debian packages (as root, when
# missing), a virtualenv in .venv with `pip install -e '.[dev]'`.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck unit system-packages clean help lab-setup lab

help:
	@echo "make demo   - plan on the bundled example cluster and print the plans"
	@echo "make test   - lint, type-check and run the whole test suite"

system-packages:
	bash deploy/bootstrap/system-packages.sh base

# libvirt-python builds from source against the installed libvirt: --no-cache-dir keeps a
# wheel built against another libvirt version from being reused.
$(STAMP): pyproject.toml deploy/bootstrap/system-packages.sh
	bash deploy/bootstrap/system-packages.sh base
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --no-cache-dir -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	@echo "== balance: even out CPU and memory across active hosts"
	$(BIN)/balancer plan --snapshot config/examples/cluster-small.json --objective balance
	@echo "== consolidate: pack the load on fewest hosts, power the rest off"
	$(BIN)/balancer plan --snapshot config/examples/cluster-small.json --objective consolidate
	@echo "== evacuate kvm-01 before hardware work"
	$(BIN)/balancer plan --snapshot config/examples/cluster-small.json --evacuate kvm-01
	@echo "== evacuate kvm-03: two VMs cannot leave it (exit status 3 says so)"
	$(BIN)/balancer plan --snapshot config/examples/cluster-small.json --evacuate kvm-03; test $$? -eq 3
	@echo "== why does legacy-app stay?"
	$(BIN)/balancer plan --snapshot config/examples/cluster-small.json --evacuate kvm-03 --explain legacy-app

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

# The libvirt/QEMU lab (docs/lab.md), as root: packages from bookworm-backports and the
# test guest (kernel + initramfs) in /var/cache/kvm-balancer-lab. Without root it only
# says so, and the lab tests fail saying how to run them (never skip).
lab-setup: $(STAMP)
	bash deploy/lab/setup.sh

lab: lab-setup
	$(BIN)/balancer lab up --hosts 2
	$(BIN)/balancer lab status

test: lint typecheck lab-setup unit

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
