"""`ocp-aws export`: an account set up by hand (through boto3, as the console does it) comes back as
a Pillar that validates, and that plan and apply find already in place, with zero writes.

Each test works in an account of its own (an AssumeRole into a fresh 12-digit account), since export
reads everything an account has. Its requests are signed with the role's access key id, which the
moto recorder tells apart from every other test's.
"""

import json
import os
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import pillar as bench_pillar  # noqa: E402  (tests/bench: the runbook's Pillar)

from conftest import REPO, _recorded  # noqa: E402

SECRETS_HEADER = "# Written by ocp-aws. Secrets: keep this file private (mode 0600) and out of version control.\n"
DEFAULT_EVENTS = ["DELIVERY_DELAY", "REJECT", "RENDERING_FAILURE"]
SCHEMA = json.loads((REPO / "schema" / "pillar.schema.json").read_text())


@dataclass
class Account:
    """A fresh AWS account on the moto server: boto3 clients and the binary, signed by one role."""

    id: str
    endpoint: str
    credentials: dict
    binary: str
    home: Path

    def client(self, service, region="us-east-1"):
        import boto3

        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.endpoint,
            aws_access_key_id=self.credentials["AccessKeyId"],
            aws_secret_access_key=self.credentials["SecretAccessKey"],
            aws_session_token=self.credentials["SessionToken"],
        )

    @property
    def keyid(self):
        return self.credentials["AccessKeyId"]

    def run(self, *args, stdin=None):
        """Run the binary against the moto server as this account's role."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID=self.credentials["AccessKeyId"],
            AWS_SECRET_ACCESS_KEY=self.credentials["SecretAccessKey"],
            AWS_SESSION_TOKEN=self.credentials["SessionToken"],
            AWS_EC2_METADATA_DISABLED="true",
            OCP_AWS_CONSISTENCY_SCALE="0.05",
            XDG_DATA_HOME=str(self.home),
        )
        command = [self.binary, *args]
        if args and args[0] in ("export", "plan", "apply"):
            command += ["--endpoint-url", self.endpoint]
        return subprocess.run(command, input=stdin, capture_output=True, text=True, env=env, check=False)

    def writes(self, since):
        """The write operations this account's role made after the first ``since`` recorded requests."""
        return [
            f"{op['Service']} {op['Operation']}" for op in _recorded(self.endpoint, self.keyid)[since:] if not op["Read"]
        ]

    def recorded(self):
        return len(_recorded(self.endpoint, self.keyid))


@pytest.fixture
def account(endpoint, binary, aws, tmp_path):
    """A fresh account (a role assumed into a random account id)."""
    account_id = str(random.randint(10**11, 10**12 - 1))
    credentials = aws("sts").assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/export", RoleSessionName="export")[
        "Credentials"
    ]
    return Account(account_id, endpoint, credentials, binary, tmp_path / "home")


def export(account, *args):
    """Run `export` and return (YAML text, parsed `ocp_aws` value, stderr); it must not write."""
    before = account.recorded()
    process = account.run("export", *args)
    assert process.returncode == 0, process.stderr
    assert account.writes(before) == [], "export wrote to AWS"
    assert "0 writes." in process.stderr, process.stderr
    return process.stdout, yaml.safe_load(process.stdout)["ocp_aws"], process.stderr


def uncomment(text, name):
    """The YAML with the commented-out entry `name` (and its commented parents) uncommented."""
    lines, out, inside = text.splitlines(), [], None
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        at = len(line) - len(stripped)
        if stripped == f"# {name}:":
            inside = at
            # Its parents, commented out because all their entries were.
            j, want = len(out) - 1, at - 2
            while j >= 0 and want >= 2:
                parent = out[j].lstrip()
                if len(out[j]) - len(parent) == want and parent.startswith("# "):
                    out[j] = " " * want + parent[2:]
                    want -= 2
                elif len(out[j]) - len(parent) < want:
                    break
                j -= 1
            out.append(" " * at + stripped[2:])
            continue
        if inside is not None and at > inside and stripped.startswith("# "):
            out.append(" " * at + stripped[2:])
            continue
        inside = None
        out.append(line)
    return "\n".join(out) + "\n"


