#!/usr/bin/env bash
# Installs what cross/build.sh and cross/check.sh need on Debian/Ubuntu (design §9), idempotently:
#   - Debian packages: gcc-aarch64-linux-gnu and libc6-dev-arm64-cross (linker and C headers for
#     aarch64-unknown-linux-gnu; its binutils strip the aarch64 binaries and read the glibc floor),
#     qemu-user (qemu-aarch64 for the smoke test), binutils (host strip), curl (the smoke test's client);
#   - rustup targets aarch64-unknown-linux-musl, aarch64-unknown-linux-gnu, x86_64-unknown-linux-musl;
#   - PyPI `ziglang` (zig is the C compiler and linker for the musl targets; it also builds mimalloc's C)
#     and crates.io `cargo-zigbuild`.
# Nothing is downloaded from outside the package registries.
# Usage: cross/setup.sh   (SKIP_CROSS_SETUP=1 does nothing)
set -euo pipefail

if [ "${SKIP_CROSS_SETUP:-0}" = 1 ]; then echo "cross/setup.sh: skipped (SKIP_CROSS_SETUP=1)"; exit 0; fi

# Keep in step with cross/README.md.
ziglang_version=0.15.2
zigbuild_version=0.24.0
targets=(aarch64-unknown-linux-musl aarch64-unknown-linux-gnu x86_64-unknown-linux-musl)

sudo_cmd=""
if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi

need_pkgs=()
for cmd_pkg in "aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu" "qemu-aarch64:qemu-user" "strip:binutils" \
  "curl:curl" "python3:python3" "pip3:python3-pip"; do
  cmd=${cmd_pkg%%:*}; pkg=${cmd_pkg#*:}
  command -v "$cmd" >/dev/null 2>&1 || need_pkgs+=("$pkg")
done
# Only a recommendation of gcc-aarch64-linux-gnu, so not pulled in by --no-install-recommends.
dpkg-query -W -f='${Status}' libc6-dev-arm64-cross 2>/dev/null | grep -q 'ok installed' \
  || need_pkgs+=(libc6-dev-arm64-cross)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
fi

installed=$(rustup target list --installed)
for target in "${targets[@]}"; do
  grep -qx "$target" <<<"$installed" || rustup target add "$target"
done

# cargo-zigbuild runs `python3 -m ziglang` when no `zig` is on PATH, so the wheel is all it needs.
if ! python3 -m ziglang version 2>/dev/null | grep -qx "$ziglang_version"; then
  # Debian's own python3 refuses system-wide pip installs (PEP 668) unless told otherwise.
  python3 -m pip install --quiet "ziglang==$ziglang_version" \
    || python3 -m pip install --quiet --break-system-packages "ziglang==$ziglang_version"
fi
if ! cargo-zigbuild --version 2>/dev/null | grep -q "cargo-zigbuild $zigbuild_version"; then
  cargo install cargo-zigbuild --version "$zigbuild_version" --locked --force
fi

echo "cross/setup.sh: zig $(python3 -m ziglang version), $(cargo-zigbuild --version)," \
  "$(qemu-aarch64 --version | head -1), $(aarch64-linux-gnu-gcc --version | head -1)"
