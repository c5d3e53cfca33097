"""rules validate's warnings: shadowed and unreachable rules, names the instance lacks (pure)."""

from __future__ import annotations

import pytest

from contact_router.rules.loader import parse_rules
from contact_router_cli.rules_check import Finding, missing_names, reachability


def kinds(text: str) -> list[tuple[str, str]]:
    return [(f.rule, f.kind) for f in reachability(parse_rules(text))]


def routing(*rules: str) -> str:
    body = "".join(f"  - {rule}\n" for rule in rules)
    return f"version: 1\nrouting:\n{body}"


C = "candidates: [{users: [mo]}]"


def test_everything_after_a_catch_all_is_unreachable() -> None:
    text = routing(f"{{name: a, when: {{channel: [CHAT]}}, {C}}}", f"{{name: all, {C}}}", f"{{name: b, {C}}}")
    assert kinds(text) == [("b", "unreachable")]
    [finding] = reachability(parse_rules(text))
    assert finding.message.startswith("unreachable: catch-all rule 'all' (routing[1]) before it")


def test_identical_conditions_in_any_order_shadow() -> None:
    text = routing(
        f"{{name: a, when: {{channel: [CHAT, TASK], tags: {{S: {{one_of: [vip, gold]}}}}}}, {C}}}",
        f"{{name: b, when: {{channel: [TASK, CHAT], tags: {{S: {{one_of: [gold, vip]}}}}}}, {C}}}",
    )
    [finding] = reachability(parse_rules(text))
    assert (finding.rule, finding.kind, finding.index) == ("b", "shadowed", 1)
    assert finding.message == "shadowed by rule 'a' (routing[0]): identical conditions"


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("{channel: [CHAT, EMAIL]}", "{channel: [CHAT]}"),
        ("{channel: [CHAT]}", "{channel: [CHAT], queue: [q-1]}"),
        ("{tags: {S: {present: true}}}", "{tags: {S: {equals: vip}}}"),
        ("{tags: {S: {one_of: [vip, gold]}}}", "{tags: {S: {equals: gold}}, attributes: {x: {present: false}}}"),
        ("{attributes: {a: {present: false}}}", "{attributes: {a: {present: false}}, channel: [TASK]}"),
        ("{initiation_method: [API, TRANSFER]}", "{initiation_method: [API]}"),
    ],
)
def test_a_narrower_rule_after_a_broader_one_is_shadowed(earlier: str, later: str) -> None:
    text = routing(f"{{name: broad, when: {earlier}, {C}}}", f"{{name: narrow, when: {later}, {C}}}")
    assert kinds(text) == [("narrow", "shadowed")]


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("{channel: [CHAT]}", "{channel: [CHAT, EMAIL]}"),  # the later rule also takes EMAIL
        ("{channel: [CHAT]}", "{queue: [q-1]}"),  # the later rule takes other channels
        ("{tags: {S: {equals: vip}}}", "{tags: {S: {present: true}}}"),
        ("{tags: {S: {equals: vip}}}", "{tags: {S: {one_of: [vip, gold]}}}"),
        ("{tags: {S: {present: true}}}", "{tags: {S: {equals: ''}}}"),
        ("{tags: {S: {equals: vip}}}", "{attributes: {S: {equals: vip}}}"),  # a tag is not an attribute
        ("{attributes: {a: {present: false}}}", "{attributes: {a: {present: true}}}"),
    ],
)
def test_a_later_rule_that_can_still_match_first_is_not_reported(earlier: str, later: str) -> None:
    text = routing(f"{{name: first, when: {earlier}, {C}}}", f"{{name: second, when: {later}, {C}}}")
    assert kinds(text) == []


def test_disabled_rules_neither_shadow_nor_are_reported() -> None:
    text = routing(
        f"{{name: off, enabled: false, {C}}}",
        f"{{name: a, when: {{channel: [CHAT]}}, {C}}}",
        f"{{name: a-off, enabled: false, when: {{channel: [CHAT]}}, {C}}}",
    )
    assert kinds(text) == []


def test_supervision_rules_are_checked_with_their_agent_condition() -> None:
    text = """
version: 1
supervision:
  - {name: groups, when: {agent: {hierarchy_groups: [g1, g2]}, sample_rate: 0.2}, supervisors: [lead]}
  - {name: one-group, when: {channel: [CHAT], agent: {hierarchy_groups: [g1]}}, supervisors: [lead]}
  - {name: users, when: {agent: {users: [mo]}}, supervisors: [lead]}
"""
    assert kinds(text) == [("one-group", "shadowed")]


class Names:
    def user_exists(self, reference: str) -> bool:
        return reference in {"mo", "lead"}

    def queue_exists(self, queue_id: str) -> bool:
        return queue_id == "q-1"

    def hierarchy_group_exists(self, group_id: str) -> bool:
        return group_id == "g1"


def test_every_user_queue_and_group_the_rules_name_is_looked_up() -> None:
    text = """
version: 1
routing:
  - {name: r, when: {queue: [q-1, q-2]}, candidates: [{users: [mo, ghost]}, {attribute: pa}], exclude_users: [gone]}
supervision:
  - {name: s, when: {agent: {users: [mo, x], hierarchy_groups: [g1, g9]}}, supervisors: [lead, nope]}
"""
    findings = missing_names(parse_rules(text), Names(), "world.yaml")
    assert [f.line("rules.yaml") for f in findings] == [
        "rules.yaml: rule 'r' (routing[0]): when.queue: no queue 'q-2' in world.yaml",
        "rules.yaml: rule 'r' (routing[0]): candidates[0].users: no user 'ghost' in world.yaml",
        "rules.yaml: rule 'r' (routing[0]): exclude_users: no user 'gone' in world.yaml",
        "rules.yaml: rule 's' (supervision[0]): supervisors: no user 'nope' in world.yaml",
        "rules.yaml: rule 's' (supervision[0]): when.agent.users: no user 'x' in world.yaml",
        "rules.yaml: rule 's' (supervision[0]): when.agent.hierarchy_groups: no hierarchy group 'g9' in world.yaml",
    ]
    assert {f.kind for f in findings} == {"unknown_queue", "unknown_user", "unknown_hierarchy_group"}
    assert isinstance(findings[0], Finding)
