"""`make bench`: ocp-aws and its peers on the whole runbook × K, behind a latency proxy in front of moto.

Run by tests/bench.sh with the bench venv's Python (salt + saltext-boto3, ansible, boto3, psutil,
matplotlib). For every latency, K and tool: a fresh moto server and proxy; `BENCH_RUNS` times a first
apply on an empty account (moto reset between runs), a boto3 read-back against the Pillar, and one
no-op re-apply whose requests moto records. Writes BENCHMARKS.md and BENCHMARKS.png.

Exits non-zero when an apply fails, when what a tool made differs from the Pillar, or when an
ocp-aws re-apply writes or changes anything. Knobs (environment):

    BENCH_K          copies of the runbook          "1 10 50"
    BENCH_LATENCIES  milliseconds per request       "0 20 80"
    BENCH_RUNS       first applies (and re-applies)  3
    BENCH_TOOLS      ocp-aws formula saltext-boto3 ansible
    BENCH_SKIP       TOOL:K@MS patterns (* matches any) left out; "" runs everything
    BENCH_ONCE       TOOL:K@MS patterns run once instead of BENCH_RUNS times; "" for none
    BENCH_SWEEPS     ocp-aws alone: its --concurrency with and without throttling, and K=100 and 200
                     ("concurrency scale"; "" for none; see sweeps.py)
    BENCH_OUT        the report                      BENCHMARKS.md at the repository root
"""

from __future__ import annotations

import datetime
import fnmatch
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import measure
import pillar
import report
import servers
import sweeps
from ansible_aws import Ansible
from results import Result
from salt_boto3 import SaltBoto3
from tools import Formula, OcpAws, Paths, Tool
from verify import Checker

REPO = Path(__file__).resolve().parents[2]
TOOLS: dict[str, type[Tool]] = {t.name: t for t in (OcpAws, Formula, SaltBoto3, Ansible)}
# To keep the default run short on 2 cores, the tools that start a process per state or per module
# run once where one apply takes minutes, and are left out where even that is long. Ansible's time is
# its own start-up, not the latency, so it runs at 20 ms only. The formula at K=50 and 20 ms is a
# target's measurement and runs BENCH_RUNS times.
DEFAULT_SKIP = (
    "ansible:*@0 ansible:*@80 ansible:10@* ansible:50@* saltext-boto3:50@* saltext-boto3:10@80 formula:50@0 formula:50@80"
)
DEFAULT_ONCE = "ansible:* saltext-boto3:10@* formula:10@80 ocp-aws:50@0 ocp-aws:50@80"
APPLY_TIMEOUT = 1800.0
NAGLE_K = 10


class BenchFailure(Exception):
    """A result the benchmark must not report as a number."""


def env_list(name: str, default: str) -> list[str]:
    return os.environ.get(name, default).split()


def skipped(patterns: list[str], tool: str, k: int, latency: float) -> bool:
    return any(fnmatch.fnmatchcase(f"{tool}:{k}@{latency:g}", p) for p in patterns)


def reset(moto: str) -> None:
    request = urllib.request.Request(f"{moto}/moto-api/reset", data=b"", method="POST")
    urllib.request.urlopen(request, timeout=60).close()


def one(paths: Paths, tool_class: type[Tool], k: int, latency: float, runs: int, work: Path) -> Result:
    """A tool at one K and latency on its own moto server."""
    with servers.started(work / "moto", str(paths.test_venv / "bin" / "python"), latency) as endpoints:
        result: Result | None = None
        for run in range(runs):
            if run:
                reset(endpoints.moto)
            folder = work / f"run{run}"
            folder.mkdir()
            runbook = pillar.runbook(paths.binary, k, folder / "secrets")
            tool = tool_class(paths, folder, runbook, endpoints.proxy)
            tool.prepare()
            if result is None:
                result = Result(tool.name, tool.label, k, latency, tool.covered())

            argv, env = tool.command(f"AKIABENCHFIRST{run}")
            first = measure.run(argv, env, folder, APPLY_TIMEOUT)
            outcome = tool.judge(first.returncode, first.stdout, first.stderr)
            if not outcome.ok:
                raise BenchFailure(f"{tool.label}, K={k}, {latency:g} ms: the first apply failed: {outcome.detail}")
            problems = Checker(endpoints.moto).check(runbook, tool.coverage)
            if problems:
                listed = "\n  ".join(problems[:10])
                raise BenchFailure(f"{tool.label}, K={k}, {latency:g} ms: AWS differs from the Pillar:\n  {listed}")
            result.first_seconds.append(first.seconds)
            result.first_peak_mb = max(result.first_peak_mb, first.peak_rss_mb)

            keyid = f"AKIABENCHAGAIN{run}"
            argv, env = tool.command(keyid)
            moto_cpu = endpoints.moto_cpu_seconds()
            again = measure.run(argv, env, folder, APPLY_TIMEOUT)
            result.reapply_moto_cpu_seconds = endpoints.moto_cpu_seconds() - moto_cpu
            result.reapply_cpu_seconds = again.cpu_seconds
            outcome = tool.judge(again.returncode, again.stdout, again.stderr)
            if not outcome.ok:
                raise BenchFailure(f"{tool.label}, K={k}, {latency:g} ms: a re-apply failed: {outcome.detail}")
            ops = endpoints.recorded(keyid)
            writes = Counter(op.label for op in ops if not op.read)
            result.reapply_seconds.append(again.seconds)
            result.reapply_peak_mb = max(result.reapply_peak_mb, again.peak_rss_mb)
            result.requests, result.writes, result.write_ops = len(ops), sum(writes.values()), dict(writes)
            result.reapply_changed = outcome.changed
            if tool.name == "ocp-aws" and (writes or outcome.changed):
                raise BenchFailure(f"ocp-aws, K={k}, {latency:g} ms: a re-apply wrote {dict(writes)}: {outcome.detail}")
        assert result is not None
        print(
            f"  {result.label:<48} K={k:<3} {latency:>3g} ms  first {min(result.first_seconds):7.2f} s"
            f"  re-apply {min(result.reapply_seconds):7.2f} s  {result.requests:>5} requests  {result.writes:>4} writes"
            f"  {result.reapply_peak_mb:5.0f} MB",
            flush=True,
        )
        return result


