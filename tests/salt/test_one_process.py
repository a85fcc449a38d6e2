"""
One ocp-aws process per Salt run: the formula's states are converged together by the first of them,
and each returns its own resource's return. Counted with a wrapper around the binary that notes each
run. Salt's semantics must hold: a state whose requisite outside the formula failed is not applied, an
`onchanges` on a formula state sees its changes, and a state whose arguments differ from the plan's
(an `extend`) runs on its own with those arguments.
"""

import json
import stat

from conftest import REPO


def _counting_binary(tmp_path, binary):
    """A wrapper that appends a line to a file for each run of the binary, then runs it."""
    runs = tmp_path / "runs"
    wrapper = tmp_path / "ocp-aws-counted"
    wrapper.write_text(f'#!/bin/sh\necho run >> "{runs}"\nexec "{binary}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    return str(wrapper), runs


def _count(runs):
    return len(runs.read_text().splitlines()) if runs.exists() else 0


def test_the_formula_runs_the_binary_once_for_all_its_resources(minion, aws, recorder, suffix, tmp_path, binary):
    wrapper, runs = _counting_binary(tmp_path, binary)
    minion.configure(**{"ocp_aws.binary": wrapper})
    buckets = [f"ocp-one-{i}-{suffix}" for i in range(4)]
    pillar = {"region": "eu-west-2", "s3": {"buckets": {b: {} for b in buckets}}}

    with recorder(minion.options["ocp_aws.keyid"]) as writes:
        result = minion.apply(pillar, test=True)
    assert result.retcode == 0, result
    assert all(ret["result"] is None for ret in result.states()), result.states()
    assert writes == []
    assert _count(runs) == 2, "one run to expand the Pillar while rendering, one to converge it"

    runs.unlink()
    result = minion.apply(pillar)
    assert result.retcode == 0, result
    assert [ret["result"] for ret in result.states()] == [True] * 4
    assert all(ret["changes"] for ret in result.states()), result.states()
    assert _count(runs) == 2
    assert all(aws("s3", "eu-west-2").head_bucket(Bucket=b) for b in buckets)


def test_salt_semantics_hold_for_states_converged_together(minion, aws, suffix, tmp_path, binary):
    wrapper, runs = _counting_binary(tmp_path, binary)
    together, blocked, extended = (f"ocp-{what}-{suffix}" for what in ("together", "blocked", "extended"))
    states = tmp_path / "states"
    states.mkdir()
    # The user's own states around the formula's: a failing state that one bucket requires, a state
    # that runs only when another bucket changed, and an extend that changes a third bucket's settings.
    (states / "around.sls").write_text(
        json.dumps(
            {
                "include": ["ocp_aws"],
                "fails": {"test.fail_without_changes": [{"require_in": [{"ocp_aws": f"s3.bucket {blocked}"}]}]},
                "notices": {"test.succeed_with_changes": [{"onchanges": [{"ocp_aws": f"s3.bucket {together}"}]}]},
                "extend": {f"s3.bucket {extended}": {"ocp_aws.s3_bucket_present": [{"block_public_access": False}]}},
            }
        )
    )
    minion.configure(**{"ocp_aws.binary": wrapper, "file_roots": {"base": [str(REPO / "salt"), str(states)]}})
    minion.write_pillar({"region": "eu-west-2", "s3": {"buckets": {together: {}, blocked: {}, extended: {}}}})
    result = minion.run("state.apply", "around", "sync_mods=all")
    by_id = {key.split("_|-")[1]: ret for key, ret in result.data.items()}

    assert by_id[f"s3.bucket {together}"]["result"] is True and by_id[f"s3.bucket {together}"]["changes"]
    assert by_id["notices"]["result"] is True and by_id["notices"]["changes"], by_id["notices"]
    assert by_id[f"s3.bucket {blocked}"]["result"] is False
    assert "requisite failed" in by_id[f"s3.bucket {blocked}"]["comment"]
    s3 = aws("s3", "eu-west-2")
    assert {b["Name"] for b in s3.list_buckets()["Buckets"]} & {together, blocked, extended} == {together, extended}
    assert by_id[f"s3.bucket {extended}"]["result"] is True
    assert "PublicAccessBlockConfiguration" not in json.dumps(
        s3.get_public_access_block(Bucket=extended) if _has_block(s3, extended) else {}
    ), "the extend's setting (no Block Public Access) was applied"
    # Expand while rendering, the converge of what goes together, the extended bucket on its own.
    assert _count(runs) == 3


def _has_block(s3, bucket):
    try:
        s3.get_public_access_block(Bucket=bucket)
    except s3.exceptions.ClientError:
        return False
    return True
