#!/usr/bin/env bash
# Installs what the dashboard's browser tests need, from Debian and PyPI only (never a browser download):
#   Debian: chromium, chromium-driver, python3-venv
#   PyPI, in a venv of their own ($P2PFAAS_BROWSER_VENV, default /var/tmp/p2pfaas-browser-venv):
#     selenium, pytest
# Idempotent; run as root (or with sudo available).
set -euo pipefail

venv=${P2PFAAS_BROWSER_VENV:-/var/tmp/p2pfaas-browser-venv}
sudo_cmd=""
if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi

need_pkgs=()
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_pkgs+=(chromium-driver)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_pkgs+=(python3-venv)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
fi

# Pinned, so a check that passes today passes tomorrow; bump deliberately.
py_pkgs=(selenium==4.27.1 pytest==8.3.4)
"$venv/bin/python" -c '' 2>/dev/null || python3 -m venv --clear "$venv"
have=$("$venv/bin/pip" freeze --disable-pip-version-check | grep -cixF -f <(printf '%s\n' "${py_pkgs[@]}") || true)
if [ "$have" != ${#py_pkgs[@]} ]; then
  "$venv/bin/pip" install -q --disable-pip-version-check "${py_pkgs[@]}"
fi
echo "browser tests ready: $(chromium --version 2>/dev/null), venv $venv"
