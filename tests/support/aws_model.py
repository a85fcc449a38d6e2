"""What an AWS request is, and whether AWS would accept it, by the service models that ship with botocore.

Used by moto_server.py for two things moto does not do:

* refusing requests AWS refuses: the operation is found from the request, its input is parsed into the
  parameters dict botocore's serializers start from, and botocore's ``ParamValidator`` (plus the
  ``max``, ``enum`` and ``pattern`` constraints it leaves to the service) checks them against the
  operation's input shape;
* naming the operations in moto's request recording, so tests count writes by operation.

Generic over services: the service comes from the SigV4 credential scope (moto's own dispatcher maps it
to a moto backend, whose name is botocore's service name), and the operation from the protocol the
model names:

``query``, ``ec2`` (IAM, STS, SES v1, SNS, RDS, EC2)
    ``Action=`` in the query string or the form body; every parameter is parsed (structures, lists,
    flattened lists, maps) into the input shape.
``json`` (``X-Amz-Target: Prefix.Operation``)
    the JSON body is the input.
``rest-json``, ``rest-xml`` (SES v2, S3)
    method and path are matched against each operation's ``requestUri``; literal query keys in it
    (S3's sub-resources such as ``?lifecycle``, ``?x-id=GetObject``) must be present, and the most
    specific match wins. URI labels, query-string, header and header-prefix members are parsed; a
    structure payload or body members are parsed from JSON, or from XML by botocore's own XML parser.
    A blob or string payload is not read: it stands as present when the request has a body.

Not covered: requests without SigV4 (presigned URLs, SigV2), S3 virtual-hosted-style addressing
(the bucket in the Host header), event streams, and the CBOR protocol; a body that cannot be parsed is
let through (moto answers it) rather than refused.
"""

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, unquote

import botocore.session
from botocore import parsers
from botocore.exceptions import UnknownServiceError
from botocore.validate import ParamValidator, ValidationErrors

SESSION = botocore.session.get_session()
READ_PREFIXES = ("Get", "List", "Head", "Describe")
CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]*/([^/]*)/([^/]*)/")


@dataclass
class Request:
    """The parts of an HTTP request that say which operation it is."""

    method: str
    path: str  # raw, percent-encoded
    query: str  # raw
    headers: dict  # lower-case names
    body: bytes

    def access_key_id(self) -> str | None:
        found = CREDENTIAL.search(self.headers.get("authorization", ""))
        return found.group(1) if found else None


@dataclass(frozen=True)
class Operation:
    """One operation of one service's model."""

    service: str  # botocore's service name, e.g. "sesv2"
    service_id: str  # the model's serviceId, e.g. "SESv2" (what the AWS SDKs call the service)
    name: str
    protocol: str

    @property
    def is_read(self) -> bool:
        """Operations that cannot change anything: their names say so."""
        return self.name.startswith(READ_PREFIXES)

    @property
    def model(self):
        return service_model(self.service).operation_model(self.name)


@lru_cache(maxsize=None)
def service_model(name: str):
    return SESSION.get_service_model(name)


def botocore_service(backend: str | None) -> str | None:
    """botocore's name for a moto backend (they are the same for every service moto models)."""
    if not backend:
        return None
    try:
        service_model(backend)
    except UnknownServiceError:
        return None
    return backend


# --- Finding the operation -------------------------------------------------------------------------


def identify(request: Request, backend: str | None) -> Operation | None:
    """The operation ``request`` calls on moto backend ``backend``, or None when it cannot be told."""
    service = botocore_service(backend)
    if service is None:
        return None
    model = service_model(service)
    protocol = model.protocol
    name = None
    if protocol in ("query", "ec2"):
        name = query_params(request).get("Action")
    elif protocol == "json":
        target = request.headers.get("x-amz-target", "")
        name = target.rsplit(".", 1)[-1] if "." in target else None
    elif protocol in ("rest-json", "rest-xml"):
        match = match_rest(service, request.method, request.path, request.query, request.headers)
        name = match[0] if match else None
    if name is None or name not in model.operation_names:
        return None
    return Operation(service, model.service_id, name, protocol)


@dataclass
class Route:
    operation: str
    method: str
    path: re.Pattern
    labels: list  # label names, in group order
    query: dict  # literal query keys -> required value or None
    specificity: tuple


