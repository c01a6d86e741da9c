#!/usr/bin/env bash
# Installs what build.sh and boot-test.sh need, from Debian's archive (root): vmdb2, debootstrap,
# qemu-user-static + binfmt-support (arm64 chroot), qemu-system-arm (boot test), partitioning and FAT
# tools (parted, kpartx, dosfstools, mtools), zerofree, xz. Idempotent.
set -euo pipefail
pkgs=(vmdb2 debootstrap qemu-user-static binfmt-support qemu-system-arm dosfstools mtools parted kpartx
  zerofree xz-utils curl file)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { echo "ok: images/raspi tools installed"; exit 0; }
apt-get update -qq
# qemu-system-arm must match qemu-utils' version: a qemu-utils from backports blocks bookworm's
# qemu-system-common, so pin qemu-utils to the version qemu-system-arm comes in.
version=$(apt-cache policy qemu-system-arm | awk '/Candidate:/ {print $2}')
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends --allow-downgrades \
  "qemu-utils=$version" "${missing[@]}"
echo "ok: installed ${missing[*]}"
