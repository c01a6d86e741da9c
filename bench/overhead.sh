#!/usr/bin/env bash
# End-to-end overhead of the node, side by side with nginx, in one run (ratios survive a noisy machine).
#
# Servers are pinned to CPU 0 and wrk to CPU 1 (taskset), one worker each. Each round runs every config
# once, each in a fresh server after a 2 s warm-up, and the order rotates by one config per round (no
# config always follows the same one, or always runs first); three rounds by default, more for a
# steadier figure. The ratio to nginx is taken per round (the two ran minutes apart at most, under the
# same machine load) and summarised as the median of the per-round ratios with their range; the other
# columns are medians over rounds. Measured per config:
#   c=1  : wrk -c1  -> p50 / p99 latency (single-connection round trip)
#   c=32 : wrk -c32 -> req/s and server CPU µs per request (from /proc/<pid>/task/*/schedstat)
#   RSS  : VmRSS after start (idle) and VmHWM at the end
# Configs:
#   node-echo    p2pfaas-node, builtin echo, POST 256-byte body echoed back (io_uring driver)
#   node-epoll   the same on the epoll driver
#   nginx-200    nginx `return 200` with a fixed 256-byte body
#   node-echo-ui node-echo with $DASHBOARDS (default 2) dashboards open: that many `GET /events` streams
#                (what an open /ui page holds), read by curl on CPU 1 — the dashboard's cost under load
#   node-static  node-echo built static (x86_64-unknown-linux-musl via `cargo zigbuild`, the form README
#                recommends for a Pi); skipped, saying why, without cargo-zigbuild (cross/setup.sh)
#
# Idle RSS is mostly file-backed code, not the node's data: dynamically linked, ~4.1 MB of ~4.8 MB are
# pages of the binary, libc, ld.so and libgcc_s mapped in at start (the kernel maps file pages around
# each fault), ~0.6 MB anonymous (mimalloc's pages, stacks) and 0.1 MB io_uring rings. Static, the
# shared libraries' pages are gone (~3.2 MB idle). Idle is read at "listening"; 2 s later it is the same.
#
# Then (bench/backend_http.sh) the cost of the node in front of a real HTTP function, against calling the
# function directly and against nginx `proxy_pass`, with the ratio to the direct call.
#
# Usage: bench/overhead.sh [seconds-per-run] [rounds]     (needs wrk, nginx, taskset; scripts/setup.sh)
# Environment: CONFIGS="node-echo nginx-200 …" measures only those configs; BASELINE_BIN=<a p2pfaas-node>
# adds the config node-base, that binary serving the same echo (e.g. `main`'s build, for a before/after
# in one run); BACKEND_HTTP=0 skips the bench/backend_http.sh part.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8}
rounds=${2:-3}
source bench/lib.sh
bench_init wrk nginx taskset
post_lua 256
configs=(${CONFIGS:-node-echo node-echo-ui node-epoll nginx-200 node-static})
[ -z "${BASELINE_BIN:-}" ] || configs+=(node-base)
static_bin=
if [[ " ${configs[*]} " != *" node-static "* ]]; then
  :
elif [ "$(uname -m)" = x86_64 ] && command -v cargo-zigbuild >/dev/null; then
  cargo zigbuild --locked --release --target x86_64-unknown-linux-musl -p p2pfaas-node --bin p2pfaas-node >&2
  static_bin=${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-musl/release/p2pfaas-node
else
  echo "skipped: node-static (needs an x86_64 host and cargo-zigbuild: cross/setup.sh)" >&2
  configs=("${configs[@]/node-static}")
fi
for name in ${configs[*]}; do
  [[ " node-echo node-echo-ui node-epoll nginx-200 node-static node-base " == *" $name "* ]] ||
    { echo "unknown config in CONFIGS: $name" >&2; exit 1; }
done
configs=(${configs[*]})
[[ " ${configs[*]} " == *" nginx-200 "* ]] || { echo "CONFIGS must include nginx-200 (the ratios' base)" >&2; exit 1; }

start_node() { # driver [binary] -> sets url, spid
  local driver=$1 exe=${2:-$bin} port
  port=$(free_port)
  echo_node_toml "node-$driver" "$port"
  taskset -c 0 "$exe" --config "$work/node-$driver.toml" --driver "$driver" > "$work/node-$driver.out" 2>&1 &
  spid=$!; pids+=("$spid")
  wait_listening "$work/node-$driver.out"
  url="http://127.0.0.1:$port/function/echo"
}

start_nginx_200() {
  local port
  port=$(free_port)
  start_nginx "  server {
    listen 127.0.0.1:$port reuseport;
    location / { return 200 \"$body\"; }
  }"
  spid=$nginx_pid
  url="http://127.0.0.1:$port/"
}

rss_kb() { # VmRSS (or VmHWM) summed over a process tree
  local field=$2 total=0 p
  for p in "$1" $(pgrep -P "$1" || true); do
    total=$((total + $(awk -v f="$field:" '$1==f{print $2}' /proc/"$p"/status 2>/dev/null || echo 0)))
  done
  echo "$total"
}

to_us() { # wrk latency like 52.00us / 1.20ms / 1.00s -> microseconds
  awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us$/,"",v); print v+0} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v*1000} else if (v ~ /s$/) {sub(/s$/,"",v); print v*1000000} else print v }'
}

dashboards=${DASHBOARDS:-2}
open_dashboards() { # opens $dashboards /events streams on the node under test; sets dash_pids
  dash_pids=()
  for _ in $(seq "$dashboards"); do
    taskset -c 1 curl -sN "${url%/function/echo}/events" > /dev/null &
    dash_pids+=($!); pids+=($!)
  done
  sleep 1.5
}

