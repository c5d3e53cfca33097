"""What a candidate resolver may consult for one contact, and the one way a raw user reference (id, ARN or
username) becomes a candidate verdict."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from contact_router.customers.history import CustomerHistory
from contact_router.models.agent import UserRef
from contact_router.models.contact import Contact
from contact_router.models.decision import CandidateVerdict, Verdict
from contact_router.routing.ports import ConnectPort, HistoryPort, UserDirectoryPort
from contact_router.routing.references import ReferenceKind, arn_allowed, classify


@dataclass
class Lookup:
    """Ports and options the resolvers share; built once per contact (the customer history is read at most
    once per contact, and only if a source needs it)."""

    connect: ConnectPort
    users: UserDirectoryPort
    instance_arn: str
    allowed_agent_arn_pattern: str
    clock: Callable[[], float]
    history: HistoryPort | None = None
    # Ports of sources that need more than Connect and the customer history, by source kind (each resolver
    # declares the Protocol it expects; composition.source_ports wires the adapters).
    ports: Mapping[str, Any] = field(default_factory=dict)
    _history: dict[str, CustomerHistory] = field(default_factory=dict)

    def customer_history(self, label: str, contact: Contact) -> CustomerHistory | CandidateVerdict:
        """What the affinity table says about this contact's customer, or the empty-source verdict saying
        why there is nothing to say (no AFFINITY_TABLE, no customer key on the contact)."""
        if self.history is None:
            return CandidateVerdict(label, Verdict.SOURCE_EMPTY, detail="no customer history (AFFINITY_TABLE unset)")
        if contact.id not in self._history:
            self._history[contact.id] = self.history.for_contact(contact)
        found = self._history[contact.id]
        if not found.keys:
            return CandidateVerdict(label, Verdict.SOURCE_EMPTY, detail="no customer key on this contact")
        return found

    def reference(self, label: str, raw: str) -> CandidateVerdict:
        """A user id, user ARN or username -> an eligible candidate, or why it cannot be one."""
        ref = classify(raw)
        if ref.kind is ReferenceKind.INVALID:
            return CandidateVerdict(label, Verdict.INVALID_REFERENCE, detail=ref.value)
        if ref.kind is ReferenceKind.USERNAME:
            user = self.users.find_by_username(ref.value)
            if user is None:
                return CandidateVerdict(label, Verdict.UNKNOWN_USER, reference=ref.value, detail="no such username")
        else:
            arn = raw.strip() if ref.kind is ReferenceKind.ARN else f"{self.instance_arn}/agent/{ref.value}"
            user = UserRef(id=ref.value, arn=arn)
        if not arn_allowed(user.arn, self.allowed_agent_arn_pattern):
            return CandidateVerdict(
                label, Verdict.NOT_ALLOWED, user_id=user.id, username=user.username, detail="outside allowed agents"
            )
        return CandidateVerdict(label, Verdict.ELIGIBLE, user_id=user.id, username=user.username)
