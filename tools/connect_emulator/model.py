"""The Connect service model at the HTTP level: routing, input parsing and validation, output and errors.

Everything here is driven by botocore's `connect` service model, so the emulator accepts exactly the
requests a real client can send and answers in the wire format botocore's parser expects (REST-JSON).
Unlike botocore, the validation also checks enums, maximum lengths, list and map sizes and numeric
ranges, as the service does.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import botocore.session

from connect_emulator.errors import (
    EMULATOR_ERROR_STATUS,
    SERIALIZATION,
    UNKNOWN_OPERATION,
    ServiceError,
)

JSON_CONTENT_TYPE = "application/json"
_MAX_REPORTED_ISSUES = 10
_LABEL = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request as the emulator sees it: `path` is still percent-encoded, `query` is raw."""

    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def from_url(
        cls, method: str, url: str, headers: Mapping[str, str] | None = None, body: bytes = b""
    ) -> HttpRequest:
        parts = urlsplit(url)
        lowered = {key.lower(): value for key, value in (headers or {}).items()}
        return cls(method.upper(), parts.path or "/", parts.query, lowered, body)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass(frozen=True)
class Issue:
    """One validation finding. `kind` is "type" (wrong JSON type) or "constraint" (model constraint)."""

    path: str
    message: str
    kind: str = "constraint"

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class _Route:
    operation: Any  # botocore OperationModel
    pattern: re.Pattern[str]
    labels: tuple[tuple[str, str], ...]  # (regex group, member name)
    static_query: tuple[tuple[str, str], ...]
    specificity: int


@functools.cache
def load_service_model() -> Any:
    """botocore's `connect` service model (loaded once per process)."""
    return botocore.session.get_session().get_service_model("connect")


