#!/usr/bin/env bash
# Validates every deployment image under images/ (what CI runs); exits non-zero on any problem.
# Needs the validators images/setup.sh installs, and builds p2pfaas-node (debug) to check each shipped
# configuration with the real `p2pfaas-node --check`.
# Usage: images/check.sh
set -euo pipefail
cd "$(dirname "$0")"
images=$PWD
venv=${P2PFAAS_IMAGES_VENV:-/var/tmp/p2pfaas-images-venv}
PATH="$venv/bin:$PATH"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "images/check.sh: $*" >&2; exit 1; }
section() { echo "== images: $*"; }

section "build p2pfaas-node (debug) for --check"
(cd .. && cargo build -q -p p2pfaas-node)
node_bin="${CARGO_TARGET_DIR:-$images/../target}/debug/p2pfaas-node"
[ -x "$node_bin" ] || fail "no node binary at $node_bin"
head -c 32 /dev/urandom | base64 > "$tmp/cluster.key"

# check_config FILE: the real node accepts FILE, with its cluster_key_file (if any) pointed at a test key.
check_config() {
  local file=$1 copy="$tmp/check.toml"
  sed -E "s|^cluster_key_file = \".*\"$|cluster_key_file = \"$tmp/cluster.key\"|" "$file" > "$copy"
  "$node_bin" --check --config "$copy" >/dev/null || fail "$file: rejected by p2pfaas-node --check"
  echo "ok: $file is a valid node config"
}

# --- systemd -------------------------------------------------------------------------------------
section "systemd: tmpfiles.d, sysusers.d, verify, security"
root="$tmp/root"
mkdir -p "$root/etc/systemd/system" "$root/usr/bin" "$root/usr/lib/systemd" "$root/usr/lib/sysusers.d" \
  "$root/usr/lib/tmpfiles.d"
# The stock units (sysinit.target, …) so that `verify --root` sees a whole system.
cp -a /lib/systemd/system "$root/usr/lib/systemd/"
cp "$node_bin" "$root/usr/bin/p2pfaas-node"
cp systemd/p2pfaas-node.service "$root/etc/systemd/system/"
cp systemd/p2pfaas.sysusers "$root/usr/lib/sysusers.d/p2pfaas.conf"
cp systemd/p2pfaas.tmpfiles "$root/usr/lib/tmpfiles.d/p2pfaas.conf"
systemd-sysusers --root="$root" p2pfaas.conf
systemd-tmpfiles --root="$root" --create p2pfaas.conf
for d in var/lib/p2pfaas sys/fs/bpf/p2pfaas; do
  [ "$(stat -c %u "$root/$d")" = "$(awk -F: '$1=="p2pfaas"{print $3}' "$root/etc/passwd")" ] \
    || fail "tmpfiles did not create /$d owned by p2pfaas"
done
# verify prints unknown keys and bad values as warnings with exit 0: any output is a failure.
out=$(systemd-analyze verify --root="$root" p2pfaas-node.service 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify warned: $out"
echo "ok: systemd-analyze verify"
# --threshold is the exposure ×10: 30 means "at most 3.0".
systemd-analyze security --offline=yes --threshold=30 --root="$root" p2pfaas-node.service \
  | tail -1 || fail "systemd-analyze security: exposure above 3.0"
check_config systemd/node.toml
