"""DynamoDB storage of last agents and account owners, keyed by hashed customer keys only.

Items: ``pk = "last#<hash>"`` (agent_id, contact_id, channel, queue_id, connected_at in ms, expires_at for
TTL) and ``pk = "owner#<hash>"`` (owner_id, kind). A last-agent item only replaces an older one: the
write is conditional on the connection time, so late and duplicated events never overwrite a newer agent.
Owner mappings are loaded by the owners CLI in batches (BatchGetItem to see what is stored, BatchWriteItem to
write or delete), each batch retrying what DynamoDB left unprocessed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from contact_router.errors import TransientError, classify_aws_error
from contact_router.models.affinity import LastAgent, Owner

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_dynamodb.type_defs import (
        KeysAndAttributesUnionTypeDef,
        ScanInputTypeDef,
        WriteRequestUnionTypeDef,
    )

MAX_BATCH_KEYS = 100  # BatchGetItem
MAX_BATCH_WRITES = 25  # BatchWriteItem
BATCH_ATTEMPTS = 8  # unprocessed keys or items are retried with backoff this many times in all

R = TypeVar("R")


class AffinityStore:
    def __init__(
        self,
        table: str,
        dynamodb_client: DynamoDBClient,
        retention_seconds: int = 90 * 86_400,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table = table
        self._ddb = dynamodb_client
        self.retention_seconds = retention_seconds
        self._sleep = sleep

    # ----------------------------------------------------------------------------------- last agents
    def record_last_agent(self, key_hash: str, last: LastAgent) -> bool:
        """True if written; False if a newer (or the same) connection is already stored."""
        connected_ms = int(last.connected_at * 1000)
        item = {
            "pk": {"S": f"last#{key_hash}"},
            "agent_id": {"S": last.agent_id},
            "contact_id": {"S": last.contact_id},
            "channel": {"S": last.channel},
            "connected_at": {"N": str(connected_ms)},
            "expires_at": {"N": str(int(last.connected_at) + self.retention_seconds)},
        }
        if last.queue_id:
            item["queue_id"] = {"S": last.queue_id}
        try:
            self._ddb.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR connected_at < :t",
                ExpressionAttributeValues={":t": {"N": str(connected_ms)}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise _translate(exc, "PutItem") from exc
        except BotoCoreError as exc:
            raise TransientError("affinity_store", f"PutItem failed: {exc}") from exc
        return True

    # ---------------------------------------------------------------------------------------- lookup
    def lookup(self, key_hashes: Sequence[str]) -> tuple[dict[str, LastAgent], dict[str, Owner]]:
        """Last agents and owners of these keys, in one BatchGetItem (a retry only for unprocessed keys)."""
        wanted = [f"{prefix}#{h}" for h in dict.fromkeys(key_hashes) for prefix in ("last", "owner")]
        last: dict[str, LastAgent] = {}
        owners: dict[str, Owner] = {}
        request: Mapping[str, KeysAndAttributesUnionTypeDef] = {
            self.table: {"Keys": [{"pk": {"S": pk}} for pk in wanted[:MAX_BATCH_KEYS]]}
        }
        for _ in range(3):
            try:
                response = self._ddb.batch_get_item(RequestItems=request)
            except ClientError as exc:
                raise _translate(exc, "BatchGetItem") from exc
            except BotoCoreError as exc:
                raise TransientError("affinity_store", f"BatchGetItem failed: {exc}") from exc
            for item in response.get("Responses", {}).get(self.table, []):
                kind, _, key_hash = item["pk"]["S"].partition("#")
                if kind == "last":
                    last[key_hash] = _last_agent(item)
                elif kind == "owner":
                    owners[key_hash] = Owner(owner_id=item["owner_id"]["S"], kind=item["kind"]["S"])
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
        return last, owners

    # ---------------------------------------------------------------------------------------- owners
    def owner_ids_of(self, key_hashes: Sequence[str]) -> dict[str, str]:
        """Key hash -> stored owner id for these keys (absent keys left out), BatchGetItem 100 keys at a time.

        Only the owner id is read: the key's kind is part of its hash, so the owner id alone tells whether a
        stored mapping equals a new one."""
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(key_hashes))
        for start in range(0, len(unique), MAX_BATCH_KEYS):
            keys = [{"pk": {"S": f"owner#{h}"}} for h in unique[start : start + MAX_BATCH_KEYS]]
            request: Mapping[str, KeysAndAttributesUnionTypeDef] = {
                self.table: {"Keys": keys, "ProjectionExpression": "pk, owner_id"}
            }
            for attempt in range(BATCH_ATTEMPTS):
                response = self._batch("BatchGetItem", partial(self._ddb.batch_get_item, RequestItems=request))
                for item in response.get("Responses", {}).get(self.table, []):
                    found[item["pk"]["S"].removeprefix("owner#")] = item["owner_id"]["S"]
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                self._backoff(attempt)
            else:
                raise TransientError("affinity_store", f"BatchGetItem left keys unread after {BATCH_ATTEMPTS} tries")
        return found

    def put_owners(self, owners: Iterable[tuple[str, Owner]]) -> None:
        """Store (key hash, owner) mappings with BatchWriteItem, 25 at a time, retrying unprocessed items.

        Each item is written whole (atomic per item); a batch is not a transaction, and there is no condition:
        the caller decides what to write (``owner_ids_of`` tells what is stored). Keys must be unique per call.
        """
        self._write_batches(
            {"PutRequest": {"Item": {"pk": {"S": f"owner#{h}"}, "owner_id": {"S": o.owner_id}, "kind": {"S": o.kind}}}}
            for h, o in owners
        )

    def delete_owners(self, key_hashes: Iterable[str]) -> None:
        """Delete owner mappings with BatchWriteItem, 25 at a time (deleting an absent key is not an error)."""
        self._write_batches({"DeleteRequest": {"Key": {"pk": {"S": f"owner#{h}"}}}} for h in key_hashes)

    def _write_batches(self, requests: Iterable[WriteRequestUnionTypeDef]) -> None:
        batch: list[WriteRequestUnionTypeDef] = []
        for request in requests:
            batch.append(request)
            if len(batch) == MAX_BATCH_WRITES:
                self._write_batch(batch)
                batch = []
        if batch:
            self._write_batch(batch)

    def _write_batch(self, batch: list[WriteRequestUnionTypeDef]) -> None:
        request: Mapping[str, Sequence[WriteRequestUnionTypeDef]] = {self.table: batch}
        for attempt in range(BATCH_ATTEMPTS):
            response = self._batch("BatchWriteItem", partial(self._ddb.batch_write_item, RequestItems=request))
            request = response.get("UnprocessedItems") or {}
            if not request:
                return
            self._backoff(attempt)
        left = len(request.get(self.table, []))
        raise TransientError(
            "affinity_store", f"BatchWriteItem left {left} item(s) unwritten after {BATCH_ATTEMPTS} tries"
        )

    def _batch(self, operation: str, call: Callable[[], R]) -> R:
        try:
            return call()
        except ClientError as exc:
            raise _translate(exc, operation) from exc
        except BotoCoreError as exc:
            raise TransientError("affinity_store", f"{operation} failed: {exc}") from exc

    def _backoff(self, attempt: int) -> None:
        """Unprocessed keys or items mean throughput ran short: wait before the next try (AWS's advice)."""
        if attempt + 1 < BATCH_ATTEMPTS:
            self._sleep(min(0.05 * 2**attempt, 2.0))

    def owners(self) -> Iterator[tuple[str, Owner]]:
        """Every owner mapping as (key hash, owner)."""
        kwargs: ScanInputTypeDef = {
            "TableName": self.table,
            "FilterExpression": "begins_with(pk, :p)",
            "ExpressionAttributeValues": {":p": {"S": "owner#"}},
        }
        while True:
            page = self._ddb.scan(**kwargs)
            for item in page.get("Items", []):
                yield item["pk"]["S"].removeprefix("owner#"), Owner(item["owner_id"]["S"], item["kind"]["S"])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _last_agent(item: Mapping[str, Any]) -> LastAgent:
    return LastAgent(
        agent_id=item["agent_id"]["S"],
        contact_id=item["contact_id"]["S"],
        channel=item["channel"]["S"],
        connected_at=int(item["connected_at"]["N"]) / 1000,
        queue_id=item.get("queue_id", {}).get("S"),
    )


def _translate(exc: ClientError, operation: str) -> Exception:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    kind = classify_aws_error(code, status)
    reason = "affinity_store" if kind is TransientError else "affinity_store_denied"
    return kind(reason, f"DynamoDB {operation} failed: {code}: {error.get('Message', '')}")
