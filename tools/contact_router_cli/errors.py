"""The one place that turns an expected failure of any command into one line saying what to do (exit 2).

Expected failures are the operator's or the environment's, not the program's: no credentials, no Region,
an unknown contact, a missing table or queue, throttling that outlasted the retries, access denied. The
adapters wrap botocore's exceptions in the router's typed errors (``raise ... from exc``), so the cause
chain is walked to find the botocore exception that says what happened. Anything not recognised here is a
bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import click
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)

from contact_router.errors import TRANSIENT_ERROR_CODES, ConfigurationError, ContactRouterError

EXIT_OPERATOR = 2  # click's own status for usage errors: "you asked for something that cannot be done"

# botocore reads AWS_DEFAULT_REGION (not AWS_REGION, which only the AWS CLI v2 and the Lambda runtime read).
REGION_HINT = "pass --region or set AWS_DEFAULT_REGION (e.g. export AWS_DEFAULT_REGION=eu-west-2)"
CREDENTIALS_HINT = "run `aws configure` or `aws sso login`, or set AWS_PROFILE to a profile with credentials"

_BAD_CREDENTIALS = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "AuthFailure",
        "InvalidAccessKeyId",
    }
)
_ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
_MISSING_QUEUE = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})
_DYNAMODB_OPERATIONS = frozenset(
    {"GetItem", "PutItem", "DeleteItem", "UpdateItem", "BatchGetItem", "BatchWriteItem", "Query", "Scan"}
)
# Which flag names the thing that was not found, by the operation that did not find it.
_NOT_FOUND_HINT = {
    "DescribeContact": (
        "no such contact in this instance: check --contact-id and --world / --instance-arn / --env-from-function"
    ),
    "GetSecretValue": "no such secret: check --secret-arn (stack output CustomerKeySecretArn) and --region",
    "GetParameter": "no such SSM parameter: check the rules parameter name and --region",
    "GetFunctionConfiguration": (
        "no such Lambda function: check --env-from-function (stack output RouterFunctionName) and the Region"
    ),
}


class OperatorError(click.ClickException):
    """An expected failure: one line on stderr, exit status 2, no traceback."""

    exit_code = EXIT_OPERATOR

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))  # one line, whatever the underlying message held

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True, file=file)


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` then its causes (explicit ``from`` first, else the implicit context), without cycles."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def aws_message(exc: BaseException) -> str | None:
    """The one-line message of the AWS SDK failure behind ``exc`` (its cause chain), if there is one."""
    for cause in causes(exc):
        message = _botocore_message(cause)
        if message is not None:
            return message
    return None


def operator_message(exc: BaseException) -> str | None:
    """One line saying what went wrong and what to do, or None if this is not an expected failure."""
    message = aws_message(exc)
    if message is not None:
        return message
    if isinstance(exc, ContactRouterError):
        return exc.message  # typed, already worded for people (e.g. an unknown user)
    if isinstance(exc, ConfigurationError):
        return "; ".join(exc.problems)
    return None


def _botocore_message(exc: BaseException) -> str | None:
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return f"no AWS credentials found: {CREDENTIALS_HINT}"
    if isinstance(exc, (TokenRetrievalError, UnauthorizedSSOTokenError)):
        return f"your AWS SSO session has expired or is not valid: run `aws sso login` ({exc})"
    if isinstance(exc, NoRegionError):
        return f"no AWS Region configured: {REGION_HINT}"
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach {exc.kwargs.get('endpoint_url', 'the AWS endpoint')}: check --region and your network"
    if isinstance(exc, ParamValidationError):
        return f"invalid request parameter: {' '.join(str(exc).split())}"
    if isinstance(exc, ClientError):
        return _client_error_message(exc)
    if isinstance(exc, BotoCoreError):
        return f"AWS SDK error: {' '.join(str(exc).split())}"
    return None


def _client_error_message(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    detail = " ".join(str(error.get("Message", "")).split())
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    operation = exc.operation_name
    if code in _BAD_CREDENTIALS:
        return f"AWS rejected your credentials ({code} on {operation}): {CREDENTIALS_HINT}"
    if code in _ACCESS_DENIED:
        return (
            f"access denied to {operation}: your IAM identity needs permission for {operation} on this resource "
            f"(use the right AWS_PROFILE or ask for it){_suffix(detail)}"
        )
    if code in TRANSIENT_ERROR_CODES or status == 429:
        return (
            f"AWS throttled or failed {operation} ({code}) after retries: wait a minute and run the command again"
            f"{_suffix(detail)}"
        )
    if code in _MISSING_QUEUE:
        return f"no such queue: check --queue-url / --to (stack outputs *QueueUrl) and the account{_suffix(detail)}"
    if code == "ResourceNotFoundException":
        if operation in _DYNAMODB_OPERATIONS:
            table = "no such DynamoDB table: check --table (stack output AffinityTableName) and --region"
            return f"{table}{_suffix(detail)}"
        hint = _NOT_FOUND_HINT.get(operation, f"{operation} found nothing: check the id or ARN you gave and --region")
        return f"{hint}{_suffix(detail)}"
    return f"AWS refused {operation}: {code}{_suffix(detail)}"


def _suffix(detail: str) -> str:
    return f" ({detail})" if detail else ""


class OperatorErrors(click.Group):
    """A click group whose commands (and sub-groups') expected failures end in one line and exit 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (BotoCoreError, ClientError, ContactRouterError, ConfigurationError) as exc:
            message = operator_message(exc)
            if message is None:
                raise
            raise OperatorError(message) from exc