def plan_and_apply_change_nothing(account, path):
    """plan and apply of the Pillar file report no change, and neither writes to AWS."""
    for command in ("plan", "apply"):
        before = account.recorded()
        process = account.run(command, "-f", str(path), "--output", "json")
        assert process.returncode == 0, process.stdout + process.stderr
        returns = json.loads(process.stdout)
        changed = [(r["id"], r["changes"], r["comment"]) for r in returns if r["result"] is not True or r["changes"]]
        assert changed == [], f"{command} found changes"
        assert account.writes(before) == [], f"{command} wrote to AWS"
    return returns


def populate_by_hand(account, suffix):
    """What a person clicking through the runbook in the console makes, with settings ocp-aws does not
    manage (versioning, tags, a second policy version, a pending subscription, an AWS-managed policy)."""
    us, eu = "us-east-1", "eu-west-2"
    names = {
        "bucket": f"ocp-redmine-backup-{suffix}",
        "open_bucket": f"ocp-public-{suffix}",
        "policy": "redmine-backup",
        "domain": f"open-contracting-{suffix}.org",
    }
    s3 = account.client("s3", eu)
    s3.create_bucket(Bucket=names["bucket"], CreateBucketConfiguration={"LocationConstraint": eu})
    all_blocked = dict.fromkeys(["BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"], True)
    s3.put_public_access_block(Bucket=names["bucket"], PublicAccessBlockConfiguration=all_blocked)
    s3.put_bucket_lifecycle_configuration(
        Bucket=names["bucket"],
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "delete-after-30-days",
                    "Filter": {"Prefix": ""},
                    "Status": "Enabled",
                    "Expiration": {"Days": 30},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                }
            ]
        },
    )
    s3.put_bucket_versioning(Bucket=names["bucket"], VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_tagging(Bucket=names["bucket"], Tagging={"TagSet": [{"Key": "team", "Value": "data"}]})
    account.client("s3", us).create_bucket(Bucket=names["open_bucket"])

    iam = account.client("iam")
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{names['bucket']}"},
            {
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
                "Resource": f"arn:aws:s3:::{names['bucket']}/*",
            },
        ],
    }
    arn = iam.create_policy(PolicyName=names["policy"], PolicyDocument=json.dumps(document))["Policy"]["Arn"]
    # The console's JSON editor: the same meaning in another shape, as a second, default version.
    reshaped = {"Version": "2012-10-17", "Statement": list(reversed(document["Statement"]))}
    reshaped["Statement"][0]["Action"] = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(reshaped), SetAsDefault=True)
    read_only = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    iam.create_policy(PolicyName="read-objects", PolicyDocument=json.dumps(read_only))
    iam.create_policy(PolicyName="team-scoped", Path="/team/", PolicyDocument=json.dumps(read_only))
    iam.create_group(GroupName="backup")
    iam.attach_group_policy(GroupName="backup", PolicyArn=arn)
    iam.attach_group_policy(GroupName="backup", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam.create_user(UserName="redmine-backup", Tags=[{"Key": "service", "Value": "redmine"}])
    iam.add_user_to_group(GroupName="backup", UserName="redmine-backup")
    iam.attach_user_policy(UserName="redmine-backup", PolicyArn=arn)
    key = iam.create_access_key(UserName="redmine-backup")["AccessKey"]
    iam.create_user(UserName="ses-smtp-user")
    send = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ses:SendRawEmail", "Resource": "*"}]}
    iam.put_user_policy(UserName="ses-smtp-user", PolicyName="AmazonSesSendingAccess", PolicyDocument=json.dumps(send))
    smtp_key = iam.create_access_key(UserName="ses-smtp-user")["AccessKey"]

    sns = account.client("sns")
    topic = sns.create_topic(Name="data-open-contracting-org")["TopicArn"]
    sns.set_topic_attributes(TopicArn=topic, AttributeName="DisplayName", AttributeValue="OCP data")
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="data@open-contracting.org")
    control = {"Endpoint": "later@open-contracting.org", "AccountId": account.id}
    _control(account.endpoint, "subscription-pending", control)
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="later@open-contracting.org")

    sesv2, ses = account.client("sesv2"), account.client("ses")
    domain = names["domain"]
    sesv2.create_email_identity(EmailIdentity=domain, DkimSigningAttributes={"NextSigningKeyLength": "RSA_2048_BIT"})
    sesv2.put_email_identity_mail_from_attributes(
        EmailIdentity=domain, MailFromDomain=f"bounce.{domain}", BehaviorOnMxFailure="USE_DEFAULT_VALUE"
    )
    sesv2.create_email_identity(EmailIdentity=f"noreply@{domain}")
    for identity in (domain, f"noreply@{domain}"):
        for kind in ("Bounce", "Complaint"):
            ses.set_identity_notification_topic(Identity=identity, NotificationType=kind, SnsTopic=topic)
    for kind in ("Bounce", "Complaint"):
        ses.set_identity_headers_in_notifications_enabled(Identity=domain, NotificationType=kind, Enabled=True)
    sesv2.create_configuration_set(ConfigurationSetName="credere")
    sesv2.create_configuration_set_event_destination(
        ConfigurationSetName="credere",
        EventDestinationName="credere-noreply",
        EventDestination={
            "Enabled": True,
            "MatchingEventTypes": ["RENDERING_FAILURE", "REJECT", "DELIVERY_DELAY"],
            "SnsDestination": {"TopicArn": topic},
        },
    )
    sesv2.put_email_identity_configuration_set_attributes(EmailIdentity=domain, ConfigurationSetName="credere")
    sesv2.put_account_suppression_attributes(SuppressedReasons=[])

    ec2 = account.client("ec2", eu)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    group = ec2.create_security_group(
        GroupName="postgresql-anywhere", Description="PostgreSQL from anywhere", VpcId=vpc
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
            }
        ],
    )
    ec2.create_tags(Resources=[group], Tags=[{"Key": "Name", "Value": "postgresql"}])
    account.client("rds", eu).create_db_instance(
        DBInstanceIdentifier="analysis",
        Engine="postgres",
        EngineVersion="17.4",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        StorageType="gp2",
        MasterUsername="postgres",
        MasterUserPassword="a-long-secret-1",
        PubliclyAccessible=True,
        VpcSecurityGroupIds=[group],
        BackupRetentionPeriod=0,
        StorageEncrypted=False,
        EnablePerformanceInsights=False,
    )
    return names, key, smtp_key, "a-long-secret-1"


