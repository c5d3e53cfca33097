"""Pure rule evaluation: the first enabled rule whose conditions all hold wins."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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


def first_match(rules: Sequence[RoutingRule], contact: Contact) -> RoutingRule | None:
    """``match_rule(rules, contact).rule`` without the words for the rules that did not match (the router's
    hot path: nobody reads them there; ``explain`` does)."""
    for rule in rules:
        if rule.enabled and _failure(rule.when, contact) is None:
            return rule
    return None


def mismatch(when: When, contact: Contact) -> str | None:
    """The first condition that does not hold, in words, or None when all hold."""
    failure = _failure(when, contact)
    return None if failure is None else failure()


def _failure(when: When, contact: Contact) -> Callable[[], str] | None:
    """The first condition that does not hold, as a function that puts it in words (only called when the
    words are wanted), or None when all hold."""
    if when.channel is not None and contact.channel not in when.channel:
        return lambda: f"channel {contact.channel} not in {[c.value for c in when.channel or ()]}"
    if when.queue is not None and contact.queue_id not in when.queue:
        return lambda: f"queue {contact.queue_id} not in {when.queue}"
    if when.initiation_method is not None and contact.initiation_method not in when.initiation_method:
        return lambda: f"initiation method {contact.initiation_method} not in {when.initiation_method}"
    for label, conditions, values in (
        ("attribute", when.attributes, contact.attributes),
        ("tag", when.tags, contact.tags),
        ("segment attribute", when.segment_attributes, contact.segment_attributes),
    ):
        failed = _failed_condition(conditions, values)
        if failed is not None:
            return _words(label, *failed)
    return None


def _words(label: str, name: str, condition: ValueCondition) -> Callable[[], str]:
    # Values are not echoed: attributes may carry customer data.
    return lambda: f"{label} {name} is not {condition.describe()}"


def _failed_condition(
    conditions: Mapping[str, ValueCondition], values: Mapping[str, str]
) -> tuple[str, ValueCondition] | None:
    for name, condition in conditions.items():
        if not condition.test(values.get(name)):
            return name, condition
    return None
