#!/usr/bin/env bash
# Demo: (1) a 3-node cluster on loopback under uneven Poisson traffic, once per scheduler, with a results
# table (`p2pfaas-bench demo`, bench/specs/demo.toml; DEMO_SECONDS per scheduler, default 20);
# (2) one node with the built-in functions and a process function (`cat`): echo, a burst of sleep calls
# past K+Q, cpu-loop and cat, with a per-function table.
# The first command on a fresh machine: it runs `scripts/setup.sh demo` itself (quick when all is there).
# P2PFAAS_DEMO_PROFILE picks the cargo profile (default release; scripts/test.sh uses dev to reuse its
# build). P2PFAAS_SKIP_SETUP=1 skips the setup step.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${P2PFAAS_SKIP_SETUP:-0}" = 1 ] || scripts/setup.sh demo

profile=${P2PFAAS_DEMO_PROFILE:-release}
out_dir=${CARGO_TARGET_DIR:-target}/$([ "$profile" = dev ] && echo debug || echo "$profile")

# Builds quietly for people: the eBPF sub-build's cargo warnings appear only if the build fails.
build() { scripts/build-quietly.sh --profile "$profile" "$@"; }

echo "== a 3-node cluster, schedulers side by side"
# With the eBPF toolchain (scripts/setup.sh installs it) the nodes measure their load with the kernel
# probes when run as root; otherwise they fall back to PSI or /proc/stat. The table's `load` column says.
features=()
bpf-linker --version >/dev/null 2>&1 && features=(--features ebpf)
build -p p2pfaas-node "${features[@]}"
build -p p2pfaas-bench
"$out_dir/p2pfaas-bench" demo --seconds "${DEMO_SECONDS:-20}" --quiet
echo
echo "== one node, every kind of function"

build -p p2pfaas-node
bin=$out_dir/p2pfaas-node
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

cat > "$work/node.toml" <<TOML
[node]
listen = "127.0.0.1:0"
data_dir = "$work/data"
[queue]
slots = 4
queue_len = 4
[scheduler]
name = "NoScheduler"
parameters = ["false"]
[functions.echo]
backend = "builtin"
builtin = "echo"
[functions.sleep]
backend = "builtin"
builtin = "sleep"
mean_ms = 500
distribution = "fixed"
[functions.cpu]
backend = "builtin"
builtin = "cpu-loop"
mean_ms = 20
distribution = "exponential"
[functions.cat]
backend = "process"
command = ["cat"]
TOML

"$bin" --config "$work/node.toml" > "$work/stdout" 2> "$work/stderr" &
pid=$!
for _ in $(seq 100); do grep -q '^listening' "$work/stdout" 2>/dev/null && break; sleep 0.05; done
addr=$(awk '/^listening/{print $2}' "$work/stdout")
[ -n "$addr" ] || { echo "node did not start:"; cat "$work/stderr"; exit 1; }
echo "node listening on $addr ($(grep -o 'driver="[^"]*"' "$work/stderr" | head -1 || true))"

call() { # function, body, extra curl args...
  local fn=$1 body=$2; shift 2
  curl -s -o /dev/null -w "$fn %{http_code} %{time_total}\n" -X POST --data-binary "$body" "$@" "http://$addr/function/$fn"
}

: > "$work/results"
for i in $(seq 50); do call echo "hello $i" >> "$work/results"; done
# 12 concurrent 0.5 s calls against K=4, Q=4: 4 run, 4 wait, 4 are refused with 429.
burst=()
for i in $(seq 12); do call sleep "job $i" >> "$work/results" & burst+=($!); done
wait "${burst[@]}"
for i in $(seq 10); do call cpu "work $i" >> "$work/results"; done
for i in $(seq 10); do call cat "stdin $i" >> "$work/results"; done
call echo "refused" -H 'X-P2pfaas-Scheduler-Reject: 1' >> "$work/results"

echo
printf '%-8s %6s %6s %6s %6s %10s %10s\n' function calls 200 429 503 p50_ms max_ms
for fn in echo sleep cpu cat; do
  awk -v fn="$fn" '$1==fn' "$work/results" | sort -k3 -n | awk -v fn="$fn" '
    { n++; c[$2]++; t[n]=$3*1000 }
    END { printf "%-8s %6d %6d %6d %6d %10.2f %10.2f\n", fn, n, c[200], c[429], c[503], t[int((n+1)/2)], t[n] }'
done
echo
echo "rejected on purpose (X-P2pfaas-Scheduler-Reject): $(awk '$2==503' "$work/results" | wc -l)"
echo "node metrics:"
curl -s "http://$addr/metrics" | grep -E '^p2pfaas_(invocations_total|runtime_driver_info|slots|queue_length_max)' | grep -v ' 0$' | sed 's/^/  /'
