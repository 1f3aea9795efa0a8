#!/usr/bin/env bash
# Build the lab's disk-less test guest into a cache directory (idempotent, as root):
#
#   deploy/lab/build-guest.sh [CACHE_DIR]     # default /var/cache/kvm-balancer-lab
#
#   CACHE_DIR/guest/vmlinux          Debian's kernel, uncompressed (boots ~2x faster on TCG)
#   CACHE_DIR/guest/initramfs.cpio   /init = deploy/lab/guest-init.c, static
#   CACHE_DIR/guest/manifest.json    what balancer.lab reads (paths, versions)
#   CACHE_DIR/guest/modules/         the kernel's virtio block modules (from the same package)
#   CACHE_DIR/guest/initramfs-disk.cpio
#                                    the same /init, plus /disk-init (guest-disk.c: loads
#                                    the modules, checks /dev/vda, then execs /init) for
#                                    guests booted with rdinit=/disk-init
#   CACHE_DIR/guest/initramfs-disk.sha256   what initramfs-disk.cpio was built from
#
# The kernel comes from the Debian archive (`apt-get download`, no install). It and its
# modules are kept once fetched; the initramfs are rebuilt when their sources change.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${1:-${KVM_BALANCER_LAB_CACHE:-/var/cache/kvm-balancer-lab}}
out=$cache/guest
mkdir -p "$out"

init_sum=$(sha256sum "$here/guest-init.c" | cut -d' ' -f1)
disk_sum=$(cat "$here/guest-init.c" "$here/guest-disk.c" | sha256sum | cut -d' ' -f1)
MODULES="virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk"
if [ -f "$out/manifest.json" ] && grep -q "\"init_sha256\": \"$init_sum\"" "$out/manifest.json" \
   && [ -s "$out/vmlinux" ] && [ -s "$out/initramfs.cpio" ] && [ -s "$out/initramfs-disk.cpio" ] \
   && [ "$(cat "$out/initramfs-disk.sha256" 2>/dev/null)" = "$disk_sum" ]; then
  echo "lab guest: up to date in $out"
  exit 0
fi

work=$(mktemp -d /tmp/kbl-guest.XXXXXX)
trap 'rm -rf "$work"' EXIT

# --- kernel -------------------------------------------------------------------------
if [ ! -s "$out/vmlinux" ] || [ ! -s "$out/kernel-package" ] || [ ! -s "$out/modules/virtio_blk.ko" ]; then
  kernel_pkg() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'; }
  # The kernel fetched before (its modules must match it), else the current one.
  pkg=$(cat "$out/kernel-package" 2>/dev/null || true)
  [ -n "$pkg" ] || pkg=$(kernel_pkg)
  if [ -z "$pkg" ]; then apt-get update -qq; pkg=$(kernel_pkg); fi
  [ -n "$pkg" ] || { echo "no linux-image-*-amd64 package known to apt" >&2; exit 1; }
  echo "lab guest: downloading $pkg"
  chmod 0777 "$work"   # apt-get download runs as _apt and writes here
  (cd "$work" && apt-get download -qq "$pkg")
  dpkg-deb --fsys-tarfile "$work"/"$pkg"_*.deb | tar -x -C "$work" --wildcards './boot/vmlinuz-*' \
    './lib/modules/*/kernel/drivers/virtio/*' './lib/modules/*/kernel/drivers/block/virtio_blk.ko*'
  mkdir -p "$out/modules"
  for m in $MODULES; do
    f=$(find "$work/lib/modules" -name "$m.ko*" | head -n1)
    [ -n "$f" ] || continue   # built into the kernel
    case "$f" in
      *.xz) xz -dc "$f" > "$out/modules/$m.ko" ;;
      *.zst) zstd -qdc "$f" > "$out/modules/$m.ko" ;;
      *) cp "$f" "$out/modules/$m.ko" ;;
    esac
  done
  # The bzImage carries the kernel as an xz stream; the uncompressed ELF (with a PVH
  # entry point) skips the in-guest decompression, which is slow under TCG.
  python3 - "$work"/boot/vmlinuz-* "$work/vmlinux" <<'EOF'
import lzma, sys
data = open(sys.argv[1], "rb").read()
at = data.find(b"\xfd7zXZ\x00")
if at < 0:
    sys.exit("no xz payload in " + sys.argv[1])
elf = lzma.LZMADecompressor().decompress(data[at:])
if elf[:4] != b"\x7fELF":
    sys.exit("xz payload is not an ELF kernel")
open(sys.argv[2], "wb").write(elf)
EOF
  mv "$work/vmlinux" "$out/vmlinux"
  echo "$pkg" > "$out/kernel-package"
fi

# --- initramfs ----------------------------------------------------------------------
root=$work/root
mkdir -p "$root"/{dev,proc,sys}
gcc -static -O2 -Wall -Wextra -Werror -o "$root/init" "$here/guest-init.c"
strip "$root/init"
mknod -m 600 "$root/dev/console" c 5 1
mknod -m 666 "$root/dev/null" c 1 3
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) > "$work/initramfs.cpio"
mv "$work/initramfs.cpio" "$out/initramfs.cpio"

# The disk-checking guest: the same /init plus /disk-init and the virtio block modules.
gcc -static -O2 -Wall -Wextra -Werror -o "$root/disk-init" "$here/guest-disk.c"
strip "$root/disk-init"
mkdir -p "$root/lib/modules"
cp "$out"/modules/*.ko "$root/lib/modules/" 2>/dev/null || true
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) > "$work/initramfs-disk.cpio"
mv "$work/initramfs-disk.cpio" "$out/initramfs-disk.cpio"
echo "$disk_sum" > "$out/initramfs-disk.sha256"

cat > "$out/manifest.json" <<EOF
{
  "kernel": "$out/vmlinux",
  "initrd": "$out/initramfs.cpio",
  "kernel_package": "$(cat "$out/kernel-package")",
  "init_sha256": "$init_sum"
}
EOF
echo "lab guest: built in $out"
