"""First-match rule evaluation over a contact (pure)."""

from __future__ import annotations

from contact_router.models.contact import Contact
from contact_router.rules.matcher import match_rule
from tests.fakes import StaticRules

RULES = StaticRules.of(
    """
version: 1
routing:
  - name: off
    enabled: false
    candidates: [{attribute: a}]
  - name: vip-chat
    when:
      channel: [CHAT]
      queue: [q-vip]
      tags: {Segment: {one_of: [vip, gold]}}
      segment_attributes: {"connect:Subtype": {equals: "connect:Chat"}}
    candidates: [{users: [dana]}]
  - name: named-agent
    when:
      attributes: {preferredAgent: {present: true}, blocked: {present: false}}
      initiation_method: [API]
    candidates: [{attribute: preferredAgent}]
"""
).rules.routing


def contact(**kw: object) -> Contact:
    base: dict[str, object] = {"id": "c1", "channel": "CHAT", "queue_id": "q-1", "initiation_method": "API"}
    base.update(kw)
    return Contact(**base)  # type: ignore[arg-type]


def test_first_matching_rule_wins_and_disabled_rules_are_skipped() -> None:
    c = contact(
        queue_id="q-vip",
        tags={"Segment": "gold"},
        segment_attributes={"connect:Subtype": "connect:Chat"},
        attributes={"preferredAgent": "dana"},
    )
    match = match_rule(RULES, c)
    assert match.rule is not None
    assert match.rule.name == "vip-chat"
    assert match.misses == (("off", "disabled"),)


def test_misses_say_why_without_echoing_contact_values() -> None:
    c = contact(attributes={"preferredAgent": "dana", "blocked": "+447700900123"})
    match = match_rule(RULES, c)
    assert match.rule is None
    assert match.misses[1] == ("vip-chat", "queue q-1 not in ['q-vip']")
    assert match.misses[2] == ("named-agent", "attribute blocked is not absent")
    assert "+447700900123" not in repr(match.misses)


def test_attribute_present_and_initiation_method() -> None:
    assert match_rule(RULES, contact(attributes={"preferredAgent": "x"})).rule.name == "named-agent"  # type: ignore[union-attr]
    assert match_rule(RULES, contact(attributes={"preferredAgent": ""})).rule is None
    assert match_rule(RULES, contact(attributes={"preferredAgent": "x"}, initiation_method="TRANSFER")).rule is None


def test_tag_and_segment_conditions() -> None:
    vip = {"queue_id": "q-vip", "segment_attributes": {"connect:Subtype": "connect:Chat"}}
    assert match_rule(RULES, contact(tags={"Segment": "vip"}, **vip)).rule.name == "vip-chat"  # type: ignore[union-attr,arg-type]
    assert match_rule(RULES, contact(tags={"Segment": "bronze"}, **vip)).rule is None  # type: ignore[arg-type]
    assert match_rule(RULES, contact(channel="EMAIL", tags={"Segment": "vip"}, **vip)).rule is None  # type: ignore[arg-type]
