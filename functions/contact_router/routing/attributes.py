"""User-defined contact attributes when DescribeContact does not carry them (pure decision, one port call).

``Contact.Attributes`` is a late addition to DescribeContact (botocore 1.38.7). A response without the key at
all means the attributes are unknown, not empty; an empty map is an answer. Only then, and only when the rules
actually need attributes to decide this contact, the router reads them with GetContactAttributes (named by the
initial contact id: attributes belong to the whole chain). A contact whose DescribeContact carries the key costs
no extra call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from contact_router.models.contact import Contact
from contact_router.observability import logger
from contact_router.routing.ports import ConnectPort
from contact_router.rules.matcher import mismatch
from contact_router.rules.model import RoutingRule


def reads_attributes(rule: RoutingRule) -> bool:
    """The rule's conditions test attributes, or one of its candidate sources is an attribute."""
    return bool(rule.when.attributes) or any(source.attribute is not None for source in rule.candidates)


def needs_attributes(rules: Sequence[RoutingRule], contact: Contact) -> bool:
    """Whether deciding ``contact`` needs attributes it does not have.

    Rules are tried in order, as the matcher does: a rule that matches without reading attributes decides the
    contact (no read needed); the first enabled rule that reads attributes, reached before any such match, needs
    them (its conditions cannot be judged, or its candidates resolved, without them).
    """
    if not contact.attributes_missing:
        return False
    for rule in rules:
        if not rule.enabled:
            continue
        if reads_attributes(rule):
            return True
        if mismatch(rule.when, contact) is None:
            return False
    return False


def with_attributes(contact: Contact, rules: Sequence[RoutingRule], connect: ConnectPort) -> Contact:
    """``contact`` with its attributes read by GetContactAttributes when ``needs_attributes``; else unchanged."""
    if not needs_attributes(rules, contact):
        return contact
    initial = contact.initial_contact_id or contact.id
    attributes = connect.contact_attributes(initial)
    logger.debug("attributes read with GetContactAttributes", contact_id=contact.id, initial_contact_id=initial)
    return replace(contact, attributes=dict(attributes), attributes_missing=False)
