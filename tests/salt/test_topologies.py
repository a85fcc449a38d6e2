"""
The ways teams run Salt, with real daemons: a master and an admin minion (states on the minion), a
master's orchestrate (states on the master), and salt-ssh from a workstation to itself through an
sshd on 127.0.0.1. Each run asserts what the README promises: test mode writes nothing, the second
run writes nothing, the secret reaches the Pillar that needs it, and no secret value is in a job
cache, a return, an output or a log at debug level.

Daemons start once per module (each start costs seconds); the commands are the README's.
"""

import getpass
import json
import os
import stat

import pytest
import yaml
from conftest import REPO, SECRET_KEY
from daemons import MasterAndMinion, Sshd, run, sshd_path, tool

TOP = """\
base:
  '*':
    - ignore_missing: True
    - private.minion_backup
    - private.master_backup
  admin:
    - minion_resources
  # Orchestrate compiles the master's own Pillar for the master's id (`<hostname>_master` when
  # the master configuration sets none).
  ocp-aws-master:
    - master_resources
"""


def _backup_pillar(suffix, secret_file, pillar_key, group):
    """The runbook's backup setup (bucket, policy, user whose key goes to ``secret_file``)."""
    bucket, policy, user = f"ocp-{pillar_key.replace('_', '-')}-{suffix}", f"p-{pillar_key}-{suffix}", f"u-{pillar_key}-{suffix}"
    return user, {
        "s3": {"buckets": {bucket: {"region": "eu-west-2"}}},
        "iam": {
            "policies": {policy: {"bucket_access": bucket}},
            "users": {
                user: {
                    "policies": [policy],
                    "access_key": {
                        "secret_file": str(secret_file),
                        "pillar_key": pillar_key,
                        "group": str(group),
                        "mode": "0640",
                    },
                }
            },
        },
    }


def _other_group():
    """A group the running user may give its files: another one when root (as a master's `salt`)."""
    return 1 if os.getuid() == 0 else os.getgid()


def _states(data):
    """State returns of one target, in run order."""
    assert isinstance(data, dict), data
    return sorted(data.values(), key=lambda ret: ret["__run_num__"])


def _secret_of(path, pillar_key):
    """The (key id, secret) a secret file holds under ``pillar_key``."""
    section = yaml.safe_load(path.read_text())[pillar_key]
    return section["aws_access_key_id"], section["aws_secret_access_key"]


def _assert_no_secret(texts, secret):
    for name, text in texts:
        assert secret not in text, f"the secret is in {name}"


@pytest.fixture(scope="module")
def salt_daemons(tmp_path_factory, binary, endpoint):
    """A master and a minion whose ocp_aws connections point at moto, each with its own key id."""
    root = tmp_path_factory.mktemp("daemons")
    suffix = os.urandom(4).hex()
    connection = {"ocp_aws.binary": binary, "ocp_aws.endpoint_url": endpoint, "ocp_aws.key": SECRET_KEY}
    daemons = MasterAndMinion(
        root,
        {
            "master": {**connection, "ocp_aws.keyid": f"testingmaster{suffix}"},
            "minion": {**connection, "ocp_aws.keyid": f"testingminion{suffix}"},
        },
    )
    try:
        yield daemons
    finally:
        daemons.stop()


