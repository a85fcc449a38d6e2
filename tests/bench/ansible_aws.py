"""The other peer: Ansible's amazon.aws and community.aws modules (bundled by the `ansible` package).

One playbook on localhost covers what those modules manage of the runbook: SNS topics with their
subscription (community.aws.sns_topic), buckets (amazon.aws.s3_bucket) with the lifecycle rule
(community.aws.s3_lifecycle), policies (amazon.aws.iam_managed_policy), users, groups with their
policy and member (amazon.aws.iam_user, iam_group), one access key per user (amazon.aws.iam_access_key
creates a key on every run, so the playbook lists them first and creates one only where there is
none, as a user has to), and SES identities with their bounce and complaint topics
(community.aws.ses_identity; no DKIM, MAIL FROM or configuration set module exists). Every module is
pointed at the proxy with ``endpoint_url`` (module_defaults of the aws group).
"""

from __future__ import annotations

import json
from typing import Any

from pillar import Names
from tools import Outcome, Tool
from verify import Coverage, bucket_access


def _task(name: str, module: str, args: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, module: args, **extra}


class Ansible(Tool):
    name, label = "ansible", "ansible-playbook (amazon.aws, community.aws)"
    coverage: Coverage = {
        "sns.topics": frozenset({"exists", "subscription"}),
        "s3.buckets": frozenset({"exists", "lifecycle"}),
        "iam.policies": frozenset({"exists", "document"}),
        "iam.groups": frozenset({"exists", "policies"}),
        "iam.users": frozenset({"exists", "groups", "access_key"}),
        "ses.domains": frozenset({"exists", "feedback"}),
        "ses.email_addresses": frozenset({"exists", "feedback"}),
    }

    def playbook(self) -> list[dict[str, Any]]:
        have = set(self.runbook.sections)
        copies = [Names(i) for i in range(self.runbook.k)]
        rule = self.runbook.value["s3"]["buckets"][copies[0].bucket]["lifecycle"][0] if copies else {}
        items = [
            {
                "topic": n.topic,
                "subscriber": n.subscriber,
                "bucket": n.bucket,
                "policy": n.policy,
                "document": json.dumps(bucket_access(n.bucket)),
                "group": n.group,
                "user": n.user,
                "domain": n.domain,
                "email": n.email,
            }
            for n in copies
        ]
        tasks: list[dict[str, Any]] = []
        if "sns.topics" in have:
            tasks.append(
                _task(
                    "SNS topic",
                    "community.aws.sns_topic",
                    {
                        "name": "{{ item.topic }}",
                        "subscriptions": [{"endpoint": "{{ item.subscriber }}", "protocol": "email"}],
                    },
                    loop="{{ copies }}",
                    register="topics",
                )
            )
        tasks += [
            _task("S3 bucket", "amazon.aws.s3_bucket", {"name": "{{ item.bucket }}"}, loop="{{ copies }}"),
            _task(
                "Lifecycle rule",
                "community.aws.s3_lifecycle",
                {
                    "name": "{{ item.bucket }}",
                    "rule_id": rule.get("id"),
                    "prefix": "",
                    "status": "enabled",
                    "expiration_days": rule.get("expire_days"),
                    "abort_incomplete_multipart_upload_days": rule.get("abort_incomplete_multipart_days"),
                },
                loop="{{ copies }}",
            ),
            _task(
                "IAM policy",
                "amazon.aws.iam_managed_policy",
                {"name": "{{ item.policy }}", "policy": "{{ item.document }}"},
                loop="{{ copies }}",
            ),
            _task(
                "IAM user", "amazon.aws.iam_user", {"name": "{{ item.user }}", "state": "present"}, loop="{{ copies }}"
            ),
            _task(
                "IAM group",
                "amazon.aws.iam_group",
                {
                    "name": "{{ item.group }}",
                    "state": "present",
                    "managed_policies": ["{{ item.policy }}"],
                    "users": ["{{ item.user }}"],
                },
                loop="{{ copies }}",
            ),
            _task(
                "Access keys",
                "amazon.aws.iam_access_key_info",
                {"user_name": "{{ item.user }}"},
                loop="{{ copies }}",
                register="keys",
            ),
            _task(
                "Access key",
                "amazon.aws.iam_access_key",
                {"user_name": "{{ item.item.user }}", "state": "present"},
                loop="{{ keys.results }}",
                when="item.access_keys | length == 0",
                no_log=True,
            ),
        ]
        # ses_identity wants the topic's ARN: the SES tasks loop over the topics' results, which hold it.
        feedback: dict[str, Any] = {}
        loop, copy = "{{ copies }}", "item"
        if "sns.topics" in have:
            loop, copy = "{{ topics.results }}", "item.item"
            feedback = {
                "bounce_notifications": {"topic": "{{ item.sns_arn }}", "include_headers": True},
                "complaint_notifications": {"topic": "{{ item.sns_arn }}"},
            }
        if "ses.domains" in have:
            identity = {"identity": f"{{{{ {copy}.domain }}}}", **feedback}
            tasks.append(_task("SES domain", "community.aws.ses_identity", identity, loop=loop))
        if "ses.email_addresses" in have:
            # The Pillar asks for the original headers in the domain's bounce notifications only.
            plain = {**feedback, "bounce_notifications": {"topic": "{{ item.sns_arn }}"}} if feedback else {}
            identity = {"identity": f"{{{{ {copy}.email }}}}", **plain}
            tasks.append(_task("SES address", "community.aws.ses_identity", identity, loop=loop))
        return [
            {
                "name": "ocp-aws runbook",
                "hosts": "localhost",
                "connection": "local",
                "gather_facts": False,
                "vars": {"copies": items},
                "module_defaults": {"group/aws": {"endpoint_url": self.endpoint, "region": "us-east-1"}},
                "tasks": tasks,
            }
        ]

    def prepare(self) -> None:
        self.book = self.work / "playbook.yml"
        self.book.write_text(json.dumps(self.playbook(), indent=1) + "\n")
        (self.work / "ansible").mkdir()

    def command(self, keyid: str) -> tuple[list[str], dict[str, str]]:
        venv = self.paths.bench_venv
        env = {
            **self.base_env(keyid),
            "ANSIBLE_PYTHON_INTERPRETER": str(venv / "bin" / "python"),
            "ANSIBLE_HOME": str(self.work / "ansible"),
            "ANSIBLE_LOCAL_TEMP": str(self.work / "ansible" / "tmp"),
            "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
            "ANSIBLE_RETRY_FILES_ENABLED": "false",
            # What Ansible's own performance advice says to turn on: one process per module run, no temp files.
            "ANSIBLE_PIPELINING": "true",
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
            "ANSIBLE_NOCOLOR": "true",
            "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        }
        return [str(venv / "bin" / "ansible-playbook"), "-i", "localhost,", str(self.book)], env

    def judge(self, returncode: int, stdout: str, stderr: str) -> Outcome:
        try:
            report = json.loads(stdout[stdout.index("{") :])
            stats = report["stats"]["localhost"]
        except (ValueError, KeyError):
            return Outcome(False, 0, (stdout + stderr)[-2000:])
        ok = returncode == 0 and not stats.get("failures") and not stats.get("unreachable")
        return Outcome(ok, int(stats.get("changed", 0)), "; ".join(_failures(report)) or json.dumps(stats))


def _failures(report: dict[str, Any]) -> list[str]:
    """"task: message" of every failed task (or loop item) in the json callback's report."""
    found = []
    for play in report.get("plays", []):
        for task in play.get("tasks", []):
            host = task.get("hosts", {}).get("localhost", {})
            for result in [host, *host.get("results", [])]:
                if result.get("failed"):
                    found.append(f"{task.get('task', {}).get('name')}: {result.get('msg')}")
    return found[:5]
