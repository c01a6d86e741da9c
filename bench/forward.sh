#!/usr/bin/env bash
# Cost of forwarding one job to a peer: the same `echo` call answered locally by node B, and forwarded by node A
# to B (ForwardScheduler(1), native protocol, per-worker keep-alive pool), in one run.
#
# Both nodes run one worker pinned to CPU 0, wrk runs on CPU 1 (taskset). Each round measures every config's
# c=1 p50 (POST, 256-byte body, echoed back), in an order rotated by one config per round; the figure is the
# median over rounds of the per-round difference forwarded p50 - local p50 (both measured minutes apart at
# most, under the same machine load), with its range. Then c=1 p99 and c=32 req/s once per config.
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
port_a=$(free_port)
port_b=$(free_port)
base_a=$(free_port)
base_b=$(free_port)

start_node() { # name port scheduler params peers [binary]
  scheduler_node_toml "$1" "$2" "$3" "$4" "$5" 64
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

p50_of() { # url -> c=1 p50 in µs
  taskset -c 1 wrk -t1 -c1 -d"${secs}s" --latency -s "$work/post.lua" "$1" |
    awk '$1=="50%"{v=$2; if (v ~ /us$/) v+=0; else if (v ~ /ms$/) v*=1000; else v*=1000000; print v}'
}

tail_and_rate() { # name url -> one table row: c=1 p99 and c=32 req/s
  local out1 out32
  taskset -c 1 wrk -t1 -c32 -d1s -s "$work/post.lua" "$2" > /dev/null
  out1=$(taskset -c 1 wrk -t1 -c1 -d"${secs}s" --latency -s "$work/post.lua" "$2")
  out32=$(taskset -c 1 wrk -t1 -c32 -d"${secs}s" --latency -s "$work/post.lua" "$2")
  if grep -q "Non-2xx" <<<"$out1$out32"; then echo "$1: non-2xx responses!" >&2; fi
  printf '| %s | %s | %s | %s |\n' "$1" "$(awk '$1=="50%"{print $2}' <<<"$out1")" \
    "$(awk '$1=="99%"{print $2}' <<<"$out1")" "$(awk '/^Requests\/sec/{print $2}' <<<"$out32")"
}

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
  start_nginx "  upstream function { server 127.0.0.1:$ng_direct; keepalive 32; }
  server {
    listen 127.0.0.1:$ng_proxy;
    location / {
      proxy_pass http://function;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
    }
  }" nginx-proxy
else
  echo "skipped: the nginx reference hop (nginx is not installed; scripts/setup.sh installs it)" >&2
fi

# Configs as "name|url" and the pairs whose per-round difference is reported (forwarded minus local).
configs=("local (B)|http://127.0.0.1:$port_b/function/echo" "forwarded A→B|http://127.0.0.1:$port_a/function/echo")
pairs=("node:0:1")
if [ -n "${BASELINE_BIN:-}" ]; then
  configs+=("local (B, baseline)|http://127.0.0.1:$base_b/function/echo"
    "forwarded A→B (baseline)|http://127.0.0.1:$base_a/function/echo")
  pairs+=("baseline:2:3")
fi
if [ -n "${ng_proxy:-}" ]; then
  configs+=("nginx direct|http://127.0.0.1:$ng_direct/" "nginx proxied|http://127.0.0.1:$ng_proxy/")
  pairs+=("nginx:$((${#configs[@]} - 2)):$((${#configs[@]} - 1))")
fi

echo "machine: $(nproc) cores, $(uname -r); commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown); $(date -u +%F)"
echo "nodes and nginx on CPU0 (one worker each), wrk on CPU1; ${secs}s per run, $rounds round(s); POST 256 B"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
n=${#configs[@]}
declare -A diffs=()
for ((r = 0; r < rounds; r++)); do
  p50s=()
  for ((k = 0; k < n; k++)); do
    i=$(((k + r) % n))
    p50s[i]=$(p50_of "${configs[i]#*|}")
  done
  line="round $((r + 1)):"
  for ((i = 0; i < n; i++)); do line+=" ${configs[i]%%|*} ${p50s[i]};"; done
  echo "$line"
  for pair in "${pairs[@]}"; do
    IFS=: read -r name l f <<<"$pair"
    diffs[$name]+="$(awk -v f="${p50s[f]}" -v l="${p50s[l]}" 'BEGIN{printf "%.0f", f-l}') "
  done
done
echo
printf '| config | c=1 p50 | c=1 p99 | c=32 req/s |\n|---|---|---|---|\n'
for ((i = 0; i < n; i++)); do tail_and_rate "${configs[i]%%|*}" "${configs[i]#*|}"; done
echo
summary() { # values... -> "median (min…max)"
  printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {m = NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2;
    printf "%+.0f µs (range %+d…%+d over %d round(s))", m, v[1], v[NR], NR}'
}
for pair in "${pairs[@]}"; do
  name=${pair%%:*}
  # shellcheck disable=SC2086 # the differences are space-separated numbers
  case $name in
    node) echo "forwarded p50 - local p50, median of per-round differences: $(summary ${diffs[$name]}) (target: at most +30)" ;;
    baseline) echo "baseline: forwarded p50 - local p50: $(summary ${diffs[$name]})" ;;
    nginx) echo "reference, nginx: proxied p50 - direct p50: $(summary ${diffs[$name]})" ;;
  esac
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
# Stop both nodes before the exit trap removes their data directories (they write on shutdown).
kill "${pids[@]}" 2>/dev/null || true
wait "${pids[@]}" 2>/dev/null || true
