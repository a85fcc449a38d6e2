"""The benchmark's Pillar: the whole runbook, once per copy, K copies.

One template per Pillar section (``service.field``, as `ocp-aws schema` names them). Only the sections
the binary under test declares are used, so a kind added to the binary needs one template here; a
section without one is reported (``missing``) rather than silently left out of the numbers.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Settings = dict[str, Any]

LIFECYCLE_RULE: Settings = {"id": "delete-after-30-days", "expire_days": 30, "abort_incomplete_multipart_days": 7}
EVENTS_DEFAULT = ("RENDERING_FAILURE", "REJECT", "DELIVERY_DELAY")


@dataclass(frozen=True)
class Names:
    """The names of copy ``i`` of the runbook."""

    i: int

    @property
    def base(self) -> str:
        return f"ocp-bench-{self.i:03d}"

    @property
    def topic(self) -> str:
        return f"{self.base}-feedback"

    @property
    def subscriber(self) -> str:
        return f"ops-{self.i:03d}@example.org"

    @property
    def bucket(self) -> str:
        return f"{self.base}-backup"

    @property
    def policy(self) -> str:
        return f"{self.base}-backup"

    @property
    def group(self) -> str:
        return f"{self.base}-backup"

    @property
    def user(self) -> str:
        return f"{self.base}-backup"

    @property
    def domain(self) -> str:
        return f"bench-{self.i:03d}.example.org"

    @property
    def mail_from(self) -> str:
        return f"bounce.{self.domain}"

    @property
    def email(self) -> str:
        return f"noreply@{self.domain}"

    @property
    def smtp_user(self) -> str:
        return f"{self.base}-smtp"

    @property
    def configuration_set(self) -> str:
        return f"{self.base}-mail"

    @property
    def event_destination(self) -> str:
        return f"{self.base}-sns"


# Each template gives (name, settings) for copy i; secret files go under `secrets`. References to
# other sections are made only when the binary has them (`have`), so an older binary still gets a
# valid runbook.
Template = Callable[[Names, Path, frozenset[str]], tuple[str, Settings]]


def _feedback(n: Names, have: frozenset[str], headers: bool) -> Settings:
    if "sns.topics" not in have:
        return {}
    feedback: Settings = {"bounce": n.topic, "complaint": n.topic}
    return {"feedback": {**feedback, "include_headers": True} if headers else feedback}


def _domain(n: Names, s: Path, have: frozenset[str]) -> tuple[str, Settings]:
    settings: Settings = {"dkim": "RSA_2048_BIT", "mail_from": n.mail_from, **_feedback(n, have, True)}
    if "ses.configuration_sets" in have:
        settings["configuration_set"] = n.configuration_set
    return n.domain, settings


TEMPLATES: dict[str, Template] = {
    "sns.topics": lambda n, s, have: (n.topic, {"subscriptions": [{"email": n.subscriber}]}),
    "s3.buckets": lambda n, s, have: (n.bucket, {"lifecycle": [dict(LIFECYCLE_RULE)]}),
    "iam.policies": lambda n, s, have: (n.policy, {"bucket_access": n.bucket}),
    "iam.groups": lambda n, s, have: (n.group, {"policies": [n.policy]}),
    "iam.users": lambda n, s, have: (
        n.user,
        {"groups": [n.group], "access_key": {"secret_file": str(s / f"{n.user}.sls"), "pillar_key": "backup"}},
    ),
    "ses.domains": _domain,
    "ses.email_addresses": lambda n, s, have: (n.email, _feedback(n, have, False)),
    "ses.smtp_credentials": lambda n, s, have: (n.smtp_user, {"secret_file": str(s / f"{n.smtp_user}.sls")}),
    "ses.configuration_sets": lambda n, s, have: (
        n.configuration_set,
        {"event_destinations": {n.event_destination: {"sns_topic": n.topic}}},
    ),
}

# Sections with one entry per account and region: written once, whatever K.
SINGLETONS: dict[str, Settings] = {
    "ses.account": {
        "suppression_list": "disabled",
        "production_access": {
            "mail_type": "TRANSACTIONAL",
            "website_url": "https://www.example.org",
            "use_case_description": "Password resets and alerts to registered users; bounces go to an SNS topic.",
        },
    },
}


def sections(binary: str) -> list[str]:
    """Every ``service.field`` section of the binary's Pillar schema, in the schema's order."""
    schema = json.loads(subprocess.run([binary, "schema"], capture_output=True, check=True, text=True).stdout)
    defs = schema["$defs"]

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[1]]
        return node

    pillar = resolve(schema["properties"]["ocp_aws"])
    found = []
    for service, node in pillar["properties"].items():
        node = resolve(node)
        if node.get("type") == "object" and "properties" in node:
            found.extend(f"{service}.{field}" for field in node["properties"])
    return found


@dataclass(frozen=True)
class Runbook:
    """The generated Pillar value (``ocp_aws``) and what it is made of."""

    k: int
    value: Settings
    sections: tuple[str, ...]  # those filled in
    missing: tuple[str, ...]  # sections the binary has but no template covers

    def entries(self, section: str) -> dict[str, Settings]:
        service, field = section.split(".")
        entry = self.value.get(service, {}).get(field, {})
        return {"us-east-1": entry} if section in SINGLETONS else dict(entry)

    def resources(self) -> int:
        return sum(len(self.entries(s)) for s in self.sections)


def runbook(binary: str, k: int, secrets: Path) -> Runbook:
    """The runbook's Pillar K times, with every section the binary declares and this file templates."""
    value: Settings = {"region": "us-east-1"}
    used, missing = [], []
    have = frozenset(sections(binary))
    for section in sections(binary):
        service, field = section.split(".")
        if section in SINGLETONS:
            value.setdefault(service, {})[field] = json.loads(json.dumps(SINGLETONS[section]))
        elif section in TEMPLATES:
            value.setdefault(service, {})[field] = dict(TEMPLATES[section](Names(i), secrets, have) for i in range(k))
        else:
            missing.append(section)
            continue
        used.append(section)
    return Runbook(k, value, tuple(used), tuple(missing))


def write(runbook: Runbook, path: Path) -> Path:
    """The Pillar file ocp-aws reads (JSON is YAML)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"ocp_aws": runbook.value}, indent=1) + "\n")
    return path
