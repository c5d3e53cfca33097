"""The rules file format, validated with pydantic. ``docs/rules.md`` documents it for people and
``schemas/rules.schema.json`` (generated from these models) for editors."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from contact_router.models.agent import MAX_AGENTS_PER_CALL
from contact_router.models.contact import Channel
from contact_router.models.contact_event import queue_id_from_arn

# ContactInitiationMethod in the botocore model (a unit test keeps this list equal to it).
INITIATION_METHODS = (
    "INBOUND",
    "OUTBOUND",
    "TRANSFER",
    "QUEUE_TRANSFER",
    "CALLBACK",
    "API",
    "DISCONNECT",
    "MONITOR",
    "EXTERNAL_OUTBOUND",
    "WEBRTC_API",
    "AGENT_REPLY",
    "FLOW",
)
MAX_RULES = 500  # per section (routing, supervision); docs/rules.md "Limits"
SOURCE_KINDS = ("attribute", "agent_of", "users", "last_agent", "owner", "customer_profile")
RULE_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def _upper(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip().upper()
    if isinstance(value, list):
        return [v.strip().upper() if isinstance(v, str) else v for v in value]
    return value


UserReference = Annotated[str, StringConstraints(min_length=1, max_length=256, strip_whitespace=True)]
NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ValueCondition(_Strict):
    """Exactly one test on a contact attribute, tag or segment attribute."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"oneOf": [{"required": ["equals"]}, {"required": ["one_of"]}, {"required": ["present"]}]},
    )

    equals: str | None = Field(default=None, description="The value equals this string (case-sensitive).")
    one_of: list[str] | None = Field(default=None, min_length=1, description="The value is one of these.")
    present: bool | None = Field(
        default=None, description="true: the key exists with a non-empty value; false: it does not."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> ValueCondition:
        given = [k for k in ("equals", "one_of", "present") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of equals, one_of, present (got {', '.join(given) or 'none'})")
        return self

    def test(self, value: str | None) -> bool:
        if self.present is not None:
            return bool(value) == self.present
        if value is None:
            return False
        if self.equals is not None:
            return value == self.equals
        return value in (self.one_of or [])

    def describe(self) -> str:
        if self.present is not None:
            return "present" if self.present else "absent"
        if self.equals is not None:
            return f"= {self.equals!r}"
        return f"in {self.one_of}"


class When(_Strict):
    """Conditions; all given ones must hold. An empty ``when`` matches every routed contact."""

    channel: Annotated[list[Channel], BeforeValidator(_upper)] | None = Field(default=None, min_length=1)
    queue: list[NonEmpty] | None = Field(
        default=None, min_length=1, description="Queue ids or queue ARNs (compared by id)."
    )
    initiation_method: Annotated[list[str], BeforeValidator(_upper)] | None = Field(default=None, min_length=1)
    attributes: dict[str, ValueCondition] = Field(default_factory=dict, description="User-defined contact attributes.")
    tags: dict[str, ValueCondition] = Field(default_factory=dict)
    segment_attributes: dict[str, ValueCondition] = Field(
        default_factory=dict, description="E.g. connect:Subtype; compared with the attribute's ValueString."
    )

    @field_validator("queue")
    @classmethod
    def _queue_ids(cls, value: list[str] | None) -> list[str] | None:
        return [queue_id_from_arn(q.strip()) for q in value] if value else value

    @field_validator("initiation_method")
    @classmethod
    def _known_methods(cls, value: list[str] | None) -> list[str] | None:
        for method in value or []:
            if method not in INITIATION_METHODS:
                raise ValueError(f"unknown initiation method {method!r}; known: {', '.join(INITIATION_METHODS)}")
        return value


_DURATION = re.compile(r"^\s*(\d{1,9})\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def _duration_seconds(value: Any) -> Any:
    """``90s``, ``30m``, ``24h``, ``7d`` (or a number of seconds) -> seconds."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a duration like 90s, 30m, 24h or 7d")
        return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return value


Duration = Annotated[int, BeforeValidator(_duration_seconds), Field(ge=60, le=400 * 86_400)]


class LastAgentSource(_Strict):
    max_age: Duration = Field(description="Ignore a last agent older than this: 24h, 7d, 90m... (60 s to 400 d).")


# Which of the contact's identities may find its profile, in this order (Customer Profiles' predefined keys).
ProfileSearchKey = Literal["profile_id", "email", "phone"]
PROFILE_SEARCH_KEYS: tuple[ProfileSearchKey, ...] = ("profile_id", "email", "phone")


class CustomerProfileSource(_Strict):
    attribute: Annotated[str, StringConstraints(min_length=1, max_length=255, strip_whitespace=True)] = Field(
        description="The profile attribute (Attributes map of the profile) holding a user id, user ARN or username, "
        "such as preferredAgent or accountOwner."
    )
    search_by: list[ProfileSearchKey] = Field(
        default=list(PROFILE_SEARCH_KEYS),
        min_length=1,
        description="The contact's identities tried in order, first one present wins: profile_id (the contact "
        "attribute named by CUSTOMER_PROFILE_ATTRIBUTE, searched as _profileId), email (_email), phone (_phone).",
    )


class CandidateSource(_Strict):
    """Where candidate agents come from; exactly one key per entry."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"oneOf": [{"required": [kind]} for kind in SOURCE_KINDS]},
    )

    attribute: Annotated[str, StringConstraints(min_length=1, max_length=32767)] | None = Field(
        default=None, description="A contact attribute holding a user id, user ARN or username."
    )
    agent_of: Literal["related", "previous"] | None = Field(
        default=None, description="The agent who handled the related (RelatedContactId) or previous contact."
    )
    users: list[UserReference] | None = Field(
        default=None, min_length=1, max_length=MAX_AGENTS_PER_CALL, description="User ids, ARNs or usernames."
    )

    last_agent: LastAgentSource | None = Field(
        default=None, description="The agent who last handled this customer (any channel), if recent enough."
    )
    owner: Literal[True] | None = Field(default=None, description="The account owner of this customer.")
    customer_profile: CustomerProfileSource | None = Field(
        default=None, description="A user named on the contact's Amazon Connect Customer Profiles profile."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> CandidateSource:
        given = [k for k in SOURCE_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(SOURCE_KINDS)} (got {', '.join(given) or 'none'})")
        return self

    @property
    def kind(self) -> str:
        """The one key given (an entry of SOURCE_KINDS): routing/candidates resolves it."""
        return next(k for k in SOURCE_KINDS if getattr(self, k) is not None)

    @property
    def label(self) -> str:
        """How decision records name the source: ``kind:value`` when the value is a name, else the kind."""
        value = getattr(self, self.kind)
        return f"{self.kind}:{value}" if isinstance(value, str) else self.kind


SQS_MAX_DELAY = 900
FALLBACK_KINDS = ("wait", "park", "routing_criteria", "queue")

# UpdateContactRoutingData limits a routing_criteria fallback is checked against when the rules load
# (docs/rules.md gives the sources). Agents per step: the input model's AgentsCriteria.AgentIds has no count, but
# SearchContacts can match at most 100 agent ids of a step (SearchableAgentCriteriaStep.AgentIds, 0-100) and one
# GetCurrentUserData call reads 100 agents. Steps per criteria: no published number; 20 is this project's bound.
# Step expiry: DurationInSeconds has no modelled range; at least 10 s because the admin guide warns that short
# expiries let default queue routing compete with the criteria, at most a day.
MAX_AGENTS_PER_STEP = 100
MAX_ROUTING_STEPS = 20
MIN_STEP_SECONDS = 10
MAX_STEP_SECONDS = 86_400


class WaitFallback(_Strict):
    interval_seconds: int = Field(ge=1, le=3600, description="Re-check every N seconds (delayed SQS message).")
    max_seconds: int = Field(ge=1, le=86_400, description="Stop waiting after M seconds in total.")

    @model_validator(mode="after")
    def _interval_fits(self) -> WaitFallback:
        if self.interval_seconds > self.max_seconds:
            raise ValueError(
                f"interval_seconds ({self.interval_seconds}) is longer than max_seconds ({self.max_seconds})"
            )
        return self


class RoutingCriteriaFallback(_Strict):
    expiry_seconds: int = Field(
        ge=MIN_STEP_SECONDS,
        le=MAX_STEP_SECONDS,
        description="How long each step offers the contact to its agents before the next.",
    )
    one_step_per_candidate: bool = Field(
        default=False,
        description="false: one step with every candidate; true: one step per candidate, in rule order.",
    )


class ParkFallback(_Strict):
    """TASK and EMAIL only: the work belongs to the preferred agent, so it waits in that agent's own queue."""

    contact_flow_id: Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)] = Field(
        description="The flow TransferContact runs to place the contact in the agent's queue (a Transfer to agent "
        "flow; Inbound and Transfer to queue flows are accepted too): its id or ARN."
    )

    @field_validator("contact_flow_id")
    @classmethod
    def _flow_id(cls, value: str) -> str:
        # TransferContact takes the flow's id: an ARN (.../contact-flow/<id>) is reduced to it
        return value.rsplit("/contact-flow/", 1)[1] if "/contact-flow/" in value else value


def _fallback_shorthand(value: Any) -> Any:
    if value == "queue":
        return {"queue": True}
    if value == "wait":
        raise ValueError("wait needs its settings: {wait: {interval_seconds: N, max_seconds: M}}")
    if value == "routing_criteria":
        raise ValueError("routing_criteria needs its settings: {routing_criteria: {expiry_seconds: N}}")
    if value == "park":
        raise ValueError("park needs its flow: {park: {contact_flow_id: FLOW_ID}}")
    if isinstance(value, str):
        raise ValueError(f"unknown fallback {value!r}; use wait, park, routing_criteria or queue")
    return value


class FallbackStep(_Strict):
    """One step of a rule's fallback: exactly one of wait, park, routing_criteria, queue."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"oneOf": [{"required": [kind]} for kind in FALLBACK_KINDS]},
    )

    wait: WaitFallback | None = None
    park: ParkFallback | None = Field(
        default=None,
        description="TASK and EMAIL: transfer the contact to the first candidate's own queue (TransferContact with "
        "UserId) when nobody can take it now; other channels, or no candidate who is a user, go on to the next step.",
    )
    routing_criteria: RoutingCriteriaFallback | None = None
    queue: Literal[True] | None = Field(default=None, description="Leave the contact to its queue (also: `- queue`).")

    @model_validator(mode="after")
    def _exactly_one(self) -> FallbackStep:
        given = [k for k in FALLBACK_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(FALLBACK_KINDS)} (got {', '.join(given) or 'none'})")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in FALLBACK_KINDS if getattr(self, k) is not None)


def _default_fallback() -> list[FallbackStep]:
    return [FallbackStep(queue=True)]


class RoutingRule(_Strict):
    name: Annotated[str, StringConstraints(pattern=RULE_NAME_RE)]
    description: str | None = None
    enabled: bool = True
    when: When = Field(default_factory=When)
    candidates: list[CandidateSource] = Field(min_length=1, max_length=20)
    allowed_statuses: list[Annotated[str, StringConstraints(min_length=1, max_length=127)]] = Field(
        default_factory=lambda: ["Available"],
        min_length=1,
        description="Agent status names that may receive the contact (custom status names allowed).",
    )
    ignore_capacity: bool = Field(default=False, description="Associate even without a free slot.")
    require_queue_membership: bool = Field(
        default=True,
        description="Associate only agents whose routing profile serves the contact's queue for its channel "
        "(ListRoutingProfileQueues). Routing-criteria fallbacks always require it.",
    )
    exclude_users: list[UserReference] = Field(default_factory=list, description="Never choose these users.")
    fallback: list[Annotated[FallbackStep, BeforeValidator(_fallback_shorthand)]] = Field(
        default_factory=_default_fallback,
        min_length=1,
        max_length=3,
        description="When no candidate is eligible, in order: wait (re-check), park (TASK and EMAIL: the agent's own "
        "queue), routing_criteria (Connect's preferred-agent steps), queue. Default: [queue].",
    )

    @field_validator("fallback")
    @classmethod
    def _possible_order(cls, steps: list[FallbackStep]) -> list[FallbackStep]:
        kinds = [step.kind for step in steps]
        for kind in set(kinds):
            if kinds.count(kind) > 1:
                raise ValueError(f"{kind} is listed twice")
        if "queue" in kinds and kinds.index("queue") != len(kinds) - 1:
            raise ValueError("queue must be the last step: nothing can follow leaving the contact to its queue")
        if "wait" in kinds and "routing_criteria" in kinds and kinds.index("wait") > kinds.index("routing_criteria"):
            raise ValueError(
                "wait cannot follow routing_criteria: once Connect routes by the criteria, re-checking would "
                "compete with it"
            )
        if "park" in kinds and "routing_criteria" in kinds and kinds.index("park") > kinds.index("routing_criteria"):
            raise ValueError("park cannot follow routing_criteria: the criteria end the fallback for every channel")
        if "park" in kinds and "wait" in kinds and kinds.index("park") < kinds.index("wait"):
            raise ValueError("wait cannot follow park: a parked contact has left the queue the router watches")
        return steps

    @model_validator(mode="after")
    def _static_list_fits_one_call(self) -> RoutingRule:
        static = sum(len(s.users or []) for s in self.candidates)
        if static > MAX_AGENTS_PER_CALL:
            raise ValueError(f"at most {MAX_AGENTS_PER_CALL} static users per rule (one GetCurrentUserData call)")
        return self

    @property
    def max_candidates(self) -> int:
        """The most agents the candidate sources can name: each static user, one per other source."""
        return sum(len(s.users) if s.users is not None else 1 for s in self.candidates)

    @property
    def uses_routing_criteria(self) -> bool:
        return any(step.routing_criteria is not None for step in self.fallback)

    @model_validator(mode="after")
    def _routing_criteria_fit(self) -> RoutingRule:
        """The steps a routing_criteria fallback can build must fit UpdateContactRoutingData's limits."""
        spec = next((s.routing_criteria for s in self.fallback if s.routing_criteria is not None), None)
        if spec is None:
            return self
        most = self.max_candidates
        if spec.one_step_per_candidate and most > MAX_ROUTING_STEPS:
            raise ValueError(
                f"routing_criteria with one_step_per_candidate makes one step per candidate: up to {most} here, "
                f"at most {MAX_ROUTING_STEPS} steps"
            )
        if not spec.one_step_per_candidate and most > MAX_AGENTS_PER_STEP:
            raise ValueError(
                f"routing_criteria puts every candidate in one step: up to {most} agents here, "
                f"at most {MAX_AGENTS_PER_STEP} per step"
            )
        return self


MONITOR_CAPABILITIES = ("SILENT_MONITOR", "BARGE")


class AgentCondition(_Strict):
    """The agent handling the contact: any of these users, or a member of any of these hierarchy groups."""

    users: list[UserReference] | None = Field(default=None, min_length=1, description="User ids, ARNs or usernames.")
    hierarchy_groups: list[NonEmpty] | None = Field(
        default=None, min_length=1, description="Agent hierarchy group ids (the agent's own group)."
    )

    @model_validator(mode="after")
    def _at_least_one(self) -> AgentCondition:
        if self.users is None and self.hierarchy_groups is None:
            raise ValueError("give users, hierarchy_groups or both")
        return self


class SupervisionWhen(When):
    """Routing conditions, plus the handling agent and a deterministic sample."""

    agent: AgentCondition | None = None
    sample_rate: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description="Share of matching contacts to monitor, decided from a hash of the contact id: the same "
        "contact always gets the same answer.",
    )