def test_master_minion_and_orchestrate(salt_daemons, aws, recorder, suffix):
    """An admin minion and the master's orchestrate each converge their part, once, secrets in place."""
    daemons = salt_daemons
    private = daemons.pillar / "private"
    minion_file, master_file = private / "minion_backup.sls", private / "master_backup.sls"
    minion_user, minion_pillar = _backup_pillar(suffix, minion_file, "minion_backup", _other_group())
    master_user, master_pillar = _backup_pillar(suffix, master_file, "master_backup", _other_group())
    (daemons.pillar / "top.sls").write_text(TOP)
    (daemons.pillar / "minion_resources.sls").write_text(json.dumps({"ocp_aws": minion_pillar}))
    (daemons.pillar / "master_resources.sls").write_text(json.dumps({"ocp_aws": master_pillar}))
    minion_keyid = daemons.minion_options["ocp_aws.keyid"]
    master_keyid = daemons.master_options["ocp_aws.keyid"]

    # master/minion: the README's commands. The secret files do not exist yet: the top file's
    # ignore_missing keeps the first render going.
    code, _ = daemons.salt("saltutil.sync_all")
    assert code == 0
    with recorder(minion_keyid) as writes:
        code, data = daemons.salt("state.apply", "ocp_aws", "test=True")
    assert code == 0, data
    assert all(ret["result"] is None for ret in _states(data)), data
    assert writes == [] and not minion_file.exists()

    code, data = daemons.salt("state.apply", "ocp_aws")
    assert code == 0, data
    assert all(ret["result"] is True for ret in _states(data)), data
    key_id, secret = _secret_of(minion_file, "minion_backup")
    assert [k["AccessKeyId"] for k in aws("iam").list_access_keys(UserName=minion_user)["AccessKeyMetadata"]] == [key_id]
    info = minion_file.stat()
    assert (stat.S_IMODE(info.st_mode), info.st_gid) == (0o640, _other_group())

    with recorder(minion_keyid) as writes:
        code, data = daemons.salt("state.apply", "ocp_aws")
    assert code == 0 and all(ret["result"] is True and not ret["changes"] for ret in _states(data)), data
    assert writes == []

    # The minion wrote into the master's Pillar tree (same machine): the Pillar serves it.
    code, _ = daemons.salt("saltutil.refresh_pillar")
    assert code == 0
    code, data = daemons.salt("pillar.get", "minion_backup:aws_access_key_id", "unmask=True")
    assert data == key_id

    # Orchestrate: the states run on the master, with the master's Pillar.
    code, _ = daemons.salt_run("saltutil.sync_all")
    assert code == 0
    with recorder(master_keyid) as writes:
        code, data = daemons.salt_run("state.orchestrate", "ocp_aws.orchestrate", "test=True")
    assert code == 0, data
    returns = _states(data["data"][daemons.master_options["id"]])
    assert returns and all(ret["result"] is None for ret in returns), returns
    assert writes == [] and not master_file.exists()

    code, data = daemons.salt_run("state.orchestrate", "ocp_aws.orchestrate")
    assert code == 0, data
    returns = _states(data["data"][daemons.master_options["id"]])
    assert all(ret["result"] is True for ret in returns), returns
    master_key_id, master_secret = _secret_of(master_file, "master_backup")
    listed = aws("iam").list_access_keys(UserName=master_user)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [master_key_id]

    with recorder(master_keyid) as writes:
        code, data = daemons.salt_run("state.orchestrate", "ocp_aws.orchestrate")
    assert code == 0, data
    returns = _states(data["data"][daemons.master_options["id"]])
    assert all(ret["result"] is True and not ret["changes"] for ret in returns), returns
    assert writes == []

    # The master wrote into its own Pillar tree: a minion that needs the key gets it.
    daemons.salt("saltutil.refresh_pillar")
    code, data = daemons.salt("pillar.get", "master_backup:aws_access_key_id", "unmask=True")
    assert data == master_key_id

    for value in (secret, master_secret):
        _assert_no_secret(daemons.texts(), value)


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """An sshd on 127.0.0.1; the test is skipped, saying why, on a machine without one."""
    if not sshd_path():
        pytest.skip("sshd is not installed (apt-get install openssh-server): the salt-ssh test needs one on 127.0.0.1")
    daemon = Sshd(tmp_path_factory.mktemp("sshd"))
    try:
        yield daemon
    finally:
        daemon.stop()


