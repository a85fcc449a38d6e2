"""
State module ``ocp_aws``: one ``<kind>_present`` and one ``<kind>_absent`` state per resource kind.

Each state hands its arguments to the ``ocp-aws`` binary (through the ``ocp_aws.run_state`` execution
function) and returns the binary's state return unchanged. Resource settings are keyword arguments and
are checked by the binary, so a misspelt setting fails instead of being ignored.

.. code-block:: yaml

    ocp-redmine-backup:
      ocp_aws.s3_bucket_present:
        - region: eu-west-2
        - lifecycle:
          - {id: delete-after-30-days, expire_days: 30, abort_incomplete_multipart_days: 7}

Connection arguments (``key``, ``keyid``, ``profile``, ``endpoint_url``, ``timeout``, ``attempts``)
are described in the ``ocp_aws`` execution module. ``region`` is both a resource setting and the
connection's region. The ``ocp_aws`` formula (``salt/ocp_aws/init.sls``) renders these states from
the ``ocp_aws`` pillar; ``converge`` applies a whole ``ocp_aws`` pillar value as one state.
"""

# Resource kinds, as the binary names them. The state functions are named after the kind, with "."
# replaced by "_": s3.bucket -> s3_bucket_present, s3_bucket_absent.
KINDS = (
    "sns.topic",
    "s3.bucket",
    "iam.policy",
    "iam.group",
    "iam.user",
    "ses.domain_identity",
    "ses.email_identity",
    "ses.smtp_credentials",
    "ses.configuration_set",
    "ses.account",
    "ec2.security_group",
    "rds.db_instance",
)

# Keywords that mean something to Salt, not to the resource. Salt 3008 strips its own runtime and
# requisite keywords (saltenv, order, require, ...) before calling a state, but passes on `env` (the
# old name of saltenv), `test` and any `__`-prefixed key written in an SLS.
SALT_KEYWORDS = frozenset(("env", "saltenv", "pillarenv", "test"))


# Keys of a compiled state (a "chunk") that are Salt's own, not the state's arguments.
CHUNK_KEYS = frozenset(("state", "fun", "name", "__id__", "__sls__", "__env__", "order", "__run_num__"))
# Requisites a chunk can carry once Salt has compiled the `_in` forms onto their targets.
REQUISITES = frozenset(
    (
        "require", "require_any", "watch", "watch_any", "onchanges", "onchanges_any", "onfail",
        "onfail_any", "onfail_all", "prereq", "use", "listen", "require_in", "watch_in", "onchanges_in",
        "onfail_in", "prereq_in", "use_in", "listen_in",
    )
)


def _batchable(chunk, plan):
    """Whether a compiled state is exactly one the formula rendered from ``plan``, requiring only other
    states of the formula: then its result can come from one converge of the whole plan."""
    entry = plan["states"].get(chunk.get("__id__"))
    if chunk.get("state") != "ocp_aws" or entry is None:
        return False
    if chunk.get("fun") != entry["function"] or chunk.get("name") != entry["name"]:
        return False
    arguments = {k: v for k, v in chunk.items() if k not in CHUNK_KEYS and k not in REQUISITES}
    if {k: v for k, v in arguments.items() if not k.startswith("__")} != entry["params"]:
        return False  # changed or extra arguments (test, a connection): it runs on its own
    for requisite in REQUISITES.intersection(chunk):
        if requisite != "require":
            return False  # onchanges, watch, prereq, ...: Salt decides whether and when it runs
        for target in chunk[requisite]:
            if not (isinstance(target, dict) and set(target) == {"ocp_aws"} and target["ocp_aws"] in plan["states"]):
                return False  # it waits for a state outside the formula
    return True


