#!/usr/bin/env bash
# Creates (or refreshes) the Python venv with the test tools: moto's server and Salt.
# Reinstalls only when tests/requirements.txt changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv="${OCP_AWS_VENV:-$HOME/.cache/ocp-aws/venv}"
stamp="$venv/.requirements"
if [ -x "$venv/bin/python" ] && cmp -s tests/requirements.txt "$stamp"; then
  exit 0
fi
echo "Installing the test venv in $venv (moto, salt, pytest)..." >&2
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r tests/requirements.txt
cp tests/requirements.txt "$stamp"
