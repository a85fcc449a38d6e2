#!/usr/bin/env bash
# Creates (or refreshes) the benchmark venv: Salt plus saltext-boto3, Ansible, psutil and matplotlib,
# kept apart from the test venv so that the tests never see them. Reinstalls only when
# requirements.txt changed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${OCP_AWS_BENCH_VENV:-$HOME/.cache/ocp-aws/bench-venv}"
stamp="$venv/.requirements"
if [ -x "$venv/bin/salt-call" ] && cmp -s "$here/requirements.txt" "$stamp"; then
  exit 0
fi
echo "Installing the benchmark peer venv in $venv (salt, saltext-boto3, ansible, matplotlib; a few minutes once)..." >&2
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
cp "$here/requirements.txt" "$stamp"
