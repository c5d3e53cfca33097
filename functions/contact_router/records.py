"""Record parsing at the edge: an SQS body -> a typed contact event (or one of the router's own re-checks),
or a PermanentError("malformed_event") with a reason a person can act on."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from pydantic import ValidationError

from contact_router.errors import PermanentError
from contact_router.models.contact_event import ContactEvent, ContactEventDetail
from contact_router.routing.fallback import RECHECK_KEY, Recheck


def _load_json(body: str) -> Any:
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise PermanentError("malformed_event", f"SQS body is not JSON: {exc.msg} at position {exc.pos}") from exc
    except TypeError as exc:
        raise PermanentError("malformed_event", "SQS body is not text") from exc
    except RecursionError as exc:
        raise PermanentError("malformed_event", "SQS body is JSON nested too deeply to be an event") from exc


def json_or_text(body: str) -> Any:
    """The body for a debug log line: its JSON, or only its length when it is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return {"unparsed_body_length": len(body)}


def parse_record(body: str) -> tuple[ContactEventDetail, Recheck | None]:
    """An SQS body: an EventBridge contact event, or a re-check the router scheduled for itself."""
    raw = _load_json(body)
    if isinstance(raw, dict) and RECHECK_KEY in raw:
        try:
            recheck = Recheck.from_message(raw)
            detail = ContactEventDetail.model_validate(
                {
                    "eventType": "QUEUED",
                    "contactId": recheck.contact_id,
                    "channel": recheck.channel,
                    "instanceArn": recheck.instance_arn,
                }
            )
        except ValidationError as exc:  # a ValueError too: caught first for its field-level message
            fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors(include_input=False))
            raise PermanentError("malformed_event", f"not a valid re-check message: invalid {fields}") from exc
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise PermanentError("malformed_event", f"not a valid re-check message: {type(exc).__name__}") from exc
        return detail, recheck
    return parse_contact_event(body).detail, None


def parse_contact_event(body: str) -> ContactEvent:
    """SQS body (the EventBridge event as JSON) -> ContactEvent, or PermanentError("malformed_event")."""
    raw = _load_json(body)
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
