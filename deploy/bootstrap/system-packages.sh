#!/usr/bin/env bash
# Install the Debian packages kvm-balancer needs, when they are missing.
#
#   deploy/bootstrap/system-packages.sh base   # redis-server, libvirt-dev, pkg-config,
#                                              # prometheus (prometheus + promtool: the
#                                              # metrics tests run them)
#   deploy/bootstrap/system-packages.sh lab    # base + QEMU and libvirtd (the test lab)
#   deploy/bootstrap/system-packages.sh prom   # prometheus (promtool)
#
# libvirt and QEMU come from bookworm-backports (libvirt 11.x, QEMU 10.x): Debian 12's own
# QEMU 7.2 loses guest pages when live-migrating a TCG guest that writes memory
# (see docs/lab.md). Idempotent; as non-root it only reports what is missing.
set -euo pipefail

profile=${1:-base}
case "$profile" in
  base) want=(redis-server libvirt-dev pkg-config prometheus) ;;
  lab)  want=(redis-server libvirt-dev pkg-config prometheus qemu-system-x86 libvirt-daemon-system
              libvirt-clients cpio xz-utils busybox-static gcc libc6-dev iproute2
              util-linux mount) ;;
  prom) want=(prometheus) ;;
  *) echo "usage: $0 base|lab|prom" >&2; exit 2 ;;
esac
backported=" libvirt-dev qemu-system-x86 libvirt-daemon-system libvirt-clients "

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
# An older libvirt-dev (Debian 12's 9.0) is upgraded to the backport.
if dpkg-query -W -f='${Version}' libvirt-dev 2>/dev/null | grep -q '^9\.'; then
  missing+=(libvirt-dev)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]} (run as root, or: sudo $0 $profile)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
src=/etc/apt/sources.list.d/bookworm-backports.list
if [ ! -f "$src" ] && grep -qs bookworm /etc/os-release; then
  echo 'deb http://deb.debian.org/debian bookworm-backports main' > "$src"
  rm -f /var/lib/apt/periodic/kvm-balancer-updated
fi
stamp=/var/lib/apt/periodic/kvm-balancer-updated
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +720)" ]; then
  apt-get update -qq
  mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi
plain=(); back=()
for pkg in "${missing[@]}"; do
  if [[ "$backported" == *" $pkg "* ]] && [ -f "$src" ]; then back+=("$pkg"); else plain+=("$pkg"); fi
done
opts=(-y -qq --no-install-recommends -o Dpkg::Options::=--force-confold)
[ ${#plain[@]} -gt 0 ] && apt-get install "${opts[@]}" "${plain[@]}"
[ ${#back[@]} -gt 0 ] && apt-get install "${opts[@]}" -t bookworm-backports "${back[@]}"
exit 0
