"""Amazon Connect: the one place that calls the Connect API and translates its answers and errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from contact_router.adapters.pacing import Pacer
from contact_router.errors import PERMANENT_REASONS, PermanentError, TransientError, classify_aws_error
from contact_router.models.agent import (
    BLOCKING_CONTACT_STATES,
    MAX_AGENTS_PER_CALL,
    AgentState,
    QueueMembership,
    UserRef,
)
from contact_router.models.contact import Contact, flatten_segment_attributes
from contact_router.observability import debug_payload

if TYPE_CHECKING:
    from types_boto3_connect import ConnectClient
    from types_boto3_connect.literals import ChannelType, MonitorCapabilityType, SearchContactsTimeRangeTypeType
    from types_boto3_connect.type_defs import (
        GetCurrentUserDataRequestTypeDef,
        ListRoutingProfileQueuesRequestTypeDef,
        RoutingCriteriaInputStepTypeDef,
        SearchContactsRequestTypeDef,
    )

K = TypeVar("K")
V = TypeVar("V")
R = TypeVar("R")


class ConnectGateway:
    """Implements ``ConnectPort`` and ``UserDirectoryPort`` over a boto3 ``connect`` client."""

    def __init__(
        self,
        client: ConnectClient,
        instance_id: str,
        user_cache_seconds: int = 300,
        clock: Callable[[], float] = time.monotonic,
        pacer: Pacer | None = None,
        instance_arn: str = "",
    ) -> None:
        self._client = client
        self.instance_id = instance_id
        self.instance_arn = instance_arn
        self._pacer = pacer
        self._users = TtlCache[str, UserRef | None](user_cache_seconds, clock)
        self._groups = TtlCache[str, str | None](user_cache_seconds, clock)
        self._profiles_of = TtlCache[str, str | None](user_cache_seconds, clock)
        # Routing profiles change rarely: one ListRoutingProfileQueues per profile per TTL, not per contact.
        self._profile_queues = TtlCache[str, QueueMembership](user_cache_seconds, clock)

    # ------------------------------------------------------------------------------------ contacts
    def describe_contact(self, contact_id: str) -> Contact:
        response = self._call(
            "DescribeContact",
            lambda: self._client.describe_contact(InstanceId=self.instance_id, ContactId=contact_id),
            not_found="unknown_contact",
        )
        debug_payload("described contact", contact=response.get("Contact", {}))
        return contact_from_api(response["Contact"])

    def contact_attributes(self, initial_contact_id: str) -> dict[str, str]:
        """GetContactAttributes: the user-defined attributes of a contact, named by its initial contact id (the
        attributes belong to the whole chain of contacts). Paced like every call."""
        response = self._call(
            "GetContactAttributes",
            lambda: self._client.get_contact_attributes(
                InstanceId=self.instance_id, InitialContactId=initial_contact_id
            ),
            not_found="unknown_contact",
        )
        return {str(k): str(v) for k, v in (response.get("Attributes") or {}).items()}

    def associate(self, contact_id: str, user_id: str) -> None:
        self._call(
            "AssociateContactWithUser",
            lambda: self._client.associate_contact_with_user(
                InstanceId=self.instance_id, ContactId=contact_id, UserId=self.user_arn(user_id)
            ),
        )

    def user_arn(self, user_id: str) -> str:
        """The user's ARN (``<instance ARN>/agent/<id>``), what AssociateContactWithUser and MonitorContact get as
        ``UserId``: IAM's ``connect:PreferredUserArn`` is the user's ARN, and whether Connect fills it when
        ``UserId`` is a plain id is undocumented. An ARN is kept; without an instance ARN the id is kept."""
        if user_id.startswith("arn:") or not self.instance_arn:
            return user_id
        return f"{self.instance_arn}/agent/{user_id}"

    def update_routing_criteria(self, contact_id: str, steps: Sequence[Mapping[str, Any]]) -> None:
        """Connect's native preferred-agent routing: offer to these agents while each step lasts."""
        # The pure core builds the steps (routing/steps.py) without the stubs: they are Connect's step shape.
        typed_steps = cast("list[RoutingCriteriaInputStepTypeDef]", [dict(step) for step in steps])
        self._call(
            "UpdateContactRoutingData",
            lambda: self._client.update_contact_routing_data(
                InstanceId=self.instance_id, ContactId=contact_id, RoutingCriteria={"Steps": typed_steps}
            ),
        )

    # -------------------------------------------------------------------------------------- agents
    def current_user_data(self, user_ids: Sequence[str]) -> Mapping[str, AgentState]:
        states: dict[str, AgentState] = {}
        unique = list(dict.fromkeys(user_ids))
        for start in range(0, len(unique), MAX_AGENTS_PER_CALL):
            chunk = unique[start : start + MAX_AGENTS_PER_CALL]
            token: str | None = None
            while True:
                kwargs: GetCurrentUserDataRequestTypeDef = {
                    "InstanceId": self.instance_id,
                    "Filters": {"Agents": chunk},
                    "MaxResults": MAX_AGENTS_PER_CALL,
                }
                if token:
                    kwargs["NextToken"] = token
                page = self._call("GetCurrentUserData", partial(self._client.get_current_user_data, **kwargs))
                for item in page.get("UserDataList", []):
                    state = agent_state_from_api(item)
                    states[state.user_id] = state
                token = page.get("NextToken")
                if not token:
                    break
        return states

    # ---------------------------------------------------------------------------------------- users
    def find_by_username(self, username: str) -> UserRef | None:
        """SearchUsers by exact username, cached (users change rarely; misses are cached too)."""
        key = username.lower()
        hit, cached = self._users.get(key)
        if hit:
            return cached
        response = self._call(
            "SearchUsers",
            lambda: self._client.search_users(
                InstanceId=self.instance_id,
                SearchCriteria={
                    "StringCondition": {"FieldName": "Username", "Value": username, "ComparisonType": "EXACT"}
                },
                MaxResults=2,
            ),
        )
        found = None
        for user in response.get("Users", []):
            if str(user.get("Username", "")).lower() == key:
                found = UserRef(id=user["Id"], arn=user["Arn"], username=user["Username"])
                break
        self._users.put(key, found)
        return found

    def describe_user_exists(self, user_id: str) -> None:
        """Raises PermanentError(reason="unknown_user") if there is no such user in the instance."""
        self._call(
            "DescribeUser",
            lambda: self._client.describe_user(InstanceId=self.instance_id, UserId=user_id),
            not_found="unknown_user",
        )

    def hierarchy_group_of(self, user_id: str) -> str | None:
        """The user's own hierarchy group id (DescribeUser), cached like usernames."""
        key = f"group:{user_id}"
        hit, cached = self._groups.get(key)
        if hit:
            return cached
        self._describe_user(user_id)
        return self._groups.get(key)[1]

    def routing_profile_of(self, user_id: str) -> str | None:
        """The user's routing profile id (DescribeUser), for agents GetCurrentUserData does not list; cached."""
        hit, cached = self._profiles_of.get(user_id)
        if hit:
            return cached
        self._describe_user(user_id)
        return self._profiles_of.get(user_id)[1]

    def _describe_user(self, user_id: str) -> None:
        response = self._call(
            "DescribeUser",
            lambda: self._client.describe_user(InstanceId=self.instance_id, UserId=user_id),
            not_found="unknown_user",
        )
        user = response.get("User", {})
        group, profile = user.get("HierarchyGroupId"), user.get("RoutingProfileId")
        self._groups.put(f"group:{user_id}", group if isinstance(group, str) else None)
        self._profiles_of.put(user_id, profile if isinstance(profile, str) else None)

    def routing_profile_queues(self, routing_profile_id: str) -> QueueMembership:
        """The (queue id, channel) pairs a routing profile serves (ListRoutingProfileQueues, every page), cached per
        profile for USER_CACHE_SECONDS. A profile that no longer exists serves nothing."""
        hit, cached = self._profile_queues.get(routing_profile_id)
        if hit and cached is not None:
            return cached
        pairs: set[tuple[str, str]] = set()
        token: str | None = None
        while True:
            kwargs: ListRoutingProfileQueuesRequestTypeDef = {
                "InstanceId": self.instance_id,
                "RoutingProfileId": routing_profile_id,
                "MaxResults": 100,
            }
            if token:
                kwargs["NextToken"] = token
            try:
                page = self._call(
                    "ListRoutingProfileQueues",
                    partial(self._client.list_routing_profile_queues, **kwargs),
                    not_found="unknown_routing_profile",
                )
            except PermanentError as exc:
                if exc.reason != "unknown_routing_profile":
                    raise
                break
            for item in page.get("RoutingProfileQueueConfigSummaryList", []):
                pairs.add((str(item["QueueId"]), str(item["Channel"])))
            token = page.get("NextToken")
            if not token:
                break
        membership = QueueMembership(routing_profile_id, frozenset(pairs))
        self._profile_queues.put(routing_profile_id, membership)
        return membership

    def transfer_to_agent(self, contact_id: str, user_id: str, contact_flow_id: str, client_token: str) -> None:
        """TransferContact with UserId (the agent's own queue), never QueueId; TASK and EMAIL only."""
        self._call(
            "TransferContact",
            lambda: self._client.transfer_contact(
                InstanceId=self.instance_id,
                ContactId=contact_id,
                UserId=user_id,
                ContactFlowId=contact_flow_id,
                ClientToken=client_token,
            ),
        )

    # ------------------------------------------------------------------------------------- monitoring
    def monitor_contact(self, contact_id: str, user_id: str, capabilities: Sequence[str], client_token: str) -> str:
        """Start monitoring; returns the monitoring leg's contact id."""
        response = self._call(
            "MonitorContact",
            lambda: self._client.monitor_contact(
                InstanceId=self.instance_id,
                ContactId=contact_id,
                UserId=self.user_arn(user_id),
                # Checked against Connect's values by the rules' validation (supervision/policy.py).
                AllowedMonitorCapabilities=cast("list[MonitorCapabilityType]", list(capabilities)),
                ClientToken=client_token,
            ),
        )
        return str(response["ContactId"])

    # ---------------------------------------------------------------------------------------- errors
    def _call(self, operation: str, call: Callable[[], R], not_found: str = "not_found") -> R:
        """``call`` (one Connect request), paced, its errors translated; ``not_found`` is the reason of a
        ResourceNotFoundException."""
        if self._pacer is not None:
            self._pacer.acquire(operation)
        try:
            return call()
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "Unknown"))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            message = f"{operation} failed: {code} (HTTP {status}): {error.get('Message', '')}".strip()
            kind = classify_aws_error(code, status)
            if kind is TransientError:
                raise TransientError("throttled" if status == 429 else "connect_unavailable", message) from exc
            reason = not_found if code == "ResourceNotFoundException" else PERMANENT_REASONS.get(code, "connect_error")
            raise PermanentError(reason, message) from exc
        except (ReadTimeoutError, BotoConnectionError) as exc:
            raise TransientError("timeout", f"{operation} failed: {exc}") from exc
        except BotoCoreError as exc:
            # Parameter validation and similar client-side failures will not improve with retries.
            raise PermanentError("invalid_request", f"{operation} failed: {exc}") from exc

    # -------------------------------------------------------------------------------------- search
    def search_contacts(
        self,
        start: datetime,
        end: datetime,
        *,
        queue_ids: Sequence[str],
        channels: Sequence[str],
        timestamp: str = "INITIATION_TIMESTAMP",
        next_token: str | None = None,
        max_results: int = 100,
    ) -> tuple[list[Contact], str | None]:
        """One page of SearchContacts: the contacts whose ``timestamp`` lies in [start, end], in these queues
        and channels, and the token of the next page (None on the last one).

        A ContactSearchSummary has what the waiting check needs (QueueInfo, AgentInfo, DisconnectTimestamp),
        but neither user-defined attributes nor the customer endpoint: the router reads those itself.
        """
        kwargs: SearchContactsRequestTypeDef = {
            "InstanceId": self.instance_id,
            "TimeRange": {
                "Type": cast("SearchContactsTimeRangeTypeType", timestamp),
                "StartTime": start,
                "EndTime": end,
            },
            # The sweep's own constants (sweeper.py SWEPT_CHANNELS, the port's default timestamp).
            "SearchCriteria": {"QueueIds": list(queue_ids), "Channels": cast("list[ChannelType]", list(channels))},
            "MaxResults": max_results,
        }
        if next_token:
            kwargs["NextToken"] = next_token
        page = self._call("SearchContacts", partial(self._client.search_contacts, **kwargs))
        summaries = page.get("Contacts", [])
        debug_payload("searched contacts", contacts=summaries)
        return [contact_from_api(raw) for raw in summaries], page.get("NextToken") or None


