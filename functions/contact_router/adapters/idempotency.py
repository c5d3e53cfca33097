"""Idempotency on DynamoDB with Powertools: a redelivered event never associates twice."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from contact_router.errors import TransientError

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient

REPLAYED_MARK = "_replayed"


class DynamoDBIdempotency:
    """Implements ``IdempotencyPort``.

    The key is the payload ``{contact_id, queue_id, enqueued_at, dry_run}``: the same queuing of the same
    contact is decided once; a re-queue (transfer to another queue, or back later) has a new key and is
    routed again.
    """

    def __init__(
        self,
        table_name: str,
        ttl_seconds: int,
        dynamodb_client: DynamoDBClient | None = None,
        key_prefix: str = "route",
    ) -> None:
        self.config = IdempotencyConfig(
            expires_after_seconds=ttl_seconds,
            response_hook=_mark_replayed,
            raise_on_no_idempotency_key=True,
        )
        persistence = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=dynamodb_client)
        self._run = idempotent_function(
            _call_work,
            data_keyword_argument="key",
            persistence_store=persistence,
            config=self.config,
            key_prefix=f"contact-router#{key_prefix}",
        )

    def register_lambda_context(self, context: LambdaContext) -> None:
        """Lets an in-progress record expire with the invocation, so a crashed attempt can be retried."""
        self.config.register_lambda_context(context)

    def run(self, key: Mapping[str, Any], work: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
        try:
            result = self._run(key=dict(key), work=work)
        except IdempotencyAlreadyInProgressError as exc:
            raise TransientError("in_progress", "the same contact is being routed by another attempt") from exc
        except IdempotencyPersistenceLayerError as exc:
            raise TransientError("idempotency_store", f"idempotency table unavailable: {exc}") from exc
        replayed = bool(result.pop(REPLAYED_MARK, False))
        return result, replayed


def _call_work(key: dict[str, Any], work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    del key  # hashed by Powertools as the idempotency key
    return work()


def _mark_replayed(response: Any, idempotent_data: DataRecord) -> Any:
    del idempotent_data
    marked = dict(response)
    marked[REPLAYED_MARK] = True
    return marked
