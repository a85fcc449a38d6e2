"""The benchmark's two sweeps of ocp-aws alone: its `--concurrency` with and without AWS-like throttling,
and how a re-apply scales to K=100 and K=200.

Concurrency: on one moto server behind the latency proxy, the K-copy runbook is applied once, then
re-applied (a no-op) at each concurrency. The same again behind a proxy that throttles IAM and S3
(token buckets, see proxy.py): there each concurrency gets a fresh account and both a first apply
and a re-apply, since throttling hurts writes most; an apply that fails, or a re-apply that writes,
fails the benchmark. AWS does not publish IAM's or S3's control-plane request rates; the rates used
(`THROTTLE`) are an assumption, low enough that the tool's bursts meet them.

Scale: the K=10 ocp-aws result of the main table against K=100 and K=200 at one latency, for the
targets "a re-apply of K=100 costs at most 10× K=10" and "peak memory under 50 MB at K=200".
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import measure
import pillar
import servers
from tools import OcpAws, Paths

LATENCY_MS = 20.0
K = 50
LEVELS = (1, 4, 8, 16, 32, 64)
THROTTLED_LEVELS = (8, 32)
THROTTLE = "iam=20,s3=50"
SCALE_K = (100, 200)


@dataclass
class Level:
    """ocp-aws at one concurrency: re-apply times, and with throttling the first apply too."""

    concurrency: int
    reapply_seconds: list[float] = field(default_factory=list)
    first_seconds: list[float] = field(default_factory=list)
    requests: int = 0
    throttled: dict[str, int] = field(default_factory=dict)  # during the first apply and re-apply

    @property
    def reapply_median(self) -> float:
        return statistics.median(self.reapply_seconds)


@dataclass
class Sweep:
    """The concurrency sweep, as the report shows it."""

    k: int
    latency_ms: float
    throttle: str
    plain: list[Level] = field(default_factory=list)
    throttled: list[Level] = field(default_factory=list)


Failure = Callable[[str], Exception]


def _apply(tool: OcpAws, keyid: str, work: Path, timeout: float, fail: Failure, what: str) -> measure.Run:
    argv, env = tool.command(keyid)
    run = measure.run(argv, env, work, timeout)
    outcome = tool.judge(run.returncode, run.stdout, run.stderr)
    if not outcome.ok:
        raise fail(f"ocp-aws {what} failed: {outcome.detail}")
    return run


def _reapply(
    tool: OcpAws, endpoints: servers.Endpoints, keyid: str, work: Path, timeout: float, fail: Failure, what: str
) -> tuple[float, int]:
    run = _apply(tool, keyid, work, timeout, fail, what)
    ops = endpoints.recorded(keyid)
    writes = Counter(op.label for op in ops if not op.read)
    if writes:
        raise fail(f"ocp-aws {what} wrote {dict(writes)}")
    return run.seconds, len(ops)


def concurrency(paths: Paths, work: Path, runs: int, timeout: float, fail: Failure) -> Sweep:
    """ocp-aws re-applies of K copies at each of LEVELS, then first applies and re-applies at each of
    THROTTLED_LEVELS behind the throttling proxy."""
    sweep = Sweep(K, LATENCY_MS, THROTTLE)
    test_python = str(paths.test_venv / "bin" / "python")
    with servers.started(work / "plain" / "moto", test_python, LATENCY_MS) as endpoints:
        runbook = pillar.runbook(paths.binary, K, work / "plain" / "secrets")
        tool = OcpAws(paths, work / "plain", runbook, endpoints.proxy)
        tool.prepare()
        _apply(tool, "AKIABENCHSWEEPFIRST", work, timeout, fail, "first apply for the concurrency sweep")
        for level in LEVELS:
            tool.concurrency = level
            found = Level(level)
            for run in range(runs):
                what = f"re-apply at --concurrency {level}"
                seconds, found.requests = _reapply(tool, endpoints, f"AKIABENCHC{level}R{run}", work, timeout, fail, what)
                found.reapply_seconds.append(seconds)
            sweep.plain.append(found)
            print(f"  --concurrency {level:>2}: re-apply {min(found.reapply_seconds):6.2f} s", flush=True)
    for level in THROTTLED_LEVELS:
        folder = work / f"throttled-{level}"
        with servers.started(folder / "moto", test_python, LATENCY_MS, throttle=THROTTLE) as endpoints:
            runbook = pillar.runbook(paths.binary, K, folder / "secrets")
            tool = OcpAws(paths, folder, runbook, endpoints.proxy)
            tool.prepare()
            tool.concurrency = level
            found = Level(level)
            first = _apply(tool, f"AKIABENCHT{level}FIRST", work, timeout, fail, f"throttled first apply at {level}")
            found.first_seconds.append(first.seconds)
            what = f"throttled re-apply at --concurrency {level}"
            seconds, found.requests = _reapply(tool, endpoints, f"AKIABENCHT{level}AGAIN", work, timeout, fail, what)
            found.reapply_seconds.append(seconds)
            found.throttled = endpoints.throttled()
            sweep.throttled.append(found)
            print(
                f"  throttled ({THROTTLE}) --concurrency {level:>2}: first {first.seconds:6.2f} s, re-apply"
                f" {seconds:6.2f} s, throttled {found.throttled}",
                flush=True,
            )
    return sweep
