#!/usr/bin/env bash
# Cost of the `http` backend: a trivial function (nginx `return 200 "ok"`) called directly, through the
# node's `http` backend (keep-alive pool), and through nginx `proxy_pass` with upstream keep-alive, in one run.
#
# Servers (nginx: one worker per instance; the node with one worker) are pinned to CPU 0 and wrk to
# CPU 1 (taskset). Measured per config: c=1 p50/p99 latency and c=32 req/s (GET, 2-byte reply).
# Configs:
#   direct          wrk -> nginx function
#   node-http       wrk -> p2pfaas-node /function/f (backend = "http") -> nginx function (io_uring driver)
#   nginx-proxy     wrk -> nginx proxy_pass (keepalive 32) -> nginx function, in the SAME nginx worker
#                   as the function: the proxy hands the request over without waking another process
#   nginx-proxy-sep the same proxy in its own nginx process, as the node is: one more process on the
#                   path, so two more wake-ups per request than nginx-proxy (the node's shape)
#   relay           wrk -> `p2pfaas-bench relay` (a byte relay, nothing parsed) -> nginx function: the
#                   floor of a user-space hop on this machine
#   node-http-base  (only with BASELINE_BIN=<p2pfaas-node binary>) node-http with that binary, for a
#                   before/after comparison in the same run
# Every config's c=1 p50 is measured once per round, in an order rotated by one config per round, with the
# CPU the servers on the path spent per request; each proxy's added p50 (and CPU) over the direct call is
# the median over rounds of the per-round differences, with their range. Then c=1 p99 and c=32 req/s once
# per config.
#
# Results (2 cores, kernel 6.18, quiet machine, load average 1.4-1.9; `bench/backend_http.sh 3 12` at commit
# a17b844): direct c=1 p50 57-82 µs; added over the direct call, median of 12 per-round differences (range):
# node-http +36 µs (+19…+50), CPU +36.7 µs per request; nginx-proxy +28 (+22…+36), CPU +23.1; nginx-proxy-sep
# +35 (+17…+45), CPU +33.4; relay (the floor) +25 (+15…+34), CPU +24.8. The node's hop costs what nginx's
# costs in the same shape (its own process) and ≈ 11 µs above a relay that parses nothing.
#
# Usage: bench/backend_http.sh [seconds-per-run] [rounds]     (needs wrk, nginx, taskset; scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${2:-1}
source bench/lib.sh
bench_init wrk nginx taskset
wrk_args=
fn_port=$(free_port)
proxy_port=$(free_port)
sep_port=$(free_port)
node_port=$(free_port)
base_port=$(free_port)

function_nginx "$fn_port" "$(nginx_proxy_block "$proxy_port" "$fn_port")"
pid_function=$nginx_pid
start_nginx "$(nginx_proxy_block "$sep_port" "$fn_port")" nginx-sep
pid_sep=$nginx_pid
relay_port=$(free_port)
start_relay relay "$relay_port" "$fn_port"

start_node() { # binary port
  cat > "$work/node-$2.toml" <<TOML
[node]
listen = "127.0.0.1:$2"
data_dir = "$work/data-$2"
workers = 1
blocking_threads = 1
[log]
level = "warn"
[queue]
slots = 64
queue_len = 64
$(http_function_toml "$fn_port")
TOML
  taskset -c 0 "$1" --config "$work/node-$2.toml" --workers 1 --driver io-uring > "$work/node-$2.out" 2>&1 &
  pids+=("$!")
  node_pid=$!
  wait_listening "$work/node-$2.out"
}
start_node "$bin" "$node_port"
# Configs as "name|url|server pids" (the function's nginx also holds nginx-proxy) and the pairs "name:0:i":
# config i minus the direct call, per round.
configs=("direct|http://127.0.0.1:$fn_port/|$pid_function"
  "node-http|http://127.0.0.1:$node_port/function/f|$node_pid $pid_function"
  "nginx-proxy|http://127.0.0.1:$proxy_port/|$pid_function"
  "nginx-proxy-sep|http://127.0.0.1:$sep_port/|$pid_sep $pid_function"
  "relay|http://127.0.0.1:$relay_port/|$pid_relay $pid_function")
if [ -n "${BASELINE_BIN:-}" ]; then
  start_node "$BASELINE_BIN" "$base_port"
  configs+=("node-http-base|http://127.0.0.1:$base_port/function/f|$node_pid $pid_function")
fi
pairs=()
for ((i = 1; i < ${#configs[@]}; i++)); do pairs+=("${configs[i]%%|*}:0:$i"); done
sleep 0.3

echo "machine: $(nproc) cores, $(uname -r); commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown); $(date -u +%F)"
echo "servers on CPU0, wrk on CPU1; ${secs}s per run, $rounds round(s); GET, function replies \"ok\""
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
hop_rounds "$rounds"
echo
printf '| config | c=1 p50 | c=1 p99 | c=32 req/s |\n|---|---|---|---|\n'
for c in "${configs[@]}"; do
  IFS='|' read -r name url _ <<<"$c"
  tail_and_rate "$name" "$url"
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "added over the direct call (median of per-round differences):"
for pair in "${pairs[@]}"; do printf '  %-16s %s\n' "${pair%%:*}" "$(hop_summary "${pair%%:*}")"; done
# shellcheck disable=SC2086 # the differences are space-separated numbers
added() { read -r m _ < <(median_range ${hop_p50[$1]}); printf "%+.0f" "$m"; }
echo "target: node-http added p50 <= nginx-proxy added p50 + 5 µs: $(added node-http) vs $(added nginx-proxy) + 5" \
  "(against nginx-proxy-sep: $(added nginx-proxy-sep) + 5; the floor, relay: $(added relay))"
# Stop the servers before the exit trap removes their directories (nginx writes on shutdown).
kill "${pids[@]}" 2>/dev/null || true
wait "${pids[@]}" 2>/dev/null || true
