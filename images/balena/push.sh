#!/usr/bin/env bash
# Builds and deploys the node to a balena fleet. balena builds only what is under the pushed
# directory, so this stages one: the committed repository (git archive HEAD) at src/, beside
# docker-compose.yml, Dockerfile.template, balena.yml and entrypoint.sh.
# Usage: images/balena/push.sh FLEET            (needs the balena CLI, logged in)
#        images/balena/push.sh --stage-only DIR (stage into DIR and stop; images/check.sh uses this)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(git -C "$here" rev-parse --show-toplevel)

if [ "${1:-}" = --stage-only ]; then
  stage=${2:?usage: push.sh --stage-only DIR}
  mkdir -p "$stage"
else
  fleet=${1:?usage: push.sh FLEET}
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' EXIT
fi
mkdir -p "$stage/src"
git -C "$repo" archive --format=tar HEAD | tar -x -C "$stage/src"
cp "$here/docker-compose.yml" "$here/Dockerfile.template" "$here/balena.yml" "$here/entrypoint.sh" "$stage/"
if [ "${1:-}" = --stage-only ]; then
  echo "staged in $stage"
  exit 0
fi
balena push "$fleet" --source "$stage"
