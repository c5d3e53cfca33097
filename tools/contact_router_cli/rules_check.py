"""``contact-router rules validate`` warnings: rules that can never decide, and names the instance lacks.

Routing and supervision rules are tried in order and the first enabled rule whose conditions hold wins
(sampling is decided after the match). So a rule never decides when an earlier enabled rule matches every
contact it matches:

* **unreachable**: an earlier enabled rule has no conditions at all (a catch-all): every later rule of the
  section is unreachable.
* **shadowed**: an earlier enabled rule's conditions are each implied by this rule's, so every contact this
  rule matches, the earlier one matched first. Identical conditions are the commonest case. Implication is
  checked condition by condition and errs towards silence (a warning is always real, some shadowing through
  aliases such as a username and the same user's id is not found):

  - ``channel``, ``queue``, ``initiation_method``: the earlier rule does not test it, or this rule tests it
    with a subset of the earlier rule's values;
  - each attribute, tag and segment attribute the earlier rule tests, this rule tests too, with a condition
    that implies it (``equals: x`` implies ``one_of: [x, ...]`` and ``present: true`` for a non-empty x;
    ``one_of: S`` implies ``one_of: T`` when S is within T);
  - supervision ``agent``: the earlier rule does not test it, or this rule's users and hierarchy groups are
    within the earlier rule's.

Disabled rules neither shadow nor are reported. With an instance (a world file or a real instance), every
user, queue and hierarchy group a rule names is looked up, and each one that does not exist is a warning
(the router would skip such a candidate at run time with ``unknown_user``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from contact_router.adapters.connect import ConnectGateway
from contact_router.errors import PermanentError
from contact_router.routing.references import ReferenceKind, classify
from contact_router.rules.model import RoutingRule, RulesFile, SupervisionRule, SupervisionWhen, ValueCondition, When

if TYPE_CHECKING:
    from types_boto3_connect import ConnectClient


@dataclass(frozen=True)
class Finding:
    section: str  # routing | supervision
    index: int
    rule: str
    kind: str  # unreachable | shadowed | unknown_user | unknown_queue | unknown_hierarchy_group
    message: str

    def line(self, source: str) -> str:
        return f"{source}: rule '{self.rule}' ({self.section}[{self.index}]): {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "index": self.index,
            "rule": self.rule,
            "kind": self.kind,
            "message": self.message,
        }


# ---------------------------------------------------------------------------- shadowed and unreachable
def reachability(rules: RulesFile) -> list[Finding]:
    findings: list[Finding] = []
    sections: tuple[tuple[str, Sequence[RoutingRule | SupervisionRule]], ...] = (
        ("routing", rules.routing),
        ("supervision", rules.supervision),
    )
    for section, items in sections:
        earlier: list[tuple[int, RoutingRule | SupervisionRule]] = []
        for index, rule in enumerate(items):
            if not rule.enabled:
                continue
            for before_index, before in earlier:
                if _is_catch_all(before.when):
                    findings.append(
                        Finding(
                            section,
                            index,
                            rule.name,
                            "unreachable",
                            f"unreachable: catch-all rule '{before.name}' ({section}[{before_index}]) before it "
                            "has no conditions and takes every contact",
                        )
                    )
                    break
                if _implies(rule.when, before.when):
                    same = _implies(before.when, rule.when)  # each implies the other: the same contacts
                    findings.append(
                        Finding(
                            section,
                            index,
                            rule.name,
                            "shadowed",
                            f"shadowed by rule '{before.name}' ({section}[{before_index}]): "
                            + (
                                "identical conditions"
                                if same
                                else "it matches every contact this rule matches, and comes first"
                            ),
                        )
                    )
                    break
            earlier.append((index, rule))
    return findings


def _is_catch_all(when: When) -> bool:
    return when == type(when)()


def _implies(narrow: When, broad: When) -> bool:
    """Every contact ``narrow`` matches, ``broad`` matches too (conservatively: False when unsure)."""
    for name in ("channel", "queue", "initiation_method"):
        wide = getattr(broad, name)
        if wide is None:
            continue
        tight = getattr(narrow, name)
        if tight is None or not set(tight) <= set(wide):
            return False
    for name in ("attributes", "tags", "segment_attributes"):
        tight_map: dict[str, ValueCondition] = getattr(narrow, name)
        for key, wide_condition in getattr(broad, name).items():
            tight_condition = tight_map.get(key)
            if tight_condition is None or not _condition_implies(tight_condition, wide_condition):
                return False
    if isinstance(broad, SupervisionWhen) and broad.agent is not None:
        tight_agent = narrow.agent if isinstance(narrow, SupervisionWhen) else None
        if tight_agent is None:
            return False
        if not set(tight_agent.users or []) <= set(broad.agent.users or []):
            return False
        if not set(tight_agent.hierarchy_groups or []) <= set(broad.agent.hierarchy_groups or []):
            return False
    return True


def _condition_implies(tight: ValueCondition, wide: ValueCondition) -> bool:
    values = _accepted_values(tight)  # None: any present value, or "absent"
    if wide.present is not None:
        if tight.present is not None:
            return tight.present == wide.present
        assert values is not None
        return all(bool(v) == wide.present for v in values)
    if values is None:
        return False  # "present" or "absent" never implies particular values
    accepted = {wide.equals} if wide.equals is not None else set(wide.one_of or [])
    return values <= accepted


def _accepted_values(condition: ValueCondition) -> set[str] | None:
    if condition.equals is not None:
        return {condition.equals}
    if condition.one_of is not None:
        return set(condition.one_of)
    return None


# ------------------------------------------------------------------------- names the instance lacks
@dataclass(frozen=True)
class Named:
    section: str
    index: int
    rule: str
    field: str
    value: str


class Directory(Protocol):
    """What an instance knows: does this user (id, ARN or username), queue or hierarchy group exist?"""

    def user_exists(self, reference: str) -> bool: ...

    def queue_exists(self, queue_id: str) -> bool: ...

    def hierarchy_group_exists(self, group_id: str) -> bool: ...


def named(rules: RulesFile) -> Iterator[tuple[str, Named]]:
    """(kind, where) for every user, queue and hierarchy group the rules name (kind: user/queue/group)."""
    for index, rule in enumerate(rules.routing):
        for name, value in _queues(rule.when):
            yield "queue", Named("routing", index, rule.name, name, value)
        for position, source in enumerate(rule.candidates):
            for user in source.users or []:
                yield "user", Named("routing", index, rule.name, f"candidates[{position}].users", user)
        for user in rule.exclude_users:
            yield "user", Named("routing", index, rule.name, "exclude_users", user)
    for index, srule in enumerate(rules.supervision):
        for name, value in _queues(srule.when):
            yield "queue", Named("supervision", index, srule.name, name, value)
        for user in srule.supervisors:
            yield "user", Named("supervision", index, srule.name, "supervisors", user)
        agent = srule.when.agent
        for user in (agent.users or []) if agent else []:
            yield "user", Named("supervision", index, srule.name, "when.agent.users", user)
        for group in (agent.hierarchy_groups or []) if agent else []:
            yield "group", Named("supervision", index, srule.name, "when.agent.hierarchy_groups", group)


def _queues(when: When) -> Sequence[tuple[str, str]]:
    return [("when.queue", queue) for queue in when.queue or []]


def missing_names(rules: RulesFile, directory: Directory, instance: str) -> list[Finding]:
    findings: list[Finding] = []
    checks = {
        "user": (directory.user_exists, "unknown_user", "no user"),
        "queue": (directory.queue_exists, "unknown_queue", "no queue"),
        "group": (directory.hierarchy_group_exists, "unknown_hierarchy_group", "no hierarchy group"),
    }
    answers: dict[tuple[str, str], bool] = {}
    for kind, where in named(rules):
        exists, code, words = checks[kind]
        key = (kind, where.value)
        if key not in answers:
            answers[key] = exists(where.value)
        if not answers[key]:
            findings.append(
                Finding(
                    where.section,
                    where.index,
                    where.rule,
                    code,
                    f"{where.field}: {words} {where.value!r} in {instance}",
                )
            )
    return findings


class WorldDirectory:
    """The names of an emulated instance, read from its world file."""

    def __init__(self, world: Any) -> None:
        self.user_ids = {u.id.lower() for u in world.users}
        self.usernames = {u.username.lower() for u in world.users}
        self.queue_ids = {q.id for q in world.queues}
        self.group_ids = {g.id for g in world.hierarchy_groups}

    def user_exists(self, reference: str) -> bool:
        ref = classify(reference)
        if ref.kind is ReferenceKind.USERNAME:
            return ref.value.lower() in self.usernames
        return ref.kind is not ReferenceKind.INVALID and ref.value in self.user_ids

    def queue_exists(self, queue_id: str) -> bool:
        return queue_id in self.queue_ids

    def hierarchy_group_exists(self, group_id: str) -> bool:
        return group_id in self.group_ids


class ConnectDirectory:
    """The names of a real instance, asked read-only (SearchUsers, DescribeUser, DescribeQueue,
    DescribeUserHierarchyGroup) with the caller's credentials."""

    def __init__(self, gateway: ConnectGateway, client: ConnectClient, instance_id: str) -> None:
        self.gateway = gateway
        self.client = client
        self.instance_id = instance_id

    def user_exists(self, reference: str) -> bool:
        ref = classify(reference)
        if ref.kind is ReferenceKind.USERNAME:
            return self.gateway.find_by_username(ref.value) is not None
        if ref.kind is ReferenceKind.INVALID:
            return False
        try:
            self.gateway.describe_user_exists(ref.value)
        except PermanentError as exc:
            if exc.reason == "unknown_user":
                return False
            raise
        return True

    def queue_exists(self, queue_id: str) -> bool:
        return self._found(self.client.describe_queue, InstanceId=self.instance_id, QueueId=queue_id)

    def hierarchy_group_exists(self, group_id: str) -> bool:
        return self._found(
            self.client.describe_user_hierarchy_group, InstanceId=self.instance_id, HierarchyGroupId=group_id
        )

    @staticmethod
    def _found(method: Any, **kwargs: str) -> bool:
        try:
            method(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return False
            raise
        return True
