#!/usr/bin/env bash
# Runs every check and test: formatting, clippy (warnings are errors), unit, property and process
# integration tests (both io drivers), benches and docs build (doc warnings are errors), and a short fuzz
# run of each fuzz target when cargo-fuzz is present.
# Usage: scripts/test.sh            (FUZZ_SECONDS=0 skips fuzzing; default 30 s per target)
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test (unit, property, integration)"
cargo test --workspace
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
  # The run above uses tp_btf where the kernel has BTF; run the eBPF tests again with the classic
  # (raw tracepoint) programs forced, which is what a kernel without BTF (Raspberry Pi OS) gets.
  echo "== eBPF: tests again with the classic (raw tracepoint) programs"
  P2PFAAS_TEST_EBPF_PROGRAMS=classic cargo test -p p2pfaas-node --features ebpf --test it -- ebpf::
else
  echo "skipped: eBPF feature (bpf-linker is missing or cannot find its nightly's libLLVM; ebpf/setup.sh installs both)"
fi

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
