"""A contact as DescribeContact shows it (IDs, not ARNs), and whether it is still waiting for an agent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Channel(StrEnum):
    VOICE = "VOICE"
    CHAT = "CHAT"
    TASK = "TASK"
    EMAIL = "EMAIL"


class NotWaitingReason(StrEnum):
    CONNECTED_TO_AGENT = "connected_to_agent"
    ALREADY_ASSIGNED = "already_assigned"
    DISCONNECTED = "disconnected"
    NOT_QUEUED = "not_queued"


@dataclass(frozen=True)
class Contact:
    id: str
    channel: str
    initiation_method: str | None = None
    queue_id: str | None = None
    enqueued_at: datetime | None = None
    agent_id: str | None = None
    connected_to_agent_at: datetime | None = None
    disconnected_at: datetime | None = None
    initial_contact_id: str | None = None
    previous_contact_id: str | None = None
    related_contact_id: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    # DescribeContact gave no ``Attributes`` key at all (not even an empty map): the attributes are unknown,
    # not empty; the router reads them with GetContactAttributes when a rule needs them.
    attributes_missing: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    segment_attributes: Mapping[str, str] = field(default_factory=dict)
    # Customer identity: used to derive hashed customer keys, never logged (repr=False).
    customer_endpoint: tuple[str, str] | None = field(default=None, repr=False)  # (Type, Address)
    customer_id: str | None = field(default=None, repr=False)

    def not_waiting_reason(self) -> NotWaitingReason | None:
        """Why this contact no longer waits for an agent, or None if it still does.

        DescribeContact has no state field: "waiting" means queued, no agent, not disconnected.
        """
        if self.disconnected_at is not None:
            return NotWaitingReason.DISCONNECTED
        if self.connected_to_agent_at is not None:
            return NotWaitingReason.CONNECTED_TO_AGENT
        if self.agent_id:
            return NotWaitingReason.ALREADY_ASSIGNED
        if not self.queue_id:
            return NotWaitingReason.NOT_QUEUED
        return None


def flatten_segment_attributes(raw: Mapping[str, Any] | None) -> dict[str, str]:
    """``{"connect:Subtype": {"ValueString": "connect:Chat"}}`` -> ``{"connect:Subtype": "connect:Chat"}``.

    Non-string segment values (maps, lists, numbers) are kept as their compact string form, so a rule can
    still test for presence.
    """
    flat: dict[str, str] = {}
    for name, value in (raw or {}).items():
        if isinstance(value, Mapping):
            if "ValueString" in value:
                flat[name] = str(value["ValueString"])
            elif "ValueInteger" in value:
                flat[name] = str(value["ValueInteger"])
            else:
                flat[name] = str(dict(value))
        else:
            flat[name] = str(value)
    return flat
