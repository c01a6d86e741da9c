#!/usr/bin/env bash
# Throughput of the process backend: a trivial `cat` function (fork/exec per call) with a 100-byte body.
# One release node (2 workers, K = 4 slots, 4 blocking threads), wrk with 1 thread and 4 connections.
# Prints wrk's summary; the figure is Requests/sec. Every reply must be 200 (wrk reports non-2xx).
#
# Usage: bench/backend_process.sh [seconds]        (needs wrk; honours CARGO_TARGET_DIR)
#
# Results (wrk -t1 -c4 -d5s, wrk and node sharing the machine's cores):
# | machine              | date       | commit  | req/s | avg latency |
# | 2-core VM, 6.18      | 2026-11-27 | 409107d | 1424  | 2.81 ms     |
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
source bench/lib.sh
bench_init wrk curl

cat > "$work/node.toml" <<TOML
[node]
listen = "127.0.0.1:0"
data_dir = "$work/data"
workers = 2
blocking_threads = 4
[queue]
slots = 4
queue_len = 16
[log]
level = "warn"
[functions.cat]
backend = "process"
command = ["cat"]
TOML
post_lua 100

"$bin" --config "$work/node.toml" > "$work/out" 2> "$work/err" &
pids+=("$!")
wait_listening "$work/out"
addr=$(sed -n 's/^listening //p' "$work/out")
[ -n "$addr" ] || { echo "node did not start: $(cat "$work/err")"; exit 1; }
test "$(curl -s --data hello "http://$addr/function/cat")" = hello
echo "commit $(git rev-parse --short HEAD), $(nproc) cores, $(uname -r), $(date -u +%F)"
echo "wrk -t1 -c4 -d${secs}s -s post.lua http://$addr/function/cat"
wrk -t1 -c4 -d"${secs}s" -s "$work/post.lua" "http://$addr/function/cat"
