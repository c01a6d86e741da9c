#!/usr/bin/env bash
# Boots this machine's own root file system as a throw-away systemd container (systemd-nspawn over a
# tmpfs overlay, private network, a fresh bpffs at /sys/fs/bpf) with p2pfaas-node.service, its
# sysusers/tmpfiles entries, node.toml and a test cluster key installed and enabled, then checks from
# inside that systemd started the node as user p2pfaas with its capabilities, that it answers
# /readyz and /healthz, and prints the journal. Needs root and systemd-nspawn (Debian systemd-container);
# the host is left as it was.
# Usage: images/systemd/boot-test.sh NODE_BINARY [--expect-ebpf]
#   --expect-ebpf: the binary has the `ebpf` feature; also require its probes loaded and their maps
#   pinned in /sys/fs/bpf/p2pfaas (the one writable path under /sys)
set -euo pipefail
node_bin=$(realpath "${1:?usage: boot-test.sh NODE_BINARY [--expect-ebpf]}")
expect_ebpf=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "boot-test.sh: needs root" >&2; exit 2; }
command -v systemd-nspawn >/dev/null || { echo "boot-test.sh: needs systemd-nspawn (systemd-container)" >&2; exit 2; }

top=$(mktemp -d /run/p2pfaas-boot.XXXXXX)
cleanup() {
  for m in "$top/root" "$top/bpf" "$top"; do
    if mountpoint -q "$m"; then umount "$m"; fi
  done
  rmdir "$top" 2>/dev/null || true
}
trap cleanup EXIT
mount -t tmpfs tmpfs "$top"
mkdir -p "$top"/{upper,work,root,bpf,out}
mount -t overlay overlay -o "lowerdir=/,upperdir=$top/upper,workdir=$top/work" "$top/root"
# As systemd mounts /sys/fs/bpf on every host: root-only (0700), so only the unit's own
# mounts let the p2pfaas user reach its pin directory.
mount -t bpf -o mode=0700 bpf "$top/bpf"
root=$top/root

install -m 0755 "$node_bin" "$root/usr/bin/p2pfaas-node"
install -m 0644 "$here/p2pfaas-node.service" "$root/etc/systemd/system/p2pfaas-node.service"
install -D -m 0644 "$here/p2pfaas.sysusers" "$root/usr/lib/sysusers.d/p2pfaas.conf"
install -D -m 0644 "$here/p2pfaas.tmpfiles" "$root/usr/lib/tmpfiles.d/p2pfaas.conf"
install -D -m 0644 "$here/node.toml" "$root/etc/p2pfaas/node.toml"
head -c 32 /dev/urandom | base64 > "$root/etc/p2pfaas/cluster.key"
chmod 0644 "$root/etc/p2pfaas/cluster.key"   # the account exists only once sysusers ran inside
rm -rf "$root/var/lib/p2pfaas" "$root/etc/machine-id"
# The results directory is bound on /out: whatever the host has there (the root is the host's / under an
# overlay) is replaced by an empty directory in the overlay only.
rm -rf "$root/out" && mkdir "$root/out"
wants=$root/etc/systemd/system/multi-user.target.wants
mkdir -p "$wants"
ln -sf /etc/systemd/system/p2pfaas-node.service "$wants/"
cat > "$root/etc/systemd/system/p2pfaas-probe.service" <<'UNIT'
[Unit]
Description=boot-test.sh probe of p2pfaas-node.service
After=p2pfaas-node.service

[Service]
Type=oneshot
ExecStart=/bin/bash -c '\
  for i in $(seq 50); do curl -fsS localhost:18080/readyz >/dev/null 2>&1 && break; sleep 0.2; done; \
  { echo "readyz: $(curl -fsS localhost:18080/readyz)"; echo "healthz: $(curl -fsS localhost:18080/healthz)"; \
    echo "active: $(systemctl is-active p2pfaas-node)"; pid=$(systemctl show -P MainPID p2pfaas-node); \
    echo "user: $(ps -o user= -p "$pid")"; grep -E "^Cap(Eff|Amb):" /proc/"$pid"/status; \
    echo "data_dir: $(stat -c "%%U %%a" /var/lib/p2pfaas)"; echo "pin_dir: $(stat -c "%%U %%a" /sys/fs/bpf/p2pfaas)"; \
    ls /sys/fs/bpf/p2pfaas | sed "s/^/pinned: /"; \
    journalctl -u p2pfaas-node --no-pager -o cat; } > /out/result 2>&1; systemctl poweroff'
UNIT
ln -sf /etc/systemd/system/p2pfaas-probe.service "$wants/"
# No network in the container: waiting for it to be "online" would only add two minutes.
ln -sf /dev/null "$root/etc/systemd/system/systemd-networkd-wait-online.service"

# nspawn's own seccomp filter allows bpf() only with CAP_SYS_ADMIN: add the two calls the unit
# allows. tracefs (tracepoint ids for the classic programs) is the host's, read-only.
tracefs=()
if mountpoint -q /sys/kernel/tracing; then tracefs=(--bind-ro=/sys/kernel/tracing); fi
timeout 180 systemd-nspawn -q -D "$root" --keep-unit --register=no --private-network --boot \
  --machine=p2pfaas-boot-test --capability=CAP_BPF,CAP_PERFMON --system-call-filter='bpf perf_event_open' \
  --bind="$top/out:/out" --bind="$top/bpf:/sys/fs/bpf" "${tracefs[@]}" >"$top/console.log" 2>&1 \
  || { tail -30 "$top/console.log" >&2; echo "boot-test.sh: the container failed" >&2; exit 1; }
[ -s "$top/out/result" ] || { tail -30 "$top/console.log" >&2; echo "boot-test.sh: no result" >&2; exit 1; }
cat "$top/out/result"
grep -qx 'readyz: {"status":"ready"}' "$top/out/result" || { echo "boot-test.sh: /readyz did not answer ready" >&2; exit 1; }
grep -qx 'active: active' "$top/out/result" || { echo "boot-test.sh: the unit is not active" >&2; exit 1; }
grep -qx 'user: p2pfaas' "$top/out/result" || { echo "boot-test.sh: the node does not run as p2pfaas" >&2; exit 1; }
# CAP_NET_BIND_SERVICE (10), CAP_NET_ADMIN (12), CAP_PERFMON (38), CAP_BPF (39), and nothing else.
grep -qx $'CapAmb:\t000000c000001400' "$top/out/result" || { echo "boot-test.sh: wrong ambient capabilities" >&2; exit 1; }
if [ "$expect_ebpf" = --expect-ebpf ]; then
  grep -q '"message":"eBPF load probes attached"' "$top/out/result" || { echo "boot-test.sh: eBPF probes not attached" >&2; exit 1; }
  grep -qx 'pinned: NODE_STATE' "$top/out/result" || { echo "boot-test.sh: no maps pinned in /sys/fs/bpf/p2pfaas" >&2; exit 1; }
  echo "boot-test.sh: eBPF probes attached and maps pinned under the unit's sandbox"
fi
echo "boot-test.sh: p2pfaas-node.service started under systemd and answered /readyz"
