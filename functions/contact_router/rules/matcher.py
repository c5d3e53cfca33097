"""Pure rule evaluation: the first enabled rule whose conditions all hold wins."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from contact_router.models.contact import Contact
from contact_router.rules.model import RoutingRule, ValueCondition, When


@dataclass(frozen=True)
class RuleMatch:
    rule: RoutingRule | None
    # (rule name, why it did not match) for every rule tried before the match: for ``explain``.
    misses: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def match_rule(rules: Sequence[RoutingRule], contact: Contact) -> RuleMatch:
    misses: list[tuple[str, str]] = []
    for rule in rules:
        if not rule.enabled:
            misses.append((rule.name, "disabled"))
            continue
        why_not = mismatch(rule.when, contact)
        if why_not is None:
            return RuleMatch(rule, tuple(misses))
        misses.append((rule.name, why_not))
    return RuleMatch(None, tuple(misses))


def mismatch(when: When, contact: Contact) -> str | None:
    """The first condition that does not hold, in words, or None when all hold."""
    if when.channel is not None and contact.channel not in when.channel:
        return f"channel {contact.channel} not in {[c.value for c in when.channel]}"
    if when.queue is not None and contact.queue_id not in when.queue:
        return f"queue {contact.queue_id} not in {when.queue}"
    if when.initiation_method is not None and contact.initiation_method not in when.initiation_method:
        return f"initiation method {contact.initiation_method} not in {when.initiation_method}"
    for label, conditions, values in (
        ("attribute", when.attributes, contact.attributes),
        ("tag", when.tags, contact.tags),
        ("segment attribute", when.segment_attributes, contact.segment_attributes),
    ):
        failed = _failed_condition(conditions, values)
        if failed:
            return f"{label} {failed}"
    return None


def _failed_condition(conditions: Mapping[str, ValueCondition], values: Mapping[str, str]) -> str | None:
    for name, condition in conditions.items():
        if not condition.test(values.get(name)):
            # Values are not echoed: attributes may carry customer data.
            return f"{name} is not {condition.describe()}"
    return None
