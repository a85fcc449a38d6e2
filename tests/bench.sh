#!/usr/bin/env bash
# `make bench`: times a no-op re-apply of 60 resources (20 S3 buckets with a lifecycle rule, 20 IAM
# policies, 20 IAM users) with the release binary against a local moto server, checks with moto's
# request recorder that it writes nothing, and measures a peer in the same run against the same
# server and resources: Salt's own boto3-based AWS states (saltext-boto3) through salt-call --local.
#
# The peer covers the same resources with what saltext-boto3 offers: boto3_s3_bucket.present with
# LifecycleConfiguration (it has no Block Public Access setting, which ocp-aws manages by default; it
# manages ACL, request payment and notifications by default and reads every other bucket setting),
# boto3_iam.policy_present with the document ocp-aws derives from bucket_access, and
# boto3_iam.user_present with managed_policies. Its re-apply is reported as measured, writes included.
#
# Needs: the release binary ($CARGO_TARGET_DIR/release/ocp-aws) and the test venv ($OCP_AWS_VENV, for
# moto_server). Creates the peer's venv (~/.cache/ocp-aws/bench-venv) on first use.
# Knobs: BENCH_RUNS (timed re-applies, 10), BENCH_PEER_RUNS (the peer's, default BENCH_RUNS).
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${OCP_AWS_VENV:-$HOME/.cache/ocp-aws/venv}"
bench_venv="${OCP_AWS_BENCH_VENV:-$HOME/.cache/ocp-aws/bench-venv}"
bin="${CARGO_TARGET_DIR:-target}/release/ocp-aws"
runs="${BENCH_RUNS:-10}"
peer_runs="${BENCH_PEER_RUNS:-$runs}"
py="$venv/bin/python"
helper="tests/bench/bench.py"

[ -x "$bin" ] || { echo "bench: $bin is missing; run cargo build --release first" >&2; exit 1; }
[ -x "$venv/bin/moto_server" ] || { echo "bench: no moto_server in $venv; run tests/support/venv.sh" >&2; exit 1; }
OCP_AWS_BENCH_VENV="$bench_venv" tests/bench/venv.sh

# Fake credentials, no instance metadata, no profile or endpoint from the caller's environment.
unset AWS_PROFILE AWS_ENDPOINT_URL AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

work=$(mktemp -d -t ocp-aws-bench.XXXXXX)
moto_pid=
cleanup() {
  if [ -n "$moto_pid" ]; then kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# moto, in its own folder: its request recorder writes a file into the working directory.
port=$("$py" "$helper" port)
endpoint="http://127.0.0.1:$port"
mkdir "$work/moto"
(cd "$work/moto" && exec "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$work/moto/log" 2>&1) &
moto_pid=$!
for _ in $(seq 1 150); do
  "$py" -c "import urllib.request as u; u.urlopen('$endpoint/moto-api/', timeout=1)" 2>/dev/null && break
  kill -0 "$moto_pid" 2>/dev/null || { echo "bench: moto_server failed to start:" >&2; cat "$work/moto/log" >&2; exit 1; }
  sleep 0.2
done

"$py" "$helper" gen "$work" 20
results="$work/results.jsonl"
: >"$results"

now() { echo "$EPOCHREALTIME"; }
elapsed() { "$py" -c "print(f'{$2 - $1:.3f}')"; }

# ocp-aws: one apply; prints the human report's summary line into $work/last.
ocp() {
  timeout 120 "$bin" apply -f "$work/pillar.yaml" --endpoint-url "$endpoint" "$@" >"$work/last" 2>&1
}
# Times `runs` no-op re-applies of ocp-aws with extra arguments; each must change nothing and write nothing.
time_ocp() {
  local label=$1 n=$2; shift 2
  local times=() t0 t1 line
  for _ in $(seq 1 "$n"); do
    t0=$(now)
    ocp "$@" || { echo "bench: ocp-aws apply failed:" >&2; cat "$work/last" >&2; exit 1; }
    t1=$(now)
    times+=("$(elapsed "$t0" "$t1")")
    line=$(grep 'AWS calls:' "$work/last" | tail -1)
    case "$line" in
      *" 0 changed,"*" 0 failed."*" 0 writes.") ;;
      *) echo "bench: a re-apply of ocp-aws was not a no-op: $line" >&2; cat "$work/last" >&2; exit 1 ;;
    esac
  done
  printf '{"kind":"times","label":"%s","seconds":[%s],"changed":0}\n' "$label" "$(IFS=,; echo "${times[*]}")" >>"$results"
  echo "  $label: ${times[*]}"
  echo "  CLI: $line"
}

