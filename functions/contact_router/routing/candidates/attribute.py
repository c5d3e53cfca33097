"""``attribute: NAME``: a contact attribute (set by the contact flow) holding a user id, ARN or username."""

from __future__ import annotations

from contact_router.models.contact import Contact
from contact_router.models.decision import CandidateVerdict, Verdict
from contact_router.routing.candidates.lookup import Lookup
from contact_router.rules.model import CandidateSource


def resolve(source: CandidateSource, contact: Contact, lookup: Lookup) -> list[CandidateVerdict]:
    value = contact.attributes.get(source.attribute or "")
    if not value:
        return [CandidateVerdict(source.label, Verdict.SOURCE_EMPTY, detail="attribute not set")]
    return [lookup.reference(source.label, value)]
