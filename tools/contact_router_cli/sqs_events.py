"""SQS-wrapped copies of the EventBridge fixtures in events/, for `sam local invoke`.

The deployed functions are triggered by SQS (EventBridge rule -> queue -> function), so their input is an
SQS event whose record body is the EventBridge event. ``events/sqs/NAME.json`` wraps ``events/NAME.json``
in one such record, deterministically (ids derived from the file name), so the copies can be checked to be
in sync (tests/integration/test_sqs_events.py) and regenerated with ``make sqs-events``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"
SQS_DIR = EVENTS_DIR / "sqs"
_NAMESPACE = uuid.UUID("5d8a1c3e-7f0b-4c11-9a55-0c0ffee0c0de")
_DEFAULT_TIME = "2026-11-20T09:00:00Z"


def wrap(name: str, text: str) -> dict[str, Any]:
    """The SQS event Lambda receives when the EventBridge event ``text`` arrives through the queue."""
    try:
        event = json.loads(text)
    except ValueError:
        event, body = None, text
    else:
        body = json.dumps(event, separators=(",", ":"))  # EventBridge delivers compact JSON
    meta = event if isinstance(event, dict) else {}
    region = str(meta.get("region") or "eu-west-2")
    account = str(meta.get("account") or "123456789012")
    sent = _millis(str(meta.get("time") or _DEFAULT_TIME))
    message_id = str(uuid.uuid5(_NAMESPACE, name))
    return {
        "Records": [
            {
                "messageId": message_id,
                "receiptHandle": f"local-{message_id}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": str(sent),
                    "SenderId": "AROAEVENTBRIDGE:events.amazonaws.com",
                    "ApproximateFirstReceiveTimestamp": str(sent + 20),
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{region}:{account}:contact-router-events",
                "awsRegion": region,
            }
        ]
    }


def render(name: str, text: str) -> str:
    return json.dumps(wrap(name, text), indent=2) + "\n"


def expected_files(events_dir: Path = EVENTS_DIR) -> dict[str, str]:
    """File name -> content of every SQS-wrapped fixture."""
    return {
        path.name: render(path.name, path.read_text(encoding="utf-8")) for path in sorted(events_dir.glob("*.json"))
    }


def write(events_dir: Path = EVENTS_DIR, out_dir: Path = SQS_DIR) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    expected = expected_files(events_dir)
    for stale in out_dir.glob("*.json"):
        if stale.name not in expected:
            stale.unlink()
    for name, content in expected.items():
        (out_dir / name).write_text(content, encoding="utf-8")
    return len(expected)


def _millis(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).astimezone(UTC).timestamp() * 1000)


def main() -> None:
    count = write()
    sys.stdout.write(f"{count} SQS-wrapped event(s) in {SQS_DIR.relative_to(EVENTS_DIR.parent)}/\n")


if __name__ == "__main__":
    main()