@lru_cache(maxsize=None)
def routes(service: str) -> list[Route]:
    """Every operation's request URI template of a REST service, as a regex."""
    model = service_model(service)
    found = []
    for name in model.operation_names:
        operation = model.operation_model(name)
        template = operation.http.get("requestUri", "/")
        path, _, query = template.partition("?")
        pattern, labels, literal = "", [], 0
        for part in re.split(r"(\{[^}]+\})", path):
            if part.startswith("{") and part.endswith("}"):
                label = part[1:-1]
                greedy = label.endswith("+")
                labels.append(label.rstrip("+"))
                pattern += f"(?P<g{len(labels) - 1}>{'.+' if greedy else '[^/]+'})"
            else:
                pattern += re.escape(part)
                literal += len(part)
        if not pattern.endswith("/"):
            pattern += "/?"
        literal_query = {}
        for pair in filter(None, query.split("&")):
            key, equals, value = pair.partition("=")
            literal_query[key] = value if equals else None
        deprecated = bool(operation.deprecated)
        found.append(
            Route(
                name,
                operation.http.get("method", "POST"),
                re.compile(pattern),
                labels,
                literal_query,
                (len(literal_query), literal, not deprecated),
            )
        )
    return found


def match_rest(service: str, method: str, path: str, query: str, headers: dict | None = None) -> tuple[str, dict] | None:
    """(operation name, URI labels) of the most specific route that matches, or None.

    Routes that share a template (S3's PutObject, CopyObject and UploadPart) are told apart by the
    ``x-id`` query parameter the SDKs send, else by the required header and query members present.
    """
    present = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        present.setdefault(key, value)
    matches = []
    for route in routes(service):
        if route.method != method:
            continue
        found = route.path.fullmatch(path)
        if not found:
            continue
        if any(key not in present or (value is not None and present[key] != value) for key, value in route.query.items()):
            continue
        matches.append((route, found))
    if "x-id" in present:
        matches = [m for m in matches if m[0].operation == present["x-id"]] or matches
    if headers is not None:
        complete = [m for m in matches if has_required_located_members(service, m[0].operation, present, headers)]
        matches = complete or matches
    if not matches:
        return None
    route, found = max(matches, key=lambda m: m[0].specificity)
    labels = {label: unquote(found.group(f"g{i}")) for i, label in enumerate(route.labels)}
    return route.operation, labels


def has_required_located_members(service: str, operation: str, query: dict, headers: dict) -> bool:
    shape = service_model(service).operation_model(operation).input_shape
    if shape is None:
        return True
    for name in shape.required_members:
        member = shape.members[name]
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "header" and wire.lower() not in headers:
            return False
        if location == "querystring" and wire not in query:
            return False
    return True


# --- Parsing the input -----------------------------------------------------------------------------


class Unparseable(Exception):
    """The request's body cannot be read as the model says: not validated."""


def query_params(request: Request) -> dict:
    """Query string plus form body, one value a key (the query protocol never repeats a key)."""
    pairs = parse_qsl(request.query, keep_blank_values=True)
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        pairs += parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    return dict(pairs)


def params_of(request: Request, operation: Operation, labels: dict | None = None) -> dict:
    """The input parameters of ``request``, as botocore's serializers would have been given them."""
    shape = operation.model.input_shape
    if shape is None:
        return {}
    if operation.protocol in ("query", "ec2"):
        flat = query_params(request)
        prefixes = set()
        for key in flat:
            parts = key.split(".")
            prefixes.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        return from_query(shape, "", flat, prefixes, operation.protocol == "ec2")
    if operation.protocol == "json":
        return json_body(request)
    if labels is None:
        match = match_rest(operation.service, request.method, request.path, request.query, request.headers)
        labels = match[1] if match else {}
    return from_rest(request, shape, labels, operation.protocol)


def json_body(request: Request) -> dict:
    if not request.body.strip():
        return {}
    try:
        body = json.loads(request.body)
    except ValueError as failure:
        raise Unparseable(f"the body is not JSON: {failure}") from None
    if not isinstance(body, dict):
        raise Unparseable("the body is not a JSON object")
    return body