class ConnectModel:
    """Routing, parsing, validation and serialization for every operation of the Connect model."""

    def __init__(self, service_model: Any | None = None) -> None:
        self.service = service_model if service_model is not None else load_service_model()
        self.operation_names: frozenset[str] = frozenset(self.service.operation_names)
        self.error_codes: frozenset[str] = frozenset(
            name for name in self.service.shape_names if self.service.shape_for(name).metadata.get("exception")
        )
        self._routes = self._build_routes()

    # ---------------------------------------------------------------- routing

    def operation(self, name: str) -> Any:
        return self.service.operation_model(name)

    def match(self, method: str, path: str, query: str = "") -> tuple[Any, dict[str, str]] | None:
        """The operation whose HTTP method and `requestUri` match, with its decoded uri labels."""
        pairs = set(parse_qsl(query, keep_blank_values=True))
        present = {key for key, _ in pairs}
        for route in self._routes.get(method.upper(), ()):
            found = route.pattern.fullmatch(path)
            if found is None or not _static_query_present(route.static_query, pairs, present):
                continue
            labels = {member: unquote(found.group(group)) for group, member in route.labels}
            return route.operation, labels
        return None

    def _build_routes(self) -> dict[str, list[_Route]]:
        routes: dict[str, list[_Route]] = {}
        for name in sorted(self.operation_names):
            operation = self.service.operation_model(name)
            route = _compile_route(operation)
            routes.setdefault(route_method(operation), []).append(route)
        for candidates in routes.values():
            candidates.sort(key=lambda route: -route.specificity)
        return routes

    # ---------------------------------------------------------------- input

    def parse_input(self, operation: Any, request: HttpRequest, labels: Mapping[str, str]) -> dict[str, Any]:
        """Deserialize a request into the params dict botocore would have been given."""
        shape = operation.input_shape
        if shape is None:
            return {}
        params: dict[str, Any] = {}
        query = parse_qsl(request.query, keep_blank_values=True)
        named_query = {
            member.serialization.get("name", name)
            for name, member in shape.members.items()
            if member.serialization.get("location") == "querystring" and member.type_name != "map"
        }
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            wire = member.serialization.get("name", name)
            if location == "uri" and name in labels:
                params[name] = _scalar_from_text(member, labels[name], name)
            elif location == "querystring":
                _query_member(params, name, member, query, named_query)
            elif location == "header":
                _header_member(params, name, member, wire, request.headers)
            elif location == "headers":
                prefix = wire.lower()
                found = {k[len(prefix) :]: v for k, v in request.headers.items() if k.startswith(prefix)}
                if found:
                    params[name] = found
        params.update(self._body_members(shape, request.body))
        return params

    def _body_members(self, shape: Any, body: bytes) -> dict[str, Any]:
        payload = shape.serialization.get("payload")
        if payload is not None and shape.members[payload].type_name in ("blob", "string"):
            return {payload: body} if body else {}
        document = _json_document(body)
        if payload is not None:
            return {payload: _from_wire(shape.members[payload], document)} if body else {}
        if not isinstance(document, dict):
            raise ServiceError(SERIALIZATION, "Request body must be a JSON object")
        body_shape_members = {
            name: member for name, member in shape.members.items() if "location" not in member.serialization
        }
        result: dict[str, Any] = {}
        for name, member in body_shape_members.items():
            wire = member.serialization.get("name", name)
            if wire in document and document[wire] is not None:
                result[name] = _from_wire(member, document[wire])
        return result

    def validate(self, shape: Any, value: Any, path: str = "", *, strict: bool = False) -> list[Issue]:
        """Check `value` against `shape` the way the service does.

        Unknown structure members are ignored unless `strict` (used to check our own responses).
        """
        issues: list[Issue] = []
        _check(shape, value, path, issues, strict)
        return issues

    def validate_input(self, operation: Any, params: Mapping[str, Any]) -> None:
        """Raise the service's validation error for `params`, if any."""
        if operation.input_shape is None:
            return
        issues = self.validate(operation.input_shape, params)
        if not issues:
            return
        if any(issue.kind == "type" for issue in issues):
            raise ServiceError(SERIALIZATION, "; ".join(str(i) for i in issues if i.kind == "type"))
        shown = issues[:_MAX_REPORTED_ISSUES]
        plural = "s" if len(issues) > 1 else ""
        message = f"{len(issues)} validation error{plural} detected: " + "; ".join(str(i) for i in shown)
        raise ServiceError(self.parameter_error_code(operation), message)

    def parameter_error_code(self, operation: Any) -> str:
        """The error a malformed parameter gets: InvalidParameterException when the operation models it."""
        return self.modeled_error(operation, "InvalidParameterException", "InvalidRequestException")

    def request_error_code(self, operation: Any) -> str:
        """The error an impossible request gets: InvalidRequestException when the operation models it."""
        return self.modeled_error(operation, "InvalidRequestException", "InvalidParameterException")

    @staticmethod
    def modeled_error(operation: Any, *preferred: str) -> str:
        modeled = {shape.name for shape in operation.error_shapes}
        return next((code for code in preferred if code in modeled), preferred[0])

    # ---------------------------------------------------------------- output

    def output_response(self, operation: Any, output: Mapping[str, Any], request_id: str) -> HttpResponse:
        """Serialize an operation's output dict (Python values; datetimes allowed) as REST-JSON."""
        headers = {"Content-Type": JSON_CONTENT_TYPE, "x-amzn-RequestId": request_id}
        status = 200
        body: dict[str, Any] = {}
        shape = operation.output_shape
        members = shape.members if shape is not None else {}
        for name, value in output.items():
            if value is None:
                continue
            member = members.get(name)
            if member is None:
                raise ValueError(f"{operation.name} output has no member {name!r}")
            location = member.serialization.get("location")
            wire = member.serialization.get("name", name)
            if location == "statusCode":
                status = int(value)
            elif location == "header":
                headers[wire] = str(value)
            else:
                body[wire] = _to_wire(member, value)
        return HttpResponse(status, headers, json.dumps(body, separators=(",", ":")).encode())

    def error_status(self, code: str) -> int:
        if code in self.error_codes:
            status = self.service.shape_for(code).metadata.get("error", {}).get("httpStatusCode")
            if status is not None:
                return int(status)
        return EMULATOR_ERROR_STATUS.get(code, 400)

    def error_response(self, error: ServiceError, request_id: str) -> HttpResponse:
        """The modeled error: status from the error shape, `x-amzn-ErrorType`, JSON `Message`/`__type`."""
        status = error.status if error.status is not None else self.error_status(error.code)
        body = {"__type": error.code, "Message": error.message, **error.fields}
        headers = {
            "Content-Type": JSON_CONTENT_TYPE,
            "x-amzn-ErrorType": error.code,
            "x-amzn-RequestId": request_id,
        }
        return HttpResponse(status, headers, json.dumps(body).encode())

    def unknown_operation(self, method: str, path: str) -> ServiceError:
        return ServiceError(UNKNOWN_OPERATION, f"No Connect operation matches {method} {path}")


# -------------------------------------------------------------------- routing helpers


def route_method(operation: Any) -> str:
    return str(operation.http.get("method", "POST")).upper()


def _static_query_present(static: Sequence[tuple[str, str]], pairs: set[tuple[str, str]], present: set[str]) -> bool:
    """A requestUri like `/things?type=x` (or `?flag`) only matches requests carrying that query."""
    return all((key in present) if value == "" else ((key, value) in pairs) for key, value in static)


