"""When Connect refuses to act on a contact: re-read it once before blaming the record.

Events are late and the race with Connect's own routing is real: between DescribeContact and
AssociateContactWithUser (or MonitorContact) an agent may take the contact, or the customer may leave. Connect
then answers with a client error whose code says little about why (InvalidRequestException for a contact no
longer queued, ResourceNotFoundException for one that ended, InvalidParameterException, ResourceConflictException
...; which one is not documented). So any permanent refusal of an action, whatever its code, re-reads the contact
once: if it has moved on, the outcome is "not waiting" (or "not connected") with the reason, not a dead letter.
The router and the supervisor both go through ``after_refusal``; nothing else re-reads after a refusal.

Not re-read: AccessDenied (the deployment's policy is wrong whatever the contact's state: it must reach the
dead-letter queue and its alarm) and transient errors (they go back to SQS and the whole record is retried).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from contact_router.errors import PermanentError
from contact_router.models.contact import Contact
from contact_router.observability import logger

# Refusals that say nothing about the contact itself.
NOT_ABOUT_THE_CONTACT = frozenset({"access_denied"})


@dataclass(frozen=True)
class MovedOn:
    """The contact had moved on when Connect refused: why (a short code) and the contact as re-read."""

    reason: str
    contact: Contact


def after_refusal(
    error: PermanentError,
    operation: str,
    contact_id: str,
    describe: Callable[[str], Contact],
    moved_on: Callable[[Contact], str | None],
) -> MovedOn:
    """Re-read the contact once after ``operation`` was refused with ``error``.

    Returns ``MovedOn`` when ``moved_on(contact)`` names a reason (the contact is no longer in the state the action
    needed); otherwise raises ``error`` itself, so the record is dead-lettered with the refusal. A re-read that
    fails permanently also raises ``error`` (the refusal is the better account); a transient failure of the re-read
    propagates, so the record is retried.
    """
    if error.reason in NOT_ABOUT_THE_CONTACT:
        raise error
    try:
        again = describe(contact_id)
    except PermanentError as reread_error:
        logger.warning(
            "re-read after a refusal failed",
            operation=operation,
            refusal=error.reason,
            reread_error=reread_error.reason,
        )
        raise error from reread_error
    reason = moved_on(again)
    if reason is None:
        raise error
    logger.info("refusal explained by the contact moving on", operation=operation, refusal=error.reason, state=reason)
    return MovedOn(reason, again)