def scalar(shape, text: str):
    """A query-string or header value as the type its shape names (left as text when it is not)."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
    except ValueError:
        return text
    if kind == "boolean":
        return {"true": True, "false": False}.get(text.lower(), text)
    return text


def query_key(name: str, member, ec2: bool) -> str:
    if ec2:
        if "queryName" in member.serialization:
            return member.serialization["queryName"]
        located = member.serialization.get("name", name)
        return located[:1].upper() + located[1:]
    return member.serialization.get("name", name)


def from_query(shape, prefix: str, flat: dict, prefixes: set, ec2: bool):
    """Undo botocore's query (and EC2) serializer for ``shape`` at ``prefix``."""
    kind = shape.type_name
    if kind == "structure":
        out = {}
        for name, member in shape.members.items():
            key = query_key(name, member, ec2)
            full = f"{prefix}.{key}" if prefix else key
            if full in prefixes:
                out[name] = from_query(member, full, flat, prefixes, ec2)
        return out
    if kind == "list":
        if flat.get(prefix) == "":
            return []
        if ec2 or shape.serialization.get("flattened"):
            base = prefix
        else:
            base = f"{prefix}.{shape.member.serialization.get('name', 'member')}"
        items, index = [], 1
        while f"{base}.{index}" in prefixes:
            items.append(from_query(shape.member, f"{base}.{index}", flat, prefixes, ec2))
            index += 1
        return items
    if kind == "map":
        base = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        out, index = {}, 1
        while f"{base}.{index}" in prefixes:
            key = flat.get(f"{base}.{index}.{key_name}", "")
            out[key] = from_query(shape.value, f"{base}.{index}.{value_name}", flat, prefixes, ec2)
            index += 1
        return out
    return scalar(shape, flat.get(prefix, ""))


class _XmlBody(parsers.RestXMLParser):
    """botocore's XML response parser, pointed at a request body."""

    def parse_structure(self, shape, body: bytes):
        root = self._parse_xml_string_to_dom(body)
        return self._parse_shape(shape, root)


def from_rest(request: Request, shape, labels: dict, protocol: str) -> dict:
    params = {}
    query = parse_qsl(request.query, keep_blank_values=True)
    consumed = set()
    body_members = []
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri":
            if wire in labels:
                params[name] = scalar(member, labels[wire])
        elif location == "querystring":
            if member.type_name == "map":
                continue
            values = [value for key, value in query if key == wire]
            consumed.add(wire)
            if values:
                if member.type_name == "list":
                    params[name] = [scalar(member.member, v) for v in values]
                else:
                    params[name] = scalar(member, values[0])
        elif location == "header":
            value = request.headers.get(wire.lower())
            if value is not None:
                if member.type_name == "list":
                    params[name] = [scalar(member.member, v.strip()) for v in value.split(",")]
                else:
                    params[name] = scalar(member, value)
        elif location == "headers":
            start = wire.lower()
            found = {k[len(start) :]: v for k, v in request.headers.items() if k.startswith(start)}
            if found:
                params[name] = found
        elif location is None:
            body_members.append(name)
    # A querystring map takes every pair no other member named.
    for name, member in shape.members.items():
        if member.serialization.get("location") == "querystring" and member.type_name == "map":
            rest = {key: value for key, value in query if key not in consumed}
            if rest:
                params[name] = rest
    payload = shape.serialization.get("payload")
    has_body = bool(request.body.strip()) or int(request.headers.get("content-length") or 0) > 0
    if payload:
        member = shape.members[payload]
        if member.type_name in ("blob", "string"):
            if has_body:
                params[payload] = b"" if member.type_name == "blob" else ""
        elif request.body.strip():
            params[payload] = parse_body(member, request.body, protocol)
    elif body_members and request.body.strip():
        parsed = parse_body(shape, request.body, protocol)
        params.update({name: parsed[name] for name in body_members if name in parsed})
    return params


def parse_body(shape, body: bytes, protocol: str):
    if protocol == "rest-json":
        try:
            return json.loads(body)
        except ValueError as failure:
            raise Unparseable(f"the body is not JSON: {failure}") from None
    try:
        return _XmlBody().parse_structure(shape, body)
    except Exception as failure:  # botocore raises its own and ElementTree's errors
        raise Unparseable(f"the body is not XML of {shape.name}: {failure}") from None


# --- Validating ------------------------------------------------------------------------------------


class _Errors(ValidationErrors):
    def _format_error(self, error):
        error_type, name, additional = error
        if error_type == "too long":
            return f"Invalid length for parameter {self._get_name(name)}, valid max length: {additional['max_allowed']}"
        if error_type == "too large":
            return f"Invalid value for parameter {self._get_name(name)}, valid max value: {additional['max_allowed']}"
        if error_type == "not in enum":
            return f"Invalid value for parameter {self._get_name(name)}, valid values: {', '.join(additional['valid'])}"
        if error_type == "pattern":
            return f"Invalid value for parameter {self._get_name(name)}, must match pattern {additional['pattern']}"
        return super()._format_error(error)