def _control(endpoint, name, body):
    import urllib.request

    request = urllib.request.Request(f"{endpoint}/_ocp_aws_test/{name}", data=json.dumps(body).encode(), method="POST")
    urllib.request.urlopen(request).close()


def test_an_account_set_up_by_hand_exports_as_pillar_that_changes_nothing(account, suffix, tmp_path):
    names, key, smtp_key, db_password = populate_by_hand(account, suffix)
    text, value, stderr = export(account, "--region", "us-east-1", "--region", "eu-west-2", "--secret-dir", str(tmp_path))
    assert text.startswith(f"# yaml-language-server: $schema={account.home}/ocp-aws/pillar.schema.json\n"), text
    for secret in (key["SecretAccessKey"], smtp_key["SecretAccessKey"], db_password):
        assert secret not in text + stderr

    # The project's own words: typed rules, the shorthand, names for references, ARNs for AWS's own.
    bucket = value["s3"]["buckets"][names["bucket"]]
    assert bucket == {"region": "eu-west-2", "lifecycle": [bench_pillar.LIFECYCLE_RULE | {"enabled": True}]}
    assert value["s3"]["buckets"][names["open_bucket"]] == {"block_public_access": False}
    assert value["iam"]["policies"]["redmine-backup"] == {"bucket_access": names["bucket"]}
    assert value["iam"]["policies"]["read-objects"]["document"]["Statement"][0]["Action"] == "s3:GetObject"
    assert "team-scoped" not in value["iam"]["policies"] and "IAM policy team-scoped has the path /team/" in stderr
    assert value["iam"]["groups"]["backup"] == {
        "policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess", "redmine-backup"]
    }
    assert value["iam"]["users"]["redmine-backup"] == {"groups": ["backup"], "policies": ["redmine-backup"]}
    assert f"ocp-aws adopt-key redmine-backup --secret-file {tmp_path}/redmine-backup_aws.sls" in text
    assert "ses-smtp-user" not in value["iam"]["users"] and "# ses-smtp-user:" in text
    assert value["sns"]["topics"]["data-open-contracting-org"] == {
        "display_name": "OCP data",
        "subscriptions": [{"email": "data@open-contracting.org"}],
    }
    assert "email:later@open-contracting.org is pending confirmation" in text
    topic = f"arn:aws:sns:us-east-1:{account.id}:data-open-contracting-org"
    feedback = {"bounce": topic, "complaint": topic}
    assert value["ses"]["domains"][names["domain"]] == {
        "dkim": "RSA_2048_BIT",
        "mail_from": f"bounce.{names['domain']}",
        "feedback": feedback | {"include_headers": True},
        "configuration_set": "credere",
    }
    assert value["ses"]["email_addresses"][f"noreply@{names['domain']}"] == {"feedback": feedback}
    assert value["ses"]["configuration_sets"]["credere"] == {
        "event_destinations": {"credere-noreply": {"sns_topic": topic}}
    }
    assert value["ses"]["account"] == {"suppression_list": "disabled"}
    assert value["ec2"]["security_groups"] == {
        "postgresql-anywhere": {
            "region": "eu-west-2",
            "description": "PostgreSQL from anywhere",
            "ingress": [{"protocol": "tcp", "port": 5432, "cidr": ["0.0.0.0/0", "::/0"]}],
            "tags": {"Name": "postgresql"},
        }
    }
    assert "rds" not in value and "# analysis:" in text, "the instance waits for its password file"

    # Valid for the schema and for the binary, as it is.
    jsonschema.validate({"ocp_aws": value}, SCHEMA)
    path = tmp_path / "exported.sls"
    path.write_text(text)
    assert account.run("validate", "-f", str(path)).returncode == 0
    plan_and_apply_change_nothing(account, path)

    # The placeholders filled in as their comments say (what adopt-key and adopt-password write):
    # the instance's settings, the access key and the SMTP user are then managed, still without a change.
    (tmp_path / "analysis_db.sls").write_text(
        SECRETS_HEADER
        + yaml.safe_dump(
            {"host": None, "port": 5432, "user": "postgres", "password": db_password, "dbname": "postgres", "sslmode": "require"}
        )
    )
    endpoint = account.client("rds", "eu-west-2").describe_db_instances()["DBInstances"][0].get("Endpoint", {})
    filled = yaml.safe_load((tmp_path / "analysis_db.sls").read_text())
    filled.update(host=endpoint.get("Address"), port=endpoint.get("Port", 5432))
    (tmp_path / "analysis_db.sls").write_text(SECRETS_HEADER + yaml.safe_dump(filled))
    (tmp_path / "redmine-backup_aws.sls").write_text(
        SECRETS_HEADER
        + yaml.safe_dump({"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]})
    )
    password = account.run("smtp-password", "--region", "us-east-1", stdin=smtp_key["SecretAccessKey"]).stdout.strip()
    smtp = {"smtp_host": "email-smtp.us-east-1.amazonaws.com", "smtp_port": 587}
    smtp |= {"smtp_username": smtp_key["AccessKeyId"], "smtp_password": password}
    (tmp_path / "ses-smtp-user_smtp.sls").write_text(SECRETS_HEADER + yaml.safe_dump({"us-east-1": smtp}))
    for f in tmp_path.glob("*.sls"):
        f.chmod(0o600)
    full = yaml.safe_load(uncomment(uncomment(text, "analysis"), "ses-smtp-user"))
    full["ocp_aws"]["iam"]["users"]["redmine-backup"]["access_key"] = {"secret_file": f"{tmp_path}/redmine-backup_aws.sls"}
    assert full["ocp_aws"]["rds"]["instances"]["analysis"]["security_groups"] == ["postgresql-anywhere"]
    jsonschema.validate(full, SCHEMA)
    path.write_text(json.dumps(full))
    returns = plan_and_apply_change_nothing(account, path)
    assert {"rds.db_instance analysis", "ses.smtp_credentials ses-smtp-user"} <= {r["id"] for r in returns}


def test_the_runbook_applied_by_ocp_aws_exports_as_the_runbook(account, tmp_path):
    """Where the export and the hand-written runbook Pillar overlap, they say the same."""
    runbook = bench_pillar.runbook(account.binary, 1, tmp_path / "secrets")
    path = bench_pillar.write(runbook, tmp_path / "runbook.json")
    applied = account.run("apply", "-f", str(path), "--output", "json")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    _text, value, _stderr = export(account, "--secret-dir", str(tmp_path / "secrets"))
    want = runbook.value
    for section in runbook.sections:
        service, field = section.split(".")
        for name, settings in runbook.entries(section).items():
            entries = value.get(service, {}).get(field, {})
            got = entries if section in bench_pillar.SINGLETONS else entries.get(name)
            if section == "ses.smtp_credentials":
                assert got is None, "written commented out: it needs its secret file"
                continue
            assert got is not None, f"{section} {name} is missing from the export"
            for k, v in settings.items():
                if k in ("access_key", "production_access"):
                    continue  # a secret file's placeholder; a request sent once
                if k == "lifecycle":
                    v = [rule | {"enabled": True} for rule in v]
                assert got.get(k) == v, f"{section} {name}.{k}: exported {got.get(k)!r}, runbook {v!r}"
    assert value["region"] == want["region"]


def test_an_empty_account_exports_its_ses_settings_only(account):
    text, value, stderr = export(account)
    assert value == {"region": "us-east-1", "ses": {"account": {"suppression_list": ["BOUNCE", "COMPLAINT"]}}}, text
    assert "in the sandbox" in text
    jsonschema.validate({"ocp_aws": value}, SCHEMA)


def test_kinds_and_names_filter_and_diff_lists_what_pillar_leaves_out(account, suffix, tmp_path):
    s3 = account.client("s3")
    for name in (f"keep-{suffix}", f"keep-too-{suffix}", f"other-{suffix}"):
        s3.create_bucket(Bucket=name)
    account.client("iam").create_user(UserName="Backup")
    # moto makes a bucket without Block Public Access (AWS turns it on for new buckets since 2023).
    open_ = {"block_public_access": False}
    _text, value, _ = export(account, "--kinds", "s3.bucket", "--names", "keep-*")
    assert value == {"region": "us-east-1", "s3": {"buckets": {f"keep-{suffix}": open_, f"keep-too-{suffix}": open_}}}
    _text, value, _ = export(account, "--kinds", "iam.users,s3.bucket", "--names", "*other*")
    assert value == {"region": "us-east-1", "s3": {"buckets": {f"other-{suffix}": open_}}}

    pillar = tmp_path / "pillar.yaml"
    pillar.write_text(yaml.safe_dump({"ocp_aws": {"s3": {"buckets": {f"keep-{suffix}": {}}}, "iam": {"users": {"backup": {}}}}}))
    before = account.recorded()
    process = account.run("export", "--diff", str(pillar), "--kinds", "s3.bucket,iam.user")
    assert process.returncode == 0, process.stderr
    assert account.writes(before) == []
    # IAM names compare without case: `backup` in Pillar is the user Backup.
    assert process.stdout.splitlines() == [f"s3.bucket keep-too-{suffix} (us-east-1)", f"s3.bucket other-{suffix} (us-east-1)"]


def test_an_export_narrowed_past_a_reference_says_it_does_not_validate(account, suffix):
    iam = account.client("iam")
    group, user = f"team-{suffix}", f"member-{suffix}"
    iam.create_group(GroupName=group)
    iam.create_user(UserName=user)
    iam.add_user_to_group(GroupName=group, UserName=user)
    text, value, stderr = export(account, "--kinds", "iam.user", "--names", user)
    assert value["iam"]["users"][user]["groups"] == [group], text
    assert "# Warning: this Pillar does not validate as it stands" in text, text
    assert f"#   ocp_aws.iam.users.{user}.groups[0]: names iam.group" in text, text
    assert "warning: the export does not validate as it stands" in stderr and group in stderr, stderr
    text, value, stderr = export(account, "--kinds", "iam.user,iam.group", "--names", f"*-{suffix}")
    assert set(value["iam"]) == {"users", "groups"}, text
    assert "Warning" not in text and "warning" not in stderr, text + stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--kinds", "s3.nope"], "unknown kind"),
        (["--region", "mars-1"], "--region"),
        (["--secret-dir", "relative/dir"], "absolute"),
        (["--output", "xml"], "xml"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(account, args, message):
    process = account.run("export", *args)
    assert process.returncode == 2, process.stderr
    assert message in process.stderr and process.stdout == ""


def populate_at_random(account, rng, suffix):
    """A random combination of the settings ocp-aws supports, made through boto3 as the console does."""
    regions = ["us-east-1", "eu-west-2"]
    sns = {r: account.client("sns", r) for r in regions}
    topics = {}
    for i in range(rng.randint(1, 2)):
        region = rng.choice(regions)
        arn = sns[region].create_topic(Name=f"topic-{i}")["TopicArn"]
        topics.setdefault(region, []).append(arn)
        if rng.random() < 0.5:
            sns[region].set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue=f"Topic {i}")
        for j in range(rng.randint(0, 2)):
            sns[region].subscribe(TopicArn=arn, Protocol="email", Endpoint=f"ops{j}@example.org")
        if rng.random() < 0.5:
            sns[region].subscribe(TopicArn=arn, Protocol="sqs", Endpoint=f"arn:aws:sqs:{region}:{account.id}:q{i}")
    for i in range(rng.randint(1, 3)):
        region = rng.choice(regions)
        s3 = account.client("s3", region)
        bucket = f"rnd-{suffix}-{i}"
        config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **config)
        if rng.random() < 0.7:
            flags = ["BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"]
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=dict.fromkeys(flags, True))
        rules = []
        for r in range(rng.randint(0, 2)):
            rule = {"ID": f"rule-{r}", "Filter": {"Prefix": rng.choice(["", f"logs{r}/"])}}
            rule["Status"] = rng.choice(["Enabled", "Enabled", "Disabled"])
            if rng.random() < 0.6:
                rule["Expiration"] = {"Days": rng.randint(1, 400)}
            elif rng.random() < 0.5:
                rule["Expiration"] = {"ExpiredObjectDeleteMarker": True}
            if rng.random() < 0.6 or len(rule) == 3:
                rule["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": rng.randint(1, 30)}
            if rng.random() < 0.3:
                rule["NoncurrentVersionExpiration"] = {"NoncurrentDays": rng.randint(1, 90)}
            rules.append(rule)
        if rules:
            s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
        if rng.random() < 0.5:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    iam = account.client("iam")
    arns = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    for i in range(rng.randint(0, 2)):
        bucket = f"rnd-{suffix}-0"
        statements = [
            {"Effect": "Allow", "Action": rng.choice(["s3:ListBucket", ["s3:ListBucket"]]), "Resource": f"arn:aws:s3:::{bucket}"},
            {"Effect": "Allow", "Action": rng.sample(["s3:PutObject", "s3:GetObject", "s3:DeleteObject"], 3), "Resource": f"arn:aws:s3:::{bucket}/*"},
        ]
        if rng.random() < 0.4:
            statements[1]["Action"] = "s3:*"
        rng.shuffle(statements)
        doc = {"Version": "2012-10-17", "Statement": statements}
        arns.append(iam.create_policy(PolicyName=f"policy-{i}", PolicyDocument=json.dumps(doc))["Policy"]["Arn"])
    groups = []
    for i in range(rng.randint(0, 2)):
        iam.create_group(GroupName=f"group-{i}")
        groups.append(f"group-{i}")
        for arn in rng.sample(arns, rng.randint(0, len(arns))):
            iam.attach_group_policy(GroupName=f"group-{i}", PolicyArn=arn)
    for i in range(rng.randint(0, 2)):
        user = rng.choice(["user", "User"]) + f"-{i}"
        iam.create_user(UserName=user)
        for g in rng.sample(groups, rng.randint(0, len(groups))):
            iam.add_user_to_group(GroupName=g, UserName=user)
        for arn in rng.sample(arns, rng.randint(0, len(arns))):
            iam.attach_user_policy(UserName=user, PolicyArn=arn)
        if rng.random() < 0.5:
            iam.create_access_key(UserName=user)
    for region in regions:
        if rng.random() < 0.5:
            continue
        sesv2, ses = account.client("sesv2", region), account.client("ses", region)
        region_topics = topics.get(region, [])
        sets = []
        for i in range(rng.randint(0, 2)):
            name = f"set-{i}"
            options = {}
            if rng.random() < 0.3:
                options["SendingOptions"] = {"SendingEnabled": False}
            if rng.random() < 0.3:
                options["ReputationOptions"] = {"ReputationMetricsEnabled": True}
            if rng.random() < 0.3:
                options["DeliveryOptions"] = {"TlsPolicy": "REQUIRE"}
            if rng.random() < 0.3:
                options["SuppressionOptions"] = {"SuppressedReasons": rng.sample(["BOUNCE", "COMPLAINT"], rng.randint(0, 2))}
            sesv2.create_configuration_set(ConfigurationSetName=name, **options)
            sets.append(name)
            for d in range(rng.randint(0, 2) if region_topics else 0):
                events = rng.sample(["SEND", "REJECT", "BOUNCE", "COMPLAINT", "DELIVERY", "RENDERING_FAILURE", "DELIVERY_DELAY"], rng.randint(1, 4))
                destination = {"Enabled": rng.random() < 0.8, "MatchingEventTypes": events, "SnsDestination": {"TopicArn": rng.choice(region_topics)}}
                sesv2.create_configuration_set_event_destination(ConfigurationSetName=name, EventDestinationName=f"dest-{d}", EventDestination=destination)
        for i in range(rng.randint(0, 2)):
            domain = f"d{i}-{suffix}.example.org"
            identity = rng.choice([domain, f"noreply@{domain}"])
            attributes = {"DkimSigningAttributes": {"NextSigningKeyLength": rng.choice(["RSA_1024_BIT", "RSA_2048_BIT"])}} if identity == domain else {}
            sesv2.create_email_identity(EmailIdentity=identity, **attributes)
            if identity == domain and rng.random() < 0.5:
                sesv2.put_email_identity_mail_from_attributes(EmailIdentity=domain, MailFromDomain=f"bounce.{domain}", BehaviorOnMxFailure=rng.choice(["USE_DEFAULT_VALUE", "REJECT_MESSAGE"]))
            if sets and rng.random() < 0.5:
                sesv2.put_email_identity_configuration_set_attributes(EmailIdentity=identity, ConfigurationSetName=rng.choice(sets))
            kinds = [k for k in ("Bounce", "Complaint", "Delivery") if region_topics and rng.random() < 0.5]
            for kind in kinds:
                ses.set_identity_notification_topic(Identity=identity, NotificationType=kind, SnsTopic=rng.choice(region_topics))
                if rng.random() < 0.5:
                    ses.set_identity_headers_in_notifications_enabled(Identity=identity, NotificationType=kind, Enabled=True)
            if {"Bounce", "Complaint"} <= set(kinds) and rng.random() < 0.5:
                ses.set_identity_feedback_forwarding_enabled(Identity=identity, ForwardingEnabled=False)
        if rng.random() < 0.5:
            sesv2.put_account_suppression_attributes(SuppressedReasons=rng.sample(["BOUNCE", "COMPLAINT"], rng.randint(0, 2)))
    for region in regions:
        if rng.random() < 0.5:
            continue
        ec2 = account.client("ec2", region)
        vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        group = ec2.create_security_group(GroupName=f"sg-like-{region}"[3:], Description=rng.choice(["web", "Managed by ocp-aws"]), VpcId=vpc)["GroupId"]
        permissions = []
        for _ in range(rng.randint(0, 3)):
            protocol = rng.choice(["tcp", "udp", "-1", "icmp"])
            p = {"IpProtocol": protocol}
            if protocol in ("tcp", "udp"):
                start = rng.randint(1, 9000)
                p.update(FromPort=start, ToPort=start + rng.choice([0, 0, 99]))
            elif protocol == "icmp":
                p.update(FromPort=-1, ToPort=-1)
            cidr = {"CidrIp": rng.choice(["0.0.0.0/0", "10.0.0.0/8"])}
            if rng.random() < 0.3:
                cidr["Description"] = "office"
            p["IpRanges"] = [cidr]
            if rng.random() < 0.3:
                p["Ipv6Ranges"] = [{"CidrIpv6": "::/0"}]
            if all((q["IpProtocol"], q.get("FromPort")) != (protocol, p.get("FromPort")) for q in permissions):
                permissions.append(p)
        if permissions:
            ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=permissions)


