"""``users: [...]``: a static list of user ids, ARNs or usernames, in order."""

from __future__ import annotations

from contact_router.models.contact import Contact
from contact_router.models.decision import CandidateVerdict
from contact_router.routing.candidates.lookup import Lookup
from contact_router.rules.model import CandidateSource


def resolve(source: CandidateSource, contact: Contact, lookup: Lookup) -> list[CandidateVerdict]:
    return [lookup.reference(source.label, ref) for ref in source.users or []]