def _compile_route(operation: Any) -> _Route:
    template, _, static = str(operation.http["requestUri"]).partition("?")
    label_members = _uri_label_members(operation)
    pattern = ""
    labels: list[tuple[str, str]] = []
    position = 0
    for index, found in enumerate(_LABEL.finditer(template)):
        pattern += re.escape(template[position : found.start()])
        label = found.group(1)
        greedy = label.endswith("+")
        label = label.rstrip("+")
        group = f"g{index}"
        pattern += f"(?P<{group}>.+)" if greedy else f"(?P<{group}>[^/]+)"
        labels.append((group, label_members.get(label, label)))
        position = found.end()
    pattern += re.escape(template[position:])
    literal = len(_LABEL.sub("", template))
    return _Route(
        operation=operation,
        pattern=re.compile(pattern),
        labels=tuple(labels),
        static_query=tuple(parse_qsl(static, keep_blank_values=True)),
        specificity=literal,
    )


def _uri_label_members(operation: Any) -> dict[str, str]:
    shape = operation.input_shape
    if shape is None:
        return {}
    return {
        member.serialization.get("name", name): name
        for name, member in shape.members.items()
        if member.serialization.get("location") == "uri"
    }


# -------------------------------------------------------------------- wire -> Python


def _json_document(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ServiceError(SERIALIZATION, f"Request body is not valid JSON: {exc}") from exc


def _scalar_from_text(shape: Any, text: str, name: str) -> Any:
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
    except ValueError as exc:
        raise ServiceError(SERIALIZATION, f"Value '{text}' for {name} is not a number") from exc
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise ServiceError(SERIALIZATION, f"Value '{text}' for {name} is not a boolean")
        return text.lower() == "true"
    return text


def _query_member(
    params: dict[str, Any],
    name: str,
    member: Any,
    query: Sequence[tuple[str, str]],
    named: set[str],
) -> None:
    wire = member.serialization.get("name", name)
    if member.type_name == "map":  # a querystring map takes every pair no named member claims
        found = {key: value for key, value in query if key not in named}
        if found:
            params[name] = found
        return
    values = [value for key, value in query if key == wire]
    if not values:
        return
    if member.type_name == "list":
        params[name] = [_scalar_from_text(member.member, value, name) for value in values]
    else:
        params[name] = _scalar_from_text(member, values[0], name)


def _header_member(params: dict[str, Any], name: str, member: Any, wire: str, headers: Mapping[str, str]) -> None:
    raw = headers.get(wire.lower())
    if raw is None:
        return
    if member.serialization.get("jsonvalue"):
        try:
            params[name] = json.loads(base64.b64decode(raw))
        except (binascii.Error, ValueError) as exc:
            raise ServiceError(SERIALIZATION, f"Header {wire} is not base64-encoded JSON") from exc
    elif member.type_name == "list":
        params[name] = [part.strip() for part in raw.split(",")]
    else:
        params[name] = _scalar_from_text(member, raw, name)


def _from_wire(shape: Any, value: Any) -> Any:
    """JSON value -> params value: structure keys renamed from wire names to member names."""
    if shape.type_name == "structure" and isinstance(value, dict):
        result: dict[str, Any] = {}
        wire_to_member = {m.serialization.get("name", n): (n, m) for n, m in shape.members.items()}
        for key, item in value.items():
            if item is None:
                continue
            name, member = wire_to_member.get(key, (key, None))
            result[name] = item if member is None else _from_wire(member, item)
        return result
    if shape.type_name == "list" and isinstance(value, list):
        return [_from_wire(shape.member, item) for item in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: _from_wire(shape.value, item) for key, item in value.items()}
    return value


# -------------------------------------------------------------------- Python -> wire


def _to_wire(shape: Any, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        result: dict[str, Any] = {}
        for name, item in value.items():
            if item is None:
                continue
            member = shape.members.get(name)
            if member is None:
                raise ValueError(f"{shape.name} has no member {name!r}")
            result[member.serialization.get("name", name)] = _to_wire(member, item)
        return result
    if kind == "list":
        return [_to_wire(shape.member, item) for item in value]
    if kind == "map":
        return {key: _to_wire(shape.value, item) for key, item in value.items()}
    if kind == "timestamp":
        return epoch_seconds(value)
    if kind == "blob" and isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def epoch_seconds(value: Any) -> float:
    """REST-JSON timestamps are epoch seconds; accept datetimes and numbers."""
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.timestamp()
    return float(value)


# -------------------------------------------------------------------- validation


def coral_path(path: str, member: str) -> str:
    """AWS validation messages name members in lowerCamelCase, joined with dots."""
    name = member[:1].lower() + member[1:]
    return f"{path}.{name}" if path else name


def _describe(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 64 else text[:61] + "..."


def _constraint(path: str, value: Any, rule: str) -> Issue:
    if value is None:
        shown = "Value null"
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
        shown = f"Value '{_describe(value)}'"
    else:
        shown = "Value"
    return Issue(path, f"{shown} at '{path}' failed to satisfy constraint: {rule}")


def _type_issue(path: str, expected: str, value: Any) -> Issue:
    return Issue(path, f"Value at '{path}' must be {expected}, got {type(value).__name__}", "type")


_JSON_TYPES: Mapping[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "boolean": (bool,),
    "timestamp": (int, float, str, dt.datetime),
    "blob": (str, bytes),
    "structure": (dict,),
    "list": (list,),
    "map": (dict,),
}


def _check(shape: Any, value: Any, path: str, issues: list[Issue], strict: bool) -> None:
    kind = shape.type_name
    expected = _JSON_TYPES.get(kind)
    if expected is not None:
        wrong_bool = isinstance(value, bool) and kind not in ("boolean",)
        if strict and kind == "timestamp":
            expected = (int, float)  # REST-JSON bodies carry epoch seconds
        if wrong_bool or not isinstance(value, expected):
            issues.append(_type_issue(path or "input", f"a {kind}", value))
            return
    if kind == "structure":
        _check_structure(shape, value, path, issues, strict)
    elif kind == "list":
        _check_size(shape, value, path, issues)
        for index, item in enumerate(value, start=1):
            _check(shape.member, item, f"{path}.{index}.member", issues, strict)
    elif kind == "map":
        _check_size(shape, value, path, issues)
        for key, item in value.items():
            _check(shape.key, key, f"{path}.key", issues, strict)
            _check(shape.value, item, f"{path}.{key}", issues, strict)
    elif kind == "string":
        _check_string(shape, value, path, issues)
    elif kind in ("integer", "long", "float", "double"):
        _check_range(shape, value, path, issues)


def _check_structure(shape: Any, value: Mapping[str, Any], path: str, issues: list[Issue], strict: bool) -> None:
    for name in shape.required_members:
        if value.get(name) is None:
            issues.append(_constraint(coral_path(path, name), None, "Member must not be null"))
    if shape.metadata.get("union"):
        chosen = [name for name in shape.members if value.get(name) is not None]
        if len(chosen) != 1:
            rule = f"Exactly one member must be set, found {len(chosen)}: {', '.join(chosen) or 'none'}"
            issues.append(Issue(path, f"Value at '{path or 'input'}' failed to satisfy constraint: {rule}"))
    for name, item in value.items():
        member = shape.members.get(name)
        if member is None:
            if strict:
                issues.append(Issue(path, f"'{coral_path(path, name)}' is not a member of {shape.name}", "type"))
            continue
        if item is not None:
            _check(member, item, coral_path(path, name), issues, strict)


def _check_size(shape: Any, value: Any, path: str, issues: list[Issue]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and len(value) < low:
        issues.append(_constraint(path, value, f"Member must have length greater than or equal to {low}"))
    if high is not None and len(value) > high:
        issues.append(_constraint(path, value, f"Member must have length less than or equal to {high}"))


def _check_string(shape: Any, value: str, path: str, issues: list[Issue]) -> None:
    enum = shape.enum
    if enum and value not in enum:
        issues.append(_constraint(path, value, f"Member must satisfy enum value set: [{', '.join(enum)}]"))
    _check_size(shape, value, path, issues)
    pattern = _compiled_pattern(shape.metadata.get("pattern"))
    if pattern is not None and pattern.fullmatch(value) is None:
        rule = f"Member must satisfy regular expression pattern: {shape.metadata['pattern']}"
        issues.append(_constraint(path, value, rule))


def _check_range(shape: Any, value: float, path: str, issues: list[Issue]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and value < low:
        issues.append(_constraint(path, value, f"Member must have value greater than or equal to {low}"))
    if high is not None and value > high:
        issues.append(_constraint(path, value, f"Member must have value less than or equal to {high}"))


@functools.cache
def _compiled_pattern(pattern: str | None) -> re.Pattern[str] | None:
    """Model patterns are Java regexes; those Python's `re` cannot compile (e.g. `\\p{L}`) are skipped."""
    if not pattern:
        return None
    try:
        return re.compile(pattern)
    except re.error:
        return None


@functools.cache
def default_model() -> ConnectModel:
    """One shared ConnectModel per process (building the routes of ~400 operations takes a moment)."""
    return ConnectModel()
