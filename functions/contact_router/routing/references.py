"""User references in rules and attributes: a user id, a user ARN or a username (pure)."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from enum import StrEnum

from contact_router.models.contact_event import user_id_from_arn

# Connect user ids are UUIDs.
USER_ID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Connect usernames: letters, digits and . _ - @ + (email-style names included), 1-100 characters.
USERNAME_RE = re.compile(r"^[A-Za-z0-9._@+\-]{1,100}$")


class ReferenceKind(StrEnum):
    ID = "id"
    ARN = "arn"
    USERNAME = "username"
    INVALID = "invalid"


@dataclass(frozen=True)
class Reference:
    kind: ReferenceKind
    value: str  # the user id for ID/ARN, the username for USERNAME, a safe description for INVALID


def classify(reference: str) -> Reference:
    ref = reference.strip()
    if USER_ID_RE.match(ref):
        return Reference(ReferenceKind.ID, ref.lower())
    if ref.startswith("arn:"):
        user_id = user_id_from_arn(ref)
        if user_id and USER_ID_RE.match(user_id):
            return Reference(ReferenceKind.ARN, user_id.lower())
        return Reference(ReferenceKind.INVALID, "an ARN that is not a Connect user ARN")
    if USERNAME_RE.match(ref):
        return Reference(ReferenceKind.USERNAME, ref)
    # Never echo the value: a misconfigured attribute could hold customer data.
    return Reference(ReferenceKind.INVALID, f"not a user id, user ARN or username ({len(ref)} characters)")


def arn_allowed(user_arn: str, pattern: str) -> bool:
    """fnmatch-style check of a user ARN against ALLOWED_AGENT_ARN_PATTERN (mirrors the IAM condition)."""
    return fnmatch.fnmatchcase(user_arn, pattern) if pattern else True
