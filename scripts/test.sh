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

fuzz_seconds=${FUZZ_SECONDS:-30}
if [ "$fuzz_seconds" != 0 ]; then
  if cargo +nightly fuzz --help >/dev/null 2>&1; then
    for target in $(cargo +nightly fuzz list --fuzz-dir fuzz); do
      echo "== fuzz $target (${fuzz_seconds}s)"
      cargo +nightly fuzz run --fuzz-dir fuzz "$target" -- -max_total_time="$fuzz_seconds" -rss_limit_mb=2048
    done
  else
    echo "skipped: fuzzing (cargo-fuzz or a nightly toolchain is not installed; scripts/setup.sh installs both)"
  fi
fi
