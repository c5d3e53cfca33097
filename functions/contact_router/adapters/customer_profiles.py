"""Amazon Connect Customer Profiles: SearchProfiles in one domain, paced, its errors classified by ``errors.py``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotoConnectionError

from contact_router.adapters.pacing import Pacer
from contact_router.errors import PERMANENT_REASONS, PermanentError, TransientError, classify_aws_error

if TYPE_CHECKING:
    from types_boto3_customer_profiles import CustomerProfilesClient

OPERATION = "SearchProfiles"


class CustomerProfilesGateway:
    """Implements the ``customer_profile`` source's ``ProfileSearch`` over a botocore ``customer-profiles`` client."""

    def __init__(self, client: CustomerProfilesClient, domain_name: str, pacer: Pacer | None = None) -> None:
        self._client = client
        self.domain_name = domain_name
        self._pacer = pacer

    def search(self, key_name: str, value: str) -> Sequence[Mapping[str, str]]:
        """The Attributes of at most two profiles whose ``key_name`` is ``value``: two are enough to know the key
        does not name one customer, and one page keeps it to one call."""
        if self._pacer is not None:
            self._pacer.acquire(OPERATION)
        try:
            page = self._client.search_profiles(
                DomainName=self.domain_name, KeyName=key_name, Values=[value], MaxResults=2
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "Unknown"))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            # The message names the key, never its value (a phone number or an email address).
            message = f"{OPERATION} in domain {self.domain_name} by {key_name} failed: {code} (HTTP {status})"
            if classify_aws_error(code, status) is TransientError:
                raise TransientError("throttled" if status == 429 else "profiles_unavailable", message) from exc
            reason = "profiles_domain_not_found" if code == "ResourceNotFoundException" else PERMANENT_REASONS.get(code)
            raise PermanentError(reason or "profiles_error", message) from exc
        except (ReadTimeoutError, BotoConnectionError) as exc:
            raise TransientError("timeout", f"{OPERATION} failed: {type(exc).__name__}") from exc
        except BotoCoreError as exc:
            raise PermanentError("invalid_request", f"{OPERATION} failed: {type(exc).__name__}") from exc
        return [dict(item.get("Attributes") or {}) for item in page.get("Items") or []]
