"""Load and validate a rules file. Every error is one line naming the place (file, SSM parameter or AppConfig
profile) and, inside a rule, the rule and the field.

A rules document is checked against its limits before it is built: its size first, then its shape (nesting
depth, items per list or mapping, values with aliases expanded, length of numbers) in one pass over the
parser's events, so a hostile document is refused before anything deep or huge is constructed.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from contact_router.errors import ConfigurationError
from contact_router.rules.model import MAX_RULES, RulesFile

try:  # libyaml: the same grammar as PyYAML's pure-Python parser, about ten times faster
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

BUNDLED_RULES = "default_rules.yaml"
# Limits (docs/rules.md). A rules file needs about 8 levels of nesting; numbers in it have at most 8 digits;
# 500 rules of a few lines each are ~100 KB. SSM holds 4 KB (standard) / 8 KB (advanced), AppConfig 2 MB.
MAX_RULES_BYTES = 256 * 1024
MAX_DEPTH = 20  # nested lists and mappings
MAX_ITEMS = MAX_RULES  # items of one list, entries of one mapping
MAX_VALUES = 100_000  # values in the document, every alias counted as the value it stands for
MAX_NUMBER_CHARS = 20  # an unquoted number longer than this is refused before Python converts it
_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


class RulesError(ConfigurationError):
    """The rules file is invalid; ``problems`` holds one readable line per problem."""


class _UniqueKeyLoader(_SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last one, and reads
    booleans the YAML 1.2 way: only true/false, so ``equals: yes`` or a rule named ``off`` stay strings."""


_UniqueKeyLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in _SafeLoader.yaml_implicit_resolvers.items()
}
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, f"a key must be a plain value, not a {type(key).__name__}", key_node.start_mark
            ) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _LimitExceeded(Exception):
    """A limit of docs/rules.md crossed at ``mark``; becomes one RulesError line."""

    def __init__(self, mark: Any, problem: str) -> None:
        super().__init__(problem)
        self.problem = f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


@dataclass
class _Open:
    """A list or mapping whose end event has not come yet."""

    anchor: str | None
    mapping: bool
    values_before: int
    items: int = 0
    height: int = 0  # of its deepest child


def _check_shape(text: str | bytes) -> None:
    """Refuse a document beyond the limits, from the parser's events alone: nothing is built yet."""
    open_: list[_Open] = []
    values = 0
    shapes: dict[str, tuple[int, int]] = {}  # anchor -> (values, height) of a finished anchored node
    for event in yaml.parse(text, Loader=_UniqueKeyLoader):
        if isinstance(event, yaml.CollectionEndEvent):
            node = open_.pop()
            values, height = values + 1, node.height + 1
            if node.anchor is not None:
                shapes[node.anchor] = (values - node.values_before, height)
        elif isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent, yaml.CollectionStartEvent)):
            if open_:
                parent = open_[-1]
                parent.items += 1
                if parent.items > MAX_ITEMS * (2 if parent.mapping else 1):
                    kind = "a mapping with more than {0} entries" if parent.mapping else "a list of more than {0} items"
                    raise _LimitExceeded(event.start_mark, f"{kind.format(MAX_ITEMS)} (the limit)")
            if isinstance(event, yaml.CollectionStartEvent):
                if len(open_) >= MAX_DEPTH:
                    raise _LimitExceeded(event.start_mark, f"nested more than {MAX_DEPTH} levels deep (the limit)")
                open_.append(_Open(event.anchor, isinstance(event, yaml.MappingStartEvent), values))
                continue
            if isinstance(event, yaml.AliasEvent):
                if event.anchor not in shapes:
                    raise _LimitExceeded(event.start_mark, f"alias *{event.anchor} refers to no finished anchor")
                size, height = shapes[event.anchor]
                if len(open_) + height > MAX_DEPTH:
                    raise _LimitExceeded(event.start_mark, f"nested more than {MAX_DEPTH} levels deep (the limit)")
                values += size
            else:
                _check_scalar(event)
                values, height = values + 1, 1
                if event.anchor is not None:
                    shapes[event.anchor] = (1, 1)
        else:
            continue
        if values > MAX_VALUES:
            raise _LimitExceeded(event.start_mark, f"more than {MAX_VALUES} values, aliases expanded (the limit)")
        if open_:
            open_[-1].height = max(open_[-1].height, height)


def _check_scalar(event: yaml.ScalarEvent) -> None:
    """An unquoted number longer than the limit (Python's int() of 4,300+ digits raises; floats overflow)."""
    if (
        len(event.value) > MAX_NUMBER_CHARS
        and event.implicit[0]
        and any(
            tag in _NUMBER_TAGS and regexp.match(event.value)
            for tag, regexp in _UniqueKeyLoader.yaml_implicit_resolvers.get(event.value[0], [])
        )
    ):
        raise _LimitExceeded(
            event.start_mark,
            f"a number of {len(event.value)} characters; at most {MAX_NUMBER_CHARS} (quote it if it is text)",
        )


