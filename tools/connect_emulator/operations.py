"""The emulated Connect operations.

Each handler gets the instance state and the already validated params (member names as in the
service model) and returns the output members as Python values (timestamps as epoch seconds).
To emulate another operation, write a handler and add it to `HANDLERS`: routing, parsing, validation,
fault injection, call accounting and serialization come from the shared pipeline.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from connect_emulator.errors import NOT_IMPLEMENTED, ServiceError
from connect_emulator.state import (
    BARGE,
    SILENT_MONITOR,
    ContactState,
    InstanceState,
    UserState,
)
from connect_emulator.world import ASSOCIATED, CONNECTED, OFFLINE, stable_id

Handler = Callable[[InstanceState, Mapping[str, Any]], dict[str, Any]]

INVALID_REQUEST = "InvalidRequestException"
INVALID_PARAMETER = "InvalidParameterException"
NOT_FOUND = "ResourceNotFoundException"
IDEMPOTENCY = "IdempotencyException"
QUOTA_EXCEEDED = "ServiceQuotaExceededException"
MONITORED_CHANNELS = ("VOICE", "CHAT")
USER_FILTERS = ("Agents", "Queues", "RoutingProfiles", "UserHierarchyGroups")
DEFAULT_PAGE_SIZE = 100
# Agent-side state reported by GetCurrentUserData for the emulator's contact states (unverified mapping).
AGENT_CONTACT_STATE = {ASSOCIATED: "CONNECTING", CONNECTED: "CONNECTED"}
DEFAULT_SECURITY_PROFILE_ID = stable_id("security-profile", "Agent")
_SOFT_PHONE = {"PhoneType": "SOFT_PHONE", "AutoAccept": False, "AfterContactWorkTimeLimit": 0}


# ------------------------------------------------------------------------------ shared checks


def _compact(members: Mapping[str, Any]) -> dict[str, Any]:
    """Leave out members without a value, as the service does."""
    return {key: value for key, value in members.items() if value not in (None, {}, [])}


def _require_instance(state: InstanceState, params: Mapping[str, Any]) -> None:
    if not state.is_instance(params["InstanceId"]):
        raise ServiceError(NOT_FOUND, f"Instance not found: {params['InstanceId']}")


def _require_contact(state: InstanceState, contact_id: str) -> ContactState:
    contact = state.contacts.get(contact_id)
    if contact is None:
        raise ServiceError(NOT_FOUND, f"Contact not found: {contact_id}")
    return contact


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _decode_token(token: str | None) -> int:
    if token is None:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise ServiceError(INVALID_PARAMETER, "Invalid NextToken") from exc
    if not isinstance(offset, int) or offset < 0:
        raise ServiceError(INVALID_PARAMETER, "Invalid NextToken")
    return offset


def _page(items: Sequence[Any], params: Mapping[str, Any]) -> tuple[Sequence[Any], str | None]:
    offset = _decode_token(params.get("NextToken"))
    size = params.get("MaxResults") or DEFAULT_PAGE_SIZE
    end = offset + size
    return items[offset:end], (_encode_token(end) if end < len(items) else None)


# ------------------------------------------------------------------------------ DescribeContact


def describe_contact(state: InstanceState, params: Mapping[str, Any]) -> dict[str, Any]:
    _require_instance(state, params)
    contact = _require_contact(state, params["ContactId"])
    queue_info = agent_info = None
    if contact.queue_id is not None:
        queue_info = _compact({"Id": contact.queue_id, "EnqueueTimestamp": contact.enqueued_at})
    if contact.agent_id is not None:
        agent_info = _compact({"Id": contact.agent_id, "ConnectedToAgentTimestamp": contact.connected_at})
    described = {
        "Id": contact.id,
        "Arn": state.arn("contact", contact.id),
        "InitialContactId": contact.initial_contact_id,
        "PreviousContactId": contact.previous_contact_id,
        "RelatedContactId": contact.related_contact_id,
        "Channel": contact.channel,
        "InitiationMethod": contact.initiation_method,
        "InitiationTimestamp": contact.initiated_at,
        "LastUpdateTimestamp": contact.last_update,
        "DisconnectTimestamp": contact.disconnected_at,
        "QueueInfo": queue_info,
        "AgentInfo": agent_info,
        "CustomerEndpoint": contact.customer_endpoint,
        "CustomerId": contact.customer_id,
        "Tags": contact.tags,
        "SegmentAttributes": contact.segment_attributes,
        "Attributes": contact.attributes,
    }
    return {"Contact": _compact(described)}


# ------------------------------------------------------------------------------ AssociateContactWithUser


def associate_contact_with_user(state: InstanceState, params: Mapping[str, Any]) -> dict[str, Any]:
    """Offer a waiting contact to a user. Like the service, ignores agent status and capacity."""
    _require_instance(state, params)
    contact = _require_contact(state, params["ContactId"])
    user = state.find_user(params["UserId"], allow_arn=True)
    if user is None:
        raise ServiceError(NOT_FOUND, f"User not found: {params['UserId']}")
    if contact.channel == "VOICE" and not state.instance.voice_association:
        raise ServiceError(
            INVALID_REQUEST,
            f"Contact {contact.id} is a VOICE contact: this instance does not associate voice contacts "
            "(world setting instance.voice_association)",
        )
    if not contact.waiting:
        raise ServiceError(
            INVALID_REQUEST,
            f"Contact {contact.id} is not waiting in a queue (state {contact.state}"
            + (f", agent {contact.agent_id})" if contact.agent_id else ")"),
        )
    state.associate(contact, user)
    return {}


# ------------------------------------------------------------------------------ GetCurrentUserData


def get_current_user_data(state: InstanceState, params: Mapping[str, Any]) -> dict[str, Any]:
    _require_instance(state, params)
    filters = params["Filters"]
    chosen = [name for name in USER_FILTERS if filters.get(name)]
    if len(chosen) != 1:
        raise ServiceError(
            INVALID_REQUEST,
            f"Filters must contain exactly one of {', '.join(USER_FILTERS)}; got {', '.join(chosen) or 'none'}",
        )
    users = [u for u in _filtered_users(state, chosen[0], filters[chosen[0]]) if u.logged_in]
    contact_states = (filters.get("ContactFilter") or {}).get("ContactStates")
    if contact_states:
        users = [u for u in users if any(_agent_state(c) in contact_states for c in state.live_contacts(u.id))]
    page, token = _page(users, params)
    return {
        "UserDataList": [_user_data(state, user) for user in page],
        "NextToken": token,
        "ApproximateTotalCount": len(users),
    }


def _filtered_users(state: InstanceState, kind: str, refs: Iterable[str]) -> list[UserState]:
    if kind == "Agents":
        found = (state.find_user(ref, allow_arn=True) for ref in refs)
        return list({user.id: user for user in found if user is not None}.values())
    if kind == "Queues":
        queue_ids = {state.find_queue_id(ref) for ref in refs} - {None}
        return [
            user
            for user in state.users.values()
            if any(state.routing_profiles[user.routing_profile_id].serves(str(q)) for q in queue_ids)
        ]
    if kind == "RoutingProfiles":
        profile_ids = {state.find_routing_profile_id(ref) for ref in refs}
        return [user for user in state.users.values() if user.routing_profile_id in profile_ids]
    group_ids = {state.find_hierarchy_group_id(ref) for ref in refs} - {None}
    return [user for user in state.users.values() if user.hierarchy_group_id in group_ids]


def _hierarchy_path(state: InstanceState, user: UserState) -> dict[str, Any] | None:
    """The world has one hierarchy level: a user's group is LevelOne (the model has no Name here)."""
    if user.hierarchy_group_id is None:
        return None
    group_id = user.hierarchy_group_id
    return {"LevelOne": {"Id": group_id, "Arn": state.hierarchy_group_arn(group_id)}}


