#!/usr/bin/env bash
# qemu smoke test (design §9): runs an aarch64 p2pfaas-node under `qemu-aarch64` (user mode, Debian
# qemu-user) and checks what an aarch64 board without io_uring and BPF would see. qemu-user answers
# io_uring_setup() and bpf() with ENOSYS, so the node must:
#   - fall back to the epoll driver (log line and p2pfaas_runtime_driver_info{driver="epoll"});
#   - fall back to the PSI or procfs load source (log line and p2pfaas_load_source_info), and, when the
#     binary embeds the eBPF programs, say that eBPF failed;
#   - answer POST /function/echo (builtin echo) with the body it was sent, and count it in /metrics;
#   - shut down on SIGTERM with exit status 0 within SHUTDOWN_SECONDS.
# Any other outcome fails loudly (non-zero exit, with the node's log). Prints "skipped: why" and exits 0
# only when qemu-aarch64 is missing and cannot be installed.
# Usage: cross/smoke.sh <path to an aarch64 p2pfaas-node> [--ebpf]   (cross/check.sh builds one)
#   --ebpf: the binary was built with the `ebpf` feature; the load source must then say why eBPF is unused.
set -euo pipefail

bin=${1:?usage: cross/smoke.sh <aarch64 p2pfaas-node binary> [--ebpf]}
ebpf_embedded=0
[ "${2:-}" = --ebpf ] && ebpf_embedded=1
start_seconds=${START_SECONDS:-60}
shutdown_seconds=${SHUTDOWN_SECONDS:-10}

if ! command -v qemu-aarch64 >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-user; } \
      >/dev/null 2>&1 || true
  fi
  if ! command -v qemu-aarch64 >/dev/null 2>&1; then
    echo "skipped: qemu smoke test (qemu-aarch64 is not installed and could not be: apt-get install qemu-user)"
    exit 0
  fi
fi

fail() {
  echo "FAIL: cross/smoke.sh: $*" >&2
  if [ -n "${work:-}" ] && [ -f "$work/stderr" ]; then
    echo "--- node log (stderr) ---" >&2; cat "$work/stderr" >&2
    echo "--- node stdout ---" >&2; cat "$work/stdout" >&2
  fi
  exit 1
}

[ -x "$bin" ] || fail "$bin is not an executable file"
header=$(readelf -h "$bin") || fail "$bin is not an ELF file"
grep -q 'Machine:.*AArch64' <<<"$header" || fail "$bin is not an aarch64 binary"
# (Not `readelf | grep -q`: grep closing the pipe early would fail the pipeline under pipefail.)
if grep -q 'INTERP' <<<"$(readelf -l "$bin")"; then
  static="dynamic"
  # A dynamic (gnu) binary needs the aarch64 sysroot of gcc-aarch64-linux-gnu's libc.
  export QEMU_LD_PREFIX=${QEMU_LD_PREFIX:-/usr/aarch64-linux-gnu}
else
  static="static"
fi

work=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/node.toml" <<TOML
[node]
listen = "127.0.0.1:0"
data_dir = "$work/data"
workers = 2
[log]
level = "info"
[functions.echo]
backend = "builtin"
builtin = "echo"
TOML

echo "== qemu smoke: $(qemu-aarch64 --version | head -1); $bin ($static, eBPF embedded: $ebpf_embedded)"
started=$(date +%s%N)
# Created here, not by the background job's redirections, so the polling below never races them.
: >"$work/stdout"; : >"$work/stderr"
qemu-aarch64 "$bin" --config "$work/node.toml" >"$work/stdout" 2>"$work/stderr" &
pid=$!

addr=""
for _ in $(seq $((start_seconds * 10))); do
  addr=$(sed -n '/^listening /{s/^listening //p;q}' "$work/stdout")
  [ -n "$addr" ] && break
  kill -0 "$pid" 2>/dev/null || { wait "$pid" && rc=0 || rc=$?; pid=""; fail "the node exited with status $rc before listening"; }
  sleep 0.1
done
[ -n "$addr" ] || fail "no 'listening' line within ${start_seconds}s"
echo "listening $addr after $(( ($(date +%s%N) - started) / 1000000 )) ms"

# 1. The io driver: io_uring_setup is ENOSYS under qemu-user, so epoll, and the log says why.
grep -q 'using the epoll driver' "$work/stderr" || fail "no 'using the epoll driver' log line"

# 2. An invocation of the builtin echo.
body="hello from aarch64 $$"
resp=$(curl -sS --max-time 20 -o "$work/echo.body" -w '%{http_code}' -H 'Content-Type: text/plain' \
  --data-binary "$body" "http://$addr/function/echo") || fail "POST /function/echo: curl failed"
[ "$resp" = 200 ] || fail "POST /function/echo answered $resp: $(cat "$work/echo.body")"
[ "$(cat "$work/echo.body")" = "$body" ] || fail "POST /function/echo answered '$(cat "$work/echo.body")', want '$body'"
echo "POST /function/echo: 200, body echoed"

# 3. /metrics: driver, load source (after the first sample), and the invocation counted.
metrics=""
for _ in $(seq 100); do
  metrics=$(curl -sS --max-time 20 "http://$addr/metrics") || fail "GET /metrics: curl failed"
  grep -q '^p2pfaas_load_source_info{source="none"' <<<"$metrics" || break
  sleep 0.1
done
driver_line=$(grep '^p2pfaas_runtime_driver_info' <<<"$metrics") || fail "/metrics has no p2pfaas_runtime_driver_info"
grep -q 'driver="epoll"' <<<"$driver_line" || fail "driver is not epoll: $driver_line"
# The reason may span lines (escaped \n inside the label), so match from the metric name on.
source_line=$(grep '^p2pfaas_load_source_info' <<<"$metrics") || fail "/metrics has no p2pfaas_load_source_info"
grep -Eq 'source="(psi|procfs)"' <<<"$source_line" || fail "load source is not psi or procfs: $source_line"
if [ "$ebpf_embedded" = 1 ]; then
  # The reason must be the kernel's refusal, not a build without the feature.
  if ! grep -q 'reason="ebpf: ' <<<"$source_line" || grep -q 'built without' <<<"$source_line"; then
    fail "built with eBPF, but the load source reason does not say why eBPF is unused: $source_line"
  fi
fi
grep -q '^p2pfaas_invocations_total{function="echo",outcome="ok"} 1$' <<<"$metrics" \
  || fail "/metrics does not count the echo call: $(grep 'p2pfaas_invocations_total{function="echo"' <<<"$metrics")"
echo "$driver_line"
echo "$source_line"

# 4. SIGTERM: qemu passes it to the guest; the node drains and exits 0.
kill -TERM "$pid"
term_at=$(date +%s%N)
rc=""
for _ in $(seq $((shutdown_seconds * 10))); do
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid" && rc=0 || rc=$?
    break
  fi
  sleep 0.1
done
[ -n "$rc" ] || fail "still running ${shutdown_seconds}s after SIGTERM"
pid=""
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM, want 0"
grep -q 'shut down' "$work/stderr" || fail "no 'shut down' log line"
echo "SIGTERM: exit 0 after $(( ($(date +%s%N) - term_at) / 1000000 )) ms"
echo "--- node log ---"
cat "$work/stderr"
echo "qemu smoke: passed"