class SupervisionRule(_Strict):
    name: Annotated[str, StringConstraints(pattern=RULE_NAME_RE)]
    description: str | None = None
    enabled: bool = True
    when: SupervisionWhen = Field(default_factory=SupervisionWhen)
    supervisors: list[UserReference] = Field(
        min_length=1, max_length=MAX_AGENTS_PER_CALL, description="In order of preference: ids, ARNs or usernames."
    )
    capabilities: Annotated[list[str], BeforeValidator(_upper)] = Field(
        default_factory=lambda: ["SILENT_MONITOR"],
        min_length=1,
        max_length=2,
        description="[SILENT_MONITOR] or [SILENT_MONITOR, BARGE].",
    )
    allowed_statuses: list[Annotated[str, StringConstraints(min_length=1, max_length=127)]] = Field(
        default_factory=lambda: ["Available"], min_length=1, description="Supervisor statuses that may monitor."
    )
    max_active_contacts: int = Field(
        default=0,
        ge=0,
        le=20,
        description="A supervisor with more contacts than this (calls, chats, monitoring sessions) is busy.",
    )

    @field_validator("capabilities")
    @classmethod
    def _capabilities(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in MONITOR_CAPABILITIES]
        if unknown:
            raise ValueError(f"unknown capability {unknown[0]!r}; allowed: SILENT_MONITOR, BARGE")
        if len(set(value)) != len(value):
            raise ValueError("a capability is listed twice")
        if "SILENT_MONITOR" not in value:
            raise ValueError("SILENT_MONITOR is required (BARGE comes on top of it)")
        return value

    @property
    def barge(self) -> bool:
        return "BARGE" in self.capabilities


