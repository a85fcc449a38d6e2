"""The tools compared, each as: what it covers, how it is set up, how one apply is run and judged.

Every tool is pointed at the latency proxy, signs with an access key id of the benchmark's choosing
(so moto's recorder tells one apply's requests from another's) and runs in a folder of its own.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from pillar import Runbook
from verify import ALL, Coverage

SECRET_KEY = "testing"  # moto accepts any; never a real secret


@dataclass(frozen=True)
class Outcome:
    """How a tool judged one apply: did it succeed, how many resources or states it changed."""

    ok: bool
    changed: int
    detail: str


@dataclass(frozen=True)
class Paths:
    """Where the tools live on this machine."""

    binary: str  # the release ocp-aws
    test_venv: Path  # moto, salt (for the formula)
    bench_venv: Path  # salt + saltext-boto3, ansible
    repo: Path


class Tool(ABC):
    """One tool; ``prepare`` once per moto server, then ``command`` per apply."""

    name: str = ""
    label: str = ""
    coverage: Coverage = ALL

    def __init__(self, paths: Paths, work: Path, runbook: Runbook, endpoint: str) -> None:
        self.paths, self.work, self.runbook, self.endpoint = paths, work, runbook, endpoint

    def covered(self) -> int:
        """How many of the runbook's resources this tool manages."""
        return sum(len(self.runbook.entries(s)) for s in self.coverage if s in self.runbook.sections)

    def base_env(self, keyid: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID=keyid,
            AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_DEFAULT_REGION="us-east-1",
            AWS_REGION="us-east-1",
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE="/dev/null",
            AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        )
        return env

    @abstractmethod
    def prepare(self) -> None:
        """Write the tool's inputs into ``self.work``."""

    @abstractmethod
    def command(self, keyid: str) -> tuple[list[str], dict[str, str]]:
        """argv and environment of one apply, signed with ``keyid``."""

    @abstractmethod
    def judge(self, returncode: int, stdout: str, stderr: str) -> Outcome:
        """Read the tool's own report of one apply."""


class OcpAws(Tool):
    """`ocp-aws apply` of the whole Pillar: one process, the engine's default concurrency."""

    name, label = "ocp-aws", "ocp-aws apply"
    SUMMARY = re.compile(r"(\d+) resources: (\d+) changed, (\d+) pending, (\d+) unchanged, (\d+) failed\.")
    concurrency: int | None = None  # --concurrency, when not the default

    def prepare(self) -> None:
        self.pillar = self.work / "pillar.yaml"
        self.pillar.write_text(json.dumps({"ocp_aws": self.runbook.value}, indent=1) + "\n")

    def command(self, keyid: str) -> tuple[list[str], dict[str, str]]:
        argv = [self.paths.binary, "apply", "-f", str(self.pillar), "--endpoint-url", self.endpoint]
        if self.concurrency is not None:
            argv += ["--concurrency", str(self.concurrency)]
        return argv, self.base_env(keyid)

    def judge(self, returncode: int, stdout: str, stderr: str) -> Outcome:
        found = self.SUMMARY.findall(stdout)
        if returncode != 0 or not found:
            return Outcome(False, 0, (stdout + stderr)[-2000:])
        total, changed, pending, unchanged, failed = map(int, found[-1])
        return Outcome(failed == 0 and total == self.runbook.resources(), changed, stdout.strip().splitlines()[-1])


def salt_outcome(returncode: int, stdout: str, stderr: str, expected: int) -> Outcome:
    """A `salt-call --out=json` state run: every state true, and how many reported changes."""
    try:
        states = json.loads(stdout)["local"]
    except (ValueError, KeyError, TypeError):
        return Outcome(False, 0, (stdout + stderr)[-2000:])
    if not isinstance(states, dict):
        return Outcome(False, 0, str(states)[-2000:])
    failed = [f"{k}: {v.get('comment')}" for k, v in states.items() if v.get("result") is not True]
    changed = sum(1 for v in states.values() if v.get("changes"))
    ok = returncode == 0 and not failed and len(states) >= expected
    detail = "; ".join(failed[:3]) or f"{len(states)} states, {changed} with changes"
    return Outcome(ok, changed, detail)


class Formula(Tool):
    """The project's formula: `salt-call --local state.apply ocp_aws`, test venv's Salt.

    Its modules are synced once, in ``prepare``, as a user does after installing the formula. Syncing
    on every run instead (``sync_mods=all``) would add some 2 s that are Salt's and not the formula's:
    the sync itself, and a second spent by ``salt-call --local`` waiting for a minion's event bus to
    tell it to refresh the Pillar."""

    name, label = "formula", "salt-call state.apply ocp_aws"

    def prepare(self) -> None:
        conf, pillar = self.work / "conf", self.work / "pillar"
        conf.mkdir()
        pillar.mkdir()
        (pillar / "top.sls").write_text("base:\n  '*':\n    - ocp_aws\n")
        (pillar / "ocp_aws.sls").write_text(json.dumps({"ocp_aws": self.runbook.value}, indent=1))
        self.conf = conf
        self.options = {
            "id": "bench",
            "file_client": "local",
            "root_dir": str(self.work / "root"),
            "file_roots": {"base": [str(self.paths.repo / "salt")]},
            "pillar_roots": {"base": [str(pillar)]},
            "ocp_aws.binary": self.paths.binary,
            "ocp_aws.endpoint_url": self.endpoint,
            "ocp_aws.key": SECRET_KEY,
            "ocp_aws.region": "us-east-1",
        }
        (conf / "minion").write_text(json.dumps(self.options, indent=1))
        argv = [*self.salt_call(), "saltutil.sync_all"]
        synced = subprocess.run(argv, env=self.base_env("unused"), capture_output=True, text=True, timeout=300)
        if synced.returncode != 0:
            raise RuntimeError(f"saltutil.sync_all failed: {(synced.stdout + synced.stderr)[-2000:]}")

    def salt_call(self) -> list[str]:
        salt_call = str(self.paths.test_venv / "bin" / "salt-call")
        return [salt_call, "--local", "-c", str(self.conf), "--out=json", "--retcode-passthrough"]

    def command(self, keyid: str) -> tuple[list[str], dict[str, str]]:
        # The key id travels in the minion config, as a user's would (never in argv).
        (self.conf / "minion").write_text(json.dumps({**self.options, "ocp_aws.keyid": keyid}, indent=1))
        return [*self.salt_call(), "state.apply", "ocp_aws"], self.base_env("unused")

    def judge(self, returncode: int, stdout: str, stderr: str) -> Outcome:
        return salt_outcome(returncode, stdout, stderr, self.runbook.resources())
