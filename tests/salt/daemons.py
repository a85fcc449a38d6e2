"""
Real Salt daemons for the topology tests: a salt-master and a salt-minion on loopback, and an sshd
on 127.0.0.1 for salt-ssh. Each runs in a temp dir with its own ports, logs at debug level to a
file (so the tests can look for secrets in them), and is stopped by the fixture that started it.
"""

import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from conftest import REPO, VENV_BIN


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tool(name):
    """A console script of this virtualenv."""
    return str(VENV_BIN / name)


def run(command, timeout=180):
    """Run a Salt CLI command; return (retcode, stdout, stderr)."""
    process = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    return process.returncode, process.stdout, process.stderr


def write_config(path, options):
    """Write a Salt config file (JSON is YAML)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(options, indent=2))


class Daemon:
    """A Salt daemon process, stopped by ``stop``."""

    def __init__(self, command, log):
        self.log = log
        self.process = subprocess.Popen(
            command, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
        )

    def stop(self):
        if self.process.poll() is None:
            # The daemon's own process group: it forks workers, which must go with it.
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class MasterAndMinion:
    """A salt-master and one minion (``admin``), both as the current user, on loopback ports."""

    def __init__(self, root, options):
        self.root = root
        self.conf = root / "conf"
        self.pillar = root / "pillar"
        self.states = root / "states"
        self.pillar.mkdir(parents=True)
        self.states.mkdir()
        publish, ret = free_port(), free_port()
        common = {"user": getpass.getuser(), "log_level_logfile": "debug", "log_level": "warning"}
        self.master_options = {
            **common,
            "id": "ocp-aws-master",
            "interface": "127.0.0.1",
            "publish_port": publish,
            "ret_port": ret,
            "root_dir": str(root / "master"),
            "pki_dir": str(root / "master" / "pki"),
            # Under root_dir: Salt puts root_dir in front of paths outside it.
            "log_file": str(root / "master" / "master.log"),
            "auto_accept": True,
            "file_roots": {"base": [str(REPO / "salt"), str(self.states)]},
            "pillar_roots": {"base": [str(self.pillar)]},
            "keep_jobs_seconds": 3600,
            **options["master"],
        }
        self.minion_options = {
            **common,
            "id": "admin",
            "master": "127.0.0.1",
            "master_port": ret,
            "publish_port": publish,
            "root_dir": str(root / "minion"),
            "pki_dir": str(root / "minion" / "pki"),
            "log_file": str(root / "minion" / "minion.log"),
            "acceptance_wait_time": 1,
            "random_reauth_delay": 0,
            **options["minion"],
        }
        write_config(self.conf / "master", self.master_options)
        write_config(self.conf / "minion", self.minion_options)
        self.outputs = []
        self.daemons = [
            Daemon([tool("salt-master"), "-c", str(self.conf)], root / "master.out"),
        ]
        time.sleep(1)
        self.daemons.append(Daemon([tool("salt-minion"), "-c", str(self.conf)], root / "minion.out"))
        self._wait_for_minion()

    def _wait_for_minion(self):
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            code, out, _ = run([tool("salt"), "-c", str(self.conf), "admin", "test.ping", "--out=json", "-t", "5"])
            if code == 0 and '"admin": true' in out:
                return
            time.sleep(1)
        self.stop()
        raise RuntimeError(
            "The test minion did not answer the test master within 90 s:\n"
            + (self.root / "master" / "master.log").read_text(errors="replace")[-3000:]
            + (self.root / "minion" / "minion.log").read_text(errors="replace")[-3000:]
        )

    def salt(self, *args):
        """Run ``salt admin ARGS`` and return (retcode, data)."""
        code, out, err = run([tool("salt"), "-c", str(self.conf), "admin", "--out=json", "--static", "-t", "120", *args])
        self.outputs.append(out + err)
        try:
            return code, json.loads(out)["admin"]
        except (ValueError, KeyError):
            raise AssertionError(f"salt {' '.join(args)} answered no JSON (rc {code}): {out}\n{err}") from None

    def salt_run(self, *args):
        """Run ``salt-run ARGS`` and return (retcode, data)."""
        code, out, err = run([tool("salt-run"), "-c", str(self.conf), "--out=json", *args])
        self.outputs.append(out + err)
        try:
            return code, json.loads(out)
        except ValueError:
            raise AssertionError(f"salt-run {' '.join(args)} answered no JSON (rc {code}): {out}\n{err}") from None

    def texts(self):
        """Everything a secret must never reach: logs, the job cache, every output."""
        found = [(log, (self.root / log).read_text(errors="replace")) for log in ("master/master.log", "minion/minion.log")]
        for name, text in found:
            assert "[DEBUG" in text, f"{name} is at debug level, where a leak would show"
        cache = self.root / "master" / "var" / "cache" / "salt" / "master" / "jobs"
        for path in cache.rglob("*") if cache.exists() else []:
            if path.is_file():
                found.append((str(path), path.read_bytes().decode("latin-1")))
        found.extend((f"output {i}", text) for i, text in enumerate(self.outputs))
        return found

    def stop(self):
        for daemon in reversed(self.daemons):
            daemon.stop()


class Sshd:
    """An sshd on 127.0.0.1 with a generated host key, accepting one generated client key."""

    def __init__(self, root):
        self.root = root
        self.port = free_port()
        root.mkdir(parents=True, exist_ok=True)
        for key in ("host_key", "client_key"):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / key)], check=True
            )
        authorized = root / "authorized_keys"
        shutil.copy(root / "client_key.pub", authorized)
        authorized.chmod(0o600)
        config = root / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {root / 'host_key'}\n"
            f"AuthorizedKeysFile {authorized}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            f"PermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\nPidFile {root / 'sshd.pid'}\n"
            # salt-ssh copies its modules with scp, which speaks SFTP since OpenSSH 9.
            "Subsystem sftp internal-sftp\n"
        )
        # sshd checks for its privilege-separation folder even in the foreground.
        Path("/run/sshd").mkdir(exist_ok=True)
        self.daemon = Daemon([shutil.which("sshd") or "/usr/sbin/sshd", "-D", "-e", "-f", str(config)], root / "sshd.log")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("sshd did not listen within 20 s: " + (root / "sshd.log").read_text(errors="replace"))

    @property
    def client_key(self):
        return str(self.root / "client_key")

    def stop(self):
        self.daemon.stop()


def sshd_path():
    """The sshd binary, or None."""
    return shutil.which("sshd") or next((p for p in ("/usr/sbin/sshd",) if Path(p).exists()), None)
