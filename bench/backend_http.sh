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
#   node-http-base  (only with BASELINE_BIN=<p2pfaas-node binary>) node-http with that binary, for a
#                   before/after comparison in the same run
# Every config is measured once per round, rounds interleaved; the table gives each round, the summary
# the median c=1 p50 over rounds and each proxy's added p50 over the direct call.
#
# Results (2 cores, kernel 6.18, quiet machine, load average 1.4-1.6; `BASELINE_BIN=<main c38143e>
# bench/overhead.sh 4 6`, this part at commit 2445ef0): median c=1 p50 over 6 rounds: direct 59 µs; added
# over direct: node-http +36, nginx-proxy +18, nginx-proxy-sep +30, node-http-base +42 µs. CPU per request
# on CPU 0 (lib.sh cpu_ns around c=1 runs, 4 rounds, a loaded machine, load 5-6): node 56 µs (main 61) + the
# function 15; nginx-proxy-sep 54 + 14; nginx-proxy 60 for proxy and function together. Context switches
# per request: node 2.0, nginx-proxy-sep 2.0, nginx-proxy 1.0.
#
# Usage: bench/backend_http.sh [seconds-per-run] [rounds]     (needs wrk, nginx, taskset; scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${2:-1}
source bench/lib.sh
bench_init wrk nginx taskset
fn_port=$(free_port)
proxy_port=$(free_port)
sep_port=$(free_port)
node_port=$(free_port)
base_port=$(free_port)

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
start_nginx "  upstream function { server 127.0.0.1:$fn_port; keepalive 32; }
  server {
    listen 127.0.0.1:$sep_port;
    location / {
      proxy_pass http://function;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
    }
  }" nginx-sep

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
[functions.f]
backend = "http"
url = "http://127.0.0.1:$fn_port/"
TOML
  taskset -c 0 "$1" --config "$work/node-$2.toml" --workers 1 --driver io-uring > "$work/node-$2.out" 2>&1 &
  pids+=("$!")
  for _ in $(seq 100); do grep -q '^listening' "$work/node-$2.out" && break; sleep 0.05; done
}
start_node "$bin" "$node_port"
configs=(direct node-http nginx-proxy nginx-proxy-sep)
declare -A url=([direct]="http://127.0.0.1:$fn_port/" [node-http]="http://127.0.0.1:$node_port/function/f"
  [nginx-proxy]="http://127.0.0.1:$proxy_port/" [nginx-proxy-sep]="http://127.0.0.1:$sep_port/")
if [ -n "${BASELINE_BIN:-}" ]; then
  start_node "$BASELINE_BIN" "$base_port"
  configs+=(node-http-base)
  url[node-http-base]="http://127.0.0.1:$base_port/function/f"
fi
sleep 0.3

direct_rps=
declare -A p50s
measure() { # name url  (the first call is the baseline of the ratio column)
  local name=$1 url=$2 out1 out32 rps
  taskset -c 1 wrk -t1 -c32 -d1s "$url" > /dev/null   # warm-up (fills the keep-alive pools)
  out1=$(taskset -c 1 wrk -t1 -c1 -d"${secs}s" --latency "$url")
  out32=$(taskset -c 1 wrk -t1 -c32 -d"${secs}s" --latency "$url")
  if grep -q "Non-2xx" <<<"$out1$out32"; then echo "$name: non-2xx responses!" >&2; fi
  rps=$(awk '/^Requests\/sec/{print $2}' <<<"$out32")
  direct_rps=${direct_rps:-$rps}
  p50s[$name]+="$(awk '$1=="50%"{v=$2; if (v ~ /us$/) v+=0; else if (v ~ /ms$/) v*=1000; else v*=1000000; print v}' <<<"$out1") "
  printf '| %s | %s | %s | %s | %s | %.2f |\n' "$round" "$name" \
    "$(awk '$1=="50%"{print $2}' <<<"$out1")" "$(awk '$1=="99%"{print $2}' <<<"$out1")" \
    "$rps" "$(awk -v r="$rps" -v d="$direct_rps" 'BEGIN{print r/d}')"
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END{print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

echo "machine: $(nproc) cores, $(uname -r); commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown); $(date -u +%F)"
echo "servers on CPU0, wrk on CPU1; ${secs}s per run, $rounds round(s); GET, function replies \"ok\""
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '| round | config | c=1 p50 | c=1 p99 | c=32 req/s | req/s vs direct |\n|---|---|---|---|---|---|\n'
for round in $(seq "$rounds"); do
  for c in "${configs[@]}"; do measure "$c" "${url[$c]}"; done
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
direct=$(median <<<"${p50s[direct]}")
echo "median c=1 p50 over $rounds round(s): direct $direct µs"
for c in "${configs[@]:1}"; do
  m=$(median <<<"${p50s[$c]}")
  printf '  %-16s %6s µs, added over direct %+.0f µs\n' "$c" "$m" "$(awk -v a="$m" -v d="$direct" 'BEGIN{print a-d}')"
done
added() { awk -v a="$(median <<<"${p50s[$1]}")" -v d="$direct" 'BEGIN{print a-d}'; }
echo "target: node-http added p50 <= nginx-proxy added p50 + 5 µs: $(added node-http) vs $(added nginx-proxy) + 5" \
  "(against nginx-proxy-sep: $(added nginx-proxy-sep) + 5)"
# Stop the servers before the exit trap removes their directories (nginx writes on shutdown).
kill "${pids[@]}" 2>/dev/null || true
wait "${pids[@]}" 2>/dev/null || true
