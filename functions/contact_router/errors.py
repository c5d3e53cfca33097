"""Typed errors, and the one place that says which failures are permanent and which are transient.

* ``PermanentError``: retrying cannot help (malformed event, invalid request, access denied, unknown
  contact). The record is logged with its reason and sent to the dead-letter queue at once.
* ``TransientError``: retrying later can help (throttling, 5xx, timeouts, a concurrent duplicate in
  progress). The record is given back to SQS; the queue's redrive policy bounds the number of attempts.
"""

from __future__ import annotations


class ContactRouterError(Exception):
    """Base class. ``reason`` is a short snake_case code used in decision records and metrics."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class PermanentError(ContactRouterError):
    """Retrying will not help: log the reason and dead-letter the record."""


class TransientError(ContactRouterError):
    """Retrying later can help: give the record back to SQS."""


class OutcomeUnknown(TransientError):
    """A write whose answer was lost (timeout, 5xx): Connect may have applied it. Retried like any transient
    failure, but the retry must not assume it did not happen (routing/episodes.py: the claim is kept)."""


class ConfigurationError(Exception):
    """The deployment is misconfigured (environment, rules file). Raised at start-up, never per record."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


# Connect (and other AWS) error codes, classified once.
TRANSIENT_ERROR_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "InternalServiceException",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)

PERMANENT_REASONS = {
    "InvalidRequestException": "invalid_request",
    "InvalidParameterException": "invalid_parameter",
    "ValidationException": "invalid_request",
    "BadRequestException": "invalid_request",  # Customer Profiles' name for it
    "AccessDeniedException": "access_denied",
    "AccessDenied": "access_denied",
    "UnauthorizedOperation": "access_denied",
    "ResourceNotFoundException": "not_found",
    "IdempotencyException": "idempotency_conflict",
    "ServiceQuotaExceededException": "quota_exceeded",
    "ResourceConflictException": "conflict",
}


def classify_aws_error(code: str, status: int | None) -> type[ContactRouterError]:
    """Transient for throttling, 5xx and unknown server faults; permanent for client errors."""
    if code in TRANSIENT_ERROR_CODES or (status is not None and status >= 500):
        return TransientError
    if status == 429:
        return TransientError
    return PermanentError