@pytest.mark.parametrize("seed", range(8))
def test_random_accounts_export_as_pillar_that_changes_nothing(account, suffix, tmp_path, seed):
    """Property: whatever combination an account holds, export then plan and apply change nothing."""
    populate_at_random(account, random.Random(seed), suffix)
    text, value, _stderr = export(account, "--region", "us-east-1", "--region", "eu-west-2", "--secret-dir", str(tmp_path))
    jsonschema.validate({"ocp_aws": value}, SCHEMA)
    path = tmp_path / "exported.sls"
    path.write_text(text)
    process = account.run("validate", "-f", str(path))
    assert process.returncode == 0, process.stderr + text
    plan_and_apply_change_nothing(account, path)


def test_the_salt_execution_function_exports_too(minion, aws, recorder, suffix):
    """`salt-call ocp_aws.export` answers the Pillar value and its YAML, and reads only."""
    aws("s3", "eu-west-2").create_bucket(
        Bucket=f"exp-{suffix}", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
    )
    with recorder(minion.options["ocp_aws.keyid"]) as writes:
        result = minion.call("ocp_aws.export", "regions=eu-west-2", "kinds=s3.bucket", f"names=exp-{suffix}")
    assert result.retcode == 0, result.stdout + result.stderr
    assert writes == []
    assert result.data["pillar"] == {
        "ocp_aws": {"region": "eu-west-2", "s3": {"buckets": {f"exp-{suffix}": {"block_public_access": False}}}}
    }
    assert yaml.safe_load(result.data["yaml"]) == result.data["pillar"]
    bad = minion.call("ocp_aws.export", "kinds=s3.nope")
    assert bad.retcode != 0 and "unknown kind" in bad.stdout + bad.stderr
