#!/usr/bin/env bash
# Sourced: starts a moto server (moto plus the project's SES v2 extension, tests/support/moto_server.py)
# on a free loopback port, exports OCP_AWS_TEST_ENDPOINT, and stops the server when the sourcing
# shell exits.
venv="${OCP_AWS_VENV:-$HOME/.cache/ocp-aws/venv}"
moto_launcher="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/moto_server.py"
moto_port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
moto_dir=$(mktemp -d -t ocp-aws-moto.XXXXXX)
moto_log="$moto_dir/moto.log"
# In its own folder: moto's request recorder writes a file into the working directory.
# AWS-managed policies (arn:aws:iam::aws:policy/...) exist, as on AWS, so tests can attach them.
(cd "$moto_dir" && MOTO_IAM_LOAD_MANAGED_POLICIES=true exec "$venv/bin/python" "$moto_launcher" -H 127.0.0.1 -p "$moto_port" >"$moto_log" 2>&1) &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null; rm -rf "$moto_dir"' EXIT
for _ in $(seq 1 150); do
  if "$venv/bin/python" -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$moto_port/moto-api/', timeout=1)" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then
    echo "The moto server failed to start:" >&2; cat "$moto_log" >&2; exit 1
  fi
  sleep 0.2
done
export OCP_AWS_TEST_ENDPOINT="http://127.0.0.1:$moto_port"
