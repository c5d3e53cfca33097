"""Routing-episode claims on the idempotency table (routing/episodes.py): one conditional write per episode.

An item ``contact-router#episode#<contact>#<enqueue epoch seconds>`` names its owner (the SQS message id of the delivery
that claimed it) and the owner's lease (the end of that delivery's invocation). ``ReturnValues`` and
``ReturnValuesOnConditionCheckFailure`` give back the item as it was, so one request tells a fresh claim, a
resumed one, a duplicate and an owner still at work apart. Items expire with the table's TTL attribute.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from contact_router.errors import TransientError
from contact_router.routing.episodes import Claim, Guard, Hold

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient

EPISODE_PREFIX = "contact-router#episode#"
_NAMES = {"#owner": "owner", "#assoc": "association"}  # OWNER is a DynamoDB reserved word


class DynamoDBEpisodes:
    """Implements ``EpisodePort``."""

    def __init__(
        self, table_name: str, ttl_seconds: int, dynamodb_client: DynamoDBClient, clock: Callable[[], float]
    ) -> None:
        self._table = table_name
        self._ttl = ttl_seconds
        self._dynamodb = dynamodb_client
        self._clock = clock

    def claim(self, episode: str, owner: str, lease_until: float) -> Claim:
        now = self._clock()
        try:
            answer = self._dynamodb.put_item(
                TableName=self._table,
                Item={
                    "id": {"S": EPISODE_PREFIX + episode},
                    "owner": {"S": owner},
                    "lease_until": {"N": str(int(lease_until) + 1)},
                    "claimed_at": {"N": str(int(now))},
                    "expiration": {"N": str(int(now) + self._ttl)},
                },
                # Free, expired (not yet swept by TTL), or this very message again after its invocation ended.
                ConditionExpression=(
                    "attribute_not_exists(id) OR expiration < :now OR (#owner = :owner AND lease_until < :now)"
                ),
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":now": {"N": str(int(now))}, ":owner": {"S": owner}},
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise _unavailable("episode claim not written", exc) from exc
            # ReturnValuesOnConditionCheckFailure: the item as it stands, in the error's response
            held = cast(dict[str, Any], exc.response.get("Item") or {})
            holder = _text(held, "owner")
            hold = Hold.IN_PROGRESS if holder == owner else Hold.TAKEN
            return Claim(hold, episode, owner, holder=holder, claimed_at=_number(held, "claimed_at"))
        except BotoCoreError as exc:
            raise _unavailable("episode claim not written", exc) from exc
        before = cast(dict[str, Any], answer.get("Attributes") or {})
        hold = Hold.RESUMED if before and _text(before, "owner") == owner else Hold.FRESH
        return Claim(hold, episode, owner)

    def release(self, episode: str, owner: str) -> None:
        try:
            self._dynamodb.delete_item(
                TableName=self._table,
                Key={"id": {"S": EPISODE_PREFIX + episode}},
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":  # someone else's now: nothing to give back
                raise _unavailable("episode claim not released", exc) from exc
        except BotoCoreError as exc:
            raise _unavailable("episode claim not released", exc) from exc

    def guard_association(self, episode: str, owner: str | None, token: str) -> Guard:
        condition = "attribute_not_exists(#assoc)"
        values: dict[str, Any] = {":token": {"S": token}, ":expiry": {"N": str(int(self._clock()) + self._ttl)}}
        names = dict(_NAMES)
        if owner:
            # The chain's owner still holds the episode (or nobody does: no claim, or one a guard created): a
            # duplicate that took the episode over after a release owns its association too.
            condition += " AND (attribute_not_exists(#owner) OR #owner = :owner)"
            values[":owner"] = {"S": owner}
        else:
            del names["#owner"]
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"id": {"S": EPISODE_PREFIX + episode}},
                UpdateExpression="SET #assoc = :token, expiration = if_not_exists(expiration, :expiry)",
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                held = cast(dict[str, Any], exc.response.get("Item") or {})
                return Guard.AGAIN if _text(held, "association") == token else Guard.TAKEN
            raise _unavailable("association guard not written", exc) from exc
        except BotoCoreError as exc:
            raise _unavailable("association guard not written", exc) from exc
        return Guard.WON

    def release_association(self, episode: str, token: str) -> None:
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"id": {"S": EPISODE_PREFIX + episode}},
                UpdateExpression="REMOVE #assoc",
                ConditionExpression="#assoc = :token",
                ExpressionAttributeNames={"#assoc": "association"},
                ExpressionAttributeValues={":token": {"S": token}},
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                # The guard then expires with the item's TTL; until then the contact stays with its queue.
                raise _unavailable("association guard not released", exc) from exc
        except BotoCoreError as exc:
            raise _unavailable("association guard not released", exc) from exc


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _unavailable(what: str, exc: Exception) -> TransientError:
    return TransientError("idempotency_store", f"{what}: {exc}")


def _text(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return str(value["S"]) if isinstance(value, dict) and "S" in value else None


def _number(item: dict[str, Any], name: str) -> float | None:
    value = item.get(name)
    try:
        return float(value["N"]) if isinstance(value, dict) and "N" in value else None
    except (TypeError, ValueError):
        return None
