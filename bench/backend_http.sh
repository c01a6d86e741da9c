#!/usr/bin/env bash
# Cost of the `http` backend: a trivial function (nginx `return 200 "ok"`) called directly, through the
# node's `http` backend (keep-alive pool), and through nginx `proxy_pass` with upstream keep-alive, in one run.
#
# Servers (nginx: function + proxy in one worker; the node with one worker) are pinned to CPU 0 and wrk to
# CPU 1 (taskset). Measured per config: c=1 p50/p99 latency and c=32 req/s (GET, 2-byte reply).
# Configs:
#   direct      wrk -> nginx function
#   node-http   wrk -> p2pfaas-node /function/f (backend = "http") -> nginx function (io_uring driver)
#   nginx-proxy wrk -> nginx proxy_pass (keepalive 32) -> nginx function
#
# Results (2 shared cores, kernel 6.18, commit e4b45f6, two back-to-back runs of 5 s; a noisy machine,
# so compare within a run):
#   | config      | c=1 p50 | c=1 p99       | c=32 req/s    |
#   | direct      | 88 µs   | 0.99 / 0.54 ms | 164.9k / 175.0k |
#   | node-http   | 104/108 µs | 3.74 / 0.72 ms | 47.0k / 71.3k |
#   | nginx-proxy | 69/103 µs  | 4.53 / 1.04 ms | 29.9k / 65.4k |
#
# Usage: bench/backend_http.sh [seconds-per-run]     (needs wrk, nginx, taskset; scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
source bench/lib.sh
bench_init wrk nginx taskset
fn_port=$(free_port)
proxy_port=$(free_port)
node_port=$(free_port)

start_nginx "  upstream function { server 127.0.0.1:$fn_port; keepalive 32; }
  server {
    listen 127.0.0.1:$fn_port;
    location / { return 200 \"ok\"; }
  }
  server {
    listen 127.0.0.1:$proxy_port;
    location / {
      proxy_pass http://function;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
    }
  }"

cat > "$work/node.toml" <<TOML
[node]
listen = "127.0.0.1:$node_port"
data_dir = "$work/data"
workers = 1
blocking_threads = 1
[log]
level = "warn"
[queue]
slots = 64
queue_len = 64
[functions.f]
backend = "http"
url = "http://127.0.0.1:$fn_port/"
TOML
taskset -c 0 "$bin" --config "$work/node.toml" --workers 1 --driver io-uring > "$work/node.out" 2>&1 &
pids+=("$!")
for _ in $(seq 100); do grep -q '^listening' "$work/node.out" && break; sleep 0.05; done
sleep 0.3

direct_rps=
measure() { # name url  (the first call is the baseline of the ratio column)
  local name=$1 url=$2 out1 out32 rps
  taskset -c 1 wrk -t1 -c32 -d1s "$url" > /dev/null   # warm-up (fills the keep-alive pools)
  out1=$(taskset -c 1 wrk -t1 -c1 -d"${secs}s" --latency "$url")
  out32=$(taskset -c 1 wrk -t1 -c32 -d"${secs}s" --latency "$url")
  if grep -q "Non-2xx" <<<"$out1$out32"; then echo "$name: non-2xx responses!" >&2; fi
  rps=$(awk '/^Requests\/sec/{print $2}' <<<"$out32")
  direct_rps=${direct_rps:-$rps}
  printf '| %s | %s | %s | %s | %.2f |\n' "$name" \
    "$(awk '$1=="50%"{print $2}' <<<"$out1")" "$(awk '$1=="99%"{print $2}' <<<"$out1")" \
    "$rps" "$(awk -v r="$rps" -v d="$direct_rps" 'BEGIN{print r/d}')"
}

echo "machine: $(nproc) cores, $(uname -r); commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown); $(date -u +%F)"
echo "servers on CPU0, wrk on CPU1; ${secs}s per run; GET, function replies \"ok\""
echo
printf '| config | c=1 p50 | c=1 p99 | c=32 req/s | req/s vs direct |\n|---|---|---|---|---|\n'
measure direct "http://127.0.0.1:$fn_port/"
measure node-http "http://127.0.0.1:$node_port/function/f"
measure nginx-proxy "http://127.0.0.1:$proxy_port/"
