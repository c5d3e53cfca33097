"""Record parsing at the edge: an SQS body -> a typed contact event (or one of the router's own re-checks),
or a PermanentError("malformed_event") with a reason a person can act on."""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.utilities.parser import parse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from contact_router.errors import PermanentError
from contact_router.models.contact_event import (
    ACCEPTED_SOURCES,
    CONTACT_EVENT_DETAIL_TYPE,
    ContactEvent,
    ContactEventDetail,
)
from contact_router.routing.fallback import RECHECK_KEY, Recheck

# A re-check message is the router's own, but anyone who can send to the queue can forge one: its numbers
# must be finite and plausible (epoch seconds before 2100, a fallback step and attempt a rules file allows).
_EPOCH_2100 = 4_102_444_800.0
_Text = Annotated[str, StringConstraints(min_length=1, max_length=256)]
_Time = Annotated[float, Field(ge=0.0, le=_EPOCH_2100, allow_inf_nan=False)]


class _RecheckState(BaseModel):
    """Exactly the fields ``Recheck.to_message`` writes, bounded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contact_id: _Text
    instance_arn: _Text
    channel: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    rule: _Text
    step: Annotated[int, Field(ge=0, le=1_000)]
    step_started_at: _Time
    attempt: Annotated[int, Field(ge=0, le=100_000)]
    not_before: _Time
    owner: Annotated[str, StringConstraints(max_length=256)] = ""
    enqueued_at: _Time = 0.0
    episode: Annotated[str, StringConstraints(max_length=600)] = ""
    candidates: Annotated[list[_Text], Field(max_length=100)] = []


def _load_json(body: str) -> Any:
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise PermanentError("malformed_event", f"SQS body is not JSON: {exc.msg} at position {exc.pos}") from exc
    except TypeError as exc:
        raise PermanentError("malformed_event", "SQS body is not text") from exc
    except RecursionError as exc:
        raise PermanentError("malformed_event", "SQS body is JSON nested too deeply to be an event") from exc


def parse_record(body: str) -> tuple[ContactEventDetail, Recheck | None]:
    """An SQS body: an EventBridge contact event, or a re-check the router scheduled for itself."""
    raw = _load_json(body)
    if isinstance(raw, dict) and RECHECK_KEY in raw:
        unknown = sorted(str(k)[:64] for k in raw if k != RECHECK_KEY)
        if unknown:
            raise PermanentError("malformed_event", f"not a valid re-check message: unknown fields {unknown[:5]}")
        try:
            state = _RecheckState.model_validate(raw[RECHECK_KEY]).model_dump()
            recheck = Recheck(**{**state, "candidates": tuple(state["candidates"])})
            detail = ContactEventDetail.model_validate(
                {
                    "eventType": "QUEUED",
                    "contactId": recheck.contact_id,
                    "channel": recheck.channel,
                    "instanceArn": recheck.instance_arn,
                }
            )
        except ValidationError as exc:  # a ValueError too: caught first for its field-level message
            fields = ", ".join(
                f"{'.'.join(str(p) for p in e['loc'])[:64]} ({e['type']})" for e in exc.errors(include_input=False)[:5]
            )
            raise PermanentError("malformed_event", f"not a valid re-check message: invalid {fields}") from exc
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise PermanentError("malformed_event", f"not a valid re-check message: {type(exc).__name__}") from exc
        return detail, recheck
    event = _contact_event(raw)  # decoded once, above
    if event.source not in ACCEPTED_SOURCES or event.detail_type != CONTACT_EVENT_DETAIL_TYPE:
        # Defence in depth: the EventBridge rule and the queue policy should let only these through.
        raise PermanentError(
            "not_a_contact_event",
            f"event from source {event.source[:64]!r} with detail-type {event.detail_type[:64]!r}; only "
            f"{CONTACT_EVENT_DETAIL_TYPE!r} events from {sorted(ACCEPTED_SOURCES)} are accepted",
        )
    return event.detail, None


def parse_contact_event(body: str) -> ContactEvent:
    """SQS body (the EventBridge event as JSON) -> ContactEvent, or PermanentError("malformed_event")."""
    return _contact_event(_load_json(body))


def _contact_event(raw: Any) -> ContactEvent:
    if not isinstance(raw, dict):
        raise PermanentError("malformed_event", f"SQS body is a JSON {type(raw).__name__}, not an event object")
    try:
        return parse(event=raw, model=ContactEvent)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)[:5]
        )
        raise PermanentError("malformed_event", f"not an Amazon Connect contact event: {problems}") from exc
