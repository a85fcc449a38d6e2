"""
End to end: real `salt-call --local` runs the ocp_aws formula, states and execution functions, which
run the ocp-aws binary against a moto server. Each salt-call costs a second or two, so each test
batches its resources into one pillar.
"""

import json
import stat
import urllib.request

import yaml
from botocore.exceptions import ClientError
from conftest import REPO


def _bucket_region(aws, bucket):
    """The region of a bucket in moto, or None when there is no such bucket."""
    try:
        location = aws("s3").get_bucket_location(Bucket=bucket)["LocationConstraint"]
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchBucket", "404"):
            return None
        raise
    return location or "us-east-1"


def _iam_user_exists(aws, user):
    """Whether moto has an IAM user of this name."""
    iam = aws("iam")
    try:
        iam.get_user(UserName=user)
    except iam.exceptions.NoSuchEntityException:
        return False
    return True


def _local_policy_names(aws):
    """The names of the customer-managed IAM policies in moto."""
    pages = aws("iam").get_paginator("list_policies").paginate(Scope="Local")
    return {policy["PolicyName"] for page in pages for policy in page["Policies"]}


def test_backup_pillar_converges_once_and_keeps_its_secret(minion, aws, recorder, suffix, tmp_path):
    """Runbook items 17-21: test mode writes nothing, apply converges, a second apply is a no-op."""
    bucket, policy, user = f"ocp-backup-{suffix}", f"backup-policy-{suffix}", f"backup-{suffix}"
    secret_file = tmp_path / "private" / "backup.sls"
    secret_file.parent.mkdir(mode=0o700)
    pillar = {
        "region": "us-east-1",
        "s3": {
            "buckets": {
                bucket: {
                    "region": "eu-west-2",
                    "lifecycle": [
                        {
                            "id": "delete-after-30-days",
                            "expire_days": 30,
                            "abort_incomplete_multipart_days": 7,
                        }
                    ],
                }
            }
        },
        "iam": {
            "policies": {policy: {"bucket_access": bucket}},
            "users": {
                user: {
                    "policies": [policy],
                    "access_key": {"secret_file": str(secret_file), "pillar_key": "backup"},
                }
            },
        },
    }
    keyid = minion.options["ocp_aws.keyid"]

    with recorder(keyid) as writes:
        result = minion.apply(pillar, test=True)
    assert result.retcode == 0, result
    returns = result.by_name()
    assert {bucket, policy, user} <= set(returns), result
    for ret in returns.values():
        assert ret["result"] is None and ret["changes"], ret
    assert writes == []
    assert _bucket_region(aws, bucket) is None
    assert not _iam_user_exists(aws, user)
    assert policy not in _local_policy_names(aws)
    assert not secret_file.exists()

    result = minion.apply(pillar)
    assert result.retcode == 0, result
    for ret in result.states():
        assert ret["result"] is True and ret["changes"], ret
    assert _bucket_region(aws, bucket) == "eu-west-2"
    rules = aws("s3", "eu-west-2").get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [rule["ID"] for rule in rules] == ["delete-after-30-days"]
    attached = aws("iam").list_attached_user_policies(UserName=user)["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == [policy]

    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    credentials = yaml.safe_load(secret_file.read_text())["backup"]
    access_keys = aws("iam").list_access_keys(UserName=user)["AccessKeyMetadata"]
    assert [key["AccessKeyId"] for key in access_keys] == [credentials["aws_access_key_id"]]
    secret = credentials["aws_secret_access_key"]
    assert secret

    with recorder(keyid) as writes:
        result = minion.apply(pillar)
    assert result.retcode == 0, result
    for ret in result.states():
        assert ret["result"] is True and ret["changes"] == {}, ret
    assert writes == []

    for stdout, stderr in minion.outputs:
        assert secret not in stdout and secret not in stderr


def test_invalid_pillar_fails_with_its_path_and_calls_no_aws(minion, recorder, suffix):
    """An invalid pillar is one failing state naming the pillar path, in test mode too."""
    bucket = f"ocp-invalid-{suffix}"
    pillar = {"s3": {"buckets": {bucket: {"lifecycle": [{"id": "x", "expire_days": "thirty"}]}}}}
    path = f"ocp_aws.s3.buckets.{bucket}.lifecycle[0].expire_days"

    with recorder(minion.options["ocp_aws.keyid"]) as writes:
        for test in (False, True):
            result = minion.apply(pillar, test=test)
            assert result.retcode != 0, result
            [ret] = result.states()
            assert ret["result"] is False and path in ret["comment"], ret
    assert writes == []

    result = minion.call("ocp_aws.validate")  # the minion's own pillar
    assert result.retcode != 0, result
    assert path in result.stdout + result.stderr, result


def test_failed_state_fails_its_dependants_only(minion, aws, suffix):
    """A bucket whose region differs from pillar fails; what requires it fails, the rest converges."""
    elsewhere, independent = f"ocp-elsewhere-{suffix}", f"ocp-independent-{suffix}"
    unwanted = f"ocp-unwanted-{suffix}"
    policy, user = f"elsewhere-policy-{suffix}", f"elsewhere-{suffix}"
    aws("s3", "us-west-2").create_bucket(
        Bucket=elsewhere, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    aws("s3").create_bucket(Bucket=unwanted)
    pillar = {
        "s3": {
            "buckets": {
                elsewhere: {"region": "eu-west-2"},
                independent: {"region": "eu-west-2"},
                unwanted: {"ensure": "absent"},
            }
        },
        "iam": {
            "policies": {policy: {"bucket_access": elsewhere}},
            "users": {user: {"policies": [policy]}},
        },
    }

    result = minion.apply(pillar)
    assert result.retcode != 0, result
    returns = result.by_name()
    assert returns[elsewhere]["result"] is False, returns[elsewhere]
    assert "us-west-2" in returns[elsewhere]["comment"], returns[elsewhere]
    for name in (policy, user):
        assert returns[name]["result"] is False, returns[name]
        assert returns[name]["comment"].startswith("One or more requisite failed"), returns[name]
    for name in (independent, unwanted):
        assert returns[name]["result"] is True and returns[name]["changes"], returns[name]
    assert _bucket_region(aws, elsewhere) == "us-west-2"
    assert _bucket_region(aws, independent) == "eu-west-2"
    assert _bucket_region(aws, unwanted) is None
    assert policy not in _local_policy_names(aws)
    assert not _iam_user_exists(aws, user)


def test_state_single_and_describe(minion, aws, recorder, suffix):
    """The state module works without the formula; test=True writes nothing; describe reads back."""
    bucket = f"ocp-single-{suffix}"
    state = [
        "state.single",
        "ocp_aws.s3_bucket_present",
        f"name={bucket}",
        "region=eu-west-2",
        "lifecycle=[{id: delete-after-30-days, expire_days: 30}]",
    ]

    with recorder(minion.options["ocp_aws.keyid"]) as writes:
        result = minion.call(*state, "test=True")
    assert result.retcode == 0, result
    [ret] = result.states()
    assert ret["result"] is None and ret["changes"], ret
    assert writes == []
    assert _bucket_region(aws, bucket) is None

    result = minion.call(*state)
    assert result.retcode == 0, result
    [ret] = result.states()
    assert ret["result"] is True and ret["changes"], ret
    assert _bucket_region(aws, bucket) == "eu-west-2"

    result = minion.call("ocp_aws.describe", "s3.bucket", bucket, "region=eu-west-2")
    assert result.retcode == 0, result
    assert result.data["region"] == "eu-west-2", result.data


def test_execution_module_validate_and_schema(minion, suffix):
    """ocp_aws.validate takes a pillar argument; ocp_aws.schema returns the pillar JSON Schema."""
    pillar = {"region": "eu-west-2", "s3": {"buckets": {f"ocp-valid-{suffix}": {}}}}
    result = minion.call("ocp_aws.validate", f"pillar={json.dumps(pillar)}")
    assert result.retcode == 0, result
    assert result.data == {"valid": True, "errors": []}

    result = minion.call("ocp_aws.schema")
    assert result.retcode == 0, result
    schema = result.data
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["properties"]["ocp_aws"]["$ref"] == "#/$defs/Pillar"
    assert {"region", "s3", "iam"} <= set(schema["$defs"]["Pillar"]["properties"])


def test_state_reports_a_broken_binary(minion, tmp_path):
    """When the binary cannot be run or does not answer in JSON, the state fails and says why."""
    broken = tmp_path / "ocp-aws-broken"
    broken.write_text("#!/bin/sh\necho 'something broke' >&2\necho 'not JSON'\nexit 3\n")
    broken.chmod(0o755)
    cases = {
        tmp_path / "missing" / "ocp-aws": ["could not be run"],
        broken: ["exited with status 3 without printing a JSON response", "something broke"],
    }
    for binary, messages in cases.items():
        minion.configure(**{"ocp_aws.binary": str(binary)})
        result = minion.call("state.single", "ocp_aws.s3_bucket_present", "name=ocp-broken")
        assert result.retcode != 0, result
        [ret] = result.states()
        assert ret["result"] is False, ret
        for message in messages:
            assert message in ret["comment"], ret


def _control(endpoint, path, body):
    """POST to a test control of the moto extension (tests/support/moto_server.py)."""
    request = urllib.request.Request(
        f"{endpoint}/_ocp_aws_test/{path}", data=json.dumps(body).encode(), method="POST"
    )
    urllib.request.urlopen(request).close()


def test_ses_domain_identity_and_smtp_credentials_through_salt(minion, aws, recorder, endpoint, suffix, tmp_path):
    """Runbook items 2-8: a DKIM domain with MAIL FROM (waited for) and SMTP credentials."""
    domain, user = f"mail-{suffix}.example.org", f"ses-smtp-{suffix}"
    secret_file = tmp_path / "private" / "ses_smtp.sls"
    # Verified after one pending read; the MAIL FROM domain after one more (AWS: once SES finds its MX).
    _control(
        endpoint,
        "identity-status",
        {
            "EmailIdentity": domain,
            "PendingReads": 1,
            "MailFromPendingReads": 1,
            "MailFromStatus": "SUCCESS",
            "Region": "eu-west-2",
        },
    )
    pillar = {
        "region": "eu-west-2",
        "ses": {
            "domains": {domain: {"dkim": "RSA_2048_BIT", "mail_from": f"bounce.{domain}", "wait": "1m"}},
            "smtp_credentials": {user: {"secret_file": str(secret_file), "regions": ["eu-west-2", "us-east-1"]}},
        },
    }
    keyid = minion.options["ocp_aws.keyid"]
    with recorder(keyid) as writes:
        result = minion.apply(pillar, test=True)
    assert result.retcode == 0, result
    assert all(ret["result"] is None for ret in result.states()), result
    assert writes == []

    result = minion.apply(pillar)
    assert result.retcode == 0, result
    returns = result.by_name()
    assert returns[domain]["result"] is True, returns[domain]
    assert "Verification: SUCCESS. DKIM: SUCCESS." in returns[domain]["comment"]
    assert returns[user]["changes"]["new"]["smtp_credentials"]["secret"] == f"written to {secret_file}"
    smtp = yaml.safe_load(secret_file.read_text())
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    password = smtp["eu-west-2"]["smtp_password"]
    assert smtp["eu-west-2"]["smtp_host"] == "email-smtp.eu-west-2.amazonaws.com"

    with recorder(keyid) as writes:
        again = minion.apply(pillar)
    assert again.retcode == 0, again
    assert all(ret["result"] is True and not ret["changes"] for ret in again.states()), again
    assert writes == []

    records = minion.call("ocp_aws.dns_records", domain, "region=eu-west-2", "zone=example.org")
    assert records.retcode == 0, records
    hosts = {(r["host"], r["type"]) for r in records.data}
    assert (f"bounce.mail-{suffix}", "MX") in hosts and (f"_dmarc.mail-{suffix}", "TXT") in hosts, hosts

    derived = minion.call("ocp_aws.smtp_password", "key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "region=us-east-1")
    assert derived.retcode == 0 and len(derived.data) == 44, derived

    for stdout, stderr in minion.outputs:
        assert password not in stdout and password not in stderr


def test_notification_section_of_the_example_through_salt(minion, aws, recorder, endpoint, suffix):
    """Runbook items 9-11 and 13: examples/notifications.yaml under names of this test."""
    text = (REPO / "examples" / "notifications.yaml").read_text()
    topic, domain, address = f"data-{suffix}", f"n-{suffix}.example.org", f"data-{suffix}@example.org"
    for old, new in (
        ("data-open-contracting-org", topic),
        ("data@open-contracting.org", address),
        ("open-contracting.org", domain),
        ("credere", f"credere-{suffix}"),
    ):
        text = text.replace(old, new)
    pillar = yaml.safe_load(text)["ocp_aws"]
    _control(endpoint, "subscription-pending", {"Endpoint": address})
    keyid = minion.options["ocp_aws.keyid"]
    with recorder(keyid) as writes:
        result = minion.apply(pillar, test=True)
    assert result.retcode == 0, result
    assert all(ret["result"] is None for ret in result.states()), result
    assert writes == []

    result = minion.apply(pillar)
    assert result.retcode == 0, result
    returns = result.by_name()
    assert [ret["name"] for ret in result.states()][0] == topic, "the topic comes first"
    assert f"Pending confirmation (not subscribed again; the confirmation was sent): {address}" in returns[topic]["comment"]
    assert returns[domain]["changes"]["new"]["configuration_set"] == f"credere-{suffix}"
    # Each state ran alone, and the topic still let the domain and the configuration set publish.
    arn = aws("sns").create_topic(Name=topic)["TopicArn"]
    policy = json.loads(aws("sns").get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])
    (ses_statement,) = [s for s in policy["Statement"] if s.get("Sid") == "AllowSESPublish"]
    sources = sorted(ses_statement["Condition"]["ArnLike"]["aws:SourceArn"])
    assert [s.rsplit(":", 1)[1] for s in sources] == [f"configuration-set/credere-{suffix}", f"identity/{domain}"]

    with recorder(keyid) as writes:
        again = minion.apply(pillar)
    assert again.retcode == 0, again
    assert all(ret["result"] is True and not ret["changes"] for ret in again.states()), again
    assert writes == [], "a pending subscription is not subscribed again"

    bounce = (REPO / "tests" / "fixtures" / "notifications" / "bounce-permanent-general.json").read_text()
    explained = minion.call("ocp_aws.notification_explain", bounce)
    assert explained.retcode == 0, explained
    assert explained.data["kind"] == "Bounce"
    assert explained.data["recipients"][0]["diagnostic_code"] == "smtp; 550 5.1.1 user unknown"
    assert explained.data["advice"][0].startswith("permanent: remove the address")


def test_rds_section_of_the_example_through_salt(minion, aws, recorder, endpoint, suffix, tmp_path):
    """Runbook item 16: examples/rds.yaml under names of this test, batched into one state.apply."""
    text = (REPO / "examples" / "rds.yaml").read_text()
    group, db = f"postgresql-anywhere-{suffix}", f"analysis-{suffix}"
    secret_file = tmp_path / "private" / "analysis_db.sls"
    for old, new in (
        ("postgresql-anywhere", group),
        ("analysis:", f"{db}:"),
        ("/tmp/ocp-aws-demo/private/analysis_db.sls", str(secret_file)),
    ):
        text = text.replace(old, new)
    pillar = yaml.safe_load(text)["ocp_aws"]
    keyid = minion.options["ocp_aws.keyid"]
    with recorder(keyid) as writes:
        result = minion.apply(pillar, test=True)
    assert result.retcode == 0, result
    assert all(ret["result"] is None for ret in result.states()), result
    assert writes == []
    assert not secret_file.exists()

    _control(endpoint, "db-instance-status", {"DBInstanceIdentifier": db, "Statuses": ["creating", "backing-up"]})
    result = minion.apply(pillar)
    assert result.retcode == 0, result
    assert [ret["name"] for ret in result.states()] == [group, db], "the group comes first"
    returns = result.by_name()
    assert returns[db]["changes"]["new"]["password"] == {"secret": f"written to {secret_file}"}
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    details = yaml.safe_load(secret_file.read_text())["analysis_db"]
    instance = aws("rds").describe_db_instances(DBInstanceIdentifier=db)["DBInstances"][0]
    assert details["host"] == instance["Endpoint"]["Address"]
    assert (details["port"], details["user"], details["dbname"], details["sslmode"]) == (5432, "postgres", "postgres", "require")
    assert [g["VpcSecurityGroupId"] for g in instance["VpcSecurityGroups"]] == [
        aws("ec2").describe_security_groups(Filters=[{"Name": "group-name", "Values": [group]}])["SecurityGroups"][0]["GroupId"]
    ]
    password = details["password"]
    assert len(password) >= 24

    with recorder(keyid) as writes:
        again = minion.apply(pillar)
    assert again.retcode == 0, again
    assert all(ret["result"] is True and not ret["changes"] for ret in again.states()), again
    assert writes == []
    for stdout, stderr in minion.outputs:
        assert password not in stdout and password not in stderr