def contact_from_api(raw: Mapping[str, Any]) -> Contact:
    queue = raw.get("QueueInfo") or {}
    agent = raw.get("AgentInfo") or {}
    return Contact(
        id=raw["Id"],
        channel=str(raw.get("Channel", "")).upper(),
        initiation_method=raw.get("InitiationMethod"),
        queue_id=queue.get("Id"),
        enqueued_at=_dt(queue.get("EnqueueTimestamp")),
        agent_id=agent.get("Id"),
        connected_to_agent_at=_dt(agent.get("ConnectedToAgentTimestamp")),
        disconnected_at=_dt(raw.get("DisconnectTimestamp")),
        initial_contact_id=raw.get("InitialContactId"),
        previous_contact_id=raw.get("PreviousContactId"),
        related_contact_id=raw.get("RelatedContactId"),
        attributes=dict(raw.get("Attributes") or {}),
        attributes_missing="Attributes" not in raw,
        tags=dict(raw.get("Tags") or {}),
        segment_attributes=flatten_segment_attributes(raw.get("SegmentAttributes")),
        customer_endpoint=_endpoint(raw.get("CustomerEndpoint")),
        customer_id=raw.get("CustomerId"),
    )


def _endpoint(raw: Mapping[str, Any] | None) -> tuple[str, str] | None:
    if not raw or not raw.get("Address"):
        return None
    return str(raw.get("Type", "")), str(raw["Address"])


