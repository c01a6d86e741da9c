#!/usr/bin/env bash
# The Python package's test venv: maturin (the build backend), gymnasium, numpy and pytest from PyPI, in
# $P2PFAAS_PY_VENV (default /var/tmp/p2pfaas-py-venv). Quick when it is already there. Its last line
# says what it did; without python3 -m venv it says "skipped: why" and succeeds.
set -euo pipefail
venv=${P2PFAAS_PY_VENV:-/var/tmp/p2pfaas-py-venv}
want="maturin gymnasium numpy pytest"
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  echo "python venv skipped: python3 with venv and ensurepip is not installed (apt-get install python3-venv)"
  exit 0
fi
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import maturin, gymnasium, numpy, pytest' 2>/dev/null; then
  echo "python venv ready: $venv (already there)"
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check --no-cache-dir $want
echo "python venv ready: $venv ($want)"
