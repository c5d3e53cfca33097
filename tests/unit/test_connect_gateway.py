"""The Connect adapter's one place of error classification: permanent vs transient."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError, ReadTimeoutError

from contact_router.adapters.connect import ConnectGateway
from contact_router.errors import PermanentError, TransientError


class RaisingClient:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def describe_contact(self, **_: Any) -> Any:
        raise self.exc


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "DescribeContact"
    )


@pytest.mark.parametrize(
    ("exc", "kind", "reason"),
    [
        (client_error("ThrottlingException", 429), TransientError, "throttled"),
        (client_error("InternalServiceException", 500), TransientError, "connect_unavailable"),
        (client_error("SomethingNew", 503), TransientError, "connect_unavailable"),
        (ReadTimeoutError(endpoint_url="https://connect"), TransientError, "timeout"),
        (EndpointConnectionError(endpoint_url="https://connect"), TransientError, "timeout"),
        (client_error("ResourceNotFoundException", 404), PermanentError, "unknown_contact"),
        (client_error("AccessDeniedException", 403), PermanentError, "access_denied"),
        (client_error("InvalidRequestException", 400), PermanentError, "invalid_request"),
        (client_error("InvalidParameterException", 400), PermanentError, "invalid_parameter"),
        (ParamValidationError(report="bad"), PermanentError, "invalid_request"),
    ],
)
def test_errors_are_classified_once(exc: Exception, kind: type[Exception], reason: str) -> None:
    with pytest.raises(kind) as err:
        ConnectGateway(RaisingClient(exc), "i-1").describe_contact("c-1")
    assert err.value.reason == reason  # type: ignore[attr-defined]
    assert "DescribeContact failed" in err.value.message  # type: ignore[attr-defined]
