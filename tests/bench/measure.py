"""Runs one tool command: wall time, CPU time and the peak memory of its whole process tree.

Salt runs ocp-aws (and Ansible runs its modules) in child processes, so the peak of the command's
own process says little; the peak here is of the sum of the resident set sizes of the command and
all its descendants, sampled every 10 ms (a child that lives less than that may be missed). The CPU
time is the command's and every descendant it waited for (getrusage of this process's children, the
only one of which ending meanwhile is the command).
"""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

SAMPLE_SECONDS = 0.01


@dataclass(frozen=True)
class Run:
    """What one run of a command did."""

    seconds: float
    peak_rss_mb: float
    cpu_seconds: float  # user + system, the command and its descendants
    returncode: int
    stdout: str
    stderr: str


def _tree_rss(root: psutil.Process) -> int:
    total = 0
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            pass  # it ended between the listing and the reading
    return total


def run(command: list[str], env: dict[str, str], cwd: Path, timeout: float) -> Run:
    """Run ``command`` to its end (killed after ``timeout`` seconds) and measure it."""
    peak = 0
    done = threading.Event()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    root = psutil.Process(process.pid)

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(root))
            done.wait(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)  # its own session: the tool and every child it started
        stdout, stderr = process.communicate()
        stderr += f"\n(killed after {timeout:.0f} s)"
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(seconds, peak / 1e6, cpu, process.returncode, stdout, stderr)
