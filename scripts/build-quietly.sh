#!/usr/bin/env bash
# `cargo build "$@"` for people: the eBPF sub-build (node/build.rs, aya-build) reports each of its steps
# as a cargo `warning: p2pfaas-node@…` line (about 40 of them); they are kept aside and printed only when
# the build fails. Everything else cargo says passes through to stderr. Exits with cargo's status.
set -uo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo build "$@" 2>&1 | tee "$log" | { grep -v '^warning: p2pfaas-node@' || true; } >&2
status=${PIPESTATUS[0]}
if [ "$status" != 0 ]; then
  echo "build failed; the eBPF sub-build's messages:" >&2
  grep '^warning: p2pfaas-node@' "$log" >&2 || echo "(none)" >&2
fi
exit "$status"
