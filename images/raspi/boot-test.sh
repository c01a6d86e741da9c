#!/usr/bin/env bash
# Boots the Raspberry Pi 4 image's own kernel, initrd and root file system under qemu-system-aarch64
# (TCG, `-M virt`: qemu has no Pi 4 machine) and checks from outside that the image works:
# systemd started p2pfaas-node from the first-boot configuration on the FAT partition, its eBPF
# programs loaded on the arm64 kernel (the tp_btf kind, and the classic kind when forced), the maps are
# pinned, echo is served and /monitoring/load says ebpf. Prints those facts; exits non-zero otherwise.
#
#   images/raspi/boot-test.sh IMAGE.img[.xz]        # root (loop mounts), ~5-10 min on 2 cores
#
# The image file is not modified: a copy is booted, with a cluster key dropped on its FAT partition
# (as a user would) and, on its root file system, a test-only unit that prints what only the guest
# can see (kernel version, `bpftool prog show`, the pin directory, a node forced to the classic
# programs) to the serial console, which this script reads.
set -euo pipefail
image=${1:?usage: boot-test.sh IMAGE.img[.xz]}
timeout_s=${BOOT_TEST_TIMEOUT:-900}
[ "$(id -u)" = 0 ] || { echo "FAIL: boot-test.sh needs root (loop mounts)" >&2; exit 1; }
for tool in qemu-system-aarch64 mcopy partx losetup curl xz; do
  command -v "$tool" >/dev/null 2>&1 || { echo "FAIL: $tool is missing; run images/raspi/setup.sh" >&2; exit 1; }
done

work=$(mktemp -d /var/tmp/p2pfaas-boot-test.XXXXXX)
mnt=$work/root
qemu_pid=
loop=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
  [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null
  mountpoint -q "$mnt" && umount "$mnt"
  [ -n "$loop" ] && losetup -d "$loop"
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$work/console.log" ] && tail -n 40 "$work/console.log" >&2; exit 1; }

disk=$work/disk.img
case "$image" in
  *.xz) xz -dc "$image" | dd of="$disk" bs=1M conv=sparse status=none ;;
  *) cp --sparse=always "$image" "$disk" ;;
esac
# Partition offsets (bytes) from the MBR, read in userspace: no kernel partition support needed.
fat_start=$(partx -g -o START -n 1 "$disk" | tr -d ' ')
read -r root_start root_sectors < <(partx -g -o START,SECTORS -n 2 "$disk")
fat="$disk@@$((fat_start * 512))"

# What a user does on a laptop: drop the fleet's key next to p2pfaas.toml.
mdir -i "$fat" ::/p2pfaas.toml >/dev/null || fail "no p2pfaas.toml on the FAT partition"
head -c 32 /dev/urandom | base64 > "$work/cluster.key"
mcopy -i "$fat" "$work/cluster.key" ::/cluster.key

mkdir -p "$mnt"
loop=$(losetup -f --show -o $((root_start * 512)) --sizelimit $((root_sectors * 512)) "$disk")
mount "$loop" "$mnt"
kernel=$(find "$mnt/boot" -maxdepth 1 -name 'vmlinuz-*' | sort -V | tail -n 1)
initrd=$(find "$mnt/boot" -maxdepth 1 -name 'initrd.img-*' | sort -V | tail -n 1)
if [ -z "$kernel" ] || [ -z "$initrd" ]; then
  fail "no kernel or initrd in the image's /boot"
fi
cp "$kernel" "$work/vmlinuz"
cp "$initrd" "$work/initrd.img"
install -m 0755 "$(dirname "$0")/boot-test-guest.sh" "$mnt/usr/local/sbin/p2pfaas-boot-test"
cat > "$mnt/etc/systemd/system/p2pfaas-boot-test.service" <<'UNIT'
[Unit]
Description=p2pfaas boot test (added to a copy of the image by boot-test.sh)
Wants=p2pfaas-node.service
After=p2pfaas-node.service
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/p2pfaas-boot-test
StandardOutput=tty
TTYPath=/dev/ttyAMA0
[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/p2pfaas-boot-test.service "$mnt/etc/systemd/system/multi-user.target.wants/"
umount "$mnt"
losetup -d "$loop"
loop=

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
started=$(date +%s)
qemu-system-aarch64 -M virt -accel tcg,thread=multi -cpu cortex-a72 -smp 2 -m 1024 \
  -kernel "$work/vmlinuz" -initrd "$work/initrd.img" \
  -append "root=LABEL=RASPIROOT rw rootwait console=ttyAMA0 systemd.show_status=false" \
  -drive if=none,file="$disk",format=raw,id=disk0 -device virtio-blk-pci,drive=disk0 \
  -netdev user,id=net0,hostfwd=tcp:127.0.0.1:"$port"-:18080 -device virtio-net-pci,netdev=net0,romfile= \
  -display none -serial file:"$work/console.log" -no-reboot &
qemu_pid=$!

url=http://127.0.0.1:$port
until curl -sf -m 5 "$url/readyz" >/dev/null; do
  kill -0 "$qemu_pid" 2>/dev/null || fail "qemu exited"
  [ $(( $(date +%s) - started )) -lt "$timeout_s" ] || fail "the node did not answer /readyz within $timeout_s s"
  sleep 5
done
echo "node ready after $(( $(date +%s) - started )) s (TCG)"
until grep -q '^BOOTTEST done' "$work/console.log"; do
  kill -0 "$qemu_pid" 2>/dev/null || fail "qemu exited before the guest checks finished"
  [ $(( $(date +%s) - started )) -lt "$timeout_s" ] || fail "the guest checks did not finish within $timeout_s s"
  sleep 5
done
grep '^BOOTTEST ' "$work/console.log" | sed 's/^BOOTTEST /guest: /' | tr -d '\r'

failed=0
# check DESCRIPTION TEXT PATTERN: TEXT has a line matching the extended regex PATTERN.
check() {
  if grep -Eq -- "$3" <<<"$2"; then echo "ok: $1"; else echo "FAIL: $1" >&2; failed=1; fi
}
echoed=$(curl -sf -m 10 -X POST --data-binary 'hello from the host' "$url/function/echo" || true)
load=$(curl -sf -m 10 "$url/monitoring/load" || true)
metrics=$(curl -sf -m 10 "$url/metrics" || true)
guest=$(tr -d '\r' < "$work/console.log")
check "systemd started p2pfaas-node as p2pfaas" "$guest" '^BOOTTEST unit active user=p2pfaas$'
check "first boot imported the cluster key from the FAT partition" "$guest" '^BOOTTEST key imported$'
check "echo served (got \"$echoed\")" "$echoed" '^hello from the host$'
check "/monitoring/load source is ebpf" "$load" '"source": *"ebpf"'
check "tp_btf programs attached on arm64" "$metrics" '^p2pfaas_ebpf_programs_info\{kind="tp_btf"\} 1$'
check "maps pinned in /sys/fs/bpf/p2pfaas" "$guest" '^BOOTTEST pins .*CPU_STATS'
check "classic (raw_tp) programs load on arm64 when forced" "$guest" '^BOOTTEST classic kind="raw_tp" pins=[1-9]'
echo "load: $load"
echo "boot test: $(( $(date +%s) - started )) s"
exit "$failed"
