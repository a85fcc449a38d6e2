#!/usr/bin/env bash
# Mutation testing with cargo-mutants over the code whose mistakes the tests must catch: the diffs,
# the driver and scheduler, secret files and the Pillar model (.cargo/mutants.toml says which).
# The whole Rust suite is the judge (unit tests, and integration tests against moto);
# the Salt tests are not part of it. Two passes, so that most mutants cost seconds: the unit tests
# first; then the whole suite, only for the mutants the unit tests missed (a mutant that hangs the
# unit tests would hang the whole suite too). Extra arguments go to the first pass, e.g.
# `-f src/engine.rs`, or `--shard 0/8 --sharding round-robin` for a sample.
# Results: $CARGO_TARGET_DIR/mutants/{unit,whole}/mutants.out.
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
# No shared moto server: each mutant's test process starts its own (tests/integration/support.rs),
# since tests that own a region's account settings expect a fresh server, as in one `make test`.
unset OCP_AWS_TEST_ENDPOINT
# The copy shares this crate's fingerprints (paths are relative to the package), so the last
# mutant's build would look fresh here afterwards: make the next build of this tree compile it again.
trap "find src tests/integration -name '*.rs' -exec touch {} +" EXIT
out="$CARGO_TARGET_DIR/mutants"
mkdir -p "$out/unit" "$out/whole"
# The copy of the tree builds in the same target directory, so only this crate is compiled again.
# Exit status 2 (some missed) and 3 (some hung) are results, not failures.
results() { [ "$1" -eq 2 ] || [ "$1" -eq 3 ]; }
cargo mutants --output "$out/unit" --timeout 60 --cargo-arg=--lib "$@" || results $?
unit="$out/unit/mutants.out"
count() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
# The mutants the unit tests missed, by exact name (regex metacharacters escaped), and by file, since
# cargo-mutants applies name filters to every mutant but those that delete a struct field.
filters=()
while IFS= read -r file; do filters+=(-f "$file"); done < <(cut -d: -f1 "$unit/missed.txt" | sort -u)
while IFS= read -r name; do
  filters+=(--re "^$(printf '%s' "$name" | sed 's/[][\\.+*?(){}|^$#&~-]/\\&/g')\$")
done <"$unit/missed.txt"
whole="$out/whole/mutants.out"
rm -rf "$whole"
if [ ${#filters[@]} -gt 0 ]; then
  cargo mutants --output "$out/whole" --no-config --baseline=skip --timeout 180 "${filters[@]}" -- -- --test-threads=2 || results $?
fi
caught=$(($(count "$unit/caught.txt") + $(count "$whole/caught.txt")))
missed=$(count "$whole/missed.txt")
timeouts=$(($(count "$unit/timeout.txt") + $(count "$whole/timeout.txt")))
unviable=$(($(count "$unit/unviable.txt") + $(count "$whole/unviable.txt")))
echo "Mutants: $caught caught, $missed missed, $timeouts timeouts, $unviable unviable" \
  "(caught ratio $caught of $((caught + missed + timeouts)) viable)."
[ -s "$whole/missed.txt" ] && { echo "Missed:"; cat "$whole/missed.txt"; exit 2; }
exit 0
