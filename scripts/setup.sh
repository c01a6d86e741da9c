#!/usr/bin/env bash
# Installs what building, testing and benchmarking need on a fresh Debian/Ubuntu machine with rustup.
# Idempotent. Run as root (or with sudo available).
set -euo pipefail

sudo_cmd=""
if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi

need_pkgs=()
for cmd_pkg in "curl:curl" "wrk:wrk" "nginx:nginx-light" "cc:build-essential" "python3:python3"; do
  cmd=${cmd_pkg%%:*}; pkg=${cmd_pkg#*:}
  command -v "$cmd" >/dev/null 2>&1 || need_pkgs+=("$pkg")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_pkgs[@]}"
fi

rustup component add rustfmt clippy >/dev/null
# Fuzzing needs a nightly toolchain and cargo-fuzz; without them scripts/test.sh says "skipped: fuzzing".
if [ "${SKIP_FUZZ_SETUP:-0}" != 1 ]; then
  rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal \
    || echo "warning: no nightly toolchain; fuzzing will be skipped" >&2
  cargo +nightly fuzz --help >/dev/null 2>&1 || cargo install cargo-fuzz --locked \
    || echo "warning: cargo-fuzz did not install; fuzzing will be skipped" >&2
fi

# eBPF load probes (node feature `ebpf`): bpftool, the pinned nightly + rust-src, bpf-linker, bpffs and
# tracefs. Without them scripts/test.sh says "skipped: eBPF" and the node samples PSI/procfs instead.
"$(dirname "$0")/../ebpf/setup.sh" || echo "warning: ebpf/setup.sh failed; eBPF tests will be skipped" >&2

# Cross builds for the Raspberry Pi 4 (aarch64 musl via cargo-zigbuild, aarch64 gnu via Debian's cross
# gcc) and qemu-user for the smoke test that scripts/test.sh runs (cross/check.sh).
"$(dirname "$0")/../cross/setup.sh"

# Validators for the deployment files under images/ (systemd, yamllint, oelint-adv, hadolint,
# kubernetes-validate, docker-compose): Debian packages and a PyPI venv; scripts/test.sh runs images/check.sh.
"$(dirname "$0")/../images/setup.sh"

# The dashboard's browser tests: Debian's chromium + chromium-driver and a PyPI venv with selenium and
# pytest; scripts/test.sh runs node/tests/browser/run.sh.
"$(dirname "$0")/../node/tests/browser/setup.sh"