def test_salt_ssh_from_a_workstation_to_itself(sshd, tmp_path, binary, endpoint, aws, recorder, suffix):
    """salt-ssh renders the Pillar on the workstation; the roster entry is the workstation itself,
    so the binary runs there and the secret lands in the workstation's private Pillar tree."""
    pillar_dir, conf = tmp_path / "pillar", tmp_path / "conf"
    pillar_dir.mkdir()
    conf.mkdir()
    secret_file = pillar_dir / "private" / "ssh_backup.sls"
    user, resources = _backup_pillar(suffix, secret_file, "ssh_backup", _other_group())
    (pillar_dir / "top.sls").write_text(
        "base:\n  '*':\n    - ignore_missing: True\n    - ocp_aws_resources\n    - private.ssh_backup\n"
    )
    (pillar_dir / "ocp_aws_resources.sls").write_text(json.dumps({"ocp_aws": resources}))
    keyid = f"testingssh{suffix}"
    (conf / "master").write_text(
        json.dumps(
            {
                "root_dir": str(tmp_path / "root"),
                "pki_dir": str(tmp_path / "root" / "pki"),
                # The formula and modules, as a workstation's checkout holds them.
                "file_roots": {"base": [str(REPO / "salt")]},
                "pillar_roots": {"base": [str(pillar_dir)]},
                "roster_file": str(conf / "roster"),
                # Under root_dir: Salt puts root_dir in front of paths outside it.
                "ssh_log_file": str(tmp_path / "root" / "ssh.log"),
                "log_level_logfile": "debug",
            }
        )
    )
    (conf / "roster").write_text(
        json.dumps(
            {
                "workstation": {
                    "host": "127.0.0.1",
                    "port": sshd.port,
                    "user": getpass.getuser(),
                    "priv": sshd.client_key,
                    # The target's configuration: it has no Pillar of its own under salt-ssh.
                    "minion_opts": {
                        "ocp_aws.binary": binary,
                        "ocp_aws.endpoint_url": endpoint,
                        "ocp_aws.keyid": keyid,
                        "ocp_aws.key": SECRET_KEY,
                    },
                    # The venv's python, whose Salt dependencies the thin needs.
                    "set_path": f"{tool('python').rsplit('/', 1)[0]}:/usr/bin:/bin",
                }
            }
        )
    )
    outputs = []

    def salt_ssh(*args):
        command = [tool("salt-ssh"), "-c", str(conf), "-i", "--out=json", "--static", "workstation", *args]
        code, out, err = run(command, timeout=300)
        outputs.append(out + err)
        try:
            return code, json.loads(out)["workstation"]
        except (ValueError, KeyError):
            raise AssertionError(f"salt-ssh {' '.join(args)} answered no JSON (rc {code}): {out}\n{err}") from None

    with recorder(keyid) as writes:
        code, data = salt_ssh("state.apply", "ocp_aws", "test=True")
    assert code == 0, data
    assert len(_states(data)) == 3 and all(ret["result"] is None for ret in _states(data)), data
    assert writes == [] and not secret_file.exists()

    code, data = salt_ssh("state.apply", "ocp_aws")
    assert code == 0, data
    assert all(ret["result"] is True and ret["changes"] for ret in _states(data)), data
    key_id, secret = _secret_of(secret_file, "ssh_backup")
    listed = aws("iam").list_access_keys(UserName=user)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key_id]

    with recorder(keyid) as writes:
        code, data = salt_ssh("state.apply", "ocp_aws")
    assert code == 0 and all(ret["result"] is True and not ret["changes"] for ret in _states(data)), data
    assert writes == []

    # salt-ssh renders the Pillar on the workstation at every run: the key is in it now.
    code, data = salt_ssh("pillar.get", "ssh_backup:aws_access_key_id")
    assert data == key_id

    log = (tmp_path / "root" / "ssh.log").read_text(errors="replace")
    assert "[DEBUG" in log, "the log is at debug level, where a leak would show"
    texts = [("ssh.log", log)]
    texts += [(f"output {i}", text) for i, text in enumerate(outputs)]
    _assert_no_secret(texts, secret)


def test_spm_builds_the_formula(tmp_path):
    """`spm build salt/` packages the formula and the modules, as the FORMULA file describes."""
    (tmp_path / "spm").write_text(
        json.dumps({key: str(tmp_path / key) for key in ("spm_build_dir", "spm_cache_dir", "formula_path", "pillar_path", "reactor_path")}
                   | {"spm_db": str(tmp_path / "spm.db"), "spm_logfile": str(tmp_path / "spm.log")})
    )
    code, out, err = run([tool("spm"), "-c", str(tmp_path), "build", str(REPO / "salt")])
    assert code == 0, out + err
    [package] = (tmp_path / "spm_build_dir").glob("ocp_aws-*.spm")
    listing = run(["tar", "tjf", str(package)])[1].split()
    for member in ("ocp_aws/FORMULA", "ocp_aws/pillar.example", "ocp_aws/_modules/ocp_aws.py", "ocp_aws/_states/ocp_aws.py",
                   "ocp_aws/ocp_aws/init.sls", "ocp_aws/ocp_aws/orchestrate.sls", "ocp_aws/ocp_aws/install.sls"):
        assert member in listing, listing
