#!/usr/bin/env bash
# What an external agent costs per decision (issue #19, docs/external-agent.md): a live node whose
# LearningScheduler asks a Python agent (p2pfaas.agent over a Unix socket) against the same node with
# the in-process agent, side by side in one run, interleaved per round.
#
# Both nodes: one worker, built-in echo, LearningScheduler(1), greedy (ε = 0), two actions; the
# in-process agent learns "run here" during the warm-up (reward_rejected = -1), the Python policy
# always answers 1 (run here), so both serve the same 200s. Requests carry a deadline, so rewards are
# computed and (external) streamed back as transitions. The node and the agent share CPU 0; wrk runs
# on CPU 1 with one connection (-c1: the single-request round trip) and reports p50 / p99.
# Prints the per-config medians over the rounds, the p50 difference (the cost of asking the agent,
# target ≤ 100 µs) and the agent's fallback counts (decisions that did not get the action within
# external_timeout_ms, default 2 ms).
#
# Usage: bench/external-agent.sh [seconds-per-run] [rounds]   (needs wrk, taskset, python3 + numpy;
#        PY selects the interpreter, default the package venv /var/tmp/p2pfaas-py-venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8}
rounds=${2:-3}
py=${PY:-/var/tmp/p2pfaas-py-venv/bin/python}
source bench/lib.sh
bench_init wrk taskset
"$py" -c 'import numpy' 2>/dev/null || { echo "needs $py with numpy (python/setup.sh)"; exit 1; }
cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = "$(head -c 256 /dev/zero | tr '\0' 'x')"
wrk.headers["Content-Type"] = "text/plain"
wrk.headers["X-P2pfaas-Deadline-Ms"] = "1000"
LUA
# The agent module is pure Python: loaded by path, so neither the extension nor an install is needed.
cat > "$work/agent.py" <<PY
import importlib.util, sys
import numpy as np
spec = importlib.util.spec_from_file_location("agent", "python/p2pfaas/agent.py")
agent = importlib.util.module_from_spec(spec); spec.loader.exec_module(agent)
agent.serve(lambda s: np.ones(len(s), dtype=np.int64), sys.argv[1], train=lambda batch: None)
PY

start_node() { # name [external] -> sets url, spid, port
  local name=$1 external=${2:-}
  port=$(free_port)
  echo_node_toml "$name" "$port"
  cat >> "$work/$name.toml" <<TOML
[scheduler]
name = "LearningScheduler"
parameters = ["1"]
[learner]
reward_met = 1.0
reward_rejected = -1.0
${external:+external = \"$external\"}
[learner.parameters]
actions_n = 2
epsilon_start = 0.0
epsilon_min = 0.0
TOML
  taskset -c 0 "$bin" --config "$work/$name.toml" > "$work/$name.out" 2>&1 &
  spid=$!; pids+=("$spid")
  wait_listening "$work/$name.out"
  url="http://127.0.0.1:$port/function/echo"
}

to_us() { # wrk latency like 52.00us / 1.20ms -> microseconds
  awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us$/,"",v); print v+0} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v*1000} else if (v ~ /s$/) {sub(/s$/,"",v); print v*1000000} else print v }'
}

metric() { curl -s "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1==m{print $2}'; }

results="$work/results.tsv"
: > "$results"
measure() { # name
  local name=$1 out p50 p99 non2xx
  taskset -c 1 wrk -t1 -c8 -d2s -s "$work/post.lua" "$url" > /dev/null   # warm-up (and learning)
  out=$(taskset -c 1 wrk -t1 -c1 -d"${secs}s" --latency -s "$work/post.lua" "$url")
  p50=$(to_us "$(awk '$1=="50%"{print $2}' <<<"$out")")
  p99=$(to_us "$(awk '$1=="99%"{print $2}' <<<"$out")")
  non2xx=$(awk '/Non-2xx/{print $NF}' <<<"$out")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$p50" "$p99" "$(awk '/requests in/{print $1}' <<<"$out")" \
    "${non2xx:-0}" "$(metric p2pfaas_agent_decisions_total)" \
    "$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^p2pfaas_agent_fallbacks_total/{s+=$2} END{print s+0}')" >> "$results"
}

for round in $(seq "$rounds"); do
  echo "round $round/$rounds" >&2
  start_node in-process; measure in-process; kill "$spid"; wait "$spid" 2>/dev/null || true
  sock="$work/agent.sock"
  taskset -c 0 "$py" "$work/agent.py" "unix:$sock" > "$work/agent.out" 2>&1 &
  apid=$!; pids+=("$apid")
  for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
  start_node external "unix:$sock"
  for _ in $(seq 100); do [ "$(metric p2pfaas_agent_connects_total)" = "1" ] && break; sleep 0.05; done
  measure external; kill "$spid" "$apid"; wait "$spid" "$apid" 2>/dev/null || true
done

echo
echo "machine: $(nproc) cores, $(uname -r); commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown); $(date -u +%F)"
echo "medians over $rounds rounds of ${secs}s; node (+ agent) on CPU0, wrk -c1 on CPU1; 256-byte POST, echo"
echo
median() { awk -F'\t' -v n="$1" -v c="$2" '$1==n{print $c}' "$results" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
printf '| agent | c=1 p50 µs | c=1 p99 µs |\n|---|---|---|\n'
for name in in-process external; do
  printf '| %s | %.0f | %.0f |\n' "$name" "$(median "$name" 2)" "$(median "$name" 3)"
done
echo
awk -F'\t' '$1=="in-process"{a[++n]=$2} $1=="external"{b[++m]=$2}
  END{for(i=1;i<=n&&i<=m;i++) printf "%s%+.0f", (i>1?", ":""), b[i]-a[i]; print ""}' "$results" |
  sed 's/^/external − in-process p50 per round (µs): /'
echo "p50 difference of the medians: $(awk -v a="$(median in-process 2)" -v b="$(median external 2)" 'BEGIN{printf "%+.0f µs", b-a}') (target ≤ +100 µs)"
echo
echo "raw: name p50 p99 requests non-2xx agent-decisions agent-fallbacks (the counters include the warm-up)"
sed 's/^/  /' "$results"
