#!/usr/bin/env bash
# Builds the Raspberry Pi 4 SD-card image (images/raspi/README.md): the static aarch64 node (with its
# eBPF programs when bpf-linker works), then vmdb2 on raspi4.yaml, then xz. Root only (loop devices,
# mounts, chroot). Debian's archive is the only thing it downloads.
#
#   images/raspi/build.sh [--node BIN]      # output: $OUT/p2pfaas-raspi4.img and .img.xz
#
# OUT defaults to $CARGO_TARGET_DIR/raspi (or target/raspi). The rootfs after debootstrap and the
# package installation is cached there (rootfs-bookworm-arm64.tar.gz): delete it to start from empty.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
out=${OUT:-${CARGO_TARGET_DIR:-$repo/target}/raspi}
node=
while [ $# -gt 0 ]; do
  case "$1" in
    --node) node=${2:?--node BIN}; shift 2 ;;
    *) echo "usage: $0 [--node BIN]" >&2; exit 64 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "FAIL: build.sh needs root (vmdb2: loop devices, mounts, chroot)" >&2; exit 1; }
missing=()
for tool in vmdb2 qemu-debootstrap kpartx mkfs.vfat parted zerofree xz; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ -e /usr/libexec/qemu-binfmt/aarch64-binfmt-P ] || [ -e /usr/bin/qemu-aarch64-static ] || missing+=(qemu-user-static)
if [ ${#missing[@]} -gt 0 ]; then
  echo "FAIL: missing ${missing[*]}; run images/raspi/setup.sh" >&2
  exit 1
fi
# debootstrap's second stage runs arm64 binaries through binfmt_misc.
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  update-binfmts --enable qemu-aarch64
fi

# Without device-mapper (many VMs and containers) kpartx cannot map partitions: loop devices at the
# partitions' offsets do the same job (kpartx-loop.sh).
shim=
if ! grep -qw device-mapper /proc/misc; then
  shim=$(mktemp -d)
  trap 'rm -rf "$shim"' EXIT
  ln -s "$repo/images/raspi/kpartx-loop.sh" "$shim/kpartx"
  echo "note: no device-mapper here; partitions are mapped with loop devices (images/raspi/kpartx-loop.sh)"
fi

started=$(date +%s)
if [ -z "$node" ]; then
  target=aarch64-unknown-linux-musl
  features=()
  bpf-linker --version >/dev/null 2>&1 && features=(--features ebpf)
  echo "== node: $target${features:+ with ebpf}"
  nice -n 10 cargo zigbuild --locked --release --target "$target" -p p2pfaas-node --bin p2pfaas-node "${features[@]}"
  node=${CARGO_TARGET_DIR:-$repo/target}/$target/release/p2pfaas-node
fi
file -L "$node" | grep -q 'ARM aarch64' || { echo "FAIL: $node is not an aarch64 binary" >&2; exit 1; }

mkdir -p "$out"
img=$out/p2pfaas-raspi4.img
tarball=$out/rootfs-bookworm-arm64.tar.gz
cached=no
[ -e "$tarball" ] && cached=yes
echo "== vmdb2 (rootfs cache: $cached), log in $out/vmdb2.log"
rm -f "$img" "$img.xz"
PATH=${shim:+$shim:}$PATH P2PFAAS_NODE_BIN=$(realpath "$node") P2PFAAS_SRC=$repo \
  nice -n 10 vmdb2 --verbose --rootfs-tarball "$tarball" --output "$img" --log "$out/vmdb2.log" \
  images/raspi/raspi4.yaml
built=$(date +%s)
echo "== xz"
nice -n 10 xz -T0 -6 -k "$img"
done_at=$(date +%s)
echo "image: $img.xz, $(du -m "$img.xz" | cut -f1) MiB compressed ($(du -m --apparent-size "$img" | cut -f1) MiB raw)"
echo "time: $(( built - started )) s to the image (rootfs cache: $cached), $(( done_at - built )) s xz"
