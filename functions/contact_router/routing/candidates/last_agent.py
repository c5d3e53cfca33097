"""``last_agent: {max_age}``: the agent who last handled this customer on any channel (the affinity table),
if recent enough."""

from __future__ import annotations

from contact_router.models.contact import Contact
from contact_router.models.decision import CandidateVerdict, Verdict
from contact_router.routing.candidates.lookup import Lookup
from contact_router.rules.model import CandidateSource


def resolve(source: CandidateSource, contact: Contact, lookup: Lookup) -> list[CandidateVerdict]:
    label = source.label
    history = lookup.customer_history(label, contact)
    if isinstance(history, CandidateVerdict):
        return [history]
    newest = history.newest_last_agent()
    if newest is None:
        return [CandidateVerdict(label, Verdict.SOURCE_EMPTY, detail="no last agent recorded for this customer")]
    kind, last = newest
    age = max(0.0, lookup.clock() - last.connected_at)
    max_age = source.last_agent.max_age if source.last_agent else 0
    where = f"last_agent:{kind.value}, {ago(age)} ago on {last.channel}"
    if age > max_age:
        return [
            CandidateVerdict(
                where, Verdict.TOO_OLD, user_id=last.agent_id, detail=f"older than the rule's max_age {ago(max_age)}"
            )
        ]
    return [lookup.reference(where, last.agent_id)]


def ago(seconds: float) -> str:
    if seconds >= 86_400:
        return f"{seconds / 86_400:.1f} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min"
