"""Property: any rules file is loaded, or refused with problems that each say what is wrong -- never another
exception (the function refuses to start on a bad file, and `contact-router rules validate` prints them)."""

from __future__ import annotations

import functools
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from contact_router.rules.loader import RulesError, parse_rules
from contact_router.rules.model import RulesFile
from tests.property.strategies import json_values

PROPERTY = settings(
    max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

VALID: dict[str, Any] = {
    "version": 1,
    "routing": [
        {
            "name": "preferred-agent-attribute",
            "when": {"channel": ["CHAT"], "attributes": {"preferredAgent": {"present": True}}},
            "candidates": [{"attribute": "preferredAgent"}],
            "allowed_statuses": ["Available"],
            "exclude_users": ["trainee.one"],
            "fallback": [
                {"wait": {"interval_seconds": 10, "max_seconds": 60}},
                {"routing_criteria": {"expiry_seconds": 120}},
                "queue",
            ],
        },
        {
            "name": "email-back-to-related-agent",
            "when": {"channel": ["EMAIL"], "tags": {"Segment": {"equals": "vip"}}},
            "candidates": [{"agent_of": "related"}, {"users": ["mo", "sam"]}],
        },
    ],
    "supervision": [
        {
            "name": "new-hire-chats",
            "when": {"channel": ["CHAT"], "sample_rate": 0.2},
            "supervisors": ["lead.one"],
            "capabilities": ["SILENT_MONITOR"],
        }
    ],
}


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += paths(value, (*prefix, index))
    return out


@st.composite
def mutated_rules(draw: st.DrawFn) -> dict[str, Any]:
    """The valid file with a few values replaced by any JSON, removed, or keys added."""
    rules = yaml.safe_load(yaml.safe_dump(VALID))
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(paths(rules)[1:]))
        parent = rules
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(json_values)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(json_values)
    return rules


rules_texts = st.one_of(
    mutated_rules().map(functools.partial(yaml.safe_dump, sort_keys=False)),
    mutated_rules().map(functools.partial(yaml.safe_dump, sort_keys=False)),
    json_values.map(yaml.safe_dump),
    st.text(max_size=200),
    st.text(alphabet="{}[]:,-?!&*|>'\"# \n\tabc01", max_size=80),
)


@PROPERTY
@given(rules_texts)
def test_a_rules_file_loads_or_every_problem_is_explained(text: str) -> None:
    problems: list[str] | None = None
    try:
        rules = parse_rules(text, "rules.yaml")
    except RulesError as exc:
        problems = exc.problems
    except TypeError as exc:
        if "unhashable" in str(exc):
            reject()  # reported; pinned by test_an_unhashable_key_is_a_rules_error
        raise
    if problems is None:
        assert isinstance(rules, RulesFile)
        return
    assert problems
    for problem in problems:
        assert problem.startswith("rules.yaml: ")
        assert len(problem) > len("rules.yaml: ")


@PROPERTY
@given(mutated_rules())
def test_a_problem_in_a_rule_names_the_rule(raw: dict[str, Any]) -> None:
    problems: list[str] = []
    try:
        parse_rules(yaml.safe_dump(raw), "r.yaml")
    except RulesError as exc:
        problems = exc.problems
    for problem in problems:
        if "routing." in problem or "supervision." in problem:
            # a problem inside a rule is told as "rule 'name' (routing[i]): field: ..."
            assert "rule " in problem, problem


@pytest.mark.parametrize("text", ["{[1, 2]: 3}", "? [a]\n: b\n", "version: 1\nrouting:\n  - {? {a: 1} : x}\n"])
def test_an_unhashable_key_is_a_rules_error(text: str) -> None:
    with pytest.raises(RulesError):
        parse_rules(text, "rules.yaml")
