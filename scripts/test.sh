#!/usr/bin/env bash
# Runs every check and test: formatting, clippy (warnings are errors), unit, property and process
# integration tests (both io drivers), benches and docs build (doc warnings are errors), the demo once on
# a "bare" machine, and a short fuzz run of each fuzz target when cargo-fuzz is present.
# The first command on a fresh machine: it runs `scripts/setup.sh test` itself (quick when all is there).
# Usage: scripts/test.sh            (FUZZ_SECONDS=0 skips fuzzing; default 30 s per target;
#                                    P2PFAAS_SKIP_SETUP=1 skips the setup step)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${P2PFAAS_SKIP_SETUP:-0}" = 1 ] || scripts/setup.sh test

echo "== cargo fmt --check"
cargo fmt --all -- --check
(cd fuzz && cargo fmt -- --check) # its own workspace, outside --all
echo "== cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
echo "== sans-IO core: no runtime in its dependencies, no clock/file/env/thread calls"
scripts/check-core.sh
echo "== cargo test (unit, property, integration)"
cargo test --workspace
# The demo as a newcomer meets it, with wrk, nginx and the eBPF and fuzzing toolchains hidden: failing
# stand-ins for them come first on PATH and P2PFAAS_HIDE tells the setup to treat them as absent without
# installing them. Short (2 s per scheduler) and on the dev build made above; it must reach both tables
# and say what it skipped.
echo "== demo on a bare machine (wrk, nginx, bpf-linker, cargo-fuzz hidden)"
hidden_tools="wrk nginx bpf-linker cargo-fuzz"
shims=$(mktemp -d)
for tool in $hidden_tools; do
  printf '#!/bin/sh\necho "%s: hidden for the bare-machine demo" >&2\nexit 127\n' "$tool" >"$shims/$tool"
  chmod +x "$shims/$tool"
done
demo_log=$(mktemp)
if ! PATH="$shims:$PATH" P2PFAAS_HIDE="$hidden_tools" P2PFAAS_DEMO_PROFILE=dev DEMO_SECONDS=2 \
  scripts/demo.sh >"$demo_log" 2>&1; then
  cat "$demo_log"
  echo "the bare-machine demo failed" >&2
  exit 1
fi
for want in "^setup: eBPF toolchain: skipped" "^setup: wrk: skipped" "^setup: nginx: skipped" \
  "^setup: cargo-fuzz: skipped" "^setup: curl: " "^\\| scheduler " "^function +calls"; do
  grep -Eq "$want" "$demo_log" || { cat "$demo_log"; echo "bare-machine demo: no line matching '$want'" >&2; exit 1; }
done
grep '^setup: ' "$demo_log"
rm -rf "$shims" "$demo_log"

# The demo's builds (scripts/build-quietly.sh) show the eBPF sub-build's ~40 cargo warnings only when the
# build fails: checked with a stand-in cargo that prints such a line and succeeds, then fails.
echo "== demo build output: eBPF sub-build messages only on failure"
fake=$(mktemp -d)
# shellcheck disable=SC2016 # the stand-in expands FAKE_STATUS when it runs
printf '#!/bin/sh\necho "   Compiling p2pfaas-node"\necho "warning: p2pfaas-node@0.1.0: Compiling core"\nexit "${FAKE_STATUS:-0}"\n' \
  >"$fake/cargo"
chmod +x "$fake/cargo"
quiet_ok=$(PATH="$fake:$PATH" scripts/build-quietly.sh 2>&1)
quiet_failed=$(PATH="$fake:$PATH" FAKE_STATUS=101 scripts/build-quietly.sh 2>&1) && {
  echo "build-quietly.sh hid a failed build's status" >&2
  exit 1
}
rm -rf "$fake"
if grep -q '^warning: p2pfaas-node@' <<<"$quiet_ok" || ! grep -q 'Compiling p2pfaas-node' <<<"$quiet_ok" \
  || ! grep -q '^warning: p2pfaas-node@' <<<"$quiet_failed"; then
  printf 'build-quietly.sh output wrong:\n--- success:\n%s\n--- failure:\n%s\n' "$quiet_ok" "$quiet_failed" >&2
  exit 1
