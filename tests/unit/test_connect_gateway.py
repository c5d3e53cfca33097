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


class RecordingClient:
    """Answers AssociateContactWithUser and MonitorContact, keeping the parameters it was called with."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def associate_contact_with_user(self, **params: Any) -> Any:
        self.calls.append(("AssociateContactWithUser", params))
        return {}

    def monitor_contact(self, **params: Any) -> Any:
        self.calls.append(("MonitorContact", params))
        return {"ContactId": "m-1"}


INSTANCE_ARN = "arn:aws:connect:eu-west-2:123456789012:instance/11111111-2222-4333-8444-555555555555"


@pytest.mark.parametrize(
    "user", ["33333333-0000-4000-8000-000000000001", f"{INSTANCE_ARN}/agent/33333333-0000-4000-8000-000000000001"]
)
def test_association_and_monitoring_name_the_user_by_arn(user: str) -> None:
    # GIVEN a gateway for an instance ARN WHEN it associates and monitors with a user id or ARN
    client = RecordingClient()
    gateway = ConnectGateway(client, "11111111-2222-4333-8444-555555555555", instance_arn=INSTANCE_ARN)
    gateway.associate("c-1", user)
    gateway.monitor_contact("c-1", user, ["SILENT_MONITOR"], "token")
    # THEN Connect gets the user's ARN as UserId both times (connect:PreferredUserArn is then certain)
    expected = f"{INSTANCE_ARN}/agent/33333333-0000-4000-8000-000000000001"
    assert [params["UserId"] for _, params in client.calls] == [expected, expected]


def test_a_describe_contact_without_the_attributes_key_marks_them_missing_and_an_empty_map_does_not() -> None:
    from contact_router.adapters.connect import contact_from_api

    # GIVEN a DescribeContact answer without Attributes, and one with an empty map
    absent = contact_from_api({"Id": "c-1", "Channel": "CHAT"})
    empty = contact_from_api({"Id": "c-1", "Channel": "CHAT", "Attributes": {}})
    # THEN only the first is "missing"; both have no attributes
    assert (absent.attributes_missing, dict(absent.attributes)) == (True, {})
    assert (empty.attributes_missing, dict(empty.attributes)) == (False, {})


class AttributesClient:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def get_contact_attributes(self, **params: Any) -> Any:
        self.calls.append(params)
        return {"Attributes": {"preferredAgent": "dana"}}


def test_get_contact_attributes_names_the_initial_contact_and_goes_through_the_pacer() -> None:
    from contact_router.adapters.pacing import Pacer

    # GIVEN a pacer allowing GetContactAttributes 1 request/s (burst 2.5) on a virtual clock
    slept: list[float] = []
    pacer = Pacer({"GetContactAttributes": 1.0}, clock=lambda: 0.0, sleep=slept.append)
    client = AttributesClient()
    gateway = ConnectGateway(client, "i-1", pacer=pacer)
    # WHEN three reads are made at once
    answers = [gateway.contact_attributes("c-0") for _ in range(3)]
    # THEN each names the initial contact, and the third waited for its token
    assert answers == [{"preferredAgent": "dana"}] * 3
    assert client.calls[0] == {"InstanceId": "i-1", "InitialContactId": "c-0"}
    assert len(slept) == 1
    assert slept[0] > 0
