"""``agent_of: related | previous``: the agent who handled the related (RelatedContactId) or previous contact
(one DescribeContact)."""

from __future__ import annotations

from contact_router.errors import PermanentError
from contact_router.models.contact import Contact
from contact_router.models.decision import CandidateVerdict, Verdict
from contact_router.routing.candidates.lookup import Lookup
from contact_router.rules.model import CandidateSource


def resolve(source: CandidateSource, contact: Contact, lookup: Lookup) -> list[CandidateVerdict]:
    label, which = source.label, source.agent_of
    other_id = contact.related_contact_id if which == "related" else contact.previous_contact_id
    if not other_id:
        return [CandidateVerdict(label, Verdict.SOURCE_EMPTY, detail=f"no {which} contact")]
    try:
        other = lookup.connect.describe_contact(other_id)
    except PermanentError as exc:
        if exc.reason != "unknown_contact":
            raise
        return [CandidateVerdict(label, Verdict.SOURCE_EMPTY, detail=f"{which} contact not found")]
    if not other.agent_id:
        return [CandidateVerdict(label, Verdict.NO_AGENT, detail=f"{which} contact had no agent")]
    return [lookup.reference(label, other.agent_id)]
