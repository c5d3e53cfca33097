"""Rules file: validation with errors naming the rule and the field; the published JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contact_router.rules.loader import (
    MAX_DEPTH,
    MAX_NUMBER_CHARS,
    MAX_RULES_BYTES,
    MAX_VALUES,
    RulesError,
    load_bundled_rules,
    load_rules_file,
    parse_rules,
)
from contact_router.rules.model import INITIATION_METHODS, MAX_RULES, json_schema
from tests.conftest import ROOT, SAMPLES_DIR


def problems_of(text: str | bytes) -> list[str]:
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


# ------------------------------------------------------------------------ hostile documents and limits
ONE_RULE = "version: 1\nrouting:\n  - name: r\n    candidates: [{owner: true}]\n"


def rules_text(count: int) -> str:
    return "version: 1\nrouting:\n" + "".join(
        f"  - name: rule-{i:05d}\n    when: {{channel: [CHAT]}}\n    candidates: [{{attribute: pref{i:05d}}}]\n"
        for i in range(count)
    )


def test_a_document_nested_600_levels_deep_is_one_line_naming_the_place() -> None:
    # GIVEN a 1.3 KB document whose description is 600 nested lists (a RecursionError before)
    text = ONE_RULE + "    description: " + "[" * 600 + "]" * 600 + "\n"
    assert len(text) < 1_400
    # THEN it is refused by the shape check, with the line and column where the limit is crossed
    assert problems_of(text) == [f"rules.yaml: line 5, column 35: nested more than {MAX_DEPTH} levels deep (the limit)"]


def test_a_5000_digit_integer_is_refused_before_python_converts_it() -> None:
    # GIVEN an unquoted 5,000-digit number (int() raised ValueError before)
    problems = problems_of(ONE_RULE + "    ignore_capacity: " + "9" * 5000 + "\n")
    assert problems == [
        f"rules.yaml: line 5, column 22: a number of 5000 characters; at most {MAX_NUMBER_CHARS} (quote it if it is text)"
    ]
    # a long quoted string of digits, or a long description that starts with a digit, is text, not a number
    assert parse_rules(ONE_RULE + "    description: '" + "9" * 5000 + "'\n").routing[0].description == "9" * 5000
    assert parse_rules(ONE_RULE + "    description: 1st " + "x" * 50 + "\n").routing[0].description


def test_a_huge_duration_is_a_field_error_not_a_conversion_error() -> None:
    text = "version: 1\nrouting:\n  - name: r\n    candidates: [{last_agent: {max_age: '" + "9" * 5000 + "d'}}]\n"
    assert problems_of(text)[0].startswith("rules.yaml: rule 'r' (routing[0]): candidates[0].last_agent.max_age: ")


def test_an_oversized_document_is_refused_before_it_is_parsed() -> None:
    # GIVEN 19,999 rules in 1.8 MB (accepted after seconds of parsing before)
    text = rules_text(19_999)
    assert len(text) > 1_700_000
    assert problems_of(text) == [f"rules.yaml: {len(text)} bytes, more than the {MAX_RULES_BYTES} bytes allowed"]
    # the same limit holds for bytes (AppConfig) and counts bytes, not characters
    assert "bytes, more than" in problems_of(text.encode())[0]
    assert "bytes, more than" in problems_of(ONE_RULE + "    description: " + "é" * (MAX_RULES_BYTES // 2) + "\n")[0]


def test_too_many_rules_are_refused_while_parsing_and_by_the_model() -> None:
    # GIVEN more rules than the limit in a document under the size limit
    problems = problems_of(rules_text(MAX_RULES + 1))
    assert problems == [
        f"rules.yaml: line {3 + 3 * MAX_RULES}, column 5: a list of more than {MAX_RULES} items (the limit)"
    ]
    # THEN the limit itself is allowed, and the model (hence the JSON Schema) says the same
    assert len(parse_rules(rules_text(MAX_RULES)).routing) == MAX_RULES
    assert json_schema()["properties"]["routing"]["maxItems"] == MAX_RULES


def test_aliases_count_as_what_they_stand_for() -> None:
    # GIVEN a "billion laughs" document: 9 aliases of 9 aliases of ... (a few hundred bytes)
    text = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join([f'*{chr(97 + n)}'] * 9)}]\n" for n in range(8)
    )
    assert f"more than {MAX_VALUES} values, aliases expanded" in problems_of(text)[0]
    # an alias inside the node it names would make a value that contains itself
    assert "refers to no finished anchor" in problems_of("version: 1\nrouting: &r [*r]\n")[0]
    # and ordinary anchors still work (a shared fallback)
    shared = (
        "version: 1\nrouting:\n  - name: a\n    candidates: [{owner: true}]\n    fallback: &f [{wait: "
        "{interval_seconds: 10, max_seconds: 60}}, queue]\n  - name: b\n    candidates: [{owner: true}]\n"
        "    fallback: *f\n"
    )
    assert [len(r.fallback) for r in parse_rules(shared).routing] == [2, 2]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "rules.yaml: the document is empty; expected a mapping with 'version' and 'routing'"),
        ("# only a comment\n", "rules.yaml: the document is empty; expected a mapping with 'version' and 'routing'"),
        (
            "version: 1\n",
            "rules.yaml: no rules: give at least one routing or supervision rule, or add allow_empty: true to run "
            "with none on purpose",
        ),
        ("version: 1\nrouting: []\nsupervision: []\n", "rules.yaml: no rules: give at least one"),
        ("version: 1\nallow_empty: maybe\n", "rules.yaml: allow_empty: Input should be a valid boolean"),
    ],
)
def test_a_document_without_rules_is_an_error_unless_it_says_so(text: str, expected: str) -> None:
    assert problems_of(text)[0].startswith(expected)


def test_no_rules_on_purpose() -> None:
    rules = parse_rules("version: 1\nrouting: []\nallow_empty: true\n")
    assert (rules.routing, rules.supervision, rules.allow_empty) == ([], [], True)


def test_a_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    # GIVEN rules saved in latin-1 (a UnicodeDecodeError traceback from `rules validate` before)
    data = ONE_RULE.encode() + b"    description: caf\xe9\n"
    assert problems_of(data) == ["rules.yaml: not UTF-8: byte 0xE9 at line 5, column 21"]
    path = tmp_path / "latin1.yaml"
    path.write_bytes(data)
    with pytest.raises(RulesError) as err:
        load_rules_file(path)
    assert err.value.problems == [f"{path}: not UTF-8: byte 0xE9 at line 5, column 21"]
    # UTF-16 with its byte-order mark is YAML too
    assert parse_rules(ONE_RULE.encode("utf-16")).routing[0].name == "r"


def test_an_oversized_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"#" * (MAX_RULES_BYTES + 1))
    with pytest.raises(RulesError) as err:
        load_rules_file(path)
    assert err.value.problems == [f"{path}: {MAX_RULES_BYTES + 1} bytes, more than the {MAX_RULES_BYTES} bytes allowed"]
