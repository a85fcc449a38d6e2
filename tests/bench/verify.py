"""Reads back with boto3, straight from moto, what a tool made, and compares it with the Pillar.

A tool is checked only on what it claims to cover (``Coverage``: section → aspects), since the peers
manage less than ocp-aws. Every problem is a sentence; an empty list means the Pillar holds.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

from pillar import EVENTS_DEFAULT, Names, Runbook

Coverage = dict[str, frozenset[str]]
ACCOUNT = "123456789012"  # moto's default account

# Everything the benchmark's templates set, by section.
ALL: Coverage = {
    "sns.topics": frozenset({"exists", "subscription"}),
    "s3.buckets": frozenset({"exists", "lifecycle"}),
    "iam.policies": frozenset({"exists", "document"}),
    "iam.groups": frozenset({"exists", "policies"}),
    "iam.users": frozenset({"exists", "groups", "access_key"}),
    "ses.domains": frozenset({"exists", "dkim", "mail_from", "feedback", "configuration_set"}),
    "ses.email_addresses": frozenset({"exists", "feedback"}),
    "ses.smtp_credentials": frozenset({"exists", "access_key"}),
    "ses.configuration_sets": frozenset({"exists", "event_destination"}),
    "ses.account": frozenset({"suppression", "production_access"}),
}


def bucket_access(bucket: str) -> dict[str, Any]:
    """The policy document ocp-aws derives from ``bucket_access: <bucket>``."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
            {
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
                "Resource": f"arn:aws:s3:::{bucket}/*",
            },
        ],
    }


def _normal(document: Any) -> Any:
    """A policy document by meaning: single values as lists, lists sorted, no Sid."""
    if isinstance(document, str):
        document = json.loads(urllib.parse.unquote(document))
    statements = []
    for statement in document.get("Statement", []):
        normal = {}
        for key, value in statement.items():
            if key == "Sid":
                continue
            normal[key] = sorted(value) if isinstance(value, list) else [value] if key != "Effect" else value
        statements.append(normal)
    return sorted(statements, key=json.dumps)


class Checker:
    """boto3 clients for moto, and one check per section."""

    def __init__(self, endpoint: str, region: str = "us-east-1") -> None:
        def client(service: str) -> Any:
            return boto3.client(
                service,
                region_name=region,
                endpoint_url=endpoint,
                aws_access_key_id="AKIABENCHVERIFY",
                aws_secret_access_key="testing",
            )

        self.s3, self.iam, self.sns = client("s3"), client("iam"), client("sns")
        self.sesv2, self.ses = client("sesv2"), client("ses")
        self._topics: dict[str, str] | None = None

    def topic_arn(self, name: str) -> str | None:
        if self._topics is None:
            self._topics = {}
            for page in self.sns.get_paginator("list_topics").paginate():
                for topic in page["Topics"]:
                    self._topics[topic["TopicArn"].rsplit(":", 1)[1]] = topic["TopicArn"]
        return self._topics.get(name)

    def check(self, runbook: Runbook, coverage: Coverage) -> list[str]:
        problems: list[str] = []
        for section, aspects in coverage.items():
            if section not in runbook.sections:
                continue
            check = CHECKS[section]
            for name, settings in runbook.entries(section).items():
                index = int(name.split("-")[2]) if name.startswith("ocp-bench-") else _index(name)
                try:
                    problems.extend(f"{section} {name}: {p}" for p in check(self, Names(index), settings, aspects))
                except ClientError as error:
                    problems.append(f"{section} {name}: {error}")
        return problems


def _index(name: str) -> int:
    """The copy number in a name such as noreply@bench-007.example.org, or 0."""
    for part in name.replace("@", ".").replace("-", ".").split("."):
        if part.isdigit():
            return int(part)
    return 0


def _topic(c: Checker, n: Names, settings: dict[str, Any], aspects: frozenset[str]) -> list[str]:
    arn = c.topic_arn(n.topic)
    if arn is None:
        return ["no such topic"]
    if "subscription" in aspects:
        subs = c.sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
        if not any(s["Endpoint"] == n.subscriber and s["Protocol"] == "email" for s in subs):
            return [f"no email subscription of {n.subscriber}"]
    return []


def _bucket(c: Checker, n: Names, settings: dict[str, Any], aspects: frozenset[str]) -> list[str]:
    try:
        c.s3.head_bucket(Bucket=n.bucket)
    except ClientError:
        return ["no such bucket"]
    if "lifecycle" in aspects:
        rules = c.s3.get_bucket_lifecycle_configuration(Bucket=n.bucket)["Rules"]
        rule = settings["lifecycle"][0]
        ok = len(rules) == 1 and rules[0].get("ID") == rule["id"] and rules[0].get("Status") == "Enabled"
        ok = ok and rules[0].get("Expiration", {}).get("Days") == rule["expire_days"]
        abort = rules[0].get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation") if rules else None
        if not ok or abort != rule["abort_incomplete_multipart_days"]:
            return [f"lifecycle rules differ: {rules}"]
    return []


def _policy(c: Checker, n: Names, settings: dict[str, Any], aspects: frozenset[str]) -> list[str]:
    arn = f"arn:aws:iam::{ACCOUNT}:policy/{n.policy}"
    try:
        policy = c.iam.get_policy(PolicyArn=arn)["Policy"]
    except ClientError:
        return ["no such policy"]
    if "document" in aspects:
        version = c.iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]
        if _normal(version["Document"]) != _normal(bucket_access(settings["bucket_access"])):
            return [f"document differs: {version['Document']}"]
    return []