def parse_rules(text: str | bytes, source: str = "rules") -> RulesFile:
    """Parse YAML (or JSON, a subset of YAML) rules text into a validated ``RulesFile``.

    Any problem raises ``RulesError`` with one line per problem, each starting with ``source``.
    """
    size = len(text) if isinstance(text, bytes) or len(text) > MAX_RULES_BYTES else len(text.encode())
    if size > MAX_RULES_BYTES:
        raise RulesError([f"{source}: {size} bytes, more than the {MAX_RULES_BYTES} bytes allowed"])
    if isinstance(text, bytes):
        text = _decoded(text, source)
    try:
        _check_shape(text)
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass
    except _LimitExceeded as exc:
        raise RulesError([f"{source}: {exc.problem}"]) from exc
    except yaml.YAMLError as exc:
        raise RulesError([f"{source}: not valid YAML: {_yaml_message(exc)}"]) from exc
    except (RecursionError, ValueError, UnicodeError) as exc:  # beyond what the shape check foresees
        raise RulesError([f"{source}: cannot read the document: {type(exc).__name__}: {_first_line(exc)}"]) from exc
    if raw is None:
        raise RulesError([f"{source}: the document is empty; expected a mapping with 'version' and 'routing'"])
    if not isinstance(raw, dict):
        raise RulesError([f"{source}: expected a mapping with 'version' and 'routing', got {type(raw).__name__}"])
    try:
        return RulesFile.model_validate(raw)
    except ValidationError as exc:
        raise RulesError(format_problems(exc, raw, source)) from exc
    except RecursionError as exc:  # the shape check bounds nesting; this is defence in depth
        raise RulesError([f"{source}: cannot validate the document: nested too deeply"]) from exc


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [""])[0][:200]


def check_deployment(rules: RulesFile, source: str, *, allow_barge: bool) -> RulesFile:
    """Checks that depend on the deployment, not on the file alone (e.g. AllowBarge=false)."""
    problems = [
        f"{source}: rule {rule.name!r} (supervision[{index}]): capabilities: BARGE is not allowed by this "
        "deployment (AllowBarge=false / ALLOW_BARGE=false)"
        for index, rule in enumerate(rules.supervision)
        if rule.barge and not allow_barge
    ]
    if problems:
        raise RulesError(problems)
    return rules


def rules_version(text: str | bytes) -> str:
    """sha256 of the rules document (UTF-8 for text), first 12 hex digits: the ``rules_version`` of decision
    records, of the AppConfig validator's log line and of ``contact-router rules publish``."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:12]


def load_rules_file(path: str | Path) -> RulesFile:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_RULES_BYTES:  # refused without reading it
            raise RulesError([f"{path}: {size} bytes, more than the {MAX_RULES_BYTES} bytes allowed"])
        data = path.read_bytes()  # the parser decodes it, reporting a bad byte with its line and column
    except OSError as exc:
        raise RulesError([f"{path}: cannot read rules file: {exc.strerror or exc}"]) from exc
    return parse_rules(data, str(path))


def load_bundled_rules() -> RulesFile:
    text = resources.files("contact_router.rules").joinpath(BUNDLED_RULES).read_text(encoding="utf-8")
    return parse_rules(text, f"bundled {BUNDLED_RULES}")


def format_problems(exc: ValidationError, raw: dict[str, Any], source: str) -> list[str]:
    """``routing.2.candidates.0.attribute`` -> ``rule 'vip-desk' (routing[2]): candidates[0].attribute: ...``."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [part for part in error["loc"] if not (isinstance(part, str) and part.startswith("function-"))]
        message = error["msg"].removeprefix("Value error, ")
        if len(loc) >= 2 and loc[0] in ("routing", "supervision") and isinstance(loc[1], int):
            index = loc[1]
            where = f"rule {_rule_name(raw, loc[0], index)!r} ({loc[0]}[{index}])"
            field = _path(loc[2:])
            problems.append(f"{source}: {where}: {field + ': ' if field else ''}{message}")
        else:
            field = _path(loc)
            problems.append(f"{source}: {field + ': ' if field else ''}{message}")
    return problems


def _rule_name(raw: dict[str, Any], section: str, index: int) -> str:
    routing = raw.get(section)
    if isinstance(routing, list) and index < len(routing) and isinstance(routing[index], dict):
        name = routing[index].get("name")
        if isinstance(name, str) and name:
            return name
    return f"#{index + 1}"


def _path(loc: list[Any] | tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _yaml_message(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = " ".join(str(getattr(exc, "problem", None) or exc).split())  # always one line
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return problem


def _decoded(data: bytes, source: str) -> str:
    """UTF-8 (or UTF-16 with its byte-order mark, as YAML allows); a bad byte is told with its line and column."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding, data = "utf-8", data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise RulesError(
            [f"{source}: not {encoding.upper()}: byte 0x{data[exc.start]:02X} at line {line}, column {column}"]
        ) from exc
