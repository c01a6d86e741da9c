#!/usr/bin/env bash
# The dashboard's browser tests: headless Debian chromium driven by Selenium (chromium-driver) against live
# 3-node clusters under load, plus the `chromium --dump-dom` check. Says "skipped: why" when chromium,
# chromedriver or the venv (node/tests/browser/setup.sh) is missing. About a minute.
# Screenshots go to node/tests/browser/artifacts/ (git-ignored).
# Usage: node/tests/browser/run.sh [pytest args]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
venv=${P2PFAAS_BROWSER_VENV:-/var/tmp/p2pfaas-browser-venv}

for cmd in chromium chromedriver; do
  if ! command -v "$cmd" >/dev/null 2>&1; then
    echo "skipped: browser tests ($cmd is not installed; node/tests/browser/setup.sh installs it)"
    exit 0
  fi
done
if ! "$venv/bin/python" -c 'import selenium, pytest' 2>/dev/null; then
  echo "skipped: browser tests (no Python venv with selenium and pytest at $venv; node/tests/browser/setup.sh makes it)"
  exit 0
fi

cd "$root"
cargo build -q -p p2pfaas-node -p p2pfaas-bench
target_dir=$(cargo metadata --format-version 1 --no-deps | "$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
export PYTHONDONTWRITEBYTECODE=1
export P2PFAAS_NODE_BIN="$target_dir/debug/p2pfaas-node"
export P2PFAAS_BENCH_BIN="$target_dir/debug/p2pfaas-bench"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$here" "$@"
