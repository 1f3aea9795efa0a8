# kvm-balancer: the two commands are `make demo` and `make test`.
# Each sets up what it needs on a fresh Debian machine: Debian packages (as root, when
# missing), a virtualenv in .venv with `pip install -e '.[dev]'`.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck unit system-packages clean help lab-setup lab lab-demo

help:
	@echo "make demo   - kvm-balancer at work on a simulated fleet (about 3 minutes)"
	@echo "make lab-demo - the same on real libvirt hosts and QEMU guests (root, about 4 minutes)"
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

# The whole system at work on a simulated fleet, about three minutes (docs/daemon.md):
# a private redis-server, the fleet, two workers and two daemons, a live view, a summary.
demo: $(STAMP)
	$(BIN)/balancer demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Two lanes side by side: the lab's tests (QEMU guests on libvirt, mostly waiting on
# migrations) beside all the others (mostly waiting on processes, Redis and simulated
# fleets); one after the other they took about 22 minutes on a 2-core machine, side by
# side about 14. The lab lane's output is printed after the other's; either failing fails.
unit: $(STAMP)
	@lablog=$$(mktemp); \
	$(BIN)/pytest -q -m lab > $$lablog 2>&1 & labpid=$$!; \
	$(BIN)/pytest -q -m "not lab"; rest=$$?; \
	wait $$labpid; lab=$$?; \
	echo "--- the lab lane (pytest -m lab), run beside the others ---"; cat $$lablog; rm -f $$lablog; \
	test $$rest -eq 0 && test $$lab -eq 0

# The libvirt/QEMU lab (docs/lab.md), as root: packages from bookworm-backports and the
# test guest (kernel + initramfs) in /var/cache/kvm-balancer-lab. Without root it only
# says so, and the lab tests fail saying how to run them (never skip).
lab-setup: $(STAMP)
	bash deploy/lab/setup.sh

# The demo on the lab's real libvirt hosts and QEMU guests, at real speed, about four
# minutes (docs/lab.md, "The lab demo"); as root, else it says so and fails.
lab-demo: lab-setup
	$(BIN)/balancer lab demo

lab: lab-setup
	$(BIN)/balancer lab up --hosts 2
	$(BIN)/balancer lab status

test: lint typecheck lab-setup unit

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
