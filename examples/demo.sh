#!/usr/bin/env bash
# The backup runbook through Salt, against a local moto server standing in for AWS:
# state.apply ocp_aws test=True (nothing written), state.apply ocp_aws (everything created),
# state.apply ocp_aws again (nothing changes).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ocp-aws/target}"
export OCP_AWS_VENV="${OCP_AWS_VENV:-$HOME/.cache/ocp-aws/venv}"
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_ENDPOINT_URL
source tests/support/moto.sh

demo=$(mktemp -d -t ocp-aws-demo.XXXXXX)
trap 'kill $moto_pid 2>/dev/null; rm -rf "$moto_dir" "$demo"' EXIT
mkdir -p "$demo/pillar" "$demo/conf"
cat >"$demo/conf/minion" <<YAML
id: ocp-aws-demo
file_client: local
root_dir: $demo/root
file_roots: {base: [$PWD/salt]}
pillar_roots: {base: [$demo/pillar]}
ocp_aws.binary: $CARGO_TARGET_DIR/debug/ocp-aws
ocp_aws.endpoint_url: $OCP_AWS_TEST_ENDPOINT
ocp_aws.keyid: demo
ocp_aws.key: demo
YAML
printf 'base:\n  "*":\n    - ocp_aws\n' >"$demo/pillar/top.sls"
sed "s|/tmp/ocp-aws-demo/private|$demo/private|" examples/backup.yaml >"$demo/pillar/ocp_aws.sls"

salt() {
  "$OCP_AWS_VENV/bin/salt-call" --local -c "$demo/conf" --retcode-passthrough --state-output=changes "$@"
}

echo "== The Pillar (examples/backup.yaml) =="
sed -n '/^ocp_aws:/,$p' "$demo/pillar/ocp_aws.sls"
salt saltutil.sync_all >/dev/null
echo; echo "== salt-call state.apply ocp_aws test=True: what would change =="
salt state.apply ocp_aws test=True
echo; echo "== salt-call state.apply ocp_aws: converge =="
salt state.apply ocp_aws
echo; echo "== The secret file (mode $(stat -c %a "$demo/private/redmine_backup_aws.sls")), secret not shown =="
sed 's/\(aws_secret_access_key:\).*/\1 <40 characters>/' "$demo/private/redmine_backup_aws.sls"
echo; echo "== salt-call state.apply ocp_aws again: nothing changes =="
salt state.apply ocp_aws --state-verbose=False
