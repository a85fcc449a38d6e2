#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests, then Salt end to end through salt-call,
# all against one moto server on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ocp-aws/target}"
export OCP_AWS_VENV="${OCP_AWS_VENV:-$HOME/.cache/ocp-aws/venv}"
export AWS_EC2_METADATA_DISABLED=true
# Tests must never reach real AWS with a developer's credentials.
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_ENDPOINT_URL
source tests/support/moto.sh
export OCP_AWS_BIN="$CARGO_TARGET_DIR/debug/ocp-aws"
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked
"$OCP_AWS_VENV/bin/python" -m pytest -q -p no:cacheprovider tests/salt tests/support/test_moto_server.py tests/bench/test_proxy.py
