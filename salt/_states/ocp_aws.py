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
)

# Keywords that mean something to Salt, not to the resource. Salt 3008 strips its own runtime and
# requisite keywords (saltenv, order, require, ...) before calling a state, but passes on `env` (the
# old name of saltenv), `test` and any `__`-prefixed key written in an SLS.
SALT_KEYWORDS = frozenset(("env", "saltenv", "pillarenv", "test"))


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