def agent_state_from_api(raw: Mapping[str, Any]) -> AgentState:
    status = raw.get("Status") or {}
    contacts = raw.get("Contacts") or []
    profile = (raw.get("RoutingProfile") or {}).get("Id")
    next_status = raw.get("NextStatus")
    return AgentState(
        user_id=raw["User"]["Id"],
        status_name=str(status.get("StatusName", "")),
        available_slots=dict(raw.get("AvailableSlotsByChannel") or {}),
        max_slots=dict(raw.get("MaxSlotsByChannel") or {}),
        active_contacts=len(contacts),
        routing_profile_id=profile if isinstance(profile, str) and profile else None,
        next_status=next_status if isinstance(next_status, str) and next_status else None,
        blocking=tuple(
            (str(c.get("ContactId", "")), str(c["AgentContactState"]))
            for c in contacts
            if c.get("AgentContactState") in BLOCKING_CONTACT_STATES
        ),
    )


def _dt(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


class TtlCache(Generic[K, V]):
    """A small thread-safe cache with per-entry expiry (a Lambda environment serves one request at a time,
    the local simulator runs several workers)."""

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic, max_items: int = 2048):
        self._ttl = ttl_seconds
        self._clock = clock
        self._max = max_items
        self._items: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> tuple[bool, V | None]:
        with self._lock:
            entry = self._items.get(key)
            if entry is None or entry[0] <= self._clock():
                return False, None
            return True, entry[1]

    def put(self, key: K, value: V) -> None:
        if self._ttl <= 0:
            return
        with self._lock:
            if len(self._items) >= self._max:
                self._items.pop(next(iter(self._items)))
            self._items[key] = (self._clock() + self._ttl, value)
