"""
Execution module ``ocp_aws``: a thin shim over the ``ocp-aws`` binary.

Every function builds one JSON request, runs ``ocp-aws stdio`` with the request on stdin and returns
what the binary answers. There is no AWS logic here: the binary validates, plans, applies and reports.

Minion configuration (or pillar) keys, all optional:

``ocp_aws.binary``
    Path of the ``ocp-aws`` binary. Default: ``ocp-aws`` found on ``PATH``.
``ocp_aws.keyid``, ``ocp_aws.key``, ``ocp_aws.region``, ``ocp_aws.endpoint_url``
    Default connection: access key id, secret access key, region, endpoint (e.g. a test server).
``ocp_aws.timeout``, ``ocp_aws.attempts``
    Seconds each attempt of an AWS call may take (default 20), and attempts per call (default 5).
``ocp_aws.profile``
    Default for the ``profile`` argument (see below).

Connection arguments follow Salt's boto convention: ``keyid`` is the access key id, ``key`` the secret
access key, and ``profile`` is a dict, or the name of a configuration or pillar key holding a dict, with
any of ``keyid``, ``key``, ``region``, ``endpoint_url``, ``timeout``, ``attempts`` and ``aws_profile`` (the
name of a profile in the AWS shared config files). Explicit arguments win over the profile, which wins over ``ocp_aws.*`` keys;
the credentials (``keyid`` and ``key``, or ``aws_profile``) come together from the first that has any.

The request may hold credentials: it travels only on the binary's stdin and is never logged.

Under salt-ssh the target's ``__pillar__`` is empty and its configuration is the roster entry's
``minion_opts``: put the ``ocp_aws.*`` keys there, and pass the Pillar to ``expand`` and ``validate``
from the template (the ``ocp_aws`` formula does).
"""

import json
import logging
import os
import shutil
import subprocess

import salt.utils.data

from salt.exceptions import CommandExecutionError

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
STDERR_TAIL_LINES = 10


def _config(name):
    """Return the ``ocp_aws.<name>`` configuration value, or None when unset."""
    return __salt__["config.get"](f"ocp_aws.{name}") or None


def _binary():
    """Return the path of the ``ocp-aws`` binary, or raise if there is none."""
    binary = _config("binary") or shutil.which("ocp-aws")
    if not binary:
        raise CommandExecutionError(
            "The ocp-aws binary was not found: set ocp_aws.binary in the minion configuration "
            "or put ocp-aws on the PATH."
        )
    return binary


def _connection(region=None, key=None, keyid=None, profile=None, endpoint_url=None, timeout=None, attempts=None):
    """Resolve the protocol's ``connection`` object from arguments, profile and configuration."""
    if profile is None:
        profile = _config("profile")
    if isinstance(profile, str):
        name, profile = profile, __salt__["config.get"](profile)
        if not isinstance(profile, dict):
            raise CommandExecutionError(
                f"The AWS profile {name!r} names no configuration or pillar key holding a dict; "
                "for a profile in the AWS shared config files, use a dict with aws_profile."
            )
    explicit = {
        "region": region,
        "keyid": keyid,
        "key": key,
        "endpoint_url": endpoint_url,
        "timeout": timeout,
        "attempts": attempts,
    }
    defaults = {field: _config(field) for field in explicit}
    layers = [explicit, profile or {}, defaults]

    def first(field):
        return next((layer[field] for layer in layers if layer.get(field)), None)

    # Credentials are not mixed across layers: a profile's keyid never pairs with the default key.
    credentials = next(
        (layer for layer in layers if any(layer.get(f) for f in ("keyid", "key", "aws_profile"))), {}
    )
    return {
        "region": first("region"),
        "profile": credentials.get("aws_profile"),
        "keyid": credentials.get("keyid"),
        "key": credentials.get("key"),
        "endpoint_url": first("endpoint_url"),
        "timeout": _whole_number("timeout", first("timeout")),
        "attempts": _whole_number("attempts", first("attempts")),
    }


def _whole_number(name, value):
    """Return a connection setting given as a number or as text (from a command line) as an int."""
    if value is None or isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value), 10)
    except ValueError:
        raise CommandExecutionError(f"The connection setting {name} must be a whole number, not {value!r}.") from None


