#!/usr/bin/env bash
# Stand-in for kpartx on build hosts whose kernel has no device-mapper (VMs and containers without
# dm-mod): maps each partition of an image file to its own loop device at the partition's offset,
# which needs neither device-mapper nor kernel partition support, and prints kpartx's "add map"
# lines, the only output vmdb2 reads. build.sh puts it first on PATH as `kpartx` only when
# the kernel has no device-mapper (no device-mapper line in /proc/misc).
#   kpartx -asv IMAGE     map the partitions (names: /dev/mapper/vmdb2-loopN-partK -> /dev/loopN)
#   kpartx -dsv IMAGE     unmap them
set -euo pipefail
mode=${1:?usage: kpartx -asv|-dsv IMAGE}
img=$(realpath "${2:?usage: kpartx -asv|-dsv IMAGE}")
case "$mode" in
  -asv)
    mkdir -p /dev/mapper
    partx -g -o NR,START,SECTORS "$img" | while read -r nr start sectors; do
      dev=$(losetup -f --show -o $((start * 512)) --sizelimit $((sectors * 512)) "$img")
      name=vmdb2-$(basename "$dev")-part$nr
      ln -sfn "$dev" "/dev/mapper/$name"
      echo "add map $name (0:0): 0 $sectors linear $dev $start"
    done
    ;;
  -dsv)
    for link in /dev/mapper/vmdb2-loop*-part*; do
      [ -L "$link" ] || continue
      dev=$(readlink "$link")
      if [ "$(losetup -n -O BACK-FILE "$dev" 2>/dev/null)" = "$img" ]; then
        losetup -d "$dev"
        rm -f "$link"
        echo "del devmap : $(basename "$link")"
      fi
    done
    ;;
  *) echo "kpartx-loop: unsupported mode $mode" >&2; exit 64 ;;
esac
