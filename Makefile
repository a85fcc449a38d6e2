# ocp-aws: `make demo` shows the backup runbook applied through Salt; `make test` runs every test.
# Both set up what they need (Rust build, a Python venv with moto and Salt) on a fresh machine.

CACHE ?= $(HOME)/.cache/ocp-aws
export CARGO_TARGET_DIR ?= $(CACHE)/target
export OCP_AWS_VENV ?= $(CACHE)/venv
export AWS_EC2_METADATA_DISABLED = true

.PHONY: build venv test demo schema bench bench-full fuzz mutants

build:
	cargo build --locked

venv:
	tests/support/venv.sh

test: build venv
	tests/run.sh

demo: build venv
	examples/demo.sh

# The Pillar and request parsers, with many more generated inputs than `make test` runs.
fuzz:
	PROPTEST_CASES=$${PROPTEST_CASES:-20000} cargo test --locked --test integration fuzz

# Mutation testing: do the tests catch a deliberate mistake in the diffs, the driver and scheduler, secret
# files and the Pillar? Installs cargo-mutants under $(CACHE)/tools when missing. ARGS go to cargo-mutants,
# e.g. ARGS="-f src/engine.rs" or ARGS="--shard 0/8 --sharding round-robin".
mutants: venv
	OCP_AWS_TOOLS=$(CACHE)/tools tests/mutants.sh $(ARGS)

schema:
	cargo run -q --locked -- schema > schema/pillar.schema.json

# ocp-aws and its peers on the runbook's Pillar x K behind a latency proxy: BENCHMARKS.md and its chart.
# Knobs: BENCH_K, BENCH_LATENCIES, BENCH_RUNS, BENCH_TOOLS, BENCH_SKIP, BENCH_ONCE (tests/bench/bench.py).
bench: venv
	cargo build --locked --release
	tests/bench.sh

# Every tool at every K and latency, BENCH_RUNS times (about an hour or more on 2 cores).
bench-full: venv
	cargo build --locked --release
	BENCH_SKIP= BENCH_ONCE= tests/bench.sh
