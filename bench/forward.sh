#!/usr/bin/env bash
# Cost of forwarding one job to a peer: the same `echo` call answered locally by node A, and forwarded by A to
# node B (ForwardScheduler(1), native protocol, per-worker keep-alive pool), in one run.
#
# Both nodes run one worker pinned to CPU 0, wrk runs on CPU 1 (taskset). Measured per config: c=1 p50/p99
# latency and c=32 req/s (POST, 256-byte body, echoed back).
#
# With BASELINE_BIN=<p2pfaas-node binary>, a second pair of nodes runs that binary and is measured in the
# same run, interleaved (a before/after comparison on a shared machine).
#
# Usage: bench/forward.sh [seconds-per-run]     (needs wrk, taskset; scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
source bench/lib.sh
bench_init wrk taskset
post_lua 256
port_a=$(free_port)
port_b=$(free_port)
base_a=$(free_port)
base_b=$(free_port)

start_node() { # name port scheduler params peers [binary]
  cat > "$work/$1.toml" <<TOML
[node]
listen = "127.0.0.1:$2"
data_dir = "$work/$1"
workers = 1
[log]
level = "warn"
[queue]
slots = 64
queue_len = 64
[scheduler]
name = "$3"
parameters = [$4]
[discovery]
machine_id = "$1"
init_servers = [$5]
[functions.echo]
backend = "builtin"
builtin = "echo"
TOML
  taskset -c 0 "${6:-$bin}" --config "$work/$1.toml" --driver io-uring > "$work/$1.out" 2>&1 &
  pids+=("$!")
  for _ in $(seq 100); do grep -q '^listening' "$work/$1.out" && break; sleep 0.05; done
}

start_node b "$port_b" NoScheduler '"false"' ''
start_node a "$port_a" ForwardScheduler '"1"' "\"127.0.0.1:$port_b\""
if [ -n "${BASELINE_BIN:-}" ]; then
  start_node b-base "$base_b" NoScheduler '"false"' '' "$BASELINE_BIN"
  start_node a-base "$base_a" ForwardScheduler '"1"' "\"127.0.0.1:$base_b\"" "$BASELINE_BIN"
fi
sleep 1.5   # A learns B's functions and protocol from its first refresh

measure() { # name url
  local name=$1 url=$2 out1 out32
  taskset -c 1 wrk -t1 -c32 -d1s -s "$work/post.lua" "$url" > /dev/null
  out1=$(taskset -c 1 wrk -t1 -c1 -d"${secs}s" --latency -s "$work/post.lua" "$url")
  out32=$(taskset -c 1 wrk -t1 -c32 -d"${secs}s" --latency -s "$work/post.lua" "$url")
  if grep -q "Non-2xx" <<<"$out1$out32"; then echo "$name: non-2xx responses!" >&2; fi
  p50=$(awk '$1=="50%"{v=$2; if (v ~ /us$/) v+=0; else if (v ~ /ms$/) v*=1000; else v*=1000000; print v}' <<<"$out1")
  printf '| %s | %s | %s | %s |\n' "$name" \
    "$(awk '$1=="50%"{print $2}' <<<"$out1")" "$(awk '$1=="99%"{print $2}' <<<"$out1")" \
    "$(awk '/^Requests\/sec/{print $2}' <<<"$out32")"
}

check_forwards() { # port expected-path
  local path
  path=$(curl -s -D - -o /dev/null -X POST --data x "http://127.0.0.1:$1/function/echo" \
    | tr -d '\r' | awk -F': ' 'tolower($1)=="x-p2pfaas-peers-list-id"{print $2}')
  [ "$path" = "$2" ] || { echo "A did not forward (path $path)" >&2; exit 1; }
}
check_forwards "$port_a" '["a","b"]'
[ -z "${BASELINE_BIN:-}" ] || check_forwards "$base_a" '["a-base","b-base"]'

echo "machine: $(nproc) cores, $(uname -r); commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown); $(date -u +%F)"
echo "both nodes on CPU0 (one worker each), wrk on CPU1; ${secs}s per run; POST 256 B to echo"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '| config | c=1 p50 | c=1 p99 | c=32 req/s |\n|---|---|---|---|\n'
measure "local (B)" "http://127.0.0.1:$port_b/function/echo"
local_p50=$p50
measure "forwarded A→B" "http://127.0.0.1:$port_a/function/echo"
diff=$(awk -v f="$p50" -v l="$local_p50" 'BEGIN{printf "%+.0f", f-l}')
if [ -n "${BASELINE_BIN:-}" ]; then
  measure "local (B, baseline)" "http://127.0.0.1:$base_b/function/echo"
  local_p50=$p50
  measure "forwarded A→B (baseline)" "http://127.0.0.1:$base_a/function/echo"
  echo
  echo "baseline: forwarded p50 - local p50: $(awk -v f="$p50" -v l="$local_p50" 'BEGIN{printf "%+.0f", f-l}') µs"
fi
echo
echo "forwarded p50 - local p50: $diff µs (target: at most +30)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
# Stop both nodes before the exit trap removes their data directories (they write on shutdown).
kill "${pids[@]}" 2>/dev/null || true
wait "${pids[@]}" 2>/dev/null || true