def _agent_state(contact: ContactState) -> str:
    return AGENT_CONTACT_STATE.get(contact.state, "ENDED")


def _user_data(state: InstanceState, user: UserState) -> dict[str, Any]:
    return {
        "User": {"Id": user.id, "Arn": state.user_arn(user.id)},
        "RoutingProfile": {
            "Id": user.routing_profile_id,
            "Arn": state.arn("routing-profile", user.routing_profile_id),
        },
        "HierarchyPath": _hierarchy_path(state, user),
        "Status": {
            "StatusName": user.status,
            "StatusArn": state.status_arn(user.status),
            "StatusStartTimestamp": user.status_since,
        },
        "AvailableSlotsByChannel": state.available_slots(user),
        "MaxSlotsByChannel": state.max_slots(user),
        "ActiveSlotsByChannel": state.active_slots(user),
        "Contacts": [_contact_reference(state, contact) for contact in state.live_contacts(user.id)],
    }


def _contact_reference(state: InstanceState, contact: ContactState) -> dict[str, Any]:
    queue = None
    if contact.queue_id is not None:
        queue = {"Id": contact.queue_id, "Arn": state.arn("queue", contact.queue_id)}
    return _compact(
        {
            "ContactId": contact.id,
            "Channel": contact.channel,
            "InitiationMethod": contact.initiation_method,
            "AgentContactState": _agent_state(contact),
            "StateStartTimestamp": contact.agent_since,
            "ConnectedToAgentTimestamp": contact.connected_at,
            "Queue": queue,
        }
    )


# ------------------------------------------------------------------------------ SearchUsers

