"""The per-deployment secret that keys the customer-key hashes (Secrets Manager, cached)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from contact_router.errors import ConfigurationError

if TYPE_CHECKING:
    from types_boto3_secretsmanager import SecretsManagerClient


def secret_loader(
    secret_arn: str, secretsmanager_client: SecretsManagerClient | None = None, max_age: int = 3600
) -> Callable[[], bytes]:
    """A function returning the secret's bytes; read from Secrets Manager once per ``max_age`` seconds."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    provider = SecretsProvider(boto3_client=secretsmanager_client)

    def load() -> bytes:
        try:
            value = provider.get(secret_arn, max_age=max_age)
        except GetParameterError as exc:
            raise ConfigurationError([f"CUSTOMER_KEY_SECRET_ARN: cannot read the secret: {exc}"]) from exc
        text = value.decode() if isinstance(value, bytes) else str(value)
        if len(text) < 32:
            raise ConfigurationError(["CUSTOMER_KEY_SECRET_ARN: the secret must be at least 32 characters"])
        return text.encode()

    return load