def _stderr_tail(stderr):
    """Return the last lines of the binary's stderr, as a sentence to append to an error."""
    lines = stderr.strip().splitlines()[-STDERR_TAIL_LINES:]
    return " Last lines of its stderr: " + " | ".join(lines) if lines else " It wrote nothing to stderr."


def _run(request):
    """Run ``ocp-aws stdio`` with ``request`` on stdin and return its decoded JSON response."""
    binary = _binary()
    try:
        body = json.dumps(request)
    except (TypeError, ValueError) as error:
        # The message names the type only, never a value: the request may hold credentials.
        raise CommandExecutionError(f"The request cannot be written as JSON: {error}.") from None
    try:
        process = subprocess.run(
            [binary, "stdio"],
            input=body,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as error:
        raise CommandExecutionError(f"The ocp-aws binary {binary} could not be run: {error}.") from error
    if process.stderr:
        log.debug("ocp-aws stderr: %s", process.stderr)
    try:
        return json.loads(process.stdout)
    except ValueError:
        raise CommandExecutionError(
            f"The ocp-aws binary {binary} exited with status {process.returncode} "
            f"without printing a JSON response.{_stderr_tail(process.stderr)}"
        ) from None


def _call(function, connection=None, **fields):
    """Run a read-only ``call`` request and return its ``return`` value; raise if it failed."""
    request = {
        "version": PROTOCOL_VERSION,
        "op": "call",
        "function": function,
        **fields,
        "connection": connection or _connection(),
    }
    response = _run(request)
    if not isinstance(response, dict) or not response.get("result"):
        comment = response.get("comment") if isinstance(response, dict) else None
        raise CommandExecutionError(comment or f"ocp-aws {function} failed without a comment.")
    return response.get("return")


def _pillar(pillar):
    """Return ``pillar`` or, when None, this minion's ``ocp_aws`` pillar as it is now.

    The Pillar is compiled afresh (as ``pillar.items`` does), not read from the minion's memory,
    which is stale after an edit until ``saltutil.refresh_pillar``.
    """
    if pillar is not None:
        return pillar
    try:
        # unmask (Salt 3008): Pillar values reach Python callers masked unless asked for.
        fresh = __salt__["pillar.items"](unmask=True)
    except TypeError:
        fresh = __salt__["pillar.items"]()
    return fresh.get("ocp_aws", {})


def binary_found():
    """
    Return whether the ``ocp-aws`` binary is there to be run (``ocp_aws.binary`` or ``PATH``).

    The formula asks this while rendering, so that a run which installs the binary renders one
    converge state instead of calling the binary that is not there yet.

    CLI Example:

    .. code-block:: bash

        salt-call ocp_aws.binary_found
    """
    binary = _config("binary") or shutil.which("ocp-aws")
    return bool(binary) and os.path.isfile(binary) and os.access(binary, os.X_OK)


def run_state(
    kind,
    action,
    name,
    params=None,
    test=False,
    region=None,
    key=None,
    keyid=None,
    profile=None,
    endpoint_url=None,
    timeout=None,
    attempts=None,
):
    """
    Bring one resource to ``action`` (``present`` or ``absent``) and return Salt's state return.

    This is what the ``ocp_aws`` state module calls. It never raises: when the binary cannot be run
    or does not answer in JSON, the return has result False and a comment naming the problem. DNS
    lookups (an address's MX for ``verify_via_s3``) ask the Pillar's ``ocp_aws:nameservers`` when
    it has them, as the formula does.

    CLI Example:

    .. code-block:: bash

        salt-call ocp_aws.run_state s3.bucket present ocp-redmine-backup params='{region: eu-west-2}' test=True
    """
    params = dict(params or {})
    if region:
        params["region"] = region
    try:
        request = {
            "version": PROTOCOL_VERSION,
            "op": "state",
            "kind": kind,
            "action": action,
            "name": name,
            "params": params,
            "test": bool(test),
            "connection": _connection(region, key, keyid, profile, endpoint_url, timeout, attempts),
        }
        # The Pillar's `ocp_aws:nameservers`, which the formula's converge reads from the Pillar itself.
        nameservers = __salt__["config.get"]("ocp_aws:nameservers") or []
        if nameservers:
            request["nameservers"] = [nameservers] if isinstance(nameservers, str) else list(nameservers)
        response = _run(request)
    except CommandExecutionError as error:
        return {"name": name, "result": False, "changes": {}, "comment": str(error)}
    if not isinstance(response, dict) or "result" not in response:
        comment = f"The ocp-aws binary answered with something other than a state return: {response!r}."
        return {"name": name, "result": False, "changes": {}, "comment": comment}
    return response


def converge(
    pillar,
    test=False,
    region=None,
    key=None,
    keyid=None,
    profile=None,
    endpoint_url=None,
    timeout=None,
    attempts=None,
    only=None,
):
    """
    Converge a whole ``ocp_aws`` pillar value in one run of the binary and return its state returns,
    one per resource in apply order, each with ``id`` (``kind name``). What the ``ocp_aws.converge``
    state calls. Never raises: a binary that cannot be run gives one failed return.

    CLI Example:

    .. code-block:: bash

        salt-call ocp_aws.converge pillar='{s3: {buckets: {ocp-redmine-backup: {}}}}' test=True
    """
    try:
        request = {
            "version": PROTOCOL_VERSION,
            "op": "converge",
            "params": pillar or {},
            "test": bool(test),
            "connection": _connection(region, key, keyid, profile, endpoint_url, timeout, attempts),
        }
        if only is not None:
            # Only these resources (``kind name`` ids), after the whole Pillar is checked.
            request["only"] = list(only)
        response = _run(request)
    except CommandExecutionError as error:
        return [{"id": "ocp_aws", "name": "ocp_aws", "result": False, "changes": {}, "comment": str(error)}]
    if not isinstance(response, list):
        comment = f"The ocp-aws binary answered with something other than a list of state returns: {response!r}."
        return [{"id": "ocp_aws", "name": "ocp_aws", "result": False, "changes": {}, "comment": comment}]
    return response


def describe(
    kind, name, region=None, key=None, keyid=None, profile=None, endpoint_url=None, timeout=None, attempts=None
):
    """
    Return the observed AWS state of one resource, or None when it does not exist.

    CLI Example:

    .. code-block:: bash

        salt-call ocp_aws.describe s3.bucket ocp-redmine-backup region=eu-west-2
    """
    return _call(
        "describe",
        kind=kind,
        name=name,
        params={"region": region} if region else {},
        connection=_connection(region, key, keyid, profile, endpoint_url, timeout, attempts),
    )


def export(
    regions=None,
    kinds=None,
    names=None,
    secret_dir=None,
    region=None,
    key=None,
    keyid=None,
    profile=None,
    endpoint_url=None,
    timeout=None,
    attempts=None,
):
    """
    Return what the AWS account has as an ``ocp_aws`` Pillar: ``pillar`` (the value), ``yaml``
    (the text, with comments for what AWS cannot show, such as a key's secret) and ``unresolved``
    (why the Pillar would not validate as it stands, e.g. a user's group left out by ``kinds``;
    empty when it does). Reads only.

    regions
        The regions to read, a list or comma-separated (default: ``region``); IAM is read once.
    kinds, names, secret_dir
        As ``ocp-aws export --kinds --names --secret-dir``.

    CLI Example:

    .. code-block:: bash

        salt-call ocp_aws.export regions=us-east-1,eu-west-2 kinds=s3.bucket,iam.user
    """
    if isinstance(regions, str):
        regions = [r.strip() for r in regions.split(",") if r.strip()]
    if isinstance(kinds, (list, tuple)):
        kinds = ",".join(kinds)
    params = {"regions": regions, "kinds": kinds, "names": names, "secret_dir": secret_dir}
    return _call(
        "export",
        params={k: v for k, v in params.items() if v is not None},
        connection=_connection(region, key, keyid, profile, endpoint_url, timeout, attempts),
    )


def validate(pillar=None):
    """
    Check an ``ocp_aws`` pillar value without calling AWS: ``pillar`` as given or, when left out,
    this minion's Pillar compiled afresh (so an edit is seen without ``saltutil.refresh_pillar``).
    Under salt-ssh, where the target has no Pillar, pass it: ``salt['ocp_aws.validate'](pillar.get('ocp_aws', {}))``.

    Returns ``{"valid": True, "errors": []}`` for a valid pillar. An invalid one fails the call
    (``salt-call`` exits non-zero) with every problem in the message, each as
    ``<pillar path>: <problem>``.

    CLI Example:

    .. code-block:: bash

        salt-call ocp_aws.validate
    """
    return _call("validate", params=_pillar(pillar))


def schema():
    """
    Return the JSON Schema of the ``ocp_aws`` pillar.

    CLI Example:

    .. code-block:: bash

        salt-call --out=json ocp_aws.schema
    """
    return _call("schema")


def expand(pillar=None):
    """
    Expand an ``ocp_aws`` pillar value into states, in apply order: ``pillar`` as given (the formula
    passes the Pillar it renders with, which also works under salt-ssh) or, when left out, this
    minion's Pillar compiled afresh.

    Returns ``{"errors": [...], "states": [{"id", "function", "name", "service", "params", "require"},
    ...]}``; ``states`` is empty when there are errors. The ``ocp_aws`` formula renders one state per entry.

    CLI Example:

    .. code-block:: bash

        salt-call ocp_aws.expand
    """
    pillar = _pillar(pillar)
    plan = _call("expand", params=pillar)
    if not plan.get("errors"):
        # For the states of this run: the first ocp_aws state converges every resource the formula
        # rendered in one process, and each state then returns its own (see the state module).
        rendered = __context__.setdefault("ocp_aws.plan", {"pillar": pillar, "states": {}})
        if rendered["pillar"] == pillar:
            rendered["states"].update({state["id"]: state for state in plan.get("states", [])})
    return plan


def _domain_params(region, zone, receiving, dmarc, **extra):
    """The domain identity settings a DNS function passes, without the unset ones."""
    params = {"region": region, "zone": zone, "receiving": receiving or None, "dmarc": dmarc, **extra}
    return {key: value for key, value in params.items() if value is not None}


def dns_records(
    domain, region=None, zone=None, receiving=False, dmarc=None, key=None, keyid=None, profile=None, endpoint_url=None
):
    """
    Return the DNS records an SES domain identity needs, computed from what SES reports: the DKIM
    CNAMEs, the MAIL FROM MX and SPF, the receiving MX when ``receiving`` is true, and a DMARC
    suggestion. Each record has ``name`` (FQDN), ``host`` (relative to ``zone``, default the domain,
    as a registrar that appends the zone wants it), ``type``, ``value`` and ``priority``.

    CLI Example:

    .. code-block:: bash

        salt-call ocp_aws.dns_records open-contracting.org region=us-east-1
    """
    return _call(
        "dns_records",
        name=domain,
        params=_domain_params(region, zone, receiving, dmarc),
        connection=_connection(region, key, keyid, profile, endpoint_url),
    )


def dns_check(
    domain,
    nameserver=None,
    region=None,
    zone=None,
    receiving=False,
    dmarc=None,
    key=None,
    keyid=None,
    profile=None,
    endpoint_url=None,
):
    """
    Resolve the records of ``dns_records`` and report each as present, missing or wrong (one SPF
    record including amazonses.com once; a DMARC record with a valid policy), and whether DKIM makes
    mail from the domain DMARC-aligned. ``nameserver`` (IP or IP:PORT) replaces the system resolver.

    CLI Example:

    .. code-block:: bash

        salt-call ocp_aws.dns_check open-contracting.org
    """
    return _call(
        "dns_check",
        name=domain,
        params=_domain_params(region, zone, receiving, dmarc, nameserver=nameserver),
        connection=_connection(region, key, keyid, profile, endpoint_url),
    )


def dmarc_check(
    from_,
    to,
    region=None,
    bucket=None,
    prefix=None,
    nameserver=None,
    key=None,
    keyid=None,
    profile=None,
    endpoint_url=None,
):
    """
    Send a short message through SES from ``from_`` to ``to`` (an address whose domain's MX is
    SES's inbound host in the region), read it back from the S3 ``bucket`` through a temporary
    receipt rule, and return its SPF, DKIM and DMARC results, the published ``_dmarc`` policy, and
    ``passes`` (DMARC passes through a DKIM signature aligned with the From domain). The account's
    receiving setup is put back as it was. ``nameserver`` (IP or IP:PORT, or a list) replaces the
    system resolver.

    When the message does not pass, the job's return code is 1 (``salt-call`` exits 1 with
    ``--retcode-passthrough``), as ``ocp-aws ses dmarc-check`` exits 1: a script or an orchestration
    step can tell a failing domain without reading the return.

    CLI Example:

    .. code-block:: bash

        salt-call ocp_aws.dmarc_check from_=noreply@example.org to=check@inbound.example.org
    """
    nameservers = [nameserver] if isinstance(nameserver, str) else list(nameserver or [])
    params = {"from": from_, "to": to, "region": region, "bucket": bucket, "prefix": prefix}
    params = {k: v for k, v in params.items() if v is not None}
    params["nameservers"] = nameservers
    checked = _call(
        "dmarc_check",
        params=params,
        connection=_connection(region, key, keyid, profile, endpoint_url),
    )
    if not (isinstance(checked, dict) and checked.get("passes") is True):
        __context__["retcode"] = 1
    return checked


def smtp_password(key=None, region=None, key_file=None, key_pillar=None, password_file=None):
    """
    Return the SES SMTP password of a secret access key for ``region``, for keys made outside
    ocp-aws. Give the key one of three ways:

    ``key_file``
        The path of a file on this minion that holds the secret access key (its first line).
    ``key_pillar``
        A Pillar key (``a:b:c``) of this minion that holds it.
    ``key``
        The key itself. Avoid it from a master: the arguments of ``salt 'x' ocp_aws.smtp_password
        key=...`` land in the master's job cache and debug logs, and a key typed on a command line
        in the shell history and the process list.

    With ``key_file`` or ``key_pillar`` the key never travels on the Salt bus. The return, the
    password, does: it lands in the job cache of a master. With ``password_file`` (a path on this
    minion) the password is written there instead (mode 0600) and only the path is returned, so
    nothing secret travels at all. From a shell on the machine itself, ``ocp-aws smtp-password
    --region REGION`` reads the key from stdin.

    CLI Example:

    .. code-block:: bash

        salt admin ocp_aws.smtp_password region=eu-west-2 key_file=/root/ses.key password_file=/root/ses.smtp
    """
    if sum(given is not None for given in (key, key_file, key_pillar)) != 1:
        raise CommandExecutionError("Give the secret access key one way: key_file, key_pillar or key.")
    if not region:
        raise CommandExecutionError("Give the SES region: region=eu-west-2, say.")
    if key is None:
        key = _secret(key_file, key_pillar, "key file", "secret access key")
    password = _call("smtp_password", params={"key": key, "region": region})
    if password_file is None:
        return password
    try:
        descriptor = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(password + "\n")
    except OSError as error:
        raise CommandExecutionError(f"The password file {password_file} cannot be written: {error.strerror}.") from None
    return password_file


def _secret(path, pillar_key, noun, what):
    """Return a secret from the first line of the file ``path`` on this minion, or from the Pillar
    key ``pillar_key``: never an argument, which would land in job caches and logs."""
    if path is not None:
        try:
            with open(path, encoding="utf-8") as file:
                secret = file.readline().strip()
        except OSError as error:
            raise CommandExecutionError(f"The {noun} {path} cannot be read: {error.strerror}.") from None
        if not secret:
            raise CommandExecutionError(f"The {noun} {path} holds no {what}.")
        return secret
    secret = salt.utils.data.traverse_dict_and_list(__pillar__, pillar_key, None, delimiter=":")
    if not isinstance(secret, str) or not secret:
        raise CommandExecutionError(f"The Pillar key {pillar_key} holds no {what}.")
    return secret


def _adopt_target(name, pillar, settings):
    """The ``pillar`` or ``settings`` field of an adopt request: the given secret-file settings, else
    the Pillar's entry for ``name`` (``pillar`` as given, or this minion's, compiled afresh)."""
    settings = {field: value for field, value in settings.items() if value is not None}
    if settings:
        return {"settings": settings}
    return {"pillar": _pillar(pillar)}


def adopt_key(
    name,
    key_file=None,
    key_pillar=None,
    access_key_id=None,
    pillar=None,
    secret_file=None,
    pillar_key=None,
    mode=None,
    owner=None,
    group=None,
    smtp=False,
    regions=None,
    region=None,
    key=None,
    keyid=None,
    profile=None,
    endpoint_url=None,
):
    """
    Take over the access key of IAM user ``name`` (made by hand) without rotating it: its secret is
    proven with AWS (STS GetCallerIdentity signed with it must answer the user's ARN) and written to
    the user's secret file as the state writes it, so that the next state run keeps the key.

    The secret comes from ``key_file`` (a file on this minion, its first line) or ``key_pillar`` (a
    Pillar key of this minion), never as an argument: arguments land in job caches and logs. It
    reaches the binary on its stdin. ``key``, ``keyid`` and ``profile`` are the connection's, as in
    every function here.

    Where it goes: the user's entry in ``iam.users`` or ``ses.smtp_credentials`` of ``pillar`` (or
    this minion's Pillar), or the settings given here (``secret_file``, ``pillar_key``, ``mode``,
    ``owner``, ``group``; ``smtp=True`` and ``regions`` for an SES SMTP user). ``access_key_id``
    names the key when the user has two.

    CLI Example:

    .. code-block:: bash

        salt-call ocp_aws.adopt_key redmine-backup key_file=/root/backup.key
    """
    if (key_file is None) == (key_pillar is None):
        raise CommandExecutionError("Give the secret access key one way: key_file or key_pillar.")
    secret = _secret(key_file, key_pillar, "key file", "secret access key")
    if smtp:
        settings = {"secret_file": secret_file, "pillar_key": pillar_key, "regions": regions, "mode": mode}
        settings.update(owner=owner, group=group)
    else:
        settings = {"access_key": {"secret_file": secret_file, "pillar_key": pillar_key, "mode": mode}}
        settings["access_key"].update(owner=owner, group=group)
        settings["access_key"] = {f: v for f, v in settings["access_key"].items() if v is not None} or None
    params = _adopt_target(name, pillar, settings)
    if "settings" in params:
        params["kind"] = "ses.smtp_credentials" if smtp else "iam.user"
    params.update(key=secret, access_key_id=access_key_id)
    params = {field: value for field, value in params.items() if value is not None}
    return _call(
        "adopt_key", name=name, params=params, connection=_connection(region, key, keyid, profile, endpoint_url)
    )


def adopt_password(
    name,
    password_file=None,
    password_pillar=None,
    pillar=None,
    secret_file=None,
    pillar_key=None,
    mode=None,
    owner=None,
    group=None,
    region=None,
    key=None,
    keyid=None,
    profile=None,
    endpoint_url=None,
):
    """
    Take over the master password of RDS instance ``name`` (set by hand), so that the next state
    run does not reset it: it is checked by logging in when the instance is reachable (otherwise the
    answer says it was not verified) and written with the connection details to the instance's
    secret file, as the state writes it.

    The password comes from ``password_file`` (a file on this minion, its first line) or
    ``password_pillar`` (a Pillar key), never as an argument, and reaches the binary on its stdin.
    Where it goes: the instance's entry in ``rds.instances`` of ``pillar`` (or this minion's Pillar),
    or the settings given here.

    CLI Example:

    .. code-block:: bash

        salt-call ocp_aws.adopt_password analysis password_file=/root/analysis.password
    """
    if (password_file is None) == (password_pillar is None):
        raise CommandExecutionError("Give the password one way: password_file or password_pillar.")
    password = _secret(password_file, password_pillar, "password file", "password")
    settings = {"secret_file": secret_file, "pillar_key": pillar_key, "mode": mode, "owner": owner, "group": group}
    params = _adopt_target(name, pillar, settings)
    params["password"] = password
    return _call(
        "adopt_password", name=name, params=params, connection=_connection(region, key, keyid, profile, endpoint_url)
    )


def notification_explain(text):
    """
    Explain an SES notification: what the subscribed address received (the SNS email body, the SNS
    JSON message, or the SES notification itself, detected automatically). Returns the type, for a
    bounce the type, subtype and per recipient the action, status, diagnostic code and what to do,
    for a complaint the feedback type and user agent, for a delay its type and expiration time, for
    a reject or rendering failure the reason and template, and the original mail's source,
    destination, subject, message id, timestamp, sending identity, source IP and configuration set.
    The text reaches the binary on its stdin. Nothing touches AWS.

    CLI Example:

    .. code-block:: bash

        salt-call ocp_aws.notification_explain "$(cat notification.json)"
    """
    if not isinstance(text, str):
        # Salt reads a command-line argument as YAML, so pasted JSON arrives already parsed.
        text = json.dumps(text)
    return _call("notification_explain", params={"text": text})