def nagle(paths: Paths, work: Path, runs: int) -> dict[str, list[float]]:
    """The ocp-aws re-apply of K=10 through the proxy at 0 ms, with and without TCP_NODELAY."""
    found: dict[str, list[float]] = {}
    for mode in ("nodelay", "nagle"):
        test_python = str(paths.test_venv / "bin" / "python")
        with servers.started(work / mode / "moto", test_python, 0, nagle=mode == "nagle") as ep:
            runbook = pillar.runbook(paths.binary, NAGLE_K, work / mode / "secrets")
            tool = OcpAws(paths, work / mode, runbook, ep.proxy)
            tool.prepare()
            argv, env = tool.command("AKIABENCHNAGLEFIRST")
            measure.run(argv, env, work / mode, APPLY_TIMEOUT)
            times = []
            for run in range(runs):
                keyid = f"AKIABENCHNAGLE{run}"
                argv, env = tool.command(keyid)
                outcome = measure.run(argv, env, work / mode, APPLY_TIMEOUT)
                if outcome.returncode != 0:
                    raise BenchFailure(f"ocp-aws with the {mode} proxy failed: {outcome.stderr[-2000:]}")
                times.append(outcome.seconds)
                found["requests"] = [float(len(ep.recorded(keyid)))]
            found[mode] = times
    print(f"  ocp-aws re-apply, K={NAGLE_K}, 0 ms: {found}", flush=True)
    return found