def _group(c: Checker, n: Names, settings: dict[str, Any], aspects: frozenset[str]) -> list[str]:
    try:
        attached = c.iam.list_attached_group_policies(GroupName=n.group)["AttachedPolicies"]
    except ClientError:
        return ["no such group"]
    if "policies" in aspects and sorted(p["PolicyName"] for p in attached) != sorted(settings["policies"]):
        return [f"attached policies differ: {attached}"]
    return []


def _user(c: Checker, n: Names, settings: dict[str, Any], aspects: frozenset[str]) -> list[str]:
    try:
        c.iam.get_user(UserName=n.user)
    except ClientError:
        return ["no such user"]
    problems = []
    if "groups" in aspects:
        groups = sorted(g["GroupName"] for g in c.iam.list_groups_for_user(UserName=n.user)["Groups"])
        if groups != sorted(settings["groups"]):
            problems.append(f"groups differ: {groups}")
    if "access_key" in aspects and len(c.iam.list_access_keys(UserName=n.user)["AccessKeyMetadata"]) != 1:
        problems.append("not exactly one access key")
    return problems


def _identity(c: Checker, name: str, aspects: frozenset[str], n: Names, settings: dict[str, Any]) -> list[str]:
    try:
        identity = c.sesv2.get_email_identity(EmailIdentity=name)
    except ClientError:
        return ["no such identity"]
    problems = []
    if "dkim" in aspects and identity.get("DkimAttributes", {}).get("SigningAttributesOrigin") not in (None, "AWS_SES"):
        problems.append("DKIM is not Easy DKIM")
    if "mail_from" in aspects and identity.get("MailFromAttributes", {}).get("MailFromDomain") != n.mail_from:
        problems.append(f"MAIL FROM domain differs: {identity.get('MailFromAttributes')}")
    if "configuration_set" in aspects and "configuration_set" in settings:
        if identity.get("ConfigurationSetName") != settings["configuration_set"]:
            problems.append(f"configuration set differs: {identity.get('ConfigurationSetName')}")
    if "feedback" in aspects and "feedback" in settings:
        attrs = c.ses.get_identity_notification_attributes(Identities=[name])["NotificationAttributes"].get(name, {})
        topic = c.topic_arn(n.topic)
        if attrs.get("BounceTopic") != topic or attrs.get("ComplaintTopic") != topic:
            problems.append(f"feedback topics differ: {attrs}")
        elif settings["feedback"].get("include_headers") and not attrs.get("HeadersInBounceNotificationsEnabled"):
            problems.append(f"headers are not included in bounce notifications: {attrs}")
    return problems


def _domain(c: Checker, n: Names, settings: dict[str, Any], aspects: frozenset[str]) -> list[str]:
    return _identity(c, n.domain, aspects, n, settings)


def _email(c: Checker, n: Names, settings: dict[str, Any], aspects: frozenset[str]) -> list[str]:
    return _identity(c, n.email, aspects, n, settings)


def _smtp(c: Checker, n: Names, settings: dict[str, Any], aspects: frozenset[str]) -> list[str]:
    try:
        c.iam.get_user(UserName=n.smtp_user)
    except ClientError:
        return ["no such IAM user"]
    if "access_key" in aspects and len(c.iam.list_access_keys(UserName=n.smtp_user)["AccessKeyMetadata"]) != 1:
        return ["not exactly one access key"]
    return []


def _configuration_set(c: Checker, n: Names, settings: dict[str, Any], aspects: frozenset[str]) -> list[str]:
    try:
        c.sesv2.get_configuration_set(ConfigurationSetName=n.configuration_set)
    except ClientError:
        return ["no such configuration set"]
    if "event_destination" in aspects:
        found = c.sesv2.get_configuration_set_event_destinations(ConfigurationSetName=n.configuration_set)
        want = {"topic": c.topic_arn(n.topic), "events": sorted(EVENTS_DEFAULT)}
        for d in found["EventDestinations"]:
            got = {"topic": d.get("SnsDestination", {}).get("TopicArn"), "events": sorted(d["MatchingEventTypes"])}
            if d["Name"] == n.event_destination and got == want and d.get("Enabled", True):
                return []
        return [f"no event destination {n.event_destination} as the Pillar says: {found['EventDestinations']}"]
    return []


def _account(c: Checker, n: Names, settings: dict[str, Any], aspects: frozenset[str]) -> list[str]:
    account = c.sesv2.get_account()
    problems = []
    if "suppression" in aspects and account.get("SuppressionAttributes", {}).get("SuppressedReasons"):
        problems.append(f"the suppression list is on: {account['SuppressionAttributes']}")
    if "production_access" in aspects and not (account.get("ProductionAccessEnabled") or account.get("Details")):
        problems.append("production access was not requested")
    return problems


CHECKS: dict[str, Callable[[Checker, Names, dict[str, Any], frozenset[str]], list[str]]] = {
    "sns.topics": _topic,
    "s3.buckets": _bucket,
    "iam.policies": _policy,
    "iam.groups": _group,
    "iam.users": _user,
    "ses.domains": _domain,
    "ses.email_addresses": _email,
    "ses.smtp_credentials": _smtp,
    "ses.configuration_sets": _configuration_set,
    "ses.account": _account,
}