def _batch():
    """The returns of one converge of every resource of this run that can go together, by state id.

    Run by the first ``ocp_aws`` state of a Salt run that rendered the formula, kept for the others in
    ``__context__``. A state whose arguments or requisites differ from the plan's runs on its own, as
    does one that requires such a state; Salt skips a state whose requisite failed before calling it,
    and the binary skips the same ones, so both agree.
    """
    if "ocp_aws.batch" in __context__:
        return __context__["ocp_aws.batch"]
    plan = __context__.get("ocp_aws.plan")
    chunks = [c for c in (__lowstate__ or []) if isinstance(c, dict)]  # pylint: disable=undefined-variable
    if not plan or not chunks:
        __context__["ocp_aws.batch"] = {}
        return {}
    ids = {c["__id__"] for c in chunks if _batchable(c, plan)}
    # A state that requires one that runs on its own runs on its own too (repeat until stable).
    changed = True
    while changed:
        changed = False
        for chunk in chunks:
            if chunk.get("__id__") in ids and any(t["ocp_aws"] not in ids for t in chunk.get("require", [])):
                ids.discard(chunk["__id__"])
                changed = True
    returns = []
    if ids:
        ordered = [sid for sid in plan["states"] if sid in ids]
        returns = __salt__["ocp_aws.converge"](plan["pillar"], test=__opts__.get("test", False), only=ordered)
    batch = {ret["id"]: ret for ret in returns if ret.get("id") in ids}
    __context__["ocp_aws.batch"] = batch
    return batch


def _params(kwargs):
    """Return the resource settings in a state's keyword arguments."""
    return {
        key: value
        for key, value in kwargs.items()
        if not key.startswith("__") and key not in SALT_KEYWORDS
    }


def _state_function(kind, action):
    """Return the ``<kind>_<action>`` state function, which runs ``action`` on a ``kind`` resource."""

    def state(
        name,
        region=None,
        key=None,
        keyid=None,
        profile=None,
        endpoint_url=None,
        timeout=None,
        attempts=None,
        **params,
    ):
        batched = _batch().get(__low__.get("__id__"))  # pylint: disable=undefined-variable
        if batched is not None and __low__.get("name") == name:  # pylint: disable=undefined-variable
            return {key: batched[key] for key in ("name", "result", "changes", "comment")}
        return __salt__["ocp_aws.run_state"](
            kind,
            action,
            name,
            params=_params(params),
            # `- test: True` on one state asks for test mode for that state alone.
            test=__opts__.get("test", False) or params.get("test") is True,
            region=region,
            key=key,
            keyid=keyid,
            profile=profile,
            endpoint_url=endpoint_url,
            timeout=timeout,
            attempts=attempts,
        )

    state.__name__ = state.__qualname__ = f"{kind.replace('.', '_')}_{action}"
    state.__doc__ = (
        f"Ensure the {kind} resource ``name`` is {action}; "
        "other keyword arguments are its settings (see ``ocp-aws schema``)."
    )
    return state


for _kind in KINDS:
    for _action in ("present", "absent"):
        _function = _state_function(_kind, _action)
        globals()[_function.__name__] = _function


def converge(
    name,
    pillar=None,
    region=None,
    key=None,
    keyid=None,
    profile=None,
    endpoint_url=None,
    timeout=None,
    attempts=None,
):
    """
    Converge a whole ``ocp_aws`` pillar value (``pillar``) in one run of the binary, as one state.

    The formula renders this state instead of one state per resource when the binary is not
    there yet at render time (a run that installs it with ``ocp_aws.install``). ``changes`` and
    ``comment`` hold each resource's, by ``kind name``; the result is False when one failed, None
    (test mode) when one would change, else True.

    .. code-block:: yaml

        ocp_aws:
          ocp_aws.converge:
            - pillar: {s3: {buckets: {ocp-redmine-backup: {region: eu-west-2}}}}
    """
    if __opts__.get("test", False) and not __salt__["ocp_aws.binary_found"]():
        comment = (
            "The ocp-aws binary is not installed yet; ocp_aws.install installs it in this run, "
            "and what would change can be told once it is."
        )
        return {"name": name, "result": None, "changes": {}, "comment": comment}
    returns = __salt__["ocp_aws.converge"](
        pillar or {},
        test=__opts__.get("test", False),
        region=region,
        key=key,
        keyid=keyid,
        profile=profile,
        endpoint_url=endpoint_url,
        timeout=timeout,
        attempts=attempts,
    )
    results = [ret.get("result") for ret in returns]
    if False in results:
        result = False
    elif None in results:
        result = None
    else:
        result = True
    changes = {ret.get("id") or ret.get("name"): ret["changes"] for ret in returns if ret.get("changes")}
    comment = "\n".join(f"{ret.get('id') or ret.get('name')}: {ret.get('comment', '')}" for ret in returns)
    return {"name": name, "result": result, "changes": changes, "comment": comment or "Nothing to converge."}