def startup(command: list[str], env: dict[str, str], cwd: Path, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        run = measure.run(command, env, cwd, 120)
        if run.returncode != 0:
            raise BenchFailure(f"{' '.join(command)} failed: {run.stderr[-2000:]}")
        times.append(run.seconds)
    return times


def version(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=60).stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def versions(paths: Paths) -> dict[str, str]:
    test_py, bench_py = str(paths.test_venv / "bin" / "python"), str(paths.bench_venv / "bin" / "python")
    meta = "import importlib.metadata as m, sys; print(' '.join(m.version(p) for p in sys.argv[1:]))"
    moto, salt = version([test_py, "-c", meta, "moto", "salt"]).split()
    peers = version([bench_py, "-c", meta, "saltext-boto3", "ansible", "ansible-core", "boto3"]).split()
    collections = (
        "import json, sys, ansible_collections as a, pathlib; p = pathlib.Path(a.__path__[0]); "
        "print(' '.join(json.loads((p / n / 'MANIFEST.json').read_text())['collection_info']['version']"
        " for n in sys.argv[1:]))"
    )
    amazon, community = version([bench_py, "-c", collections, "amazon/aws", "community/aws"]).split()
    return {
        "ocp-aws": version([paths.binary, "--version"]).removeprefix("ocp-aws "),
        "moto": moto,
        "salt": salt,
        "saltext-boto3": peers[0],
        "ansible": f"{peers[1]} (ansible-core {peers[2]}, amazon.aws {amazon}, community.aws {community})",
        "boto3 (peers)": peers[3],
        "Python": sys.version.split()[0],
    }


def main() -> int:
    paths = Paths(
        binary=os.environ["OCP_AWS_BIN"],
        test_venv=Path(os.environ["OCP_AWS_VENV"]),
        bench_venv=Path(sys.executable).parent.parent,
        repo=REPO,
    )
    work = Path(os.environ["BENCH_WORK"])
    ks = [int(k) for k in env_list("BENCH_K", "1 10 50")]
    latencies = [float(ms) for ms in env_list("BENCH_LATENCIES", "0 20 80")]
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    names = env_list("BENCH_TOOLS", " ".join(TOOLS))
    skip = env_list("BENCH_SKIP", DEFAULT_SKIP)
    once = env_list("BENCH_ONCE", DEFAULT_ONCE)
    sweep_names = env_list("BENCH_SWEEPS", "concurrency scale")
    out = Path(os.environ.get("BENCH_OUT", REPO / "BENCHMARKS.md"))
    unknown = [n for n in names if n not in TOOLS]
    unknown += [n for n in sweep_names if n not in ("concurrency", "scale")]
    if unknown or runs < 1 or not ks or not latencies:
        print(f"bench: unknown tools {unknown} (known: {', '.join(TOOLS)}), or no K, latency or run", file=sys.stderr)
        return 2
    started = time.monotonic()
    knobs = {
        "BENCH_K": " ".join(map(str, ks)),
        "BENCH_LATENCIES": " ".join(f"{ms:g}" for ms in latencies),
        "BENCH_RUNS": str(runs),
        "BENCH_TOOLS": " ".join(names),
        "BENCH_SKIP": " ".join(skip),
        "BENCH_ONCE": " ".join(once),
        "BENCH_SWEEPS": " ".join(sweep_names),
    }
    print("== versions: " + json.dumps(versions(paths)), flush=True)
    results: list[Result] = []
    sweep: sweeps.Sweep | None = None
    try:
        print("== start-up and Nagle's algorithm", flush=True)
        nagle_times = nagle(paths, work / "nagle", runs)
        probe = pillar.runbook(paths.binary, 1, work / "probe" / "secrets")
        pillar_file = pillar.write(probe, work / "probe" / "pillar.yaml")
        env = OcpAws(paths, work, probe, "").base_env("AKIABENCHPROBE")
        ocp_startup = startup([paths.binary, "validate", "-f", str(pillar_file)], env, work, runs)
        salt_startup: list[float] = []
        if "formula" in names or "saltext-boto3" in names:
            conf = work / "probe" / "conf"
            conf.mkdir()
            options = {"id": "bench", "file_client": "local", "root_dir": str(work / "probe" / "root")}
            (conf / "minion").write_text(json.dumps(options))
            salt_call = str(paths.test_venv / "bin" / "salt-call")
            salt_startup = startup([salt_call, "--local", "-c", str(conf), "--out=json", "test.true"], env, work, runs)
        for latency in latencies:
            for k in ks:
                print(f"== {latency:g} ms per request, K={k}", flush=True)
                for name in names:
                    tool_class = TOOLS[name]
                    if skipped(skip, name, k, latency):
                        runbook = pillar.runbook(paths.binary, k, work / "skipped")
                        resources = tool_class(paths, work, runbook, "").covered()
                        results.append(Result(name, tool_class.label, k, latency, resources, skipped="BENCH_SKIP"))
                        continue
                    times = 1 if skipped(once, name, k, latency) else runs
                    results.append(one(paths, tool_class, k, latency, times, work / f"{name}-k{k}-{latency:g}ms"))
        if "scale" in sweep_names:
            for k in sweeps.SCALE_K:
                print(f"== scale: ocp-aws, {sweeps.LATENCY_MS:g} ms per request, K={k}", flush=True)
                folder = work / f"scale-k{k}"
                # K=100 against K=10 is a target: as many runs as the main table's; K=200 once, for memory.
                times = runs if k == sweeps.SCALE_K[0] else 1
                results.append(one(paths, OcpAws, k, sweeps.LATENCY_MS, times, folder))
        if "concurrency" in sweep_names:
            print(f"== concurrency: ocp-aws, {sweeps.LATENCY_MS:g} ms per request, K={sweeps.K}", flush=True)
            # Once per level: the sweep is for the shape of the curve, the main table for the numbers.
            sweep = sweeps.concurrency(paths, work / "concurrency", 1, APPLY_TIMEOUT, BenchFailure)
    except BenchFailure as failure:
        print(f"bench: FAILED: {failure}", file=sys.stderr)
        (work / "results.json").write_text(json.dumps([r.to_json() for r in results], indent=1))
        return 1
    per_copy = sum(len(probe.entries(s)) for s in probe.sections if s not in pillar.SINGLETONS)
    ctx = report.Context(
        date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        machine=report.machine(),
        versions=versions(paths),
        knobs=knobs,
        sections=probe.sections,
        missing=probe.missing,
        per_copy=per_copy,
        nagle=nagle_times,
        nagle_k=NAGLE_K,
        salt_startup=salt_startup,
        ocp_startup=ocp_startup,
        sweep=sweep,
        seconds=time.monotonic() - started,
    )
    report.write(results, ctx, out)
    (work / "results.json").write_text(json.dumps([r.to_json() for r in results], indent=1))
    print(f"== wrote {out} and {out.with_suffix('.png')} in {ctx.seconds / 60:.1f} min", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