_SEARCH_FIELDS: Mapping[str, Callable[[UserState], str | None]] = {
    "username": lambda user: user.username,
    "firstname": lambda user: user.first_name,
    "lastname": lambda user: user.last_name,
    "resourceid": lambda user: user.id,
    "routingprofileid": lambda user: user.routing_profile_id,
}
_NOT_EMULATED_FIELDS = ("securityprofileid",)
_COMPARISONS: Mapping[str, Callable[[str, str], bool]] = {
    "EXACT": lambda field, value: field == value,
    "STARTS_WITH": lambda field, value: field.startswith(value),
    "CONTAINS": lambda field, value: value in field,
}


def search_users(state: InstanceState, params: Mapping[str, Any]) -> dict[str, Any]:
    """Users matching SearchCriteria (all comparisons case-insensitive); Offline users included."""
    _require_instance(state, params)
    if params.get("SearchFilter"):
        raise ServiceError(NOT_IMPLEMENTED, "SearchUsers: SearchFilter (tag and attribute filters) is not emulated")
    criteria = params.get("SearchCriteria")
    if criteria is not None:
        _check_criteria(criteria)
    users = [u for u in state.users.values() if criteria is None or _matches(u, criteria)]
    page, token = _page(users, params)
    return {
        "Users": [_user_summary(state, user) for user in page],
        "NextToken": token,
        "ApproximateTotalCount": len(users),
    }


def _check_criteria(criteria: Mapping[str, Any]) -> None:
    if criteria.get("ListCondition"):
        raise ServiceError(NOT_IMPLEMENTED, "SearchUsers: ListCondition is not emulated")
    group_condition = criteria.get("HierarchyGroupCondition")
    if group_condition is not None and group_condition.get("Value") is None:
        raise ServiceError(INVALID_PARAMETER, "HierarchyGroupCondition requires Value (a hierarchy group id)")
    condition = criteria.get("StringCondition")
    if condition is not None:
        missing = [name for name in ("FieldName", "Value", "ComparisonType") if condition.get(name) is None]
        if missing:
            raise ServiceError(INVALID_PARAMETER, f"StringCondition requires {', '.join(missing)}")
        field = condition["FieldName"].lower()
        if field in _NOT_EMULATED_FIELDS:
            raise ServiceError(NOT_IMPLEMENTED, f"SearchUsers: FieldName {condition['FieldName']} is not emulated")
        if field not in _SEARCH_FIELDS:
            raise ServiceError(INVALID_PARAMETER, f"Unsupported FieldName: {condition['FieldName']}")
    for nested in (*criteria.get("OrConditions", ()), *criteria.get("AndConditions", ())):
        _check_criteria(nested)


def _matches(user: UserState, criteria: Mapping[str, Any]) -> bool:
    """Every condition given in one criteria node must hold (a node normally holds just one)."""
    results: list[bool] = []
    condition = criteria.get("StringCondition")
    if condition is not None:
        field = _SEARCH_FIELDS[condition["FieldName"].lower()](user)
        compare = _COMPARISONS[condition["ComparisonType"]]
        results.append(field is not None and compare(field.casefold(), str(condition["Value"]).casefold()))
    group_condition = criteria.get("HierarchyGroupCondition")
    if group_condition is not None:  # one level: EXACT and WITH_CHILD_GROUPS match the same users
        results.append(user.hierarchy_group_id == group_condition["Value"])
    if criteria.get("OrConditions"):
        results.append(any(_matches(user, nested) for nested in criteria["OrConditions"]))
    if criteria.get("AndConditions"):
        results.append(all(_matches(user, nested) for nested in criteria["AndConditions"]))
    return all(results)


def _identity(user: UserState) -> dict[str, Any] | None:
    return _compact({"FirstName": user.first_name, "LastName": user.last_name}) or None


def _user_summary(state: InstanceState, user: UserState) -> dict[str, Any]:
    return _compact(
        {
            "Id": user.id,
            "Arn": state.user_arn(user.id),
            "Username": user.username,
            "RoutingProfileId": user.routing_profile_id,
            "HierarchyGroupId": user.hierarchy_group_id,
            "SecurityProfileIds": [DEFAULT_SECURITY_PROFILE_ID],
            "IdentityInfo": _identity(user),
            "PhoneConfig": dict(_SOFT_PHONE),
        }
    )


# ------------------------------------------------------------------------------ DescribeUser


def describe_user(state: InstanceState, params: Mapping[str, Any]) -> dict[str, Any]:
    """A user by id (an ARN or a username is not found: Connect documents only the id here)."""
    _require_instance(state, params)
    user = state.find_user(params["UserId"])
    if user is None:
        raise ServiceError(NOT_FOUND, f"User not found: {params['UserId']}")
    described = {
        "Id": user.id,
        "Arn": state.user_arn(user.id),
        "Username": user.username,
        "IdentityInfo": _identity(user),
        "PhoneConfig": dict(_SOFT_PHONE),
        "SecurityProfileIds": [DEFAULT_SECURITY_PROFILE_ID],
        "RoutingProfileId": user.routing_profile_id,
        "HierarchyGroupId": user.hierarchy_group_id,
        "LastModifiedTime": state.started_at,
        "LastModifiedRegion": state.instance.region,
    }
    return {"User": _compact(described)}


