#!/usr/bin/env bash
# What open dashboards cost a node under load. One node (one worker, pinned to CPU 0) serves the echo
# function to wrk -c32 (CPU 1); runs alternate without and with N `GET /events` streams open (what N open
# /ui pages hold: one cluster frame per second each), on the same node process throughout. Each pair is
# adjacent in time, so a noisy, shared machine hits both sides alike; the median of the pairs is the figure.
# bench/overhead.sh has the same comparison as its `node-echo-ui` config, with fewer, longer runs.
#
# First, the streams' own cost on the idle node (its CPU time over IDLE seconds without and with them).
#
# Results (2 shared cores, kernel 6.18, commit a8feb7a, 2026-12-07; a noisy machine):
#   idle CPU with 2 streams: +611 µs/s (+0.061 % of a core); an earlier run: −371 µs/s (noise)
#   throughput, median of adjacent pairs: −2.00 % (8 pairs, single pairs −18.9 … +16.7 %),
#   −3.77 % (8 pairs), +0.82 % (10 pairs): the noise exceeds the effect by far on this machine
#
# Usage: bench/dashboard.sh [seconds-per-run] [pairs] [dashboards] [idle-seconds]   (needs wrk, taskset, curl)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-4}
pairs=${2:-8}
dashboards=${3:-2}
idle=${4:-30}
source bench/lib.sh
bench_init wrk taskset curl
post_lua 256

port=$(free_port)
echo_node_toml node "$port"
taskset -c 0 "$bin" --config "$work/node.toml" > "$work/node.out" 2>&1 &
spid=$!; pids+=("$spid")
wait_listening "$work/node.out"
url="http://127.0.0.1:$port/function/echo"

rps() { taskset -c 1 wrk -t1 -c32 -d"${secs}s" -s "$work/post.lua" "$url" | awk '/^Requests\/sec/{print $2}'; }

open_streams() { # opens $dashboards /events streams; sets streams
  streams=()
  for _ in $(seq "$dashboards"); do
    taskset -c 1 curl -sN "http://127.0.0.1:$port/events" > /dev/null &
    streams+=($!); pids+=($!)
  done
}

# 1. The streams' own cost, which load noise cannot hide: the node's CPU time over an idle period without
# and with the streams open (each stream: one snapshot and one frame write per second).
idle_cpu_us() { local before; before=$(cpu_ns "$spid"); sleep "$1"; echo $(( ($(cpu_ns "$spid") - before) / 1000 )); }
base_us=$(idle_cpu_us "$idle")
open_streams
sleep 1
ui_us=$(idle_cpu_us "$idle")
kill "${streams[@]}"; wait "${streams[@]}" 2>/dev/null || true

# 2. Throughput under load, in adjacent pairs.
rps > /dev/null   # warm-up
: > "$work/pairs"
for i in $(seq "$pairs"); do
  without=$(rps)
  open_streams
  sleep 1
  with=$(rps)
  kill "${streams[@]}"; wait "${streams[@]}" 2>/dev/null || true
  awk -v a="$without" -v b="$with" -v i="$i" 'BEGIN{printf "pair %d: %.0f req/s without, %.0f with: %+.2f%%\n", i, a, b, 100*(b/a-1)}' | tee -a "$work/pairs" >&2
done

echo "machine: $(nproc) cores, $(uname -r); commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown); $(date -u +%F)"
echo "node on CPU0 (1 worker), wrk -c32 on CPU1, ${secs}s per run, $dashboards /events streams in the 'with' runs"
awk -v a="$base_us" -v b="$ui_us" -v s="$idle" -v n="$dashboards" 'BEGIN{printf "idle node CPU: %.0f µs/s without, %.0f µs/s with %d streams: the streams cost %.0f µs per second = %.3f%% of one core\n", a/s, b/s, n, (b-a)/s, (b-a)/s/1e4}'
awk '{print $NF}' "$work/pairs" | tr -d '%+' | sort -g |
  awk -v n="$pairs" '{a[NR]=$1; s+=$1; q+=$1*$1} END{printf "throughput change with %s dashboards: median %+.2f%% over %d pairs (min %+.2f%%, max %+.2f%%)\n", "'"$dashboards"'", (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2), n, a[1], a[NR]
    # mean of the pair changes with a normal-approximation 95% interval: what the pairs can tell apart from 0
    m = s/NR; sd = (NR > 1 ? sqrt((q - NR*m*m)/(NR-1)) : 0); h = 1.96*sd/sqrt(NR)
    printf "mean change %+.2f%% ± %.2f%% (95%% CI %+.2f%% … %+.2f%%)\n", m, h, m-h, m+h}'
