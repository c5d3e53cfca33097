"""Which contacts are the router's business at all (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from contact_router.models.contact import Channel, Contact
from contact_router.models.contact_event import ContactEventDetail

ROUTED_CHANNELS = frozenset({Channel.CHAT, Channel.TASK, Channel.EMAIL})
NOT_CUSTOMER_WORK = {"MONITOR": "monitor_leg", "AGENT_REPLY": "agent_reply"}
# Voice callbacks. The newest AssociateContactWithUser reference: "For voice callbacks, this API does not support
# customer-first mode". The admin guide (customer-first-cb) names the customer-first legs' initiation methods
# CALLBACK_CUSTOMER_FIRST_QUEUED and CALLBACK_CUSTOMER_FIRST_DIALED; the DescribeContact model (botocore 1.44.5)
# knows only CALLBACK, and no member of Contact says which mode a CALLBACK is in. So the rule is the safe one: a
# VOICE contact whose initiation method starts with CALLBACK is never associated (docs/rules.md, "Voice").
CUSTOMER_FIRST_METHODS = frozenset({"CALLBACK_CUSTOMER_FIRST_QUEUED", "CALLBACK_CUSTOMER_FIRST_DIALED"})


@dataclass(frozen=True)
class Skip:
    reason: str
    detail: str


def routed_channels(route_voice: bool) -> frozenset[str]:
    return ROUTED_CHANNELS | {Channel.VOICE} if route_voice else ROUTED_CHANNELS


def screen_event(detail: ContactEventDetail, route_voice: bool) -> Skip | None:
    """Decide from the event alone, before any API call."""
    if detail.event_type != "QUEUED":
        return Skip("not_queued", f"event type {detail.event_type} is not routed")
    queue_type = detail.queue_info.queue_type if detail.queue_info else None
    queue_id = detail.queue_info.queue_id if detail.queue_info else None
    return _screen(detail.channel, detail.initiation_method, queue_type, queue_id, route_voice)


def screen_contact(contact: Contact, route_voice: bool) -> Skip | None:
    """The same checks on what DescribeContact says (minimal events lack some of these fields)."""
    return _screen(contact.channel, contact.initiation_method, None, contact.queue_id, route_voice)


def _screen(
    channel: str,
    initiation_method: str | None,
    queue_type: str | None,
    queue_id: str | None,
    route_voice: bool,
) -> Skip | None:
    if channel not in routed_channels(route_voice):
        hint = " (set ROUTE_VOICE=true to route voice)" if channel == Channel.VOICE else ""
        return Skip("channel_not_routed", f"channel {channel} is not routed{hint}")
    callback = _voice_callback(channel, initiation_method)
    if callback:
        return callback
    if initiation_method in NOT_CUSTOMER_WORK:
        return Skip(
            NOT_CUSTOMER_WORK[initiation_method],
            f"initiation method {initiation_method} is not customer work",
        )
    # Agent queues are already aimed at one agent; their ids are "agent/<userId>".
    if queue_type == "AGENT" or (queue_id or "").startswith("agent/"):
        return Skip("agent_queue", "contact is in an agent queue")
    return None


def _voice_callback(channel: str, initiation_method: str | None) -> Skip | None:
    method = (initiation_method or "").upper()
    if channel != Channel.VOICE or not method.startswith("CALLBACK"):
        return None
    if method in CUSTOMER_FIRST_METHODS:
        return Skip(
            "customer_first_callback",
            f"initiation method {method}: AssociateContactWithUser does not support customer-first callbacks",
        )
    return Skip(
        "callback_mode_unknown",
        f"a voice callback ({method}) may be customer-first, which AssociateContactWithUser does not support, and "
        "DescribeContact does not say which mode it is in: left to Connect's routing",
    )
