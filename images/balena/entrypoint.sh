#!/bin/sh
# Container entrypoint of the balena service: mounts bpffs (and tracefs) when the host has not, writes
# the node config from device (or fleet) variables, then runs the node. Arguments go to the node, so
# `entrypoint.sh --check` only validates the config it wrote.
#
# Device variables (balena dashboard or `balena env add NAME VALUE --device UUID`):
#   P2PFAAS_NODE_ID      this node's id (discovery.machine_id); default the device name, else its UUID
#   P2PFAAS_SEEDS        peers to join, comma-separated host:port (e.g. 192.168.1.20:18080,192.168.1.21:18080)
#   P2PFAAS_CLUSTER_KEY  shared cluster key (at least 16 bytes; e.g. `head -c 32 /dev/urandom | base64`)
#   P2PFAAS_ADVERTISE    host:port peers reach this node at; default the first host address, port 18080
#   P2PFAAS_SCHEDULER    scheduler descriptor name (default LeastLoadedCached); P2PFAAS_SCHEDULER_PARAMS,
#                        comma-separated (default 2,2)
# The node itself also reads P2PFAAS_SLOTS, P2PFAAS_QUEUE_LEN, P2PFAAS_LOG_LEVEL, … (top-level README).
# Paths (overridable for tests): P2PFAAS_CONFIG, P2PFAAS_DATA_DIR, P2PFAAS_KEY_FILE, P2PFAAS_BPF_DIR,
# P2PFAAS_NODE_BIN.
set -eu

config=${P2PFAAS_CONFIG:-/etc/p2pfaas/node.toml}
data_dir=${P2PFAAS_DATA_DIR:-/data}
key_file=${P2PFAAS_KEY_FILE:-/run/p2pfaas/cluster.key}
bpf_dir=${P2PFAAS_BPF_DIR:-/sys/fs/bpf}
node_bin=${P2PFAAS_NODE_BIN:-/usr/bin/p2pfaas-node}

die() { echo "entrypoint: $*" >&2; exit 64; }
# A value goes into a TOML string: allow only characters that need no escaping.
check_value() {
  case $2 in
    *[!A-Za-z0-9._:@\[\]-]*) die "$1: only letters, digits and . _ : @ [ ] - are allowed, got '$2'" ;;
  esac
}

# bpffs: where the eBPF maps are pinned; tracefs: tracepoint ids for the classic programs. A
# privileged balena container can mount both; without them the node falls back to PSI/procfs.
if ! mountpoint -q "$bpf_dir"; then
  mount -t bpf bpf "$bpf_dir" || echo "entrypoint: cannot mount bpffs on $bpf_dir; eBPF maps will not be pinned" >&2
fi
if [ -d /sys/kernel/tracing ] && ! mountpoint -q /sys/kernel/tracing; then
  mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
fi

node_id=${P2PFAAS_NODE_ID:-${BALENA_DEVICE_NAME_AT_INIT:-${BALENA_DEVICE_UUID:-}}}
advertise=${P2PFAAS_ADVERTISE:-}
if [ -z "$advertise" ]; then
  addr=$(hostname -I 2>/dev/null | awk '{print $1}')
  [ -n "$addr" ] || die "P2PFAAS_ADVERTISE is unset and the host has no address to advertise"
  case $addr in *:*) addr="[$addr]" ;; esac
  advertise="$addr:18080"
fi
check_value P2PFAAS_ADVERTISE "$advertise"
scheduler=${P2PFAAS_SCHEDULER:-LeastLoadedCached}
check_value P2PFAAS_SCHEDULER "$scheduler"

toml_list() { # comma-separated values → TOML array of strings
  list="" IFS_OLD=$IFS
  IFS=,
  for v in $2; do
    v=$(echo "$v" | tr -d ' ')
    [ -n "$v" ] || continue
    check_value "$1" "$v"
    list="$list${list:+, }\"$v\""
  done
  IFS=$IFS_OLD
  echo "[$list]"
}
seeds=$(toml_list P2PFAAS_SEEDS "${P2PFAAS_SEEDS:-}")
params=$(toml_list P2PFAAS_SCHEDULER_PARAMS "${P2PFAAS_SCHEDULER_PARAMS:-2,2}")

mkdir -p "$(dirname "$config")" "$data_dir"
{
  echo "# Written by entrypoint.sh from device variables at $(date -u +%Y-%m-%dT%H:%M:%SZ)."
  echo "[node]"
  echo "listen = \"0.0.0.0:${advertise##*:}\""
  echo "data_dir = \"$data_dir\""
  echo
  echo "[scheduler]"
  echo "name = \"$scheduler\""
  echo "parameters = $params"
  echo
  echo "[discovery]"
  if [ -n "$node_id" ]; then
    check_value P2PFAAS_NODE_ID "$node_id"
    echo "machine_id = \"$node_id\""
  fi
  echo "advertise = \"$advertise\""
  echo "init_servers = $seeds"
  echo
  if [ -n "${P2PFAAS_CLUSTER_KEY:-}" ]; then
    mkdir -p "$(dirname "$key_file")"
    (umask 077 && printf '%s' "$P2PFAAS_CLUSTER_KEY" > "$key_file")
    echo "[auth]"
    echo "cluster_key_file = \"$key_file\""
    echo
  else
    echo "entrypoint: P2PFAAS_CLUSTER_KEY is unset: peer calls are unauthenticated" >&2
  fi
  echo "[load]"
  echo "pin_dir = \"$bpf_dir/p2pfaas\""
  echo
  echo "[functions.echo]"
  echo "backend = \"builtin\""
  echo "builtin = \"echo\""
} > "$config"

exec "$node_bin" --config "$config" "$@"
