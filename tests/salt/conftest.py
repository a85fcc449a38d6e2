"""
Fixtures for the Salt end-to-end tests: the ocp-aws binary, a moto server standing in for AWS, and a
masterless minion in a temp dir whose file_roots is this repository's salt/ tree.

Environment:
  OCP_AWS_BIN               the binary under test (default: $CARGO_TARGET_DIR or target/, debug build)
  OCP_AWS_TEST_ENDPOINT     a running moto server, http://127.0.0.1:PORT (default: start one here)
  AWS_EC2_METADATA_DISABLED set to true unless already set, so no credential lookup waits on metadata
"""

import json
import os
import shutil
import subprocess
import sys
import urllib.request
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import moto_process  # noqa: E402  (tests/support: starts moto plus the SES v2 extension)

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SECRET_KEY = "testing"

os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
# moto shows every change at once; the binary's waits for AWS's eventual consistency run at 1/100.
os.environ.setdefault("OCP_AWS_CONSISTENCY_SCALE", "0.05")


def _tool(name):
    """Return the path of a console script of this virtualenv (or on the PATH)."""
    path = VENV_BIN / name
    if path.exists():
        return str(path)
    return shutil.which(name) or pytest.fail(f"{name} is neither in {VENV_BIN} nor on the PATH.")


@pytest.fixture(scope="session")
def binary():
    """Path of the ocp-aws binary under test."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    path = Path(os.environ.get("OCP_AWS_BIN", target / "debug" / "ocp-aws"))
    if not path.is_file():
        pytest.fail(f"The ocp-aws binary {path} does not exist: build it or set OCP_AWS_BIN.")
    return str(path)


@pytest.fixture(scope="session")
def endpoint(tmp_path_factory):
    """URL of a moto server: OCP_AWS_TEST_ENDPOINT, or one started here with the project's launcher."""
    if os.environ.get("OCP_AWS_TEST_ENDPOINT"):
        yield os.environ["OCP_AWS_TEST_ENDPOINT"].rstrip("/")
        return
    with moto_process.started(tmp_path_factory.mktemp("moto")) as url:
        yield url


@pytest.fixture
def suffix():
    """A random suffix that keeps this test's resource names apart from other tests' on the server."""
    return uuid.uuid4().hex[:8]


@pytest.fixture
def aws(endpoint):
    """Return a boto3 client factory for the moto server: aws("s3", "eu-west-2")."""

    def client(service, region="us-east-1"):
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key=SECRET_KEY,
        )

    return client


@dataclass
class SaltResult:
    """What one salt-call printed and returned."""

    retcode: int
    stdout: str
    stderr: str

    @property
    def data(self):
        """The ``local`` value of salt-call's JSON output."""
        return json.loads(self.stdout)["local"]

    def states(self):
        """The state returns, in the order they ran."""
        assert isinstance(self.data, dict), self
        return sorted(self.data.values(), key=lambda ret: ret["__run_num__"])

    def by_name(self):
        """The state returns, by state name."""
        return {ret["name"]: ret for ret in self.states()}


class Minion:
    """A masterless Salt minion in a temp dir; it writes pillar and runs salt-call --local."""

    def __init__(self, root, **options):
        self.root = root
        self.config_dir = root / "conf"
        self.pillar_dir = root / "pillar"
        self.config_dir.mkdir(parents=True)
        self.pillar_dir.mkdir()
        self.options = {
            "id": "ocp-aws-test",
            "file_client": "local",
            "root_dir": str(root),
            "file_roots": {"base": [str(REPO / "salt")]},
            "pillar_roots": {"base": [str(self.pillar_dir)]},
        }
        self.configure(**options)
        self.outputs = []  # every (stdout, stderr), to check that no secret was printed
        self.synced = False

    def configure(self, **options):
        """Set minion options (JSON is YAML, so the config is written as JSON)."""
        self.options.update(options)
        (self.config_dir / "minion").write_text(json.dumps(self.options, indent=2))

    def run(self, *args):
        """Run ``salt-call --local`` with ``args`` and return its result."""
        command = [_tool("salt-call"), "--local", "-c", str(self.config_dir), "--out=json"]
        process = subprocess.run(
            [*command, "--retcode-passthrough", *args], capture_output=True, text=True, check=False
        )
        self.outputs.append((process.stdout, process.stderr))
        return SaltResult(process.returncode, process.stdout, process.stderr)

    def call(self, *args):
        """Run a function through salt-call, syncing the custom modules first if not done yet."""
        if not self.synced:
            assert self.run("saltutil.sync_all").retcode == 0
            self.synced = True
        return self.run(*args)

    def write_pillar(self, ocp_aws):
        """Make ``ocp_aws`` this minion's ``ocp_aws`` pillar."""
        (self.pillar_dir / "top.sls").write_text("base:\n  '*':\n    - ocp_aws\n")
        (self.pillar_dir / "ocp_aws.sls").write_text(json.dumps({"ocp_aws": ocp_aws}, indent=2))

    def apply(self, ocp_aws, test=False):
        """Apply the ocp_aws formula to the pillar ``ocp_aws``; a named SLS needs sync_mods."""
        self.write_pillar(ocp_aws)
        self.synced = True
        return self.run("state.apply", "ocp_aws", "sync_mods=all", *(["test=True"] if test else []))


@pytest.fixture
def minion(tmp_path, binary, endpoint, suffix):
    """A minion whose ocp_aws connection points at the moto server.

    Its access key id is unique to the test, so the moto recorder can tell its requests apart.
    """
    return Minion(
        tmp_path / "minion",
        **{
            "ocp_aws.binary": binary,
            "ocp_aws.endpoint_url": endpoint,
            "ocp_aws.keyid": f"testing{suffix}",
            "ocp_aws.key": SECRET_KEY,
            "ocp_aws.region": "us-east-1",
        },
    )


def _recorded(endpoint, keyid):
    """The operations moto recorded for requests signed with ``keyid``, named by the moto extension."""
    request = urllib.request.Request(
        f"{endpoint}/_ocp_aws_test/recorded-operations",
        data=json.dumps({"AccessKeyId": keyid}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())["Operations"]


@pytest.fixture
def recorder(endpoint):
    """Return a context manager that collects the write operations signed with an access key id.

    moto records every request from its start; the writes are those made inside the ``with``,
    classified by operation (SES v2 reads are POSTs, so the HTTP method does not tell).
    """

    @contextmanager
    def writes_by(keyid):
        writes = []
        before = len(_recorded(endpoint, keyid))
        try:
            yield writes
        finally:
            writes.extend(
                f"{op['Service']} {op['Operation'] or op['Method'] + ' ' + op['Path']}"
                for op in _recorded(endpoint, keyid)[before:]
                if not op["Read"]
            )

    return writes_by
