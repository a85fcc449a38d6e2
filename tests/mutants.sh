#!/usr/bin/env bash
# Mutation testing with cargo-mutants over the code whose mistakes the tests must catch: the diffs,
# the driver and scheduler, secret files and the Pillar model (.cargo/mutants.toml says which).
# The whole Rust suite is the judge (unit tests, and integration tests against one moto server);
# the Salt tests are not part of it. Two passes over the same mutants, so that most cost seconds:
# the unit tests first, then the whole suite for what they missed (`--iterate` skips what the first
# pass caught or could not build). Extra arguments go to both passes, e.g. `-f src/engine.rs`, or
# `--shard 0/8 --sharding round-robin` for a sample. Results: $CARGO_TARGET_DIR/mutants/mutants.out.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ocp-aws/target}"
export OCP_AWS_VENV="${OCP_AWS_VENV:-$HOME/.cache/ocp-aws/venv}"
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_ENDPOINT_URL
tools="${OCP_AWS_TOOLS:-$HOME/.cache/ocp-aws/tools}"
export PATH="$tools/bin:$PATH"
if ! command -v cargo-mutants >/dev/null; then
  CARGO_INSTALL_ROOT="$tools" cargo install --locked cargo-mutants
fi
source tests/support/moto.sh
out="$CARGO_TARGET_DIR/mutants"
mkdir -p "$out"
# The copy of the tree builds in the same target directory, so only this crate is compiled again.
# Exit status 2 (some mutants missed) is what the second pass is for.
cargo mutants --output "$out" --timeout 60 --cargo-arg=--lib "$@" || [ $? -eq 2 ] || [ $? -eq 3 ]
cargo mutants --output "$out" --iterate --baseline=skip --timeout 240 "$@" -- -- --test-threads=2 || status=$?
results="$out/mutants.out"
echo "Caught by the unit tests: $(cat "$results/previously_caught.txt" 2>/dev/null | wc -l) (with those unviable);" \
  "by the whole suite: $(wc -l <"$results/caught.txt"), missed: $(wc -l <"$results/missed.txt")," \
  "timeouts: $(wc -l <"$results/timeout.txt"), unviable: $(wc -l <"$results/unviable.txt")."
exit "${status:-0}"