# ------------------------------------------------------------------------------ MonitorContact


def monitor_contact(state: InstanceState, params: Mapping[str, Any]) -> dict[str, Any]:
    """Start a supervisor's monitoring leg on a connected contact (idempotent per ClientToken)."""
    _require_instance(state, params)
    contact = _require_contact(state, params["ContactId"])
    supervisor = state.find_user(params["UserId"], allow_arn=True)
    if supervisor is None:
        raise ServiceError(NOT_FOUND, f"User not found: {params['UserId']}")
    capabilities = _monitor_capabilities(params.get("AllowedMonitorCapabilities"))
    token = params.get("ClientToken")
    meaning = (contact.id, supervisor.id, frozenset(capabilities))
    if token is not None and token in state.monitor_tokens:
        earlier, session = state.monitor_tokens[token]
        if earlier != meaning:
            raise ServiceError(
                IDEMPOTENCY,
                f"ClientToken {token} was already used for a different MonitorContact request "
                "(contact, user or capabilities differ)",
            )
        return _monitor_answer(state, session.monitoring_contact_id)
    _check_monitorable(state, contact, supervisor)
    limit = state.instance.max_monitors_per_supervisor
    if len(state.monitoring_legs(supervisor_id=supervisor.id)) >= limit:
        raise ServiceError(
            QUOTA_EXCEEDED,
            f"User {supervisor.id} already monitors {limit} contact{'s' if limit != 1 else ''}: "
            "the concurrent monitoring limit per supervisor is reached",
        )
    session = state.start_monitoring(contact, supervisor, capabilities, token)
    if token is not None:
        state.monitor_tokens[token] = (meaning, session)
    return _monitor_answer(state, session.monitoring_contact_id)


def _monitor_capabilities(requested: Sequence[str] | None) -> tuple[str, ...]:
    """Absent: silent monitoring only. BARGE comes on top of SILENT_MONITOR (a session starts silent)."""
    if requested is None:
        return (SILENT_MONITOR,)
    if not requested:
        raise ServiceError(INVALID_REQUEST, "AllowedMonitorCapabilities must not be empty (omit it for SILENT_MONITOR)")
    if len(set(requested)) != len(requested):
        raise ServiceError(INVALID_REQUEST, f"AllowedMonitorCapabilities lists a capability twice: {list(requested)}")
    if BARGE in requested and SILENT_MONITOR not in requested:
        raise ServiceError(
            INVALID_REQUEST,
            "AllowedMonitorCapabilities: BARGE requires SILENT_MONITOR (monitoring starts silent, then may barge)",
        )
    return tuple(requested)


def _check_monitorable(state: InstanceState, contact: ContactState, supervisor: UserState) -> None:
    if contact.monitoring_leg:
        raise ServiceError(
            INVALID_REQUEST,
            f"Contact {contact.id} is a monitoring contact (initiation method MONITOR): it cannot be monitored",
        )
    if contact.state != CONNECTED:
        raise ServiceError(
            INVALID_REQUEST,
            f"Contact {contact.id} is not connected to an agent (state {contact.state}): it cannot be monitored",
        )
    if contact.channel not in MONITORED_CHANNELS:
        raise ServiceError(
            INVALID_REQUEST,
            f"Contact {contact.id} is a {contact.channel} contact: only VOICE and CHAT can be monitored",
        )
    if contact.agent_id == supervisor.id:
        raise ServiceError(INVALID_REQUEST, f"User {supervisor.id} is the agent on contact {contact.id}")
    if supervisor.status == OFFLINE:
        raise ServiceError(INVALID_REQUEST, f"User {supervisor.id} is not logged in: monitoring needs their CCP")
    if any(leg.agent_id == supervisor.id for leg in state.monitoring_legs(monitored_id=contact.id)):
        raise ServiceError(INVALID_REQUEST, f"User {supervisor.id} already monitors contact {contact.id}")


def _monitor_answer(state: InstanceState, leg_id: str) -> dict[str, Any]:
    return {"ContactId": leg_id, "ContactArn": state.arn("contact", leg_id)}


HANDLERS: Mapping[str, Handler] = {
    "DescribeContact": describe_contact,
    "AssociateContactWithUser": associate_contact_with_user,
    "GetCurrentUserData": get_current_user_data,
    "SearchUsers": search_users,
    "DescribeUser": describe_user,
    "MonitorContact": monitor_contact,
}
