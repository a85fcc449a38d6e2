"""The peer Salt users have today: Salt's own boto3 states (saltext-boto3) through `salt-call --local`.

saltext-boto3 has no SES states, so it covers the SNS, S3 and IAM part of the runbook: topics with
their subscription (boto3_sns.topic_present), buckets with the lifecycle rule (boto3_s3_bucket.present,
the rule written in the shape S3 returns it, since the state compares JSON as it is), policies with
the document ocp-aws derives from ``bucket_access`` (boto3_iam.policy_present), groups with their
policy and user (boto3_iam.group_present), users, and one access key each (boto3_iam.keys_present,
which saves it to a file in a folder). Its modules take the endpoint from boto3's AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import json
from typing import Any

from pillar import Names
from tools import Outcome, Tool, salt_outcome
from verify import Coverage, bucket_access


class SaltBoto3(Tool):
    name, label = "saltext-boto3", "salt-call state.apply (saltext-boto3)"
    coverage: Coverage = {
        "sns.topics": frozenset({"exists", "subscription"}),
        "s3.buckets": frozenset({"exists", "lifecycle"}),
        "iam.policies": frozenset({"exists", "document"}),
        "iam.groups": frozenset({"exists", "policies"}),
        "iam.users": frozenset({"exists", "groups", "access_key"}),
    }

    def sls(self) -> dict[str, Any]:
        states: dict[str, Any] = {}
        keys = self.work / "keys"
        keys.mkdir(exist_ok=True)
        have = set(self.runbook.sections)
        for i in range(self.runbook.k):
            n = Names(i)
            if "sns.topics" in have:
                states[f"topic {n.topic}"] = {
                    "boto3_sns.topic_present": [
                        {"name": n.topic},
                        {"subscriptions": [{"Protocol": "email", "Endpoint": n.subscriber}]},
                    ]
                }
            rule = self.runbook.value["s3"]["buckets"][n.bucket]["lifecycle"][0]
            states[f"bucket {n.bucket}"] = {
                "boto3_s3_bucket.present": [
                    {"Bucket": n.bucket},
                    {
                        "LifecycleConfiguration": [
                            {
                                "ID": rule["id"],
                                "Status": "Enabled",
                                "Filter": {"Prefix": ""},
                                "Expiration": {"Days": rule["expire_days"]},
                                "AbortIncompleteMultipartUpload": {
                                    "DaysAfterInitiation": rule["abort_incomplete_multipart_days"]
                                },
                            }
                        ]
                    },
                ]
            }
            states[f"policy {n.policy}"] = {
                "boto3_iam.policy_present": [
                    {"name": n.policy},
                    {"policy_document": bucket_access(n.bucket)},
                    {"require": [{"boto3_s3_bucket": f"bucket {n.bucket}"}]},
                ]
            }
            states[f"user {n.user}"] = {"boto3_iam.user_present": [{"name": n.user}]}
            states[f"group {n.group}"] = {
                "boto3_iam.group_present": [
                    {"name": n.group},
                    {"managed_policies": [n.policy]},
                    {"users": [n.user]},
                    {"require": [{"boto3_iam": f"policy {n.policy}"}, {"boto3_iam": f"user {n.user}"}]},
                ]
            }
            states[f"keys {n.user}"] = {
                "boto3_iam.keys_present": [
                    {"name": n.user},
                    {"number": 1},
                    {"save_dir": str(keys)},
                    {"require": [{"boto3_iam": f"user {n.user}"}]},
                ]
            }
        return states

    def prepare(self) -> None:
        srv, pillar, self.conf = self.work / "srv", self.work / "pillar", self.work / "conf"
        for folder in (srv, pillar, self.conf):
            folder.mkdir()
        self.states = self.sls()
        (srv / "bench.sls").write_text("#!json\n" + json.dumps(self.states, indent=1) + "\n")
        minion = {
            "id": "bench",
            "file_client": "local",
            "root_dir": str(self.work / "root"),
            "file_roots": {"base": [str(srv)]},
            "pillar_roots": {"base": [str(pillar)]},
            # saltext-boto3 reads its default region from these keys; credentials come from boto3's chain.
            **{f"{service}.region": "us-east-1" for service in ("s3", "iam", "sns")},
        }
        (self.conf / "minion").write_text(json.dumps(minion, indent=1) + "\n")

    def command(self, keyid: str) -> tuple[list[str], dict[str, str]]:
        salt_call = str(self.paths.bench_venv / "bin" / "salt-call")
        argv = [salt_call, "--local", "-c", str(self.conf), "--out=json", "--retcode-passthrough"]
        return [*argv, "state.apply", "bench"], {**self.base_env(keyid), "AWS_ENDPOINT_URL": self.endpoint}

    def judge(self, returncode: int, stdout: str, stderr: str) -> Outcome:
        return salt_outcome(returncode, stdout, stderr, len(self.states))
