#!/usr/bin/env bash
# Installs the eBPF toolchain for the node's `ebpf` feature on Debian/Ubuntu (design §6), idempotently:
#   - Debian packages: bpftool (inspection and tests), libcap2-bin (capsh, used by the fallback test);
#   - the pinned dated nightly with rust-src (aya-build compiles `core` for bpfel-unknown-none with it)
#     and clippy (scripts/test.sh lints the kernel programs for their real target);
#   - bpf-linker 0.13.0 linked against that nightly's own libLLVM (Debian's LLVM cannot read rustc's
#     bitcode), rebuilt when it no longer starts (e.g. the nightly was removed);
#   - bpffs at /sys/fs/bpf and tracefs at /sys/kernel/tracing, when missing and we are root.
# Usage: ebpf/setup.sh   (SKIP_EBPF_SETUP=1 does nothing)
set -euo pipefail

if [ "${SKIP_EBPF_SETUP:-0}" = 1 ]; then echo "ebpf/setup.sh: skipped (SKIP_EBPF_SETUP=1)"; exit 0; fi

# Keep in step with node/build.rs (EBPF_TOOLCHAIN) and design §6.
toolchain=${P2PFAAS_EBPF_TOOLCHAIN:-nightly-2026-05-19}
linker_version=0.13.0

sudo_cmd=""
if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi

need_pkgs=()
command -v bpftool >/dev/null 2>&1 || need_pkgs+=(bpftool)
command -v capsh >/dev/null 2>&1 || need_pkgs+=(libcap2-bin)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
fi

if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
  rustup toolchain install "$toolchain" --profile minimal --component rust-src,clippy
fi
# rust-src: aya-build compiles `core` for the BPF target; clippy: scripts/test.sh lints the programs.
for component in rust-src clippy; do
  rustup component list --toolchain "$toolchain" --installed | grep -q "^$component" \
    || rustup component add "$component" --toolchain "$toolchain"
done

# bpf-linker must run and report the pinned version; a missing libLLVM (toolchain changed) fails here.
if ! bpf-linker --version 2>/dev/null | grep -q "bpf-linker $linker_version"; then
  sysroot=$(rustup run "$toolchain" rustc --print sysroot)
  libdir=$sysroot/lib
  lib=$(basename "$(ls "$libdir"/libLLVM-*-rust-*.so)" .so); lib=${lib#lib}   # e.g. LLVM-22-rust-1.97.0-nightly
  major=$(echo "$lib" | sed -E 's/^LLVM-([0-9]+)-.*/\1/')
  RUSTFLAGS="-L native=$libdir -l dylib=$lib -C link-arg=-Wl,-rpath,$libdir" \
    cargo +stable install bpf-linker --version "$linker_version" --locked --force \
      --no-default-features --features "llvm-$major,no-llvm-linking"
fi

# Run-time mounts: pinned maps need bpffs; tracefs is for people reading the events (the programs
# are raw tracepoints and need none). Only root can mount.
if [ "$(id -u)" = 0 ]; then
  mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
  mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
else
  mountpoint -q /sys/fs/bpf || echo "ebpf/setup.sh: /sys/fs/bpf not mounted (needs root: mount -t bpf bpf /sys/fs/bpf)" >&2
  mountpoint -q /sys/kernel/tracing \
    || echo "ebpf/setup.sh: tracefs not mounted (needs root: mount -t tracefs tracefs /sys/kernel/tracing)" >&2
fi
echo "ebpf/setup.sh: $toolchain, bpf-linker $(bpf-linker --version | awk '{print $2}'), bpftool $(bpftool version 2>/dev/null | head -1 | awk '{print $2}')"