echo "== ocp-aws $("$bin" --version 2>/dev/null | head -1 || true) ($bin), moto on $endpoint"
t0=$(now)
ocp || { echo "bench: the first ocp-aws apply failed:" >&2; cat "$work/last" >&2; exit 1; }
t1=$(now)
echo "  first apply: $(elapsed "$t0" "$t1") s; $(grep 'AWS calls:' "$work/last" | tail -1)"

echo "== ocp-aws: $runs no-op re-applies (default concurrency)"
time_ocp "ocp-aws apply" "$runs"
echo "== ocp-aws: one more re-apply under moto's request recorder"
"$py" "$helper" record "$endpoint" start
ocp || { cat "$work/last" >&2; exit 1; }
"$py" "$helper" record "$endpoint" stop "ocp-aws apply" "$results"
echo "  CLI: $(grep 'AWS calls:' "$work/last" | tail -1)"

echo "== ocp-aws --concurrency 1: $runs no-op re-applies"
time_ocp "ocp-aws apply --concurrency 1" "$runs" --concurrency 1
"$py" "$helper" record "$endpoint" start
ocp --concurrency 1 || { cat "$work/last" >&2; exit 1; }
"$py" "$helper" record "$endpoint" stop "ocp-aws apply --concurrency 1" "$results" >/dev/null

# The peer: saltext-boto3's states through real salt-call. Its modules build boto3 clients with no
# endpoint argument; boto3 itself takes the endpoint from AWS_ENDPOINT_URL, set for these runs only.
peer() {
  AWS_ENDPOINT_URL="$endpoint" timeout 300 "$bench_venv/bin/salt-call" --local -c "$work/salt" \
    --retcode-passthrough --out=json state.apply bench >"$work/peer.json" 2>"$work/peer.err"
}
peer_label="salt-call state.apply (saltext-boto3)"
echo "== peer: $("$bench_venv/bin/salt-call" --version), saltext-boto3 $("$bench_venv/bin/python" -c 'import importlib.metadata as m; print(m.version("saltext-boto3"))')"
t0=$(now)
peer || { echo "bench: the peer's first apply failed:" >&2; cat "$work/peer.err" >&2; "$py" "$helper" salt-check "$work/peer.json" >&2 || true; exit 1; }
t1=$(now)
read -r states changed < <("$py" "$helper" salt-check "$work/peer.json")
echo "  first apply over the resources ocp-aws made: $(elapsed "$t0" "$t1") s; $states states, $changed with changes"
[ "$changed" = 0 ] || "$py" "$helper" salt-changes "$work/peer.json"

echo "== peer: $peer_runs re-applies with nothing to change"
times=()
for _ in $(seq 1 "$peer_runs"); do
  t0=$(now)
  peer || { echo "bench: a peer re-apply failed:" >&2; cat "$work/peer.err" >&2; exit 1; }
  t1=$(now)
  times+=("$(elapsed "$t0" "$t1")")
  read -r states changed < <("$py" "$helper" salt-check "$work/peer.json")
done
printf '{"kind":"times","label":"%s","seconds":[%s],"changed":%s}\n' "$peer_label" "$(IFS=,; echo "${times[*]}")" "$changed" >>"$results"
echo "  $peer_label: ${times[*]}"
echo "  last run: $states states, $changed reported changes"
[ "$changed" = 0 ] || "$py" "$helper" salt-changes "$work/peer.json"
echo "== peer: one more re-apply under moto's request recorder"
"$py" "$helper" record "$endpoint" start
peer || { cat "$work/peer.err" >&2; exit 1; }
"$py" "$helper" record "$endpoint" stop "$peer_label" "$results"

# For scale: what salt-call costs before any state runs.
times=()
for _ in 1 2 3; do
  t0=$(now)
  AWS_ENDPOINT_URL="$endpoint" "$bench_venv/bin/salt-call" --local -c "$work/salt" --out=json test.true >/dev/null
  t1=$(now)
  times+=("$(elapsed "$t0" "$t1")")
done
printf '{"kind":"times","label":"%s","seconds":[%s]}\n' "  (salt-call test.true: start-up alone)" "$(IFS=,; echo "${times[*]}")" >>"$results"

times=()
for _ in 1 2 3; do
  t0=$(now)
  "$bin" validate -f "$work/pillar.yaml" >/dev/null
  t1=$(now)
  times+=("$(elapsed "$t0" "$t1")")
done
printf '{"kind":"times","label":"%s","seconds":[%s]}\n' "  (ocp-aws validate: start-up, no AWS call)" "$(IFS=,; echo "${times[*]}")" >>"$results"

echo "== after the peer: ocp-aws still sees nothing to change"
"$py" "$helper" record "$endpoint" start
ocp || { cat "$work/last" >&2; exit 1; }
"$py" "$helper" record "$endpoint" stop "ocp-aws after peer" "$work/after.jsonl"
echo "  CLI: $(grep 'AWS calls:' "$work/last" | tail -1)"

echo
"$py" "$helper" table "$results"
