"""DynamoDB storage of last agents and account owners, keyed by hashed customer keys only.

Items: ``pk = "last#<hash>"`` (agent_id, contact_id, channel, queue_id, connected_at in ms, expires_at for
TTL) and ``pk = "owner#<hash>"`` (owner_id, kind). A last-agent item only replaces an older one: the
write is conditional on the connection time, so late and duplicated events never overwrite a newer agent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from contact_router.errors import TransientError, classify_aws_error
from contact_router.models.affinity import LastAgent, Owner

MAX_BATCH_KEYS = 100  # BatchGetItem


class AffinityStore:
    def __init__(self, table: str, dynamodb_client: Any, retention_seconds: int = 90 * 86_400) -> None:
        self.table = table
        self._ddb = dynamodb_client
        self.retention_seconds = retention_seconds

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
        request: dict[str, Any] = {self.table: {"Keys": [{"pk": {"S": pk}} for pk in wanted[:MAX_BATCH_KEYS]]}}
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
    def put_owner(self, key_hash: str, kind: str, owner_id: str) -> bool:
        """True if stored or changed; False if the same owner was already stored (a rerun is a no-op)."""
        try:
            self._ddb.put_item(
                TableName=self.table,
                Item={"pk": {"S": f"owner#{key_hash}"}, "owner_id": {"S": owner_id}, "kind": {"S": kind}},
                ConditionExpression="attribute_not_exists(pk) OR owner_id <> :o",
                ExpressionAttributeValues={":o": {"S": owner_id}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise _translate(exc, "PutItem") from exc
        return True

    def delete_owner(self, key_hash: str) -> bool:
        """True if an owner mapping was deleted."""
        try:
            response = self._ddb.delete_item(
                TableName=self.table, Key={"pk": {"S": f"owner#{key_hash}"}}, ReturnValues="ALL_OLD"
            )
        except ClientError as exc:
            raise _translate(exc, "DeleteItem") from exc
        return bool(response.get("Attributes"))

    def owners(self) -> Iterator[tuple[str, Owner]]:
        """Every owner mapping as (key hash, owner)."""
        kwargs: dict[str, Any] = {
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
