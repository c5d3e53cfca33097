"""Load and validate a rules file. Every error names the rule and the field it is about."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from contact_router.errors import ConfigurationError
from contact_router.rules.model import RulesFile

BUNDLED_RULES = "default_rules.yaml"
# SSM Parameter Store: 4 KB (standard) / 8 KB (advanced); AppConfig hosted configurations: 2 MB by default.
MAX_RULES_BYTES = 2 * 1024 * 1024


class RulesError(ConfigurationError):
    """The rules file is invalid; ``problems`` holds one readable line per problem."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last one, and reads
    booleans the YAML 1.2 way: only true/false, so ``equals: yes`` or a rule named ``off`` stay strings."""


_UniqueKeyLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
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


def parse_rules(text: str | bytes, source: str = "rules") -> RulesFile:
    """Parse YAML (or JSON, a subset of YAML) rules text into a validated ``RulesFile``."""
    if len(text) > MAX_RULES_BYTES:
        raise RulesError([f"{source}: {len(text)} bytes, more than the {MAX_RULES_BYTES} bytes allowed"])
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        raise RulesError([f"{source}: not valid YAML: {_yaml_message(exc)}"]) from exc
    if not isinstance(raw, dict):
        raise RulesError([f"{source}: expected a mapping with 'version' and 'routing', got {type(raw).__name__}"])
    try:
        return RulesFile.model_validate(raw)
    except ValidationError as exc:
        raise RulesError(format_problems(exc, raw, source)) from exc


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


def load_rules_file(path: str | Path) -> RulesFile:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError([f"{path}: cannot read rules file: {exc.strerror or exc}"]) from exc
    return parse_rules(text, str(path))


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
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return str(problem)
