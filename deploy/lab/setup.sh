#!/usr/bin/env bash
# Set up the kvm-balancer lab on this machine (idempotent; as root). Called by
# `make lab-setup`, hence by `make test` and `make lab`.
#
#   1. Debian packages: QEMU and libvirtd from bookworm-backports, cpio, gcc, ...
#      (deploy/bootstrap/system-packages.sh lab)
#   2. the test guest: Debian's kernel + an initramfs with our /init, built into
#      ${KVM_BALANCER_LAB_CACHE:-/var/cache/kvm-balancer-lab}/guest (deploy/lab/build-guest.sh)
#
# libvirt-python is built in the venv by the Makefile (pip --no-cache-dir, against the
# backports libvirt-dev that `system-packages.sh base` installs).
#
# Without root there is nothing it may do: it says so and succeeds, so `make test` still
# runs everything else and the lab tests skip with the same advice. With CI set, a
# missing root is an error, because CI must run the lab tests.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$(id -u)" -ne 0 ]; then
  msg="lab set-up needs root: run \`sudo make lab-setup\`"
  if [ -n "${CI:-}" ]; then echo "error: $msg (CI is set: the lab tests must run)" >&2; exit 1; fi
  echo "skipped: $msg; until then the lab tests are skipped" >&2
  exit 0
fi

start=$(date +%s)
bash deploy/bootstrap/system-packages.sh lab
bash deploy/lab/build-guest.sh
echo "lab set-up done in $(( $(date +%s) - start ))s"
