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
from botocore.exceptions import BotoCoreError, ClientError

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


class DynamoDBClaims:
    """Implements ``AssociationClaimPort`` on the idempotency table: one conditional PutItem per claim.

    A claim is ``contact-router#claim#<key>``; it lives as long as an idempotency record (the table's TTL
    attribute). Whoever writes it first may call AssociateContactWithUser; every other chain, duplicate or
    redelivery of the same routing episode finds it taken.
    """

    def __init__(
        self, table_name: str, ttl_seconds: int, dynamodb_client: DynamoDBClient, clock: Callable[[], float]
    ) -> None:
        self._table = table_name
        self._ttl = ttl_seconds
        self._dynamodb = dynamodb_client
        self._clock = clock

    def claim(self, key: str) -> bool:
        now = int(self._clock())
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item={"id": {"S": f"{CLAIM_PREFIX}{key}"}, "expiration": {"N": str(now + self._ttl)}},
                # An expired claim not yet removed by the TTL sweeper is free again.
                ConditionExpression="attribute_not_exists(id) OR expiration < :now",
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise TransientError("idempotency_store", f"association claim not written: {exc}") from exc
        except BotoCoreError as exc:
            raise TransientError("idempotency_store", f"association claim not written: {exc}") from exc
        return True

    def release(self, key: str) -> None:
        """Give a claim back after an attempt Connect refused, so a retry may claim it again."""
        try:
            self._dynamodb.delete_item(TableName=self._table, Key={"id": {"S": f"{CLAIM_PREFIX}{key}"}})
        except (ClientError, BotoCoreError) as exc:
            # The claim then expires with its TTL; until then the contact stays with its queue.
            raise TransientError("idempotency_store", f"association claim not released: {exc}") from exc


CLAIM_PREFIX = "contact-router#claim#"