@lru_cache(maxsize=None)
def _pattern(text: str):
    try:
        return re.compile(text)
    except re.error:  # a Java-only construct: not checked
        return None


class AwsValidator(ParamValidator):
    """botocore's validator plus what AWS checks on the server side: maximum lengths and values, enum
    values, and patterns (as a whole-value match, which is how AWS applies them)."""

    VALIDATED_METADATA_ATTRS = ParamValidator.VALIDATED_METADATA_ATTRS | {"max", "pattern", "enum"}

    def validate(self, params, shape):
        errors = _Errors()
        self._validate(params, shape, errors, name="")
        return errors

    def _validate_string(self, param, shape, errors, name):
        super()._validate_string(param, shape, errors, name)
        if not isinstance(param, str):
            return
        if "max" in shape.metadata and len(param) > shape.metadata["max"]:
            errors.report(name, "too long", max_allowed=shape.metadata["max"])
        if shape.enum and param not in shape.enum:
            errors.report(name, "not in enum", valid=list(shape.enum))
        pattern = shape.metadata.get("pattern")
        if pattern and _pattern(pattern) is not None and not _pattern(pattern).fullmatch(param):
            errors.report(name, "pattern", pattern=pattern)

    def _validate_list(self, param, shape, errors, name):
        super()._validate_list(param, shape, errors, name)
        if isinstance(param, (list, tuple)) and "max" in shape.metadata and len(param) > shape.metadata["max"]:
            errors.report(name, "too long", max_allowed=shape.metadata["max"])

    def _check_max(self, param, shape, errors, name):
        if isinstance(param, (int, float)) and not isinstance(param, bool) and "max" in shape.metadata:
            if param > shape.metadata["max"]:
                errors.report(name, "too large", max_allowed=shape.metadata["max"])

    def _validate_integer(self, param, shape, errors, name):
        super()._validate_integer(param, shape, errors, name)
        self._check_max(param, shape, errors, name)

    def _validate_long(self, param, shape, errors, name):
        super()._validate_long(param, shape, errors, name)
        self._check_max(param, shape, errors, name)


def problems(params: dict, operation: Operation) -> str | None:
    """What AWS would refuse in ``params`` (one line each), or None."""
    shape = operation.model.input_shape
    if shape is None:
        return None
    report = AwsValidator().validate(params, shape)
    if not report.has_errors():
        return None
    # Unknown keys are botocore's client-side check; AWS ignores members it does not model.
    report._errors = [e for e in report._errors if e[0] != "unknown field"]
    return report.generate_report() if report.has_errors() else None


# --- Errors in the service's protocol --------------------------------------------------------------

# Codes AWS uses for invalid parameters, by protocol; a REST-JSON operation that models one of the
# others (SES v2: BadRequestException) answers with that one.
MODELLED_CODES = ("BadRequestException", "ValidationException", "InvalidParameterValueException", "InvalidInputException")


def error_code(operation: Operation) -> str:
    if operation.protocol == "query":
        return "ValidationError"
    if operation.protocol == "ec2":
        return "InvalidParameterValue"
    if operation.protocol == "rest-xml":
        return "InvalidArgument"
    modelled = {shape.name for shape in operation.model.error_shapes}
    return next((code for code in MODELLED_CODES if code in modelled), "ValidationException")


def error_response(operation: Operation, message: str, request_id: str) -> tuple[int, dict, bytes]:
    """(status, headers, body) of the 400 AWS sends for invalid parameters, in the service's protocol."""
    code = error_code(operation)
    escaped = message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if operation.protocol == "query":
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{escaped}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return 400, {"Content-Type": "text/xml"}, body.encode()
    if operation.protocol == "ec2":
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{escaped}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        )
        return 400, {"Content-Type": "text/xml"}, body.encode()
    if operation.protocol == "rest-xml":
        body = f"<Error><Code>{code}</Code><Message>{escaped}</Message><RequestId>{request_id}</RequestId></Error>"
        return 400, {"Content-Type": "application/xml", "x-amz-request-id": request_id}, body.encode()
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": code, "x-amzn-RequestId": request_id}
    if operation.protocol == "json":
        return 400, headers, json.dumps({"__type": code, "message": message}).encode()
    return 400, headers, json.dumps({"message": message}).encode()