results="$work/results.tsv"
: > "$results"
measure() { # name round
  local name=$1 round=$2 idle before after out1 out32 rps reqs p50 p99
  idle=$(rss_kb "$spid" VmRSS)
  taskset -c 1 wrk -t1 -c32 -d2s -s "$work/post.lua" "$url" > /dev/null   # warm-up
  out1=$(taskset -c 1 wrk -t1 -c1 -d"${secs}s" --latency -s "$work/post.lua" "$url")
  p50=$(to_us "$(awk '$1=="50%"{print $2}' <<<"$out1")")
  p99=$(to_us "$(awk '$1=="99%"{print $2}' <<<"$out1")")
  before=$(cpu_ns "$spid")
  out32=$(taskset -c 1 wrk -t1 -c32 -d"${secs}s" --latency -s "$work/post.lua" "$url")
  after=$(cpu_ns "$spid")
  rps=$(awk '/^Requests\/sec/{print $2}' <<<"$out32")
  reqs=$(awk '/requests in/{print $1}' <<<"$out32")
  if grep -q "Non-2xx" <<<"$out32$out1"; then echo "$name: non-2xx responses!" >&2; fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$p50" "$p99" "$rps" \
    "$(awk -v a="$after" -v b="$before" -v n="$reqs" 'BEGIN{printf "%.2f", (a-b)/1000/n}')" \
    "$idle" "$(rss_kb "$spid" VmHWM)" "$round" >> "$results"
}

run_config() { # name round: one fresh server of that config, measured
  case $1 in
    node-echo) start_node io-uring; measure node-echo "$2"; kill "$spid" ;;
    node-echo-ui)
      start_node io-uring; open_dashboards; measure node-echo-ui "$2"; kill "${dash_pids[@]}" "$spid" ;;
    node-epoll) start_node epoll; measure node-epoll "$2"; kill "$spid" ;;
    nginx-200) start_nginx_200; measure nginx-200 "$2"; kill "$spid" ;;
    node-static) start_node io-uring "$static_bin"; measure node-static "$2"; kill "$spid" ;;
    node-base) start_node io-uring "$BASELINE_BIN"; measure node-base "$2"; kill "$spid" ;;
  esac
  wait "$spid" 2>/dev/null || true
}

for round in $(seq "$rounds"); do
  # This round's order: the list rotated by one more config than the last round's.
  order=()
  for i in "${!configs[@]}"; do order+=("${configs[$(((i + round - 1) % ${#configs[@]}))]}"); done
  echo "round $round/$rounds: ${order[*]}" >&2
  for name in "${order[@]}"; do run_config "$name" "$round"; done
done

echo
echo "machine: $(nproc) cores, $(uname -r); commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown); $(date -u +%F)"
echo "medians over $rounds rounds of ${secs}s (config order rotated per round); ratios to nginx taken per round;" \
  "server on CPU0, wrk on CPU1; 256-byte POST bodies"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '| config | c=1 p50 µs | c=1 p99 µs | c=32 req/s | ratio vs nginx (per round: median, range) | CPU µs/req | RSS idle KiB | RSS peak KiB |\n|---|---|---|---|---|---|---|---|\n'
mid() { # sorted numbers on stdin -> their median (the mean of the two middle ones for an even count)
  awk '{a[NR]=$1} END{print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}
median() { # config column -> median of that column over rounds
  awk -F'\t' -v n="$1" -v c="$2" '$1==n{print $c}' "$results" | sort -g | mid
}
ratios() { # config column -> that column's ratio to nginx-200's in the same round, in round order
  awk -F'\t' -v n="$1" -v c="$2" '$1=="nginx-200"{b[$8]=$c} $1==n{v[$8]=$c}
    END{for (r = 1; r in v; r++) if (b[r] > 0) printf "%.3f\n", v[r]/b[r]}' "$results"
}
ratio_summary() { # config column -> "median (min–max)" of the per-round ratios
  local sorted
  sorted=$(ratios "$1" "$2" | sort -g)
  printf '%.2f (%.2f–%.2f)' "$(mid <<<"$sorted")" "$(head -1 <<<"$sorted")" "$(tail -1 <<<"$sorted")"
}
for name in "${configs[@]}"; do
  printf '| %s | %.0f | %.0f | %.0f | %s | %.2f | %.0f | %.0f |\n' "$name" "$(median "$name" 2)" "$(median "$name" 3)" \
    "$(median "$name" 4)" "$(ratio_summary "$name" 4)" "$(median "$name" 5)" "$(median "$name" 6)" "$(median "$name" 7)"
done
echo
for name in "${configs[@]}"; do
  [ "$name" = nginx-200 ] && continue
  echo "$name vs nginx-200 per round: req/s $(ratios "$name" 4 | paste -sd' ' -)," \
    "CPU µs/req $(ratios "$name" 5 | paste -sd' ' -) (median $(ratio_summary "$name" 5))"
done
echo
if [[ " ${configs[*]} " == *" node-echo "* && " ${configs[*]} " == *" node-echo-ui "* ]]; then
  awk -F'\t' '$1=="node-echo"{b[$8]=$4} $1=="node-echo-ui"{u[$8]=$4}
    END{for(i=1;i in b&&i in u;i++) printf "%s%+.2f%%", (i>1?", ":""), 100*(u[i]/b[i]-1); print ""}' "$results" |
    sed "s/^/dashboards: c=32 req\/s change with $dashboards \/events streams open, per round (same round): /"
fi
echo
cat "$results" | sed 's/^/raw\t/' >&2

[ "${BACKEND_HTTP:-1}" = 0 ] && exit 0
echo
echo "== the node in front of an HTTP function: direct vs node (http backend) vs nginx proxy_pass"
bench/backend_http.sh "$secs" "$rounds"
