"""The affinity recorder use case: a contact connected to an agent -> that agent is the customer's last
agent, for every customer key the contact carries (a voice call counts for a later chat)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from contact_router.customers.keys import customer_keys, digest
from contact_router.errors import PermanentError
from contact_router.models.affinity import AffinityDecision, AffinityOutcome, KeyWrite, LastAgent
from contact_router.models.contact import Contact
from contact_router.models.contact_event import ContactEventDetail


class ContactReader(Protocol):
    def describe_contact(self, contact_id: str) -> Contact: ...


class LastAgentWriter(Protocol):
    def record_last_agent(self, key_hash: str, last: LastAgent) -> bool: ...


class AffinityRecorder:
    def __init__(
        self,
        instance_arn: str,
        connect: ContactReader,
        store: LastAgentWriter,
        secret: Callable[[], bytes],
        profile_attribute: str | None,
        phone_region: str | None = None,
    ) -> None:
        self.instance_arn = instance_arn
        self.connect = connect
        self.store = store
        self.secret = secret
        self.profile_attribute = profile_attribute
        self.phone_region = phone_region  # the router's HistoryLookup must use the same, or keys never match

    def record(self, detail: ContactEventDetail) -> AffinityDecision:
        base = AffinityDecision(
            outcome=AffinityOutcome.IGNORED,
            contact_id=detail.contact_id,
            channel=detail.channel,
            event_type=detail.event_type,
        )
        if detail.event_type != "CONNECTED_TO_AGENT":
            return replace(base, reason="not_connected_event", detail=f"event type {detail.event_type} is not recorded")
        if detail.initiation_method == "MONITOR":
            return replace(
                base, reason="monitor_leg", detail="a supervisor's monitoring leg is not the customer's agent"
            )
        if detail.instance_arn.lower() != self.instance_arn.lower():
            raise PermanentError("other_instance", f"event for instance {detail.instance_arn}")

        contact = self.connect.describe_contact(detail.contact_id)
        base = replace(base, channel=contact.channel, agent_id=contact.agent_id)
        if contact.initiation_method == "MONITOR":
            return replace(
                base, reason="monitor_leg", detail="a supervisor's monitoring leg is not the customer's agent"
            )
        if not contact.agent_id or contact.connected_to_agent_at is None:
            return replace(
                base, outcome=AffinityOutcome.NOT_CONNECTED, reason="not_connected", detail="no agent connection"
            )
        keys = customer_keys(contact, self.profile_attribute, self.phone_region)
        if not keys:
            return replace(
                base,
                outcome=AffinityOutcome.NO_CUSTOMER_KEY,
                reason="no_customer_key",
                detail="no E.164 phone number, email address, CustomerId or profile id on the contact",
            )
        last = LastAgent(
            agent_id=contact.agent_id,
            contact_id=contact.id,
            channel=contact.channel,
            connected_at=contact.connected_to_agent_at.timestamp(),
            queue_id=contact.queue_id,
        )
        secret = self.secret()
        writes = []
        for key in keys:
            key_hash = digest(key, secret)
            writes.append(KeyWrite(key.kind.value, key_hash[:12], self.store.record_last_agent(key_hash, last)))
        written = sum(w.written for w in writes)
        if written:
            return replace(
                base,
                outcome=AffinityOutcome.RECORDED,
                reason="recorded",
                keys=tuple(writes),
                detail=f"last agent of {written} of {len(writes)} customer key(s)",
            )
        return replace(
            base,
            outcome=AffinityOutcome.STALE,
            reason="newer_or_same_recorded",
            keys=tuple(writes),
            detail="every key already has this or a newer connection (late or duplicated event)",
        )
