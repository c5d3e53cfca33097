"""``owner: true``: the account owner recorded for this customer's most specific key (the affinity table)."""

from __future__ import annotations

from dataclasses import replace

from contact_router.models.contact import Contact
from contact_router.models.decision import CandidateVerdict, Verdict
from contact_router.routing.candidates.lookup import Lookup
from contact_router.rules.model import CandidateSource


def resolve(source: CandidateSource, contact: Contact, lookup: Lookup) -> list[CandidateVerdict]:
    label = source.label
    history = lookup.customer_history(label, contact)
    if isinstance(history, CandidateVerdict):
        return [history]
    owner = history.owner()
    if owner is None:
        return [CandidateVerdict(label, Verdict.SOURCE_EMPTY, detail="no owner for this customer")]
    where = f"owner:{owner[0].value}"
    return [replace(lookup.reference(where, owner[1].owner_id), source=where)]
