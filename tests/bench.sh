#!/usr/bin/env bash
# `make bench`: ocp-aws, the Salt formula, Salt's own boto3 states (saltext-boto3) and Ansible's AWS
# modules on the whole runbook's Pillar × K, each on a fresh moto server behind a loopback proxy that
# adds a latency to every request. Writes BENCHMARKS.md and BENCHMARKS.png at the repository root;
# fails when an apply fails, when a tool's result differs from the Pillar, or when an ocp-aws re-apply
# writes. See tests/bench/bench.py for what is measured and the knobs (BENCH_K, BENCH_LATENCIES,
# BENCH_RUNS, BENCH_TOOLS, BENCH_SKIP, BENCH_OUT); `make bench-full` sets BENCH_SKIP= to run everything.
#
# Needs the release binary ($CARGO_TARGET_DIR/release/ocp-aws) and the test venv ($OCP_AWS_VENV, for
# moto and the formula's Salt). Creates the peers' venv (~/.cache/ocp-aws/bench-venv) on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${OCP_AWS_VENV:-$HOME/.cache/ocp-aws/venv}"
bench_venv="${OCP_AWS_BENCH_VENV:-$HOME/.cache/ocp-aws/bench-venv}"
bin="${CARGO_TARGET_DIR:-target}/release/ocp-aws"

[ -x "$bin" ] || { echo "bench: $bin is missing; run cargo build --release first" >&2; exit 1; }
[ -x "$venv/bin/python" ] || { echo "bench: no test venv in $venv; run tests/support/venv.sh" >&2; exit 1; }
OCP_AWS_BENCH_VENV="$bench_venv" tests/bench/venv.sh

# Fake credentials (each apply sets its own key id), no instance metadata, nothing from the caller's
# AWS configuration: the benchmark must never reach real AWS.
unset AWS_PROFILE AWS_ENDPOINT_URL AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

work=$(mktemp -d -t ocp-aws-bench.XXXXXX)
# Kept when the run fails: each tool's inputs, moto's and the proxy's logs, results.json.
trap 'status=$?; if [ "$status" = 0 ]; then rm -rf "$work"; else echo "bench: inputs and logs kept in $work" >&2; fi' EXIT
trap 'exit 130' INT TERM

OCP_AWS_BIN="$(cd "$(dirname "$bin")" && pwd)/ocp-aws" OCP_AWS_VENV="$venv" BENCH_WORK="$work" \
  "$bench_venv/bin/python" tests/bench/bench.py
