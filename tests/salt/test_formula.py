"""
The formula as a Salt admin uses it, through real `salt-call --local`: installing the binary in the
same run that applies the Pillar, one service's part, the execution functions that read a fresh
Pillar or a key from a file, and pillar.example against the schema and the binary.
"""

import hashlib
import json
import stat
import subprocess

import jsonschema
import pytest
import yaml
from conftest import REPO


def _bucket_exists(aws, bucket):
    return any(b["Name"] == bucket for b in aws("s3").list_buckets()["Buckets"])


def test_a_run_that_installs_the_binary_applies_the_pillar_too(minion, aws, recorder, binary, suffix, tmp_path):
    """With the binary not there at render time, the formula installs it (checksum-verified) and
    converges in one state; the next run, with the binary there, has one state per resource."""
    installed = tmp_path / "bin" / "ocp-aws"
    digest = hashlib.sha256(open(binary, "rb").read()).hexdigest()
    minion.configure(
        **{
            "ocp_aws.binary": str(installed),
            "ocp_aws.install": {"source": f"file://{binary}", "source_hash": f"sha256={digest}"},
        }
    )
    bucket = f"ocp-installed-{suffix}"
    pillar = {"s3": {"buckets": {bucket: {"region": "eu-west-2"}}}}
    keyid = minion.options["ocp_aws.keyid"]

    with recorder(keyid) as writes:
        result = minion.apply(pillar, test=True)
    assert result.retcode == 0, result
    assert [ret["result"] for ret in result.states()] == [None, None], result
    assert writes == [] and not installed.exists()

    result = minion.apply(pillar)
    assert result.retcode == 0, result
    install, converge = result.states()
    assert install["result"] is True and install["changes"], install
    assert converge["result"] is True and f"s3.bucket {bucket}" in converge["changes"], converge
    assert stat.S_IMODE(installed.stat().st_mode) == 0o755
    assert _bucket_exists(aws, bucket)

    with recorder(keyid) as writes:
        result = minion.apply(pillar)
    assert result.retcode == 0, result
    assert [ret["name"] for ret in result.states()] == [bucket], result
    assert all(ret["result"] is True and not ret["changes"] for ret in result.states()), result
    assert writes == []


def test_a_sub_state_applies_one_service(minion, aws, suffix, tmp_path):
    """ocp_aws.s3 applies the buckets only; the IAM part is left for ocp_aws.iam."""
    bucket, policy = f"ocp-part-{suffix}", f"part-{suffix}"
    minion.write_pillar(
        {"s3": {"buckets": {bucket: {}}}, "iam": {"policies": {policy: {"bucket_access": bucket}}}}
    )
    result = minion.call("state.apply", "ocp_aws.s3", "sync_mods=all")
    assert result.retcode == 0, result
    assert [ret["name"] for ret in result.states()] == [bucket], result
    assert _bucket_exists(aws, bucket)
    policies = {p["PolicyName"] for p in aws("iam").list_policies(Scope="Local")["Policies"]}
    assert policy not in policies

    result = minion.run("state.apply", "ocp_aws.iam")
    assert result.retcode == 0, result
    assert [ret["name"] for ret in result.states()] == [policy], result

    result = minion.run("state.apply", "ocp_aws.sns")
    assert result.retcode == 0, result
    [nothing] = result.states()
    assert nothing["result"] is True and nothing["comment"] == "The ocp_aws pillar declares no sns resources.", result

    # Without the binary a part cannot be expanded: one failing state says what to do instead.
    minion.configure(**{"ocp_aws.binary": str(tmp_path / "missing" / "ocp-aws")})
    result = minion.run("state.apply", "ocp_aws.s3")
    assert result.retcode != 0, result
    [missing] = result.states()
    assert missing["result"] is False and "apply ocp_aws (which installs it first" in missing["comment"], result
    assert missing["comment"].endswith("then ocp_aws.s3."), result


def test_execution_functions_read_what_is_there_now(minion, aws, suffix, tmp_path):
    """validate reads the Pillar afresh; describe needs no apply-only setting; smtp_password reads
    the key from a file on the minion and writes the password to one, returning only its path."""
    good = {"s3": {"buckets": {f"ocp-fresh-{suffix}": {}}}}
    minion.write_pillar(good)
    assert minion.call("ocp_aws.validate").retcode == 0
    minion.write_pillar({"s3": {"buckets": {f"ocp-fresh-{suffix}": {"regoin": "eu-west-2"}}}})
    result = minion.run("ocp_aws.validate")  # no refresh_pillar in between
    assert result.retcode != 0 and "regoin" in result.stdout + result.stderr, result

    policy = f"described-{suffix}"
    aws("iam").create_policy(PolicyName=policy, PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}))
    result = minion.run("ocp_aws.describe", "iam.policy", policy)
    assert result.retcode == 0 and result.data["document"]["Statement"][0]["Action"] == "s3:ListBucket", result
    result = minion.run("ocp_aws.describe", "ses.smtp_credentials", f"no-such-user-{suffix}")
    assert result.retcode == 0 and result.data is None, result

    key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    key_file, password_file = tmp_path / "ses.key", tmp_path / "smtp" 
    key_file.write_text(key + "\n")
    result = minion.run("ocp_aws.smtp_password", "region=eu-west-2", f"key_file={key_file}", f"password_file={password_file}")
    assert result.retcode == 0 and result.data == str(password_file), result
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    password = password_file.read_text().strip()
    derived = subprocess.run([minion.options["ocp_aws.binary"], "smtp-password", "--region", "eu-west-2"],
                             input=key, capture_output=True, text=True, check=True).stdout.strip()
    assert password == derived and len(password) == 44
    for stdout, stderr in minion.outputs:
        assert key not in stdout + stderr and password not in stdout + stderr


