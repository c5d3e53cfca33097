"""The ClientError an AWS service answers, for the in-process stand-ins of services moto lacks."""

from __future__ import annotations

from botocore.exceptions import ClientError


def client_error(operation: str, code: str, status: int, message: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {
                "HTTPStatusCode": status,
                "RequestId": "fake",
                "HostId": "",
                "HTTPHeaders": {},
                "RetryAttempts": 0,
            },
        },
        operation,
    )
