"""The EventBridge "Amazon Connect Contact Event", parsed tolerantly.

Real events use camelCase keys; some AWS documentation samples use PascalCase (``EventType``,
``InstanceARN``, ``"Channel": "Voice"``) and some ``instanceARN``. All are accepted, channel and enum-like
values are compared case-insensitively, unknown fields are ignored and only ``contactId``, ``eventType``,
``channel`` and ``instanceArn`` are required, because real captured QUEUED events can be that small.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

CONTACT_EVENT_SOURCE = "aws.connect"
CONTACT_EVENT_DETAIL_TYPE = "Amazon Connect Contact Event"
# The router's sweep re-injects contacts whose QUEUED event never arrived as events of its own source.
SWEEP_EVENT_SOURCE = "contact-router.sweep"
ACCEPTED_SOURCES = frozenset({CONTACT_EVENT_SOURCE, SWEEP_EVENT_SOURCE})


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _alias(*names: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(*names))


Upper = Annotated[str, BeforeValidator(_upper), StringConstraints(min_length=1, max_length=64)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=256, strip_whitespace=True)]


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class QueueInfo(_Tolerant):
    queue_arn: str | None = _alias("queueArn", "QueueArn", "QueueARN")
    queue_type: Upper | None = _alias("queueType", "QueueType")
    enqueue_timestamp: datetime | None = _alias("enqueueTimestamp", "EnqueueTimestamp")

    @property
    def queue_id(self) -> str | None:
        return queue_id_from_arn(self.queue_arn) if self.queue_arn else None


class AgentInfo(_Tolerant):
    agent_arn: str | None = _alias("agentArn", "AgentArn", "AgentARN")
    connected_to_agent_timestamp: datetime | None = _alias("connectedToAgentTimestamp", "ConnectedToAgentTimestamp")


class ContactEventDetail(_Tolerant):
    event_type: Upper = Field(validation_alias=AliasChoices("eventType", "EventType"))
    contact_id: Id = Field(validation_alias=AliasChoices("contactId", "ContactId"))
    channel: Upper = Field(validation_alias=AliasChoices("channel", "Channel"))
    instance_arn: Id = Field(validation_alias=AliasChoices("instanceArn", "instanceARN", "InstanceArn", "InstanceARN"))
    initial_contact_id: Id | None = _alias("initialContactId", "InitialContactId")
    previous_contact_id: Id | None = _alias("previousContactId", "PreviousContactId")
    related_contact_id: Id | None = _alias("relatedContactId", "RelatedContactId")
    initiation_method: Upper | None = _alias("initiationMethod", "InitiationMethod")
    initiation_timestamp: datetime | None = _alias("initiationTimestamp", "InitiationTimestamp")
    queue_info: QueueInfo | None = _alias("queueInfo", "QueueInfo")
    agent_info: AgentInfo | None = _alias("agentInfo", "AgentInfo")
    tags: dict[str, str] = Field(default_factory=dict, validation_alias=AliasChoices("tags", "Tags"))
    segment_attributes: dict[str, Any] = Field(
        default_factory=dict, validation_alias=AliasChoices("segmentAttributes", "SegmentAttributes")
    )


class ContactEvent(EventBridgeModel):
    """The whole EventBridge envelope with a typed ``detail``."""

    detail: ContactEventDetail


def queue_id_from_arn(arn_or_id: str) -> str:
    """``.../instance/<id>/queue/<queueId>`` -> ``<queueId>`` (agent queues keep their ``agent/`` prefix)."""
    marker = "/queue/"
    return arn_or_id.split(marker, 1)[1] if marker in arn_or_id else arn_or_id


def user_id_from_arn(arn: str) -> str | None:
    """``.../instance/<id>/agent/<userId>`` -> ``<userId>``; None if it is not a user ARN."""
    marker = "/agent/"
    if not arn.startswith("arn:") or marker not in arn:
        return None
    return arn.rsplit(marker, 1)[1] or None
