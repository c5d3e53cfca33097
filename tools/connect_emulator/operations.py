"""The emulated Connect operations.

Each handler gets the instance state and the already validated params (member names as in the
service model) and returns the output members as Python values (timestamps as epoch seconds).
To emulate another operation, write a handler and add it to `HANDLERS`: routing, parsing, validation,
fault injection, call accounting and serialization come from the shared pipeline.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from connect_emulator.errors import NOT_IMPLEMENTED, ServiceError
from connect_emulator.state import (
    BARGE,
    SILENT_MONITOR,
    ContactState,
    InstanceState,
    RoutingCriteriaSnapshot,
    RoutingStep,
    UserState,
)
from connect_emulator.world import ASSOCIATED, CONNECTED, DISCONNECTED, OFFLINE, stable_id

Handler = Callable[[InstanceState, Mapping[str, Any]], dict[str, Any]]

INVALID_REQUEST = "InvalidRequestException"
INVALID_PARAMETER = "InvalidParameterException"
NOT_FOUND = "ResourceNotFoundException"
IDEMPOTENCY = "IdempotencyException"
QUOTA_EXCEEDED = "ServiceQuotaExceededException"
CONFLICT = "ResourceConflictException"
MONITORED_CHANNELS = ("VOICE", "CHAT")
CUSTOMER_FIRST = "customer_first"
USER_FILTERS = ("Agents", "Queues", "RoutingProfiles", "UserHierarchyGroups")
DEFAULT_PAGE_SIZE = 100
# Agent-side state reported by GetCurrentUserData for the emulator's contact states (unverified mapping).
AGENT_CONTACT_STATE = {ASSOCIATED: "CONNECTING", CONNECTED: "CONNECTED"}
MISSED = "MISSED"
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
        "InitiationMethod": _initiation_method(state, contact),
        "InitiationTimestamp": contact.initiated_at,
        "LastUpdateTimestamp": contact.last_update,
        "DisconnectTimestamp": contact.disconnected_at,
        "QueueInfo": queue_info,
        "AgentInfo": agent_info,
        "CustomerEndpoint": contact.customer_endpoint,
        "CustomerId": contact.customer_id,
        "Tags": contact.tags,
        "SegmentAttributes": contact.segment_attributes,
        "QueuePriority": contact.queue_priority,
        "QueueTimeAdjustmentSeconds": contact.queue_time_adjustment,
        "RoutingCriteria": _routing_criteria(state.routing_snapshot(contact)),
    }
    described = _compact(described)
    shown = state.instance.attributes_in_describe_contact
    if shown == "always" or (shown == "when_set" and contact.attributes):
        described["Attributes"] = dict(contact.attributes)
    return {"Contact": described}


def _initiation_method(state: InstanceState, contact: ContactState) -> str:
    """A customer-first callback shows as the world's switch says (CALLBACK, or the admin guide's name)."""
    if contact.callback_mode == CUSTOMER_FIRST:
        return state.instance.customer_first_callback_method
    return contact.initiation_method


# ------------------------------------------------------------------------------ GetContactAttributes


def get_contact_attributes(state: InstanceState, params: Mapping[str, Any]) -> dict[str, Any]:
    """The user-defined attributes of a contact chain, named by its initial contact id.

    The contact with that id when the world has it; else the latest contact whose InitialContactId it is (a
    transfer's new contact carries the chain's attributes); neither: 404. Always answers the map, ``{}`` included.
    """
    _require_instance(state, params)
    initial = params["InitialContactId"]
    contact = state.contacts.get(initial)
    if contact is None:
        chain = [c for c in state.contacts.values() if c.initial_contact_id == initial]
        if not chain:
            raise ServiceError(NOT_FOUND, f"Contact not found: {initial}")
        contact = chain[-1]
    return {"Attributes": dict(contact.attributes)}


def _routing_criteria(snapshot: RoutingCriteriaSnapshot | None) -> dict[str, Any] | None:
    if snapshot is None:
        return None
    steps = [
        _compact(
            {
                "Expiry": _compact({"DurationInSeconds": step.duration, "ExpiryTimestamp": step.expires_at}),
                "Expression": step.expression,
                "Status": step.status,
            }
        )
        for step in snapshot.steps
    ]
    return {"Steps": steps, "ActivationTimestamp": snapshot.activated_at, "Index": snapshot.index}


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
    if contact.callback_mode == CUSTOMER_FIRST:
        raise ServiceError(
            INVALID_REQUEST,
            f"Contact {contact.id} is a customer-first callback: AssociateContactWithUser does not support "
            "customer-first mode",
        )
    if not contact.waiting:
        raise ServiceError(
            INVALID_REQUEST,
            f"Contact {contact.id} is not waiting in a queue (state {contact.state}"
            + (f", agent {contact.agent_id})" if contact.agent_id else ")"),
        )
    if state.instance.association_requires_queue and not _serves(state, user, contact):
        # Switch: the API reference neither requires nor excludes an agent whose profile lacks the queue.
        raise ServiceError(
            INVALID_REQUEST,
            f"User {user.id}'s routing profile does not serve queue {contact.queue_id} for {contact.channel} "
            "(world setting instance.association_requires_queue)",
        )
    state.associate(contact, user)
    return {}


def _serves(state: InstanceState, user: UserState, contact: ContactState) -> bool:
    return (contact.queue_id or "", contact.channel) in _profile_queue_pairs(state, user.routing_profile_id)


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
    # Switch instance.user_data_lists_offline: whether logged-out agents appear is not documented.
    lists_offline = state.instance.user_data_lists_offline
    users = [u for u in _filtered_users(state, chosen[0], filters[chosen[0]]) if lists_offline or u.logged_in]
    contact_states = (filters.get("ContactFilter") or {}).get("ContactStates")
    if contact_states:
        users = [u for u in users if any(found in contact_states for _, found, _ in _agent_contacts(state, u))]
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
        "Contacts": [_contact_reference(state, *found) for found in _agent_contacts(state, user)],
        **({"NextStatus": user.next_status} if user.next_status else {}),
    }


def _agent_contacts(state: InstanceState, user: UserState) -> list[tuple[ContactState, str, float | None]]:
    """(contact, AgentContactState, state start): the live contacts, then the offer the agent missed while it
    blocks routing to them (native routing)."""
    found = [(contact, _agent_state(contact), contact.agent_since) for contact in state.live_contacts(user.id)]
    missed = state.contacts.get(user.missed_contact_id or "")
    if missed is not None:
        found.append((missed, MISSED, user.missed_at))
    return found


def _contact_reference(
    state: InstanceState, contact: ContactState, agent_state: str, since: float | None
) -> dict[str, Any]:
    queue = None
    if contact.queue_id is not None:
        queue = {"Id": contact.queue_id, "Arn": state.arn("queue", contact.queue_id)}
    return _compact(
        {
            "ContactId": contact.id,
            "Channel": contact.channel,
            "InitiationMethod": contact.initiation_method,
            "AgentContactState": agent_state,
            "StateStartTimestamp": since,
            "ConnectedToAgentTimestamp": contact.connected_at if agent_state != MISSED else None,
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


# ------------------------------------------------------------------------------ UpdateContactRoutingData

_EXPRESSION_KINDS = ("AttributeCondition", "AndExpression", "OrExpression", "NotAttributeCondition")
_PROFICIENCY_MEMBERS = ("Name", "Value", "ProficiencyLevel", "Range")
MATCH = "Match"


def update_contact_routing_data(state: InstanceState, params: Mapping[str, Any]) -> dict[str, Any]:
    """Queue priority / age and native routing criteria (preferred agents) of a contact still waiting."""
    _require_instance(state, params)
    contact = _require_contact(state, params["ContactId"])
    priority, adjustment = params.get("QueuePriority"), params.get("QueueTimeAdjustmentSeconds")
    criteria = params.get("RoutingCriteria")
    if priority is not None and adjustment is not None:
        raise ServiceError(
            INVALID_PARAMETER, "QueuePriority and QueueTimeAdjustmentSeconds are mutually exclusive: give one"
        )
    if priority is None and adjustment is None and criteria is None:
        raise ServiceError(
            INVALID_PARAMETER, "Nothing to update: give QueuePriority, QueueTimeAdjustmentSeconds or RoutingCriteria"
        )
    steps = routing_steps(state, criteria) if criteria is not None else None
    if not contact.waiting:
        raise ServiceError(
            CONFLICT,
            f"Contact {contact.id} is not waiting in a queue (state {contact.state}): "
            "its routing data can no longer be updated",
        )
    if priority is not None:
        contact.queue_priority = priority
    if adjustment is not None:
        contact.queue_time_adjustment = adjustment
    if steps is not None:
        state.set_routing_criteria(contact, steps)
    contact.last_update = state.clock()
    return {}


def routing_steps(state: InstanceState, criteria: Mapping[str, Any]) -> list[RoutingStep]:
    raw_steps = criteria.get("Steps") or []
    if not raw_steps:
        raise ServiceError(INVALID_PARAMETER, "RoutingCriteria.Steps must contain at least one step")
    steps = []
    for number, raw in enumerate(raw_steps, start=1):
        where = f"RoutingCriteria.Steps[{number}]"
        expiry = raw.get("Expiry")
        duration = expiry.get("DurationInSeconds") if expiry is not None else None
        if expiry is not None and duration is None:
            raise ServiceError(INVALID_PARAMETER, f"{where}.Expiry requires DurationInSeconds")
        if duration is not None and duration < 1:
            raise ServiceError(INVALID_PARAMETER, f"{where}.Expiry.DurationInSeconds must be >= 1, got {duration}")
        if duration is None and number < len(raw_steps):
            raise ServiceError(
                INVALID_PARAMETER, f"{where} has no Expiry: only the last step may last until the contact is answered"
            )
        if raw.get("Expression") is None:
            raise ServiceError(INVALID_PARAMETER, f"{where} requires an Expression")
        agent_ids: list[str] = []
        expression = _expression(state, raw["Expression"], f"{where}.Expression", agent_ids)
        steps.append(RoutingStep(duration, expression, tuple(dict.fromkeys(agent_ids))))
    return steps


def _expression(state: InstanceState, raw: Mapping[str, Any], where: str, agent_ids: list[str]) -> dict[str, Any]:
    """The expression as the model describes it (unknown members dropped), its agent ids collected."""
    chosen = [kind for kind in _EXPRESSION_KINDS if raw.get(kind) is not None]
    if len(chosen) != 1:
        raise ServiceError(
            INVALID_PARAMETER,
            f"{where} must set exactly one of {', '.join(_EXPRESSION_KINDS)}; got {', '.join(chosen) or 'none'}",
        )
    kind = chosen[0]
    if kind == "NotAttributeCondition":
        raise ServiceError(NOT_IMPLEMENTED, f"UpdateContactRoutingData: {where}.NotAttributeCondition is not emulated")
    if kind == "AttributeCondition":
        return {kind: _agents_condition(state, raw[kind], f"{where}.{kind}", agent_ids)}
    if not raw[kind]:
        raise ServiceError(INVALID_PARAMETER, f"{where}.{kind} must contain at least one expression")
    return {
        kind: [
            _expression(state, item, f"{where}.{kind}[{number}]", agent_ids)
            for number, item in enumerate(raw[kind], start=1)
        ]
    }


def _agents_condition(
    state: InstanceState, condition: Mapping[str, Any], where: str, agent_ids: list[str]
) -> dict[str, Any]:
    match = condition.get("MatchCriteria")
    if match is None:
        if condition.get("Name") is not None:
            raise ServiceError(
                NOT_IMPLEMENTED, f"UpdateContactRoutingData: {where} uses predefined attributes, which are not emulated"
            )
        raise ServiceError(INVALID_PARAMETER, f"{where} requires MatchCriteria.AgentsCriteria.AgentIds")
    mixed = [name for name in _PROFICIENCY_MEMBERS if condition.get(name) is not None]
    if mixed:
        raise ServiceError(INVALID_PARAMETER, f"{where}: MatchCriteria cannot be combined with {', '.join(mixed)}")
    operator = condition.get("ComparisonOperator")
    if operator != MATCH:
        raise ServiceError(
            INVALID_PARAMETER, f"{where}.ComparisonOperator must be '{MATCH}' with MatchCriteria, got {operator!r}"
        )
    ids = list((match.get("AgentsCriteria") or {}).get("AgentIds") or [])
    if not ids:
        raise ServiceError(
            INVALID_PARAMETER, f"{where}.MatchCriteria.AgentsCriteria.AgentIds must list at least one user id"
        )
    unknown = [agent_id for agent_id in ids if agent_id not in state.users]
    if unknown:
        raise ServiceError(INVALID_PARAMETER, f"{where}: no user with id {', '.join(unknown)} in this instance")
    agent_ids.extend(ids)
    return {"ComparisonOperator": MATCH, "MatchCriteria": {"AgentsCriteria": {"AgentIds": ids}}}


# ------------------------------------------------------------------------------ SearchContacts

# The contact timestamps a TimeRange (SearchContactsTimeRangeType) or a Sort can name.
_CONTACT_TIMES: Mapping[str, Callable[[ContactState], float | None]] = {
    "INITIATION_TIMESTAMP": lambda contact: contact.initiated_at,
    "ENQUEUE_TIMESTAMP": lambda contact: contact.enqueued_at,
    "CONNECTED_TO_AGENT_TIMESTAMP": lambda contact: contact.connected_at,
    "DISCONNECT_TIMESTAMP": lambda contact: contact.disconnected_at,
    "SCHEDULED_TIMESTAMP": lambda contact: None,  # scheduled tasks are not emulated: nothing matches
}
_SORT_TEXT: Mapping[str, Callable[[ContactState], str]] = {
    "CHANNEL": lambda contact: contact.channel,
    "INITIATION_METHOD": lambda contact: contact.initiation_method,
}
# SearchCriteria members the emulator filters on; any other member given answers 501.
_CONTACT_FILTERS: Mapping[str, Callable[[ContactState], str | None]] = {
    "Channels": lambda contact: contact.channel,
    "QueueIds": lambda contact: contact.queue_id,
    "InitiationMethods": lambda contact: contact.initiation_method,
    "AgentIds": lambda contact: contact.agent_id,
}
# The admin guide: "The search results for a given query are limited to the first 10K results returned."
MAX_SEARCH_RESULTS = 10_000
# ContactSearchSummarySegmentAttributeValue has only these members of SegmentAttributeValue.
_SUMMARY_SEGMENT_MEMBERS = ("ValueString", "ValueMap")


def search_contacts(state: InstanceState, params: Mapping[str, Any]) -> dict[str, Any]:
    """Contacts whose TimeRange timestamp is within [StartTime, EndTime], filtered by SearchCriteria.

    Filters: Channels, QueueIds, InitiationMethods, AgentIds (any value of a list matches; lists ANDed; an
    empty list filters nothing). Searchable: chats, tasks and emails at once; voice contacts only once
    connected to an agent or disconnected (the admin guide's contact search rules). Results are the live
    state (no indexing delay), in initiation order unless `Sort` says otherwise.
    """
    _require_instance(state, params)
    time_range = params["TimeRange"]
    start, end = _epoch(time_range["StartTime"]), _epoch(time_range["EndTime"])
    if start > end:
        raise ServiceError(INVALID_PARAMETER, "TimeRange.StartTime must not be after TimeRange.EndTime")
    criteria = params.get("SearchCriteria") or {}
    not_emulated = sorted(name for name, value in criteria.items() if value and name not in _CONTACT_FILTERS)
    if not_emulated:
        raise ServiceError(NOT_IMPLEMENTED, f"SearchContacts: SearchCriteria.{', '.join(not_emulated)} not emulated")
    timestamp_of = _CONTACT_TIMES[time_range["Type"]]
    found = []
    for contact in state.contacts.values():
        moment = timestamp_of(contact)
        if moment is None or not start <= moment <= end or not _searchable(contact):
            continue
        if all(_CONTACT_FILTERS[name](contact) in wanted for name, wanted in criteria.items() if wanted):
            found.append(contact)
    found = _sorted_contacts(found, params.get("Sort"))[:MAX_SEARCH_RESULTS]
    page, token = _page(found, params)
    return {
        "Contacts": [_contact_summary(state, contact) for contact in page],
        "NextToken": token,
        "TotalCount": len(found),
    }


def _epoch(value: Any) -> float:
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError as exc:
            raise ServiceError(INVALID_PARAMETER, f"{value!r} is not a timestamp") from exc
        return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
    return float(value)


def _searchable(contact: ContactState) -> bool:
    """Voice: once connected to an agent or disconnected; chat, task, email: from initiation."""
    return contact.channel != "VOICE" or contact.connected_at is not None or contact.state == DISCONNECTED


def _sorted_contacts(contacts: list[ContactState], sort: Mapping[str, Any] | None) -> list[ContactState]:
    if sort is None:
        return sorted(contacts, key=lambda contact: (contact.initiated_at, contact.id))
    field, descending = sort["FieldName"], sort["Order"] == "DESCENDING"
    if field in _SORT_TEXT:
        text = _SORT_TEXT[field]
        return sorted(contacts, key=lambda contact: (text(contact), contact.id), reverse=descending)
    if field not in _CONTACT_TIMES:
        raise ServiceError(NOT_IMPLEMENTED, f"SearchContacts: Sort.FieldName {field} is not emulated")
    moment = _CONTACT_TIMES[field]
    # Contacts without that timestamp come last whatever the order.
    timed = sorted(
        (c for c in contacts if moment(c) is not None), key=lambda c: (moment(c) or 0.0, c.id), reverse=descending
    )
    return timed + [c for c in contacts if moment(c) is None]


def _contact_summary(state: InstanceState, contact: ContactState) -> dict[str, Any]:
    queue_info = agent_info = None
    if contact.queue_id is not None:
        queue_info = _compact({"Id": contact.queue_id, "EnqueueTimestamp": contact.enqueued_at})
    if contact.agent_id is not None:
        agent_info = _compact({"Id": contact.agent_id, "ConnectedToAgentTimestamp": contact.connected_at})
    return _compact(
        {
            "Arn": state.arn("contact", contact.id),
            "Id": contact.id,
            "InitialContactId": contact.initial_contact_id,
            "PreviousContactId": contact.previous_contact_id,
            "InitiationMethod": contact.initiation_method,
            "Channel": contact.channel,
            "QueueInfo": queue_info,
            "AgentInfo": agent_info,
            "InitiationTimestamp": contact.initiated_at,
            "DisconnectTimestamp": contact.disconnected_at,
            "SegmentAttributes": _summary_segment_attributes(contact.segment_attributes),
            "Tags": contact.tags,
            "RoutingCriteria": _routing_criteria(state.routing_snapshot(contact)),
        }
    )


def _summary_segment_attributes(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The summary's segment attribute values carry only ValueString and ValueMap; others are left out."""
    kept = {}
    for name, value in raw.items():
        members = {key: value[key] for key in _SUMMARY_SEGMENT_MEMBERS if isinstance(value, Mapping) and key in value}
        if members:
            kept[name] = members
    return kept


# ------------------------------------------------------------------------ DescribeInstance / DescribeQueue
# Read by `contact-router preflight` (does the instance exist in this Region, does each queue of the rules exist).
# The emulated instance is ACTIVE from the start, in INBOUND and OUTBOUND call mode, with Connect-managed users.


def describe_instance(state: InstanceState, params: Mapping[str, Any]) -> dict[str, Any]:
    _require_instance(state, params)
    instance = state.instance
    return {
        "Instance": {
            "Id": instance.id,
            "Arn": instance.arn,
            "IdentityManagementType": "CONNECT_MANAGED",
            "InstanceAlias": f"emulated-{instance.id[:8]}",
            "CreatedTime": state.started_at,
            "InstanceStatus": "ACTIVE",
            "InboundCallsEnabled": True,
            "OutboundCallsEnabled": True,
        }
    }


def describe_queue(state: InstanceState, params: Mapping[str, Any]) -> dict[str, Any]:
    """A queue of the world by id (Connect takes the id here, not the name nor the ARN)."""
    _require_instance(state, params)
    queue = state.queues.get(params["QueueId"])
    if queue is None:
        raise ServiceError(NOT_FOUND, f"Queue not found: {params['QueueId']}")
    return {
        "Queue": {
            "Name": queue.name,
            "QueueArn": state.arn("queue", queue.id),
            "QueueId": queue.id,
            "Status": "ENABLED",
        }
    }


# ------------------------------------------------------------------------------ TransferContact

TRANSFER_CHANNELS = ("TASK", "EMAIL")  # "Transfer is only supported for TASK and EMAIL contacts"
# "The following flow types are supported: Inbound flow, Transfer to agent flow, and Transfer to queue flow."
TRANSFER_FLOW_TYPES = ("CONTACT_FLOW", "AGENT_TRANSFER", "QUEUE_TRANSFER")


def transfer_contact(state: InstanceState, params: Mapping[str, Any]) -> dict[str, Any]:
    """Move an active TASK or EMAIL contact to a queue, or to an agent's own queue (idempotent per ClientToken).

    Flows are not emulated: the contact lands in the target queue directly, with the flow id recorded.
    """
    _require_instance(state, params)
    contact = _require_contact(state, params["ContactId"])
    queue_ref, user_ref, flow_id = params.get("QueueId"), params.get("UserId"), params["ContactFlowId"]
    if queue_ref and user_ref:
        raise ServiceError(INVALID_REQUEST, "Do not use both QueueId and UserId in the same TransferContact call")
    if not queue_ref and not user_ref:
        raise ServiceError(INVALID_REQUEST, "TransferContact needs QueueId (a queue) or UserId (the agent's queue)")
    if not flow_id:
        raise ServiceError(INVALID_REQUEST, "ContactFlowId must name the flow that transfers the contact")
    token = params.get("ClientToken")
    meaning = (contact.id, queue_ref, user_ref, flow_id)
    if token is not None and token in state.transfer_tokens:
        earlier, answered = state.transfer_tokens[token]
        if earlier != meaning:
            raise ServiceError(
                IDEMPOTENCY, f"ClientToken {token} was already used for a different TransferContact request"
            )
        return {"ContactId": answered, "ContactArn": state.arn("contact", answered)}
    queue_id = _transfer_target(state, queue_ref, user_ref)
    _check_transfer_flow(state, flow_id)
    if contact.channel not in TRANSFER_CHANNELS:
        raise ServiceError(
            INVALID_REQUEST,
            f"Contact {contact.id} is a {contact.channel} contact: only TASK and EMAIL contacts can be transferred",
        )
    if contact.state == DISCONNECTED or contact.monitoring_leg:
        raise ServiceError(
            INVALID_REQUEST, f"Contact {contact.id} is not active (state {contact.state}): it cannot be transferred"
        )
    limit = state.routing_spec.max_transfers
    if contact.transfers >= limit:
        raise ServiceError(
            QUOTA_EXCEEDED, f"Contact {contact.id} was already transferred {contact.transfers} times (at most {limit})"
        )
    moved = state.transfer(contact, queue_id, flow_id)
    if token is not None:
        state.transfer_tokens[token] = (meaning, moved.id)
    return {"ContactId": moved.id, "ContactArn": state.arn("contact", moved.id)}


def _check_transfer_flow(state: InstanceState, flow_ref: str) -> None:
    """With flows declared in the world: the flow must exist and be of a type TransferContact supports."""
    flows = state.world.contact_flows
    if not flows:
        return  # flows not declared: any id is accepted (docs/emulator.md)
    flow_id = flow_ref.removeprefix(f"{state.instance_arn}/contact-flow/")
    flow = next((f for f in flows if f.id == flow_id), None)
    if flow is None:
        raise ServiceError(NOT_FOUND, f"Contact flow not found: {flow_ref}")
    if flow.type not in TRANSFER_FLOW_TYPES:
        raise ServiceError(
            INVALID_REQUEST,
            f"Contact flow {flow.id} is a {flow.type} flow: TransferContact takes an Inbound (CONTACT_FLOW), "
            "Transfer to agent (AGENT_TRANSFER) or Transfer to queue (QUEUE_TRANSFER) flow",
        )


def _transfer_target(state: InstanceState, queue_ref: str | None, user_ref: str | None) -> str:
    if queue_ref:
        queue_id = state.find_queue_id(queue_ref)
        if queue_id is None:
            raise ServiceError(NOT_FOUND, f"Queue not found: {queue_ref}")
        return queue_id
    user = state.find_user(str(user_ref), allow_arn=True)
    if user is None:
        raise ServiceError(NOT_FOUND, f"User not found: {user_ref}")
    return state.agent_queue_id(user)


# ------------------------------------------------------------------------------ DismissUserContact


def dismiss_user_contact(state: InstanceState, params: Mapping[str, Any]) -> dict[str, Any]:
    """Clear a contact the agent missed, so routing offers them contacts again (native routing's block)."""
    _require_instance(state, params)
    user = state.find_user(params["UserId"], allow_arn=True)
    if user is None:
        raise ServiceError(NOT_FOUND, f"User not found: {params['UserId']}")
    contact = _require_contact(state, params["ContactId"])
    if user.missed_contact_id == contact.id:
        user.missed_contact_id = user.missed_at = None
        user.activity_at = state.clock()
        return {}
    if contact.state == DISCONNECTED and contact.agent_id == user.id:
        return {}  # an ended contact of theirs: nothing left to dismiss (after-contact work is not emulated)
    raise ServiceError(
        INVALID_REQUEST,
        f"Contact {contact.id} is not a missed or ended contact of user {user.id}: only those can be dismissed",
    )


# ------------------------------------------------------------------------------ ListRoutingProfileQueues


def _profile_queue_pairs(state: InstanceState, profile_id: str) -> list[tuple[str, str]]:
    """(queue id, channel) of a routing profile, in world order: each queue it serves (every STANDARD queue when the
    world lists none) for each channel of its concurrency with at least one slot (a decision: the world gives
    queues without channels)."""
    profile = state.routing_profiles[profile_id]
    queue_ids = (
        profile.queue_ids
        if profile.queue_ids is not None
        else tuple(q.id for q in state.queues.values() if q.type == "STANDARD")
    )
    channels = [channel for channel, slots in profile.concurrency.items() if slots > 0]
    return [(queue_id, channel) for queue_id in queue_ids if queue_id in state.queues for channel in channels]


def list_routing_profile_queues(state: InstanceState, params: Mapping[str, Any]) -> dict[str, Any]:
    """RoutingProfileQueueConfigSummaryList: one entry per queue and channel the profile serves."""
    _require_instance(state, params)
    profile_id = state.find_routing_profile_id(params["RoutingProfileId"])
    if profile_id is None or profile_id != params["RoutingProfileId"]:
        raise ServiceError(NOT_FOUND, f"Routing profile not found: {params['RoutingProfileId']}")
    profile = state.routing_profiles[profile_id]
    summaries = []
    for queue_id, channel in _profile_queue_pairs(state, profile_id):
        priority, delay = profile.queue_config(queue_id)
        summaries.append(
            {
                "QueueId": queue_id,
                "QueueArn": state.arn("queue", queue_id),
                "QueueName": state.queues[queue_id].name,
                "Priority": priority,
                "Delay": delay,
                "Channel": channel,
            }
        )
    page, token = _page(summaries, params)
    return {
        "RoutingProfileQueueConfigSummaryList": list(page),
        "NextToken": token,
        "LastModifiedTime": state.started_at,
        "LastModifiedRegion": state.instance.region,
    }


HANDLERS: Mapping[str, Handler] = {
    "DescribeContact": describe_contact,
    "GetContactAttributes": get_contact_attributes,
    "AssociateContactWithUser": associate_contact_with_user,
    "GetCurrentUserData": get_current_user_data,
    "SearchUsers": search_users,
    "DescribeUser": describe_user,
    "MonitorContact": monitor_contact,
    "UpdateContactRoutingData": update_contact_routing_data,
    "SearchContacts": search_contacts,
    "DescribeInstance": describe_instance,
    "DescribeQueue": describe_queue,
    "TransferContact": transfer_contact,
    "DismissUserContact": dismiss_user_contact,
    "ListRoutingProfileQueues": list_routing_profile_queues,
}
