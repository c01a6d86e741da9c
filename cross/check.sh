#!/usr/bin/env bash
# What CI runs for cross/ (design §9): builds the aarch64 static node only (the full matrix is
# cross/build.sh's job) and runs the qemu smoke test on it. With a working bpf-linker (ebpf/setup.sh)
# the node is built with its `ebpf` feature, as releases are, so the smoke test also checks that a
# node embedding the eBPF programs falls back when bpf() is ENOSYS.
# Usage: cross/check.sh   (after cross/setup.sh; uses CARGO_TARGET_DIR like every cargo command)
set -euo pipefail
cd "$(dirname "$0")/.."

target=aarch64-unknown-linux-musl
profile=${CROSS_CHECK_PROFILE:-release}

missing=()
cargo-zigbuild --version >/dev/null 2>&1 || missing+=(cargo-zigbuild)
{ command -v zig >/dev/null 2>&1 || python3 -m ziglang version >/dev/null 2>&1; } || missing+=("zig (PyPI ziglang)")
grep -qx "$target" <<<"$(rustup target list --installed)" || missing+=("rustup target $target")
command -v aarch64-linux-gnu-strip >/dev/null 2>&1 || missing+=(binutils-aarch64-linux-gnu)
if [ ${#missing[@]} -gt 0 ]; then
  echo "FAIL: cross/check.sh: missing ${missing[*]}; run cross/setup.sh" >&2
  exit 1
fi

ebpf=()
if bpf-linker --version >/dev/null 2>&1; then
  ebpf=(--ebpf)
else
  echo "note: bpf-linker is missing or broken (ebpf/setup.sh installs it): smoke-testing a node without the ebpf feature"
fi

started=$(date +%s)
echo "== cross: $target node ($profile${ebpf:+, ebpf}) with cargo zigbuild"
features=()
[ ${#ebpf[@]} -gt 0 ] && features=(--features ebpf)
cargo zigbuild --locked --profile "$profile" --target "$target" -p p2pfaas-node --bin p2pfaas-node "${features[@]}"
echo "build: $(( $(date +%s) - started )) s"

profile_dir=$profile
case "$profile" in dev|test) profile_dir=debug ;; esac
bin=${CARGO_TARGET_DIR:-target}/$target/$profile_dir/p2pfaas-node
stripped=$(mktemp)
trap 'rm -f "$stripped"' EXIT
aarch64-linux-gnu-strip -o "$stripped" "$bin"
echo "size: $(stat -c %s "$bin") bytes, stripped $(stat -c %s "$stripped") bytes"

cross/smoke.sh "$bin" "${ebpf[@]}"
echo "cross/check.sh: $(( $(date +%s) - started )) s in all"
