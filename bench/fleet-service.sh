#!/usr/bin/env bash
# Starts and stops p2pfaas-node as a service, the way systemd runs images/systemd/p2pfaas-node.service:
# detached in its own session, stdin from /dev/null, output to a log, a pid file, SIGTERM to stop
# (SIGKILL after 10 s). Used by tests/fleet.rs so the nodes under test are not children of the runner;
# usable by hand to stand up a small fleet in network namespaces (root).
#
#   bench/fleet-service.sh start NAME BINARY CONFIG STATE_DIR [NETNS]
#       runs BINARY --config CONFIG --data-dir STATE_DIR/NAME (inside NETNS when given); returns once
#       the node prints its `listening` line (exit 1 with the log after 20 s, or if it dies)
#   bench/fleet-service.sh stop NAME STATE_DIR
set -euo pipefail

usage() { sed -n '2,11p' "$0" >&2; exit 64; }

cmd=${1:-}
case "$cmd" in
  start)
    [ $# -ge 5 ] || usage
    name=$2 binary=$3 config=$4 state=$5 netns=${6:-}
    mkdir -p "$state/$name"
    log="$state/$name.log"
    : >"$log"
    wrap=()
    [ -n "$netns" ] && wrap=(ip netns exec "$netns")
    # setsid: own session and process group, like a unit's main process; no terminal, no parent to wait.
    setsid "${wrap[@]}" "$binary" --config "$config" --data-dir "$state/$name" \
      </dev/null >>"$log" 2>&1 &
    echo $! >"$state/$name.pid"
    for _ in $(seq 200); do
      if grep -q '^listening ' "$log"; then exit 0; fi
      if ! kill -0 "$(cat "$state/$name.pid")" 2>/dev/null; then break; fi
      sleep 0.1
    done
    echo "fleet-service: $name did not start; its log:" >&2
    cat "$log" >&2
    exit 1
    ;;
  stop)
    [ $# -ge 3 ] || usage
    name=$2 state=$3
    pidfile="$state/$name.pid"
    [ -f "$pidfile" ] || exit 0
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; exit 0; }
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
    ;;
  *) usage ;;
esac
