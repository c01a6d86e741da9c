#!/usr/bin/env bash
# Keeps the decision core (core/, p2pfaas-core) sans-IO, mechanically:
# - its normal dependency tree must not contain a runtime or libc (monoio, tokio, libc, aya);
# - clippy, with core/clippy.toml, bans Instant::now, SystemTime::now, std::fs, std::env::var* and
#   std::thread::spawn in its code.
# Usage: scripts/check-core.sh   (scripts/test.sh runs it)
set -euo pipefail
cd "$(dirname "$0")/.."

banned=$(cargo tree -p p2pfaas-core -e normal --prefix none --format '{p}' \
  | awk '{print $1}' | sort -u | grep -xE '(monoio|tokio|libc|aya)(-[a-z0-9-]+)?' || true)
if [ -n "$banned" ]; then
  echo "p2pfaas-core must not depend on a runtime or libc; its dependency tree lists:" >&2
  echo "$banned" >&2
  cargo tree -p p2pfaas-core -e normal -i "$(head -n1 <<<"$banned")" >&2 || true
  exit 1
fi
cargo clippy -p p2pfaas-core --all-targets -- -D warnings
echo "p2pfaas-core: no runtime or libc in its dependencies; no clock, file, env or thread calls"
