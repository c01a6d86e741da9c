#!/usr/bin/env bash
# The Python package's tests: makes the venv (python/setup.sh) if needed, builds and installs the
# package from this checkout into it (`pip install ./python`, maturin, profile `python`), builds the
# node and bench binaries the live tests start, and runs pytest on python/tests. Says "skipped: why"
# when Python or its venv cannot be had. A few minutes, most of it the extension's build.
# Usage: python/test.sh [pytest args]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
venv=${P2PFAAS_PY_VENV:-/var/tmp/p2pfaas-py-venv}
export P2PFAAS_PY_VENV=$venv

"$here/setup.sh" | tail -1
if ! "$venv/bin/python" -c 'import maturin, gymnasium, numpy, pytest' 2>/dev/null; then
  echo "skipped: python tests (no venv with maturin, gymnasium, numpy and pytest at $venv; python/setup.sh makes it)"
  exit 0
fi

cd "$root"
cargo build -q -p p2pfaas-node -p p2pfaas-bench
# The bindings only compile with the `python` feature, which the workspace's clippy run leaves off.
PYO3_PYTHON="$venv/bin/python" cargo clippy -q -p p2pfaas-python --all-targets --features python -- -D warnings
# maturin is in the venv (its binary found on PATH): no build isolation, so nothing is downloaded here.
export PATH="$venv/bin:$PATH"
"$venv/bin/pip" install -q --disable-pip-version-check --no-build-isolation --force-reinstall --no-deps ./python
target_dir=$(cargo metadata --format-version 1 --no-deps | "$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
export PYTHONDONTWRITEBYTECODE=1
export P2PFAAS_NODE_BIN="$target_dir/debug/p2pfaas-node"
export P2PFAAS_BENCH_BIN="$target_dir/debug/p2pfaas-bench"
# From the repository root, so `import p2pfaas` is the installed package, not python/p2pfaas.
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider python/tests "$@"
