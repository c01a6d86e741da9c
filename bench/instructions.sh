#!/usr/bin/env bash
# User-space instructions per request of the node (valgrind's callgrind `Ir`), on three paths: what a change
# to the hot path saves, free of this VM's timing noise (the count repeats within ~1-2% whatever else the
# machine does; it moves a little with how many requests a run serves, since idle wake-ups are spread over
# them). Kernel work (the TCP stack, io_uring) is not counted: the wall-clock benches (forward.sh,
# overhead.sh) say what the count is worth in time.
#
# Modes (each in fresh nodes, io_uring driver, one worker, node on CPU 0 and wrk on CPU 1):
#   echo   one node serving the built-in echo (K = 4), wrk -c32, POST 256 B
#   fwd-a  node A (ForwardScheduler(1)) forwarding to node B, wrk -c1: A is counted
#   fwd-b  the same pair, B (the executor of the forwarded job) is counted
#   http   one node calling function f (backend = "http", keep-alive pool) in front of nginx `return 200 "ok"`
#          (nginx on CPU 0 too, as in backend_http.sh), wrk -c1 GET /function/f
# The count starts after a 3 s warm-up (callgrind_control --zero) and covers SECS of load.
# With BASELINE_BIN=<p2pfaas-node binary> each mode is also counted for that binary, right after.
# CG_KEEP=<dir> keeps the profiles there (callgrind_annotate --inclusive=yes <file>).
#
# Usage: bench/instructions.sh [secs] [modes...]      (default: 8 s, all four modes; needs valgrind, wrk,
#        taskset, curl, and nginx for http)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8}
shift || true
modes=("${@:-echo fwd-a fwd-b http}")
read -r -a modes <<<"${modes[*]}"
source bench/lib.sh
tools=(valgrind callgrind_control wrk taskset curl)
[[ " ${modes[*]} " != *" http "* ]] || tools+=(nginx)
bench_init "${tools[@]}"
post_lua 256

start() { # name port counted binary
  if [ "$3" = 1 ]; then
    taskset -c 0 valgrind --tool=callgrind --compress-strings=no --compress-pos=no \
      --callgrind-out-file="$work/cg.out" "$4" --config "$work/$1.toml" --driver io-uring > "$work/$1.log" 2>&1 &
    counted=$!
  else
    taskset -c 0 "$4" --config "$work/$1.toml" --driver io-uring > "$work/$1.log" 2>&1 &
  fi
  running+=("$!")
  pids+=("$!") # killed at exit if the script stops early
  # Under valgrind the node answers before it prints "listening": wait for an answer.
  for _ in $(seq 600); do
    curl -sf -o /dev/null -X POST --data x "http://127.0.0.1:$2/function/echo" && return
    sleep 0.1
  done
  echo "node $1 did not start:" >&2
  cat "$work/$1.log" >&2
  exit 1
}

count() { # mode binary label -> one line
  local mode=$1 exe=$2 label=$3 url conns out reqs ir pa pb script=(-s "$work/post.lua")
  running=()
  rm -f "$work"/cg.out*
  pa=$(free_port)
  pb=$(free_port)
  case $mode in
    echo)
      scheduler_node_toml e "$pa" NoScheduler '"false"' '' 4
      start e "$pa" 1 "$exe"
      url=http://127.0.0.1:$pa/function/echo conns=32 ;;
    fwd-a | fwd-b)
      scheduler_node_toml b "$pb" NoScheduler '"false"' '' 64
      scheduler_node_toml a "$pa" ForwardScheduler '"1"' "\"127.0.0.1:$pb\"" 64
      if [ "$mode" = fwd-b ]; then start b "$pb" 1 "$exe"; start a "$pa" 0 "$exe"; else
        start b "$pb" 0 "$exe"; start a "$pa" 1 "$exe"; fi
      sleep 3 # A learns B's functions and protocol from its first refresh
      url=http://127.0.0.1:$pa/function/echo conns=1 ;;
    http)
      # One nginx for every count of the run (its state does not move the node's count).
      [ -n "${fn_port:-}" ] || { fn_port=$(free_port); function_nginx "$fn_port"; }
      scheduler_node_toml h "$pa" NoScheduler '"false"' '' 64
      http_function_toml "$fn_port" >> "$work/h.toml"
      start h "$pa" 1 "$exe"
      url=http://127.0.0.1:$pa/function/f conns=1 script=() ;;
    *) echo "unknown mode: $mode (echo, fwd-a, fwd-b, http)" >&2; exit 2 ;;
  esac
  taskset -c 1 wrk -t1 -c"$conns" -d3s "${script[@]}" "$url" > /dev/null
  callgrind_control --zero "$counted" > /dev/null 2>&1
  out=$(taskset -c 1 wrk -t1 -c"$conns" -d"${secs}s" "${script[@]}" "$url")
  callgrind_control --dump=after "$counted" > /dev/null 2>&1
  sleep 1
  kill -9 "${running[@]}" 2>/dev/null || true
  wait "${running[@]}" 2>/dev/null || true
  if grep -q "Non-2xx" <<<"$out"; then echo "$label $mode: non-2xx responses!" >&2; fi
  reqs=$(awk '/requests in/{print $1}' <<<"$out")
  ir=$(awk '/^summary:/{print $2}' "$work"/cg.out.1)
  printf '| %s | %s | %s | %s |\n' "$mode" "$label" "$((ir / reqs))" "$reqs"
  if [ -n "${CG_KEEP:-}" ]; then mkdir -p "$CG_KEEP" && cp "$work"/cg.out.1 "$CG_KEEP/$mode-$label.cg"; fi
}

echo "machine: $(nproc) cores, $(uname -r); commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown); $(date -u +%F)"
echo "user-space instructions (callgrind Ir) per request; ${secs}s of load per count"
echo
printf '| mode | binary | Ir/request | requests counted |\n|---|---|---|---|\n'
for mode in "${modes[@]}"; do
  count "$mode" "$bin" node
  [ -z "${BASELINE_BIN:-}" ] || count "$mode" "$(readlink -f "$BASELINE_BIN")" baseline
done
# Stop nginx before the exit trap removes its directory (it writes on shutdown).
kill "${pids[@]}" 2>/dev/null || true
wait "${pids[@]}" 2>/dev/null || true