def test_adopt_key_takes_the_secret_from_a_file_and_the_next_apply_writes_nothing(minion, aws, recorder, suffix, tmp_path):
    """A key made by hand is adopted through the execution module: the secret goes from a file on
    the minion to the binary's stdin, never into an argument, a return or a log; the state then keeps
    the key and writes nothing."""
    user = f"adopted-{suffix}"
    aws("iam").create_user(UserName=user)
    made = aws("iam").create_access_key(UserName=user)["AccessKey"]
    secret_file, key_file = tmp_path / "private" / "backup.sls", tmp_path / "backup.key"
    key_file.write_text(made["SecretAccessKey"] + "\n")
    pillar = {"iam": {"users": {user: {"access_key": {"secret_file": str(secret_file), "pillar_key": "backup"}}}}}
    minion.write_pillar(pillar)

    result = minion.call("ocp_aws.adopt_key", user, f"key_file={tmp_path / 'nothing.key'}")
    assert result.retcode != 0 and "cannot be read" in result.stdout + result.stderr, result
    result = minion.call("ocp_aws.adopt_key", user, f"key_file={key_file}")
    assert result.retcode == 0 and result.data["verified"] is True, result
    assert made["AccessKeyId"] in result.data["comment"], result
    written = yaml.safe_load(secret_file.read_text())["backup"]
    assert written == {"aws_access_key_id": made["AccessKeyId"], "aws_secret_access_key": made["SecretAccessKey"]}

    with recorder(minion.options["ocp_aws.keyid"]) as writes:
        result = minion.apply(pillar)
    assert result.retcode == 0 and all(not ret["changes"] for ret in result.states()), result
    assert writes == []
    for stdout, stderr in minion.outputs:
        assert made["SecretAccessKey"] not in stdout + stderr


def test_adopt_password_stores_a_password_it_cannot_check_and_says_so(minion, aws, suffix, tmp_path):
    """moto's endpoints are not reachable: the password is written, and the answer says it was not verified."""
    db, password = f"adopted-{suffix}", "Hand-made-pass-123"
    aws("rds").create_db_instance(DBInstanceIdentifier=db, Engine="postgres", EngineVersion="17.4",
                                  DBInstanceClass="db.t3.micro", AllocatedStorage=20, MasterUsername="postgres",
                                  MasterUserPassword=password)
    secret_file, password_file = tmp_path / "private" / "db.sls", tmp_path / "db.password"
    password_file.write_text(password + "\n")
    minion.write_pillar({"rds": {"instances": {db: {"secret_file": str(secret_file), "pillar_key": "db"}}}})
    result = minion.call("ocp_aws.adopt_password", db, f"password_file={password_file}")
    assert result.retcode == 0 and result.data["verified"] is False, result
    assert "NOT verified" in result.data["comment"], result
    assert yaml.safe_load(secret_file.read_text())["db"]["password"] == password
    for stdout, stderr in minion.outputs:
        assert password not in stdout + stderr


def test_pillar_example_is_valid_for_the_schema_and_the_binary(binary):
    """pillar.example passes the schema and `ocp-aws validate`; what the binary refuses, the schema does too."""
    schema = json.loads((REPO / "schema" / "pillar.schema.json").read_text())
    example = yaml.safe_load((REPO / "salt" / "pillar.example").read_text())
    jsonschema.validate(example, schema)
    process = subprocess.run([binary, "validate", "-f", str(REPO / "salt" / "pillar.example")], capture_output=True, text=True)
    assert process.returncode == 0, process.stdout + process.stderr

    refused = [
        {"ses": {"smtp_credentials": {"ses-smtp-user": {}}}},
        {"s3": {"buckets": {"ocp-example": {"lifecycle": [{"id": "x", "expire_days": 0}]}}}},
        {"iam": {"policies": {"p": {}}}},
        {"iam": {"policies": {"p": {"bucket_access": "b", "document": {}}}}},
    ]
    for ocp_aws in refused:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"ocp_aws": ocp_aws}, schema)
    # ...and absent entries need no settings.
    jsonschema.validate({"ocp_aws": {"iam": {"policies": {"p": {"ensure": "absent"}}}}}, schema)
    jsonschema.validate({"ocp_aws": {"ses": {"smtp_credentials": {"u": {"ensure": "absent"}}}}}, schema)
