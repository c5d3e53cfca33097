"""Candidate sources as plug-ins: each kind of ``candidates`` entry in a rule has one resolver module here.

A resolver is ``resolve(source, contact, lookup) -> list[CandidateVerdict]``: the candidates the source
names for this contact, each eligible or with the reason it is not. ``collect`` runs a rule's sources in
order, then applies the rule's ``exclude_users`` and drops repeats.

Adding a source kind touches three product files: its resolver module here, its field in
``rules/model.py`` (``CandidateSource`` and ``SOURCE_KINDS``), and its line in ``RESOLVERS`` below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from contact_router.models.contact import Contact
from contact_router.models.decision import CandidateVerdict, Verdict
from contact_router.routing.candidates import agent_of, attribute, customer_profile, last_agent, owner, users
from contact_router.routing.candidates.lookup import Lookup
from contact_router.rules.model import CandidateSource, RoutingRule

Resolver = Callable[[CandidateSource, Contact, Lookup], list[CandidateVerdict]]

RESOLVERS: dict[str, Resolver] = {
    "attribute": attribute.resolve,
    "agent_of": agent_of.resolve,
    "users": users.resolve,
    "last_agent": last_agent.resolve,
    "owner": owner.resolve,
    "customer_profile": customer_profile.resolve,
}


def collect(rule: RoutingRule, contact: Contact, lookup: Lookup) -> list[CandidateVerdict]:
    """Every candidate of the rule's sources, in order: excluded users and repeats keep their place with
    their verdict, so the decision record shows why they were not used."""
    excluded = {found.user_id for raw in rule.exclude_users if (found := lookup.reference("exclude", raw)).user_id}
    seen: set[str] = set()
    out: list[CandidateVerdict] = []
    for source in rule.candidates:
        for found in RESOLVERS[source.kind](source, contact, lookup):
            user_id = found.user_id
            if user_id is None or found.verdict is not Verdict.ELIGIBLE:
                out.append(found)
            elif user_id in excluded:
                out.append(replace(found, verdict=Verdict.EXCLUDED, detail="in exclude_users"))
            elif user_id in seen:
                out.append(replace(found, verdict=Verdict.DUPLICATE, detail="already a candidate"))
            else:
                seen.add(user_id)
                out.append(found)
    return out


__all__ = ["RESOLVERS", "Lookup", "Resolver", "collect"]