fi

echo "== benches compile"
cargo bench --workspace --no-run
echo "== docs (-D warnings)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

# eBPF: the node with its `ebpf` feature (build.rs builds ebpf/ with the pinned nightly and bpf-linker);
# the privileged tests in node/tests/it/ebpf.rs run when root, and say "skipped: why" otherwise.
if bpf-linker --version >/dev/null 2>&1; then
  echo "== eBPF: clippy of the kernel programs (bpfel target, pinned nightly)"
  ebpf_toolchain=${P2PFAAS_EBPF_TOOLCHAIN:-nightly-2026-05-19}
  CARGO_ENCODED_RUSTFLAGS="--cfg=bpf_target_arch=\"$(uname -m)\"" cargo "+$ebpf_toolchain" clippy -p p2pfaas-ebpf \
    --bins --target bpfel-unknown-none -Z build-std=core -- -D warnings
  echo "== eBPF: clippy and tests with --features ebpf"
  cargo clippy -p p2pfaas-node --features ebpf --all-targets -- -D warnings
  cargo test -p p2pfaas-node --features ebpf
  # The workspace run above built the node without eBPF, so the bench's netns eBPF test said "skipped";
  # against the node just built with it, a netns experiment must read `ebpf` on every node.
  echo "== eBPF: netns nodes measure with eBPF, each pinning in its own directory (bench)"
  cargo test -p p2pfaas-bench --test cluster -- nodes_in_namespaces_measure_with_ebpf
  # The run above uses tp_btf where the kernel has BTF; run the eBPF tests again with the classic
  # (raw tracepoint) programs forced, which is what a kernel without BTF (Raspberry Pi OS) gets.
  echo "== eBPF: tests again with the classic (raw tracepoint) programs"
  P2PFAAS_TEST_EBPF_PROGRAMS=classic cargo test -p p2pfaas-node --features ebpf --test it -- ebpf::
else
  echo "skipped: eBPF feature (bpf-linker is missing or cannot find its nightly's libLLVM; ebpf/setup.sh installs both)"
fi

# The dashboard in a real browser: headless chromium (Selenium) against live 3-node clusters under load.
echo "== browser tests (dashboard)"
node/tests/browser/run.sh

# The Python package: built with maturin into a venv; simulator report = CLI's, Gymnasium env checks,
# signed admin calls to a live node.
echo "== python package (p2pfaas: simulator, Gymnasium env, admin)"
python/test.sh

echo "== cross: aarch64 musl node under qemu (epoll and procfs/PSI fallbacks, echo, /metrics, SIGTERM)"
cross/check.sh

# Deployment files: systemd unit verified, scored and booted under systemd-nspawn (root), the Yocto layer
# linted and its crate list checked against Cargo.lock, balena and Kubernetes manifests validated.
echo "== images (deployment files)"
images/check.sh

fuzz_seconds=${FUZZ_SECONDS:-30}
if [ "$fuzz_seconds" != 0 ]; then
  if cargo +nightly fuzz --help >/dev/null 2>&1; then
    for target in $(cargo +nightly fuzz list --fuzz-dir fuzz); do
      echo "== fuzz $target (${fuzz_seconds}s)"
      # fuzz/seeds/<target> holds checked-in inputs (valid examples, and `regression-*` inputs that once
      # failed); libFuzzer runs them first, and new finds go to the (untracked) first directory.
      mkdir -p "fuzz/corpus/$target"
      seeds=()
      [ -d "fuzz/seeds/$target" ] && seeds=("fuzz/seeds/$target")
      cargo +nightly fuzz run --fuzz-dir fuzz "$target" "fuzz/corpus/$target" "${seeds[@]}" \
        -- -max_total_time="$fuzz_seconds" -rss_limit_mb=2048
    done
  else
    echo "skipped: fuzzing (cargo-fuzz or a nightly toolchain is not installed; scripts/setup.sh installs both)"
  fi
fi
