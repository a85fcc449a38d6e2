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

Connection arguments (``key``, ``keyid``, ``profile``, ``endpoint_url``) are described in the
``ocp_aws`` execution module. ``region`` is both a resource setting and the connection's region.
The ``ocp_aws`` formula (``salt/ocp_aws/init.sls``) renders these states from the ``ocp_aws`` pillar.
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


def _params(kwargs):
    """Return the resource settings in a state's keyword arguments."""
    return {
        key: value
        for key, value in kwargs.items()
        if not key.startswith("__") and key not in SALT_KEYWORDS
    }


def _state_function(kind, action):
    """Return the ``<kind>_<action>`` state function, which runs ``action`` on a ``kind`` resource."""

    def state(name, region=None, key=None, keyid=None, profile=None, endpoint_url=None, **params):
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
