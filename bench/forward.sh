#!/usr/bin/env bash
# Cost of forwarding one job to a peer: the same `echo` call answered locally by node B, and forwarded by node A
# to B (ForwardScheduler(1), native protocol, per-worker keep-alive pool), in one run.
#
# Both nodes run one worker pinned to CPU 0, wrk runs on CPU 1 (taskset). Each round measures every config's
# c=1 p50 (POST, 256-byte body, echoed back), in an order rotated by one config per round; the figure is the
# median over rounds of the per-round difference forwarded p50 - local p50 (both measured minutes apart at
# most, under the same machine load), with its range. Then c=1 p99 and c=32 req/s once per config.
#
# Floor: a byte relay (`p2pfaas-bench relay`: one blocking thread per direction, nothing parsed, on CPU 0)
# in front of B's local echo, and in front of nginx `return 200`, in the same rounds: what any user-space hop
# costs on this machine at least (two more loopback TCP exchanges and wake-ups).
#
# CPU per request: every c=1 run also reads the on-CPU time of the servers it went through (all threads);
# config minus its direct counterpart, per round, is the CPU a hop adds (the forwarded config counts A and B,
# so the node's figure includes what B's peer job costs over a local call).
#
# Reference, when nginx is installed: the same hop made by nginx — `return 200` with a 256-byte body called
# directly, and through a second nginx process doing `proxy_pass` with upstream keep-alive (both on CPU 0, one
# worker each, as the nodes are) — measured in the same rounds: proxied p50 - direct p50 is what one proxy hop
# costs a tuned C server on this machine.
#
# With BASELINE_BIN=<p2pfaas-node binary>, a second pair of nodes runs that binary and is measured in the
# same rounds (a before/after comparison on a shared machine).
#
# Usage: bench/forward.sh [seconds-per-run] [rounds]     (needs wrk, taskset; nginx for the reference;
#        scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${2:-1}
source bench/lib.sh
bench_init wrk taskset
post_lua 256
wrk_args="-s $work/post.lua"
port_a=$(free_port)
port_b=$(free_port)
base_a=$(free_port)
base_b=$(free_port)

start_node() { # name port scheduler params peers [binary]
  scheduler_node_toml "$1" "$2" "$3" "$4" "$5" 64
  taskset -c 0 "${6:-$bin}" --config "$work/$1.toml" --driver io-uring > "$work/$1.out" 2>&1 &
  pids+=("$!")
  printf -v "pid_${1//-/_}" %s "$!"
  wait_listening "$work/$1.out"
}

start_node b "$port_b" NoScheduler '"false"' ''
start_node a "$port_a" ForwardScheduler '"1"' "\"127.0.0.1:$port_b\""
if [ -n "${BASELINE_BIN:-}" ]; then
  start_node b-base "$base_b" NoScheduler '"false"' '' "$BASELINE_BIN"
  start_node a-base "$base_a" ForwardScheduler '"1"' "\"127.0.0.1:$base_b\"" "$BASELINE_BIN"
fi
sleep 1.5   # A learns B's functions and protocol from its first refresh

check_forwards() { # port expected-path
  local path
  path=$(curl -s -D - -o /dev/null -X POST --data x "http://127.0.0.1:$1/function/echo" \
    | tr -d '\r' | awk -F': ' 'tolower($1)=="x-p2pfaas-peers-list-id"{print $2}')
  [ "$path" = "$2" ] || { echo "A did not forward (path $path)" >&2; exit 1; }
}
check_forwards "$port_a" '["a","b"]'
[ -z "${BASELINE_BIN:-}" ] || check_forwards "$base_a" '["a-base","b-base"]'

# The reference hop: nginx `return 200` (256-byte body) and a separate nginx proxying to it.
if command -v nginx >/dev/null; then
  ng_direct=$(free_port)
  ng_proxy=$(free_port)
  start_nginx "  server {
    listen 127.0.0.1:$ng_direct;
    location / { return 200 \"$body\"; }
  }" nginx-direct
  pid_ng_direct=$nginx_pid
  start_nginx "$(nginx_proxy_block "$ng_proxy" "$ng_direct")" nginx-proxy
  pid_ng_proxy=$nginx_pid
else
  echo "skipped: the nginx reference hop (nginx is not installed; scripts/setup.sh installs it)" >&2
fi

# Configs as "name|url|server pids" and the pairs whose per-round difference is reported (hop minus direct).
configs=("local (B)|http://127.0.0.1:$port_b/function/echo|$pid_b"
  "forwarded A→B|http://127.0.0.1:$port_a/function/echo|$pid_a $pid_b")
pairs=("node:0:1")
if [ -n "${BASELINE_BIN:-}" ]; then
  configs+=("local (B, baseline)|http://127.0.0.1:$base_b/function/echo|$pid_b_base"
    "forwarded A→B (baseline)|http://127.0.0.1:$base_a/function/echo|$pid_a_base $pid_b_base")
  pairs+=("baseline:2:3")
fi
relay_b=$(free_port)
start_relay relay_b "$relay_b" "$port_b"
configs+=("relay→B|http://127.0.0.1:$relay_b/function/echo|$pid_relay_b $pid_b")
pairs+=("relay:0:$((${#configs[@]} - 1))")
if [ -n "${ng_proxy:-}" ]; then
  relay_ng=$(free_port)
  start_relay relay_ng "$relay_ng" "$ng_direct"
  configs+=("nginx direct|http://127.0.0.1:$ng_direct/|$pid_ng_direct"
    "nginx proxied|http://127.0.0.1:$ng_proxy/|$pid_ng_proxy $pid_ng_direct"
    "relay→nginx|http://127.0.0.1:$relay_ng/|$pid_relay_ng $pid_ng_direct")
  pairs+=("nginx:$((${#configs[@]} - 3)):$((${#configs[@]} - 2))" "relay-nginx:$((${#configs[@]} - 3)):$((${#configs[@]} - 1))")
fi

echo "machine: $(nproc) cores, $(uname -r); commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown); $(date -u +%F)"
echo "nodes, nginx and relays on CPU0 (one worker each), wrk on CPU1; ${secs}s per run, $rounds round(s); POST 256 B"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
hop_rounds "$rounds"
echo
printf '| config | c=1 p50 | c=1 p99 | c=32 req/s |\n|---|---|---|---|\n'
for ((i = 0; i < ${#configs[@]}; i++)); do
  IFS='|' read -r name url _ <<<"${configs[i]}"
  tail_and_rate "$name" "$url"
done
echo
for pair in "${pairs[@]}"; do
  name=${pair%%:*}
  case $name in
    node) label="forwarded p50 - local p50, median of per-round differences" ;;
    baseline) label="baseline: forwarded p50 - local p50" ;;
    relay) label="floor, byte relay in front of B: relayed p50 - local p50" ;;
    nginx) label="reference, nginx: proxied p50 - direct p50" ;;
    relay-nginx) label="floor, byte relay in front of nginx: relayed p50 - direct p50" ;;
  esac
  echo "$label: $(hop_summary "$name")$([ "$name" = node ] && echo ' (target: at most +30 µs)')"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
# Stop both nodes before the exit trap removes their data directories (they write on shutdown).
kill "${pids[@]}" 2>/dev/null || true
wait "${pids[@]}" 2>/dev/null || true
