"""The AppConfig validator's logic: the same validation as every other rules source, on the document AppConfig
is about to store or deploy. Pure: the handler (handlers/rules_validator.py) only wires it.

AppConfig invokes a LAMBDA validator with ``applicationId``, ``configurationProfileId``, ``configurationVersion``,
``uri`` and ``content`` (the document, base64) and refuses the version when the function raises; the error's
message is what the operator sees, so it is one line naming every problem (up to a limit).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contact_router.rules.loader import RulesError, check_deployment, parse_rules, rules_version

MAX_PROBLEMS_SHOWN = 10  # a message AppConfig shows in one line; the log line holds them all


class RulesRejected(Exception):
    """The document is refused; the message is one line, ``problems`` every problem found."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        message = "; ".join(" ".join(p.split()) for p in shown) + (f"; and {more} more problem(s)" if more else "")
        super().__init__(f"rules rejected: {message}")
        self.problems = problems


@dataclass(frozen=True)
class ValidationRequest:
    """One AppConfig validation request (unknown fields ignored)."""

    application_id: str
    profile_id: str
    version: str
    uri: str
    content: bytes

    @property
    def source(self) -> str:
        """How every problem line names the document: the profile and its version."""
        return f"AppConfig {self.application_id}/{self.profile_id} version {self.version}"

    @classmethod
    def from_event(cls, event: Any) -> ValidationRequest:
        if not isinstance(event, Mapping):
            raise RulesRejected(
                [f"not an AppConfig validation request: expected an object, got {type(event).__name__}"]
            )
        content = event.get("content")
        if not isinstance(content, str):
            raise RulesRejected(["not an AppConfig validation request: no base64 'content'"])
        try:
            data = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise RulesRejected([f"not an AppConfig validation request: 'content' is not base64 ({exc})"]) from exc
        return cls(
            application_id=str(event.get("applicationId", "?")),
            profile_id=str(event.get("configurationProfileId", "?")),
            version=str(event.get("configurationVersion", "?")),
            uri=str(event.get("uri", "")),
            content=data,
        )


def validate(request: ValidationRequest, *, allow_barge: bool) -> str:
    """The rules version (``rules_version``) of a valid document; ``RulesRejected`` naming each problem else."""
    try:
        check_deployment(parse_rules(request.content, request.source), request.source, allow_barge=allow_barge)
    except RulesError as exc:
        raise RulesRejected(exc.problems) from exc
    return rules_version(request.content)