class RulesFile(_Strict):
    version: Literal[1] = Field(description="Format version; always 1 for now.")
    routing: list[RoutingRule] = Field(
        default_factory=list, max_length=MAX_RULES, description="Evaluated in order; first match wins."
    )
    supervision: list[SupervisionRule] = Field(
        default_factory=list,
        max_length=MAX_RULES,
        description="Monitoring rules for connected contacts; first match wins.",
    )
    allow_empty: bool = Field(
        default=False,
        description="true: a file with no routing and no supervision rules is intended (nothing is routed or "
        "monitored). Without it such a file is an error, so a truncated or blank update cannot switch routing off.",
    )

    @model_validator(mode="after")
    def _not_empty_by_accident(self) -> RulesFile:
        if not self.routing and not self.supervision and not self.allow_empty:
            raise ValueError(
                "no rules: give at least one routing or supervision rule, or add allow_empty: true to run with "
                "none on purpose"
            )
        return self

    @model_validator(mode="after")
    def _unique_names(self) -> RulesFile:
        for section in (self.routing, self.supervision):
            seen: set[str] = set()
            for rule in section:
                if rule.name in seen:
                    raise ValueError(f"rule name {rule.name!r} is used twice")
                seen.add(rule.name)
        return self


def json_schema() -> dict[str, Any]:
    schema = RulesFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://github.com/contact-router/contact-router/schemas/rules.schema.json"
    schema["title"] = "contact-router rules file"
    return schema


__all__ = [
    "INITIATION_METHODS",
    "MAX_AGENTS_PER_STEP",
    "MAX_ROUTING_STEPS",
    "MAX_RULES",
    "MONITOR_CAPABILITIES",
    "RULE_NAME_RE",
    "AgentCondition",
    "CandidateSource",
    "FallbackStep",
    "LastAgentSource",
    "ParkFallback",
    "RoutingCriteriaFallback",
    "RoutingRule",
    "RulesFile",
    "SupervisionRule",
    "SupervisionWhen",
    "ValueCondition",
    "WaitFallback",
    "When",
    "json_schema",
]
