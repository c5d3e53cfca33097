"""Rules file: validation with errors naming the rule and the field; the published JSON Schema."""

from __future__ import annotations

import json

import pytest

from contact_router.rules.loader import RulesError, load_bundled_rules, load_rules_file, parse_rules
from contact_router.rules.model import INITIATION_METHODS, json_schema
from tests.conftest import ROOT, SAMPLES_DIR


def problems_of(text: str) -> list[str]:
    with pytest.raises(RulesError) as err:
        parse_rules(text, "rules.yaml")
    return err.value.problems


def test_bundled_and_sample_rules_are_valid() -> None:
    # GIVEN the rules that ship with the function and the sample rules of the local run
    # WHEN they are loaded THEN they validate and keep their order
    assert next(r.name for r in load_bundled_rules().routing) == "preferred-agent-attribute"
    assert [r.name for r in load_rules_file(SAMPLES_DIR / "rules.yaml").routing] == [
        "vip-desk",
        "key-accounts",
        "returning-customer-sms",
        "preferred-agent-task",
        "preferred-agent-attribute",
        "email-back-to-related-agent",
        "follow-up-to-previous-agent",
    ]


def test_error_names_the_rule_and_the_field() -> None:
    text = """
version: 1
routing:
  - name: good
    candidates: [{attribute: preferredAgent}]
  - name: vip-desk
    candidates:
      - {users: [dana], attribute: x}
"""
    problems = problems_of(text)
    assert len(problems) == 1
    assert problems[0].startswith("rules.yaml: rule 'vip-desk' (routing[1]): candidates[0]")
    assert "exactly one of attribute, agent_of, users" in problems[0]


def test_unknown_field_is_rejected_with_its_path() -> None:
    problems = problems_of(
        "version: 1\nrouting:\n  - name: r1\n    candidates: [{attribute: a}]\n    alowed_statuses: [Available]\n"
    )
    assert problems == ["rules.yaml: rule 'r1' (routing[0]): alowed_statuses: Extra inputs are not permitted"]


def test_unnamed_rule_is_named_by_position() -> None:
    problems = problems_of("version: 1\nrouting:\n  - candidates: [{attribute: a}]\n")
    assert problems == ["rules.yaml: rule '#1' (routing[0]): name: Field required"]


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("when: {channel: [FAX]}", "when.channel[0]: Input should be"),
        ("when: {initiation_method: [TELEPATHY]}", "unknown initiation method 'TELEPATHY'"),
        ("when: {attributes: {tier: {equals: gold, present: true}}}", "exactly one of equals, one_of, present"),
        ("allowed_statuses: []", "allowed_statuses: List should have at least 1 item"),
        ("candidates: []", "candidates: List should have at least 1 item"),
        ("fallback: [wait]", "fallback[0]: wait needs its settings: {wait: {interval_seconds: N, max_seconds: M}}"),
        ("fallback: [later]", "fallback[0]: unknown fallback 'later'; use wait, park, routing_criteria or queue"),
        ("fallback: [queue, {routing_criteria: {expiry_seconds: 60}}]", "fallback: queue must be the last step"),
        (
            "fallback: [{routing_criteria: {expiry_seconds: 60}}, {wait: {interval_seconds: 5, max_seconds: 30}}]",
            "fallback: wait cannot follow routing_criteria",
        ),
        (
            "fallback: [{wait: {interval_seconds: 90, max_seconds: 60}}]",
            "interval_seconds (90) is longer than max_seconds (60)",
        ),
        (
            "fallback: [{routing_criteria: {expiry_seconds: 5}}]",
            "expiry_seconds: Input should be greater than or equal to 10",
        ),
        ("fallback: [queue, queue]", "queue is listed twice"),
    ],
)
def test_each_invalid_field_is_reported(snippet: str, expected: str) -> None:
    base = {"candidates": "candidates: [{attribute: a}]"}
    key = snippet.split(":", 1)[0]
    body = "\n    ".join(["name: r1", snippet] + [v for k, v in base.items() if k != key])
    problems = problems_of(f"version: 1\nrouting:\n  - {body}\n")
    assert any(expected in p and "rule 'r1'" in p for p in problems), problems


def test_duplicate_rule_names_and_duplicate_yaml_keys_are_rejected() -> None:
    assert (
        "used twice"
        in problems_of(
            "version: 1\nrouting:\n  - {name: a, candidates: [{attribute: x}]}\n  - {name: a, candidates: [{attribute: y}]}\n"
        )[0]
    )
    assert "duplicate key 'routing'" in problems_of("version: 1\nrouting: []\nrouting: []\n")[0]


def test_yaml_syntax_error_gives_line_and_column() -> None:
    problems = problems_of("version: 1\nrouting:\n  - name: [unclosed\n")
    assert problems[0].startswith("rules.yaml: not valid YAML: line ")


def test_wrong_version_and_not_a_mapping() -> None:
    assert "version: Input should be 1" in problems_of("version: 2\nrouting: []\n")[0]
    assert "expected a mapping" in problems_of("- just a list\n")[0]


def test_queue_arns_are_normalised_to_ids_and_channels_to_upper_case() -> None:
    rules = parse_rules(
        "version: 1\nrouting:\n  - name: r\n    when:\n      channel: [chat]\n"
        "      queue: [arn:aws:connect:eu-west-2:123456789012:instance/i-1/queue/q-1, q-2]\n"
        "    candidates: [{attribute: a}]\n"
    )
    assert rules.routing[0].when.queue == ["q-1", "q-2"]
    assert rules.routing[0].when.channel == ["CHAT"]


def test_static_users_limited_to_one_get_current_user_data_call() -> None:
    users = ", ".join(f"u{i}" for i in range(101))
    assert any(
        "at most 100" in p
        for p in problems_of(f"version: 1\nrouting:\n  - name: r\n    candidates: [{{users: [{users}]}}]\n")
    )


def test_initiation_methods_match_the_botocore_model() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("connect")
    assert set(INITIATION_METHODS) == set(model.shape_for("ContactInitiationMethod").enum)


def test_published_json_schema_is_generated_from_the_model() -> None:
    # GIVEN the schema file editors use  THEN it is exactly what the model generates
    published = json.loads((ROOT / "schemas" / "rules.schema.json").read_text())
    assert published == json_schema(), "regenerate with: contact-router rules schema > schemas/rules.schema.json"


def test_yaml_1_1_booleans_stay_strings() -> None:
    # GIVEN values YAML 1.1 would turn into booleans  THEN they stay the strings the author wrote
    rules = parse_rules(
        "version: 1\nrouting:\n  - name: off\n    when: {attributes: {vip: {equals: yes}}}\n"
        "    candidates: [{attribute: a}]\n    ignore_capacity: true\n"
    )
    assert rules.routing[0].name == "off"
    assert rules.routing[0].when.attributes["vip"].equals == "yes"
    assert rules.routing[0].ignore_capacity is True
