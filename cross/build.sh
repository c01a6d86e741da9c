#!/usr/bin/env bash
# Release binaries of p2pfaas-node and p2pfaas-bench for the edge targets (design §9), each build one
# after the other (2-core machines):
#   aarch64-unknown-linux-musl  static, `cargo zigbuild` (zig links musl and compiles mimalloc's C)
#   aarch64-unknown-linux-gnu   dynamic glibc, Debian's aarch64-linux-gnu-gcc as linker (set through
#                               CARGO_TARGET_*_LINKER / CC_* here, so normal builds are unaffected)
#   x86_64-unknown-linux-musl   static, `cargo zigbuild`
# No -C target-cpu: cortex-a72 would enable crypto extensions the Pi 4's BCM2711 lacks.
# The release profile does not strip (Yocto strips); a stripped copy of each binary goes to
# $OUT_DIR/<target>/ and a table of sizes (and the gnu binary's glibc floor) is printed at the end.
# Usage: cross/build.sh [--ebpf] [--smoke] [--profile NAME] [TARGET ...]
#   --ebpf           build the node with its `ebpf` feature (needs ebpf/setup.sh's toolchain); the
#                    bpfel object is built once per target by node/build.rs and embedded
#   --smoke          run cross/smoke.sh (qemu-aarch64) on each aarch64 node built
#   --profile NAME   cargo profile (default release)
#   TARGET           any of the three above (default: all three)
# Env: CARGO_TARGET_DIR (default target/), OUT_DIR (default $CARGO_TARGET_DIR/cross).
# Needs cross/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(aarch64-unknown-linux-musl aarch64-unknown-linux-gnu x86_64-unknown-linux-musl)
profile=release
features=()
smoke=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --ebpf) features=(--features p2pfaas-node/ebpf) ;;
    --smoke) smoke=1 ;;
    --profile) profile=${2:?--profile needs a name}; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    -*) echo "cross/build.sh: unknown option $1" >&2; exit 64 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

target_dir=${CARGO_TARGET_DIR:-target}
out_dir=${OUT_DIR:-$target_dir/cross}
# cargo names the dev and test profiles' directory "debug".
profile_dir=$profile
case "$profile" in dev|test) profile_dir=debug ;; esac
bins=(p2pfaas-node p2pfaas-bench)

# One cargo invocation per target builds both packages' binaries.
build() {
  local target=$1
  local args=(--locked --profile "$profile" --target "$target" -p p2pfaas-node -p p2pfaas-bench --bins "${features[@]}")
  case "$target" in
    *-musl)
      cargo zigbuild "${args[@]}" ;;
    aarch64-unknown-linux-gnu)
      CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
      CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc \
      AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar \
        cargo build "${args[@]}" ;;
    *)
      echo "cross/build.sh: unsupported target $target (one of: ${all_targets[*]})" >&2; exit 64 ;;
  esac
}

# binutils for the binary's architecture (Debian's host binutils read only x86 objects).
binutil() {
  case "$1" in
    aarch64-*) echo "aarch64-linux-gnu-$2" ;;
    *) echo "$2" ;;
  esac
}

human() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

report=()
for target in "${targets[@]}"; do
  echo "== $target (${profile}${features:+, ebpf})"
  started=$(date +%s)
  build "$target"
  seconds=$(( $(date +%s) - started ))
  if [ "$smoke" = 1 ] && [[ "$target" == aarch64-* ]]; then
    cross/smoke.sh "$target_dir/$target/$profile_dir/p2pfaas-node" ${features:+--ebpf}
  fi
  mkdir -p "$out_dir/$target"
  for bin in "${bins[@]}"; do
    src=$target_dir/$target/$profile_dir/$bin
    dst=$out_dir/$target/$bin
    "$(binutil "$target" strip)" -o "$dst" "$src"
    linkage=static
    grep -q INTERP <<<"$(readelf -l "$src")" && linkage=dynamic
    floor=-
    if [ "$linkage" = dynamic ]; then
      # The newest GLIBC_x.y symbol version it references is the oldest glibc it runs on.
      floor=$("$(binutil "$target" objdump)" -T "$src" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
    fi
    report+=("$(printf '%-28s %-14s %-8s %-12s %12s %12s %6ss' "$target" "$bin" "$linkage" "$floor" \
      "$(human "$(stat -c %s "$src")")" "$(human "$(stat -c %s "$dst")")" "$seconds")")
  done
done

echo
printf '%-28s %-14s %-8s %-12s %12s %12s %7s\n' target binary linkage "glibc floor" unstripped stripped build
printf '%s\n' "${report[@]}"
echo "stripped copies: $out_dir/<target>/"
