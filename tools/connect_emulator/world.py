"""The world file: a readable description of one emulated Connect instance (format: docs/emulator.md).

Loading validates everything up front and reports the entry and field at fault, for example
`users[2] (tariq): routing_profile 'Nope' is not defined`.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import yaml

from connect_emulator.errors import WorldError
from connect_emulator.faults import FaultsSpec, Latency, RateQuota
from connect_emulator.model import ConnectModel, default_model

CHANNELS = ("VOICE", "CHAT", "TASK", "EMAIL")
OFFLINE = "Offline"
QUEUED, ASSOCIATED, CONNECTED, DISCONNECTED = "QUEUED", "ASSOCIATED", "CONNECTED", "DISCONNECTED"
CONTACT_STATES = (QUEUED, ASSOCIATED, CONNECTED, DISCONNECTED)
QUEUE_TYPES = ("STANDARD", "AGENT")
MONITOR = "MONITOR"
DEFAULT_REGION = "eu-west-2"
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_STATUS = "Available"
# Native routing (docs/emulator.md, "Native routing"): the documented defaults and the named choices.
ROUTABLE_STATUS = "Available"  # the admin guide: contacts are routed to agents in the Available status
CROSS_CHANNEL_BEHAVIORS = ("ROUTE_CURRENT_CHANNEL_ONLY", "ROUTE_ANY_CHANNEL")  # CrossChannelBehavior.BehaviorType
AGENT_ORDERS = ("fewest_contacts", "longest_idle", "random")
DEFAULT_PROFILE_PRIORITY, MAX_PROFILE_PRIORITY, MAX_PROFILE_DELAY = 1, 99, 9999  # RoutingProfileQueueConfig
DEFAULT_OFFER_TIMEOUT = 20.0  # "You have 20 seconds to accept or reject a contact" (chat-with-connect-contacts)
_T = TypeVar("_T")
_ID_NAMESPACE = uuid.UUID("7b0d6c52-3f7e-4f43-9a43-5c1f0e6b2a10")


def stable_id(kind: str, name: str) -> str:
    """A deterministic UUID for an entry written without an id (same name, same id, every run)."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{kind}:{name}"))


ATTRIBUTES_IN_DESCRIBE_CONTACT = ("always", "when_set", "never")
CUSTOMER_FIRST_METHODS = ("CALLBACK", "CALLBACK_CUSTOMER_FIRST_QUEUED")
CALLBACK_MODES = ("agent_first", "customer_first")


@dataclass(frozen=True)
class InstanceSpec:
    id: str
    region: str = DEFAULT_REGION
    account: str = DEFAULT_ACCOUNT
    voice_association: bool = False
    max_monitors_per_supervisor: int = 1
    # Switches on behaviour the documents leave open (docs/emulator.md lists each with its source).
    association_requires_queue: bool = False  # AssociateContactWithUser refuses an agent whose profile lacks the queue
    user_data_lists_offline: bool = False  # GetCurrentUserData lists logged-out agents (status Offline)
    # DescribeContact's Attributes key: always ({} when none), when_set (omitted when the contact has none) or
    # never (a service without the member, as before botocore 1.38.7). Undocumented: see docs/emulator.md.
    attributes_in_describe_contact: str = "always"
    # How DescribeContact names a customer-first callback's initiation method: CALLBACK (the model's enum has no
    # other) or CALLBACK_CUSTOMER_FIRST_QUEUED (the admin guide's name for the queued leg). See docs/emulator.md.
    customer_first_callback_method: str = "CALLBACK"

    @property
    def arn(self) -> str:
        return f"arn:aws:connect:{self.region}:{self.account}:instance/{self.id}"


@dataclass(frozen=True)
class HierarchyGroupSpec:
    id: str
    name: str


@dataclass(frozen=True)
class QueueSpec:
    id: str
    name: str
    type: str = "STANDARD"
    owner_id: str | None = None  # an AGENT queue's agent: the only one its contacts are offered to


@dataclass(frozen=True)
class ContactFlowSpec:
    """A flow of the instance, by type (the model's ContactFlowType): only its id and type are emulated."""

    id: str
    name: str
    type: str = "CONTACT_FLOW"


@dataclass(frozen=True)
class RoutingSpec:
    """How the emulated instance routes contacts by itself (the world file's `routing:` section).

    Every field is a behaviour the documents leave open or a documented default; see the switch table
    in docs/emulator.md for each one's source.
    """

    native: bool = True  # Connect offers queued contacts to agents by itself (about-routing)
    agent_order: str = "fewest_contacts"  # which eligible agent gets the offer (AGENT_ORDERS)
    accept_after: float = 0.0  # seconds an agent takes to accept an offer they do not miss
    offer_timeout: float = DEFAULT_OFFER_TIMEOUT  # seconds an offer rings before it is missed
    miss_share: float = 0.0  # share of offers the agent misses (seeded)
    missed_blocks_agent: bool = True  # a missed offer stops routing to the agent until their status changes
    transfer_creates_contact: bool = True  # TransferContact answers a new contact id (TRANSFER) for the transfer
    max_transfers: int = 11  # TransferContact: "A contact cannot be transferred more than 11 times"


@dataclass(frozen=True)
class RoutingProfileSpec:
    id: str
    name: str
    concurrency: Mapping[str, int]
    queue_ids: tuple[str, ...] | None = None  # None: serves every queue
    # channel -> CrossChannelBehavior while the agent handles a contact of that channel
    cross_channel: Mapping[str, str] = field(default_factory=dict)
    # queue id -> (priority, delay seconds) in this profile (RoutingProfileQueueConfig); absent: (1, 0)
    queue_configs: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    def queue_config(self, queue_id: str) -> tuple[int, int]:
        return self.queue_configs.get(queue_id, (DEFAULT_PROFILE_PRIORITY, 0))

    def cross_channel_behavior(self, channel: str) -> str:
        return self.cross_channel.get(channel, CROSS_CHANNEL_BEHAVIORS[0])

    def serves(self, queue_id: str) -> bool:
        return self.queue_ids is None or queue_id in self.queue_ids


@dataclass(frozen=True)
class UserSpec:
    id: str
    username: str
    routing_profile_id: str
    status: str = DEFAULT_STATUS
    busy: Mapping[str, int] = field(default_factory=dict)
    first_name: str | None = None
    last_name: str | None = None
    hierarchy_group_id: str | None = None
    next_status: str | None = None  # GetCurrentUserData NextStatus: leaving after the current contacts


@dataclass(frozen=True)
class ContactSpec:
    id: str
    channel: str
    initiation_method: str = "API"
    state: str = QUEUED
    callback_mode: str | None = None  # a VOICE CALLBACK's mode: agent_first or customer_first
    queue_id: str | None = None
    agent_id: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    segment_attributes: Mapping[str, Any] = field(default_factory=dict)
    related_contact_id: str | None = None
    previous_contact_id: str | None = None
    initial_contact_id: str | None = None
    customer_endpoint: Mapping[str, str] | None = None
    customer_id: str | None = None
    initiated_at: float | None = None
    enqueued_at: float | None = None
    connected_at: float | None = None
    disconnected_at: float | None = None


@dataclass(frozen=True)
class TimelineEntry:
    """One scheduled change: `at` seconds after the emulator starts, one action.

    Actions: a user's `status`, a user's `busy` slots, `connect_to` (a contact accepted by a user) or
    `disconnect` (a contact ends). Users are ids here (names are resolved when the entry is read).
    """

    at: float
    user_id: str | None = None
    status: str | None = None
    busy: Mapping[str, int] | None = None
    contact_id: str | None = None
    connect_to: str | None = None
    disconnect: bool = False

    def describe(self) -> str:
        if self.contact_id is not None:
            action = "disconnect" if self.disconnect else f"connect to user {self.connect_to}"
            return f"contact {self.contact_id}: {action}"
        changes = []
        if self.status is not None:
            changes.append(f"status {self.status}")
        if self.busy is not None:
            changes.append("busy " + ", ".join(f"{channel}={n}" for channel, n in self.busy.items()))
        return f"user {self.user_id}: {'; '.join(changes)}"


@dataclass(frozen=True)
class World:
    """An emulated instance as declared: the starting point of a `ConnectEmulator`'s state."""

    instance: InstanceSpec
    routing_profiles: tuple[RoutingProfileSpec, ...] = ()
    queues: tuple[QueueSpec, ...] = ()
    users: tuple[UserSpec, ...] = ()
    contacts: tuple[ContactSpec, ...] = ()
    faults: FaultsSpec = field(default_factory=FaultsSpec)
    hierarchy_groups: tuple[HierarchyGroupSpec, ...] = ()
    timeline: tuple[TimelineEntry, ...] = ()
    # No `routing:` section: native routing off, the world of the harnesses written before it existed.
    routing: RoutingSpec = field(default_factory=lambda: RoutingSpec(native=False))
    contact_flows: tuple[ContactFlowSpec, ...] = ()  # none: flow ids are not checked

    @classmethod
    def from_file(cls, path: str | Path) -> World:
        """Load and validate a YAML (or JSON) world file."""
        text = Path(path).read_text(encoding="utf-8")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise WorldError(f"{path}: not valid YAML: {exc}") from exc
        try:
            return cls.from_dict(data)
        except WorldError as exc:
            raise WorldError(f"{path}: {exc}") from exc

    @classmethod
    def from_dict(cls, data: object, *, model: ConnectModel | None = None) -> World:
        """Validate a world given as plain data (the parsed world file)."""
        return _WorldParser(model or default_model()).parse(data)

    def queue(self, ref: str) -> QueueSpec | None:
        """A queue by id or name."""
        return _find(self.queues, ref, lambda q: q.name)

    def routing_profile(self, ref: str) -> RoutingProfileSpec | None:
        """A routing profile by id or name."""
        return _find(self.routing_profiles, ref, lambda p: p.name)

    def hierarchy_group(self, ref: str) -> HierarchyGroupSpec | None:
        """A hierarchy group by id or name."""
        return _find(self.hierarchy_groups, ref, lambda g: g.name)

    def user(self, ref: str) -> UserSpec | None:
        """A user by id or username (usernames are case-insensitive, as Connect logins are)."""
        return _find(self.users, ref, lambda u: u.username.lower(), key=str.lower)

    def parse_contact(self, raw: object, where: str = "contact") -> ContactSpec:
        """A contact entry in world-file form (for adding contacts at runtime), checked against this world."""
        return _WorldParser(default_model()).contact(raw, where, self)

    def parse_timeline_entry(
        self, raw: object, where: str = "timeline entry", contact_exists: Callable[[str], bool] | None = None
    ) -> TimelineEntry:
        """A timeline entry in world-file form, checked against this world (contacts: `contact_exists`)."""
        known = contact_exists or (lambda contact_id: any(c.id == contact_id for c in self.contacts))
        return _WorldParser(default_model()).timeline_entry(raw, where, self, known)


def _find(items: Sequence[_T], ref: str, name_of: Callable[[_T], str], key: Callable[[str], str] = str) -> _T | None:
    for item in items:
        if getattr(item, "id", None) == ref:
            return item
    wanted = key(ref)
    return next((item for item in items if name_of(item) == wanted), None)


# ------------------------------------------------------------------------------------- parsing


def _kind(value: object) -> str:
    return "nothing" if value is None else type(value).__name__


class _Entry:
    """Typed access to one mapping of the world file; every error names the entry and the field."""

    def __init__(self, where: str, raw: object, allowed: Collection[str]) -> None:
        if not isinstance(raw, Mapping):
            raise WorldError(f"{where}: must be a mapping, got {_kind(raw)}")
        unknown = sorted(str(key) for key in raw if key not in allowed)
        if unknown:
            raise WorldError(f"{where}: unknown field {', '.join(map(repr, unknown))} (allowed: {', '.join(allowed)})")
        self.where = where
        self.raw: Mapping[str, Any] = raw

    def fail(self, name: str, problem: str) -> WorldError:
        return WorldError(f"{self.where}: {name} {problem}")

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.raw.get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.fail(name, f"must be a string, got {_kind(value)}")
        text = str(value).strip()
        if not text:
            raise self.fail(name, "must not be empty")
        return text

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise self.fail(name, "is required")
        return value

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw.get(name, default)
        if not isinstance(value, bool):
            raise self.fail(name, f"must be true or false, got {value!r}")
        return value

    def choice(self, name: str, allowed: Collection[str], default: str | None = None) -> str | None:
        value = self.text(name, default)
        if value is None:
            return None
        if value.upper() in allowed:
            return value.upper()
        raise self.fail(name, f"{value!r} is not one of {', '.join(allowed)}")

    def mapping(self, name: str) -> Mapping[str, Any]:
        value = self.raw.get(name)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(name, f"must be a mapping, got {_kind(value)}")
        return value

    def strings(self, name: str) -> dict[str, str]:
        result: dict[str, str] = {}
        for key, value in self.mapping(name).items():
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise self.fail(name, f"{key!r} must be a string, got {_kind(value)} (quote it)")
            result[str(key)] = str(value)
        return result

    def slot_counts(self, name: str) -> dict[str, int]:
        result: dict[str, int] = {}
        for key, value in self.mapping(name).items():
            channel = str(key).upper()
            if channel not in CHANNELS:
                raise self.fail(name, f"channel {key!r} is not one of {', '.join(CHANNELS)}")
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise self.fail(name, f"{key} must be a whole number >= 0, got {value!r}")
            result[channel] = value
        return result

    def whole(self, name: str, default: int, minimum: int) -> int:
        value = self.raw.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(name, f"must be a whole number >= {minimum}, got {value!r}")
        return value

    def duration(self, name: str, default: float, *, positive: bool = False) -> float:
        value = self.raw.get(name, default)
        bad = isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
        if bad or value < 0 or (positive and value == 0):
            raise self.fail(name, f"must be a number of seconds {'> 0' if positive else '>= 0'}, got {value!r}")
        return float(value)

    def seconds(self, name: str) -> float:
        value = self.raw.get(name)
        if value is None:
            raise self.fail(name, "is required (seconds after the emulator starts)")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise self.fail(name, f"must be a number of seconds >= 0, got {value!r}")
        return float(value)

    def text_list(self, name: str) -> list[str] | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
            raise self.fail(name, "must be a list of names or ids")
        return [str(v) for v in value]

    def timestamp(self, name: str) -> float | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            moment = value
        elif isinstance(value, str):
            try:
                moment = dt.datetime.fromisoformat(value)
            except ValueError as exc:
                raise self.fail(name, f"{value!r} is not an ISO 8601 timestamp") from exc
        else:
            raise self.fail(name, f"must be an ISO 8601 timestamp such as 2025-01-31T09:30:00Z, got {value!r}")
        return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()


def _label(section: str, index: int, raw: object, *keys: str) -> str:
    where = f"{section}[{index}]"
    if isinstance(raw, Mapping):
        name = next((raw[k] for k in keys if raw.get(k) is not None), None)
        if name is not None:
            where += f" ({name})"
    return where


def _unique(section: str, items: Iterable[Any], attribute: str, *, fold: bool = False) -> None:
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        value = getattr(item, attribute)
        key = value.lower() if fold else value
        if key in seen:
            raise WorldError(f"{section}[{index}]: {attribute} {value!r} is already used by {section}[{seen[key]}]")
        seen[key] = index


class _WorldParser:
    def __init__(self, model: ConnectModel) -> None:
        self.model = model

    def parse(self, data: object) -> World:
        top = _Entry("world", data, _SECTIONS)
        if top.raw.get("instance") is None:
            raise top.fail("instance", "is required")
        world = World(instance=self.instance(top.raw["instance"]))
        queues = tuple(self.queue(raw, _label("queues", i, raw, "name", "id")) for i, raw in self.each(top, "queues"))
        _unique("queues", queues, "id")
        _unique("queues", queues, "name")
        groups = tuple(
            self.hierarchy_group(raw, _label("hierarchy_groups", i, raw, "name", "id"))
            for i, raw in self.each(top, "hierarchy_groups")
        )
        _unique("hierarchy_groups", groups, "id")
        _unique("hierarchy_groups", groups, "name")
        world = replace(world, queues=queues, hierarchy_groups=groups)
        profiles = tuple(
            self.routing_profile(raw, _label("routing_profiles", i, raw, "name", "id"), world)
            for i, raw in self.each(top, "routing_profiles")
        )
        _unique("routing_profiles", profiles, "id")
        _unique("routing_profiles", profiles, "name")
        world = replace(world, routing_profiles=profiles)
        users = tuple(
            self.user(raw, _label("users", i, raw, "username", "id"), world) for i, raw in self.each(top, "users")
        )
        _unique("users", users, "id")
        _unique("users", users, "username", fold=True)
        world = replace(world, users=users)
        world = replace(world, queues=self.queue_owners(top, world))
        contacts = tuple(
            self.contact(raw, _label("contacts", i, raw, "id"), world) for i, raw in self.each(top, "contacts")
        )
        _unique("contacts", contacts, "id")
        _check_monitoring_legs(contacts)
        world = replace(world, contacts=contacts)
        contact_ids = {contact.id for contact in contacts}
        timeline = tuple(
            self.timeline_entry(raw, _label("timeline", i, raw, "at"), world, contact_ids.__contains__)
            for i, raw in self.each(top, "timeline")
        )
        faults, routing = self.faults(top.raw.get("faults")), self.routing(top.raw.get("routing"))
        flows = tuple(
            self.contact_flow(raw, _label("contact_flows", i, raw, "name", "id"))
            for i, raw in self.each(top, "contact_flows")
        )
        _unique("contact_flows", flows, "id")
        _unique("contact_flows", flows, "name")
        return replace(world, timeline=timeline, faults=faults, routing=routing, contact_flows=flows)

    def contact_flow(self, raw: object, where: str) -> ContactFlowSpec:
        entry = _Entry(where, raw, ("id", "name", "type"))
        name = entry.required("name")
        flow_type = entry.choice("type", self.enum("ContactFlowType"), "CONTACT_FLOW") or "CONTACT_FLOW"
        flow = ContactFlowSpec(id=entry.text("id") or stable_id("contact-flow", name), name=name, type=flow_type)
        self.check(entry, "id", flow.id, "ContactFlow", "Id")
        return flow

    def queue_owners(self, top: _Entry, world: World) -> tuple[QueueSpec, ...]:
        """AGENT queues name their agent (`agent: username`); read once users are known."""
        queues = list(world.queues)
        for index, raw in self.each(top, "queues"):
            owner_ref = raw.get("agent") if isinstance(raw, Mapping) else None
            if owner_ref is None:
                continue
            where = _label("queues", index, raw, "name", "id")
            if queues[index].type != "AGENT":
                raise WorldError(f"{where}: agent is only for queues of type AGENT (an agent's own queue)")
            owner = world.user(str(owner_ref))
            if owner is None:
                raise WorldError(f"{where}: agent {owner_ref!r} is not a defined user (username or id)")
            queues[index] = replace(queues[index], owner_id=owner.id)
        return tuple(queues)

    @staticmethod
    def routing(raw: object) -> RoutingSpec:
        if raw is None:  # no section: contacts wait until associated or connected (docs/emulator.md)
            return RoutingSpec(native=False)
        entry = _Entry("routing", raw, _ROUTING_FIELDS)
        default = RoutingSpec()
        order = entry.text("agent_order", default.agent_order) or default.agent_order
        if order not in AGENT_ORDERS:
            raise entry.fail("agent_order", f"{order!r} is not one of {', '.join(AGENT_ORDERS)}")
        share = entry.raw.get("miss_share", default.miss_share)
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
            raise entry.fail("miss_share", f"must be a probability between 0 and 1, got {share!r}")
        return RoutingSpec(
            native=entry.flag("native", default.native),
            agent_order=order,
            accept_after=entry.duration("accept_after", default.accept_after),
            offer_timeout=entry.duration("offer_timeout", default.offer_timeout, positive=True),
            miss_share=float(share),
            missed_blocks_agent=entry.flag("missed_blocks_agent", default.missed_blocks_agent),
            transfer_creates_contact=entry.flag("transfer_creates_contact", default.transfer_creates_contact),
            max_transfers=entry.whole("max_transfers", default.max_transfers, minimum=0),
        )

    @staticmethod
    def each(top: _Entry, section: str) -> Iterable[tuple[int, Any]]:
        value = top.raw.get(section)
        if value is None:
            return []
        if not isinstance(value, list):
            raise WorldError(f"{section}: must be a list, got {_kind(value)}")
        return enumerate(value)

    def instance(self, raw: object) -> InstanceSpec:
        entry = _Entry(
            "instance",
            raw,
            (
                "id",
                "region",
                "account",
                "voice_association",
                "max_monitors_per_supervisor",
                "association_requires_queue",
                "user_data_lists_offline",
                "attributes_in_describe_contact",
                "customer_first_callback_method",
            ),
        )
        callback_method = entry.choice("customer_first_callback_method", CUSTOMER_FIRST_METHODS, "CALLBACK")
        attributes_shown = entry.text("attributes_in_describe_contact", "always") or "always"
        if attributes_shown not in ATTRIBUTES_IN_DESCRIBE_CONTACT:
            raise entry.fail(
                "attributes_in_describe_contact",
                f"{attributes_shown!r} is not one of {', '.join(ATTRIBUTES_IN_DESCRIBE_CONTACT)}",
            )
        account = entry.text("account", DEFAULT_ACCOUNT) or DEFAULT_ACCOUNT
        if isinstance(entry.raw.get("account"), int):
            account = account.zfill(12)
        if not (account.isdigit() and len(account) == 12):
            raise entry.fail("account", f"{account!r} must be 12 digits (quote it in YAML)")
        instance = InstanceSpec(
            id=entry.required("id"),
            region=entry.text("region", DEFAULT_REGION) or DEFAULT_REGION,
            account=account,
            voice_association=entry.flag("voice_association", False),
            max_monitors_per_supervisor=entry.whole("max_monitors_per_supervisor", 1, minimum=1),
            association_requires_queue=entry.flag("association_requires_queue", False),
            user_data_lists_offline=entry.flag("user_data_lists_offline", False),
            attributes_in_describe_contact=attributes_shown,
            customer_first_callback_method=callback_method or "CALLBACK",
        )
        self.check(entry, "id", instance.id, "DescribeContactRequest", "InstanceId")
        return instance

    def queue(self, raw: object, where: str) -> QueueSpec:
        entry = _Entry(where, raw, ("id", "name", "type", "agent"))
        name = entry.required("name")
        queue_type = entry.choice("type", QUEUE_TYPES, "STANDARD") or "STANDARD"
        return QueueSpec(id=entry.text("id") or stable_id("queue", name), name=name, type=queue_type)

    def hierarchy_group(self, raw: object, where: str) -> HierarchyGroupSpec:
        entry = _Entry(where, raw, ("id", "name"))
        name = entry.required("name")
        group = HierarchyGroupSpec(id=entry.text("id") or stable_id("hierarchy-group", name), name=name)
        self.check(entry, "name", group.name, "HierarchyGroup", "Name")
        self.check(entry, "id", group.id, "HierarchyGroup", "Id")
        return group

    def routing_profile(self, raw: object, where: str, world: World) -> RoutingProfileSpec:
        entry = _Entry(where, raw, ("id", "name", "concurrency", "queues", "cross_channel"))
        name = entry.required("name")
        queue_configs = self.profile_queues(entry, world)
        return RoutingProfileSpec(
            id=entry.text("id") or stable_id("routing-profile", name),
            name=name,
            concurrency=entry.slot_counts("concurrency"),
            queue_ids=tuple(queue_configs) if queue_configs is not None else None,
            cross_channel=self.cross_channel(entry),
            queue_configs=queue_configs or {},
        )

    def profile_queues(self, entry: _Entry, world: World) -> dict[str, tuple[int, int]] | None:
        """`queues:` names/ids, or `{queue, priority, delay}` (RoutingProfileQueueConfig: 1-99, 0-9999 s)."""
        raw = entry.raw.get("queues")
        if raw is None:
            return None
        if not isinstance(raw, list):
            raise entry.fail("queues", "must be a list of queue names or ids, or {queue, priority, delay} mappings")
        configs: dict[str, tuple[int, int]] = {}
        for index, item in enumerate(raw):
            if isinstance(item, Mapping):
                sub = _Entry(f"{entry.where}: queues[{index}]", item, ("queue", "priority", "delay"))
                queue_id = self.resolve_queue(sub, "queue", sub.required("queue"), world)
                priority = sub.whole("priority", DEFAULT_PROFILE_PRIORITY, minimum=1)
                delay = sub.whole("delay", 0, minimum=0)
                if priority > MAX_PROFILE_PRIORITY or delay > MAX_PROFILE_DELAY:
                    raise sub.fail("priority", f"must be 1-{MAX_PROFILE_PRIORITY} and delay 0-{MAX_PROFILE_DELAY} s")
                configs[queue_id] = (priority, delay)
            elif isinstance(item, (str, int)) and not isinstance(item, bool):
                configs[self.resolve_queue(entry, "queues", str(item), world)] = (DEFAULT_PROFILE_PRIORITY, 0)
            else:
                raise entry.fail("queues", f"item {index} must be a queue name or id, or a mapping")
        return configs

    @staticmethod
    def cross_channel(entry: _Entry) -> dict[str, str]:
        """One behaviour for every channel, or `{channel: behaviour}` (the model sets it per channel)."""
        raw = entry.raw.get("cross_channel")
        if raw is None:
            return {}
        pairs = raw.items() if isinstance(raw, Mapping) else ((channel, raw) for channel in CHANNELS)
        result: dict[str, str] = {}
        for channel, behavior in pairs:
            if str(channel).upper() not in CHANNELS:
                raise entry.fail("cross_channel", f"channel {channel!r} is not one of {', '.join(CHANNELS)}")
            if not isinstance(behavior, str) or behavior.upper() not in CROSS_CHANNEL_BEHAVIORS:
                raise entry.fail("cross_channel", f"{behavior!r} is not one of {', '.join(CROSS_CHANNEL_BEHAVIORS)}")
            result[str(channel).upper()] = behavior.upper()
        return result

    def user(self, raw: object, where: str, world: World) -> UserSpec:
        allowed = (
            "id",
            "username",
            "routing_profile",
            "status",
            "busy",
            "first_name",
            "last_name",
            "hierarchy_group",
            "next_status",
        )
        entry = _Entry(where, raw, allowed)
        username = entry.required("username")
        profile_ref = entry.required("routing_profile")
        profile = world.routing_profile(profile_ref)
        if profile is None:
            raise entry.fail("routing_profile", f"{profile_ref!r} is not defined")
        group_ref = entry.text("hierarchy_group")
        group = world.hierarchy_group(group_ref) if group_ref is not None else None
        if group_ref is not None and group is None:
            raise entry.fail("hierarchy_group", f"{group_ref!r} is not a defined hierarchy group (name or id)")
        status = self.status(entry)
        user = UserSpec(
            id=entry.text("id") or stable_id("user", username),
            username=username,
            routing_profile_id=profile.id,
            status=status,
            busy=entry.slot_counts("busy"),
            first_name=entry.text("first_name"),
            last_name=entry.text("last_name"),
            hierarchy_group_id=group.id if group is not None else None,
            next_status=entry.text("next_status"),
        )
        self.check(entry, "username", user.username, "User", "Username")
        if user.next_status is not None:
            self.check(entry, "next_status", user.next_status, "UserData", "NextStatus")
        return user

    def status(self, entry: _Entry) -> str:
        status = entry.text("status", DEFAULT_STATUS) or DEFAULT_STATUS
        if status.lower() == OFFLINE.lower():
            status = OFFLINE
        self.check(entry, "status", status, "AgentStatusReference", "StatusName")
        return status

    def contact(self, raw: object, where: str, world: World) -> ContactSpec:
        entry = _Entry(where, raw, _CONTACT_FIELDS)
        state = entry.choice("state", CONTACT_STATES, QUEUED) or QUEUED
        initiation = entry.choice("initiation_method", self.enum("ContactInitiationMethod"), "API") or "API"
        if initiation == MONITOR:
            _check_monitoring_entry(entry, state)
        queue_ref, agent_ref = entry.text("queue"), entry.text("agent")
        if state in (QUEUED, ASSOCIATED) and queue_ref is None:
            raise entry.fail("queue", f"is required for a {state} contact")
        if state == QUEUED and agent_ref is not None:
            raise entry.fail("agent", "must not be set on a QUEUED contact (use state ASSOCIATED or CONNECTED)")
        if state in (ASSOCIATED, CONNECTED) and agent_ref is None:
            raise entry.fail("agent", f"is required for a {state} contact")
        agent = world.user(agent_ref) if agent_ref is not None else None
        if agent_ref is not None and agent is None:
            raise entry.fail("agent", f"{agent_ref!r} is not a defined user (username or id)")
        channel = entry.choice("channel", CHANNELS) or self.missing(entry, "channel")
        spec = ContactSpec(
            id=entry.required("id"),
            channel=channel,
            initiation_method=initiation,
            state=state,
            callback_mode=_callback_mode(entry, channel, initiation),
            queue_id=self.resolve_queue(entry, "queue", queue_ref, world) if queue_ref else None,
            agent_id=agent.id if agent is not None else None,
            attributes=entry.strings("attributes"),
            tags=entry.strings("tags"),
            segment_attributes=_segment_attributes(entry.mapping("segment_attributes")),
            related_contact_id=entry.text("related_contact"),
            previous_contact_id=entry.text("previous_contact"),
            initial_contact_id=entry.text("initial_contact"),
            customer_endpoint=self.endpoint(entry),
            customer_id=entry.text("customer_id"),
            initiated_at=entry.timestamp("initiated_at"),
            enqueued_at=entry.timestamp("enqueued_at"),
            connected_at=entry.timestamp("connected_at"),
            disconnected_at=entry.timestamp("disconnected_at"),
        )
        self.check_contact_shapes(entry, spec)
        return spec

    def check_contact_shapes(self, entry: _Entry, spec: ContactSpec) -> None:
        self.check(entry, "id", spec.id, "Contact", "Id")
        for name, member in (
            ("related_contact", "RelatedContactId"),
            ("previous_contact", "PreviousContactId"),
            ("initial_contact", "InitialContactId"),
            ("customer_id", "CustomerId"),
        ):
            if entry.raw.get(name) is not None:
                self.check(entry, name, getattr(spec, _SPEC_FIELD[name]), "Contact", member)
        if spec.attributes:
            self.check(entry, "attributes", dict(spec.attributes), "Contact", "Attributes")
        if spec.tags or "tags" in entry.raw:
            self.check(entry, "tags", dict(spec.tags), "Contact", "Tags")
        if spec.segment_attributes:
            self.check(entry, "segment_attributes", dict(spec.segment_attributes), "Contact", "SegmentAttributes")

    def endpoint(self, entry: _Entry) -> dict[str, str] | None:
        raw = entry.raw.get("customer_endpoint")
        if raw is None:
            return None
        sub = _Entry(f"{entry.where}: customer_endpoint", raw, ("type", "address", "display_name"))
        endpoint = {"Type": sub.required("type").upper(), "Address": sub.required("address")}
        display = sub.text("display_name")
        if display is not None:
            endpoint["DisplayName"] = display
        self.check(entry, "customer_endpoint", endpoint, "Contact", "CustomerEndpoint")
        return endpoint

    def timeline_entry(
        self, raw: object, where: str, world: World, contact_exists: Callable[[str], bool]
    ) -> TimelineEntry:
        entry = _Entry(where, raw, ("at", "user", "status", "busy", "contact", "connect_to", "disconnect"))
        at = entry.seconds("at")
        user_ref, contact_id = entry.text("user"), entry.text("contact")
        if (user_ref is None) == (contact_id is None):
            raise WorldError(
                f"{where}: give either user (with status and/or busy) or contact (with connect_to or disconnect)"
            )
        if user_ref is not None:
            return self.user_change(entry, at, user_ref, world)
        assert contact_id is not None
        for name in ("status", "busy"):
            if name in entry.raw:
                raise entry.fail(name, "applies to a user, not to a contact")
        if not contact_exists(contact_id):
            raise entry.fail("contact", f"{contact_id!r} is not a defined contact")
        connect_ref = entry.text("connect_to")
        disconnect = entry.flag("disconnect", False)
        if "disconnect" in entry.raw and not disconnect:
            raise entry.fail("disconnect", "must be true when given")
        if (connect_ref is None) == (not disconnect):
            raise WorldError(f"{where}: a contact entry needs exactly one of connect_to: USER or disconnect: true")
        connect_to = None
        if connect_ref is not None:
            user = world.user(connect_ref)
            if user is None:
                raise entry.fail("connect_to", f"{connect_ref!r} is not a defined user (username or id)")
            connect_to = user.id
        return TimelineEntry(at=at, contact_id=contact_id, connect_to=connect_to, disconnect=disconnect)

    def user_change(self, entry: _Entry, at: float, user_ref: str, world: World) -> TimelineEntry:
        for name in ("connect_to", "disconnect"):
            if name in entry.raw:
                raise entry.fail(name, "applies to a contact, not to a user")
        user = world.user(user_ref)
        if user is None:
            raise entry.fail("user", f"{user_ref!r} is not a defined user (username or id)")
        if "status" not in entry.raw and "busy" not in entry.raw:
            raise WorldError(f"{entry.where}: a user entry needs status, busy or both")
        status = self.status(entry) if "status" in entry.raw else None
        busy = entry.slot_counts("busy") if "busy" in entry.raw else None
        return TimelineEntry(at=at, user_id=user.id, status=status, busy=busy)

    def faults(self, raw: object) -> FaultsSpec:
        if raw is None:
            return FaultsSpec()
        entry = _Entry("faults", raw, ("documented_quotas", "rate_quotas", "error_rates", "latency"))
        scale = entry.raw.get("documented_quotas")
        if scale is True:
            scale = 1.0
        if scale is not None and (isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 0):
            raise entry.fail("documented_quotas", f"must be true or a scale factor > 0, got {scale!r}")
        return FaultsSpec(
            documented_quotas=float(scale) if scale is not None else None,
            rate_quotas={op: self.quota(op, value) for op, value in self.per_operation(entry, "rate_quotas")},
            error_rates={op: self.error_rates(op, value) for op, value in self.per_operation(entry, "error_rates")},
            latency={op: self.latency(op, value) for op, value in self.per_operation(entry, "latency")},
        )

    def per_operation(self, entry: _Entry, name: str) -> list[tuple[str, Any]]:
        result = []
        for operation, value in entry.mapping(name).items():
            if operation != "*" and operation not in self.model.operation_names:
                raise entry.fail(f"{name}.{operation}", "is not a Connect operation (or '*')")
            result.append((str(operation), value))
        return result

    @staticmethod
    def quota(operation: str, value: object) -> RateQuota:
        entry = _Entry(f"faults: rate_quotas.{operation}", value, ("rate", "burst"))
        rate, burst = entry.raw.get("rate"), entry.raw.get("burst", 1)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate <= 0:
            raise entry.fail("rate", f"must be a number of requests per second > 0, got {rate!r}")
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise entry.fail("burst", f"must be a whole number >= 1, got {burst!r}")
        return RateQuota(float(rate), burst)

    def error_rates(self, operation: str, value: object) -> dict[str, float]:
        entry = _Entry(f"faults: error_rates.{operation}", value, sorted(self.model.error_codes))
        rates: dict[str, float] = {}
        for code, rate in entry.raw.items():
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
                raise entry.fail(code, f"must be a probability between 0 and 1, got {rate!r}")
            rates[code] = float(rate)
        if math.fsum(rates.values()) > 1:
            raise WorldError(f"faults: error_rates.{operation}: rates add up to more than 1")
        return rates

    @staticmethod
    def latency(operation: str, value: object) -> Latency:
        where = f"faults: latency.{operation}"
        bounds = value if isinstance(value, list) else [value, value]
        numbers = [b for b in bounds if isinstance(b, (int, float)) and not isinstance(b, bool)]
        if len(bounds) != 2 or len(numbers) != 2 or not 0 <= numbers[0] <= numbers[1]:
            raise WorldError(f"{where}: must be seconds >= 0 or [low, high], got {value!r}")
        return Latency(float(numbers[0]), float(numbers[1]))

    def resolve_queue(self, entry: _Entry, name: str, ref: str, world: World) -> str:
        queue = world.queue(ref)
        if queue is None:
            raise entry.fail(name, f"{ref!r} is not a defined queue (name or id)")
        return queue.id

    def enum(self, shape_name: str) -> tuple[str, ...]:
        return tuple(self.model.service.shape_for(shape_name).enum)

    @staticmethod
    def missing(entry: _Entry, name: str) -> str:
        raise entry.fail(name, "is required")

    def check(self, entry: _Entry, name: str, value: Any, structure: str, member: str) -> None:
        """Check a value against the model's constraints for the response member it will feed."""
        shape = self.model.service.shape_for(structure).members[member]
        issues = self.model.validate(shape, value, member)
        if issues:
            raise entry.fail(name, f"does not fit the Connect model: {issues[0]}")


_SECTIONS = (
    "instance",
    "hierarchy_groups",
    "routing_profiles",
    "queues",
    "users",
    "contacts",
    "timeline",
    "faults",
    "routing",
    "contact_flows",
)
_ROUTING_FIELDS = (
    "native",
    "agent_order",
    "accept_after",
    "offer_timeout",
    "miss_share",
    "missed_blocks_agent",
    "transfer_creates_contact",
    "max_transfers",
)
_CONTACT_FIELDS = (
    "id",
    "channel",
    "initiation_method",
    "callback_mode",
    "state",
    "queue",
    "agent",
    "attributes",
    "tags",
    "segment_attributes",
    "related_contact",
    "previous_contact",
    "initial_contact",
    "customer_endpoint",
    "customer_id",
    "initiated_at",
    "enqueued_at",
    "connected_at",
    "disconnected_at",
)
_SPEC_FIELD = {
    "related_contact": "related_contact_id",
    "previous_contact": "previous_contact_id",
    "initial_contact": "initial_contact_id",
    "customer_id": "customer_id",
}


def _segment_attributes(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Plain strings become `{"ValueString": ...}`; mappings are taken as SegmentAttributeValue as written."""
    return {str(k): ({"ValueString": v} if isinstance(v, str) else v) for k, v in raw.items()}


def _check_monitoring_entry(entry: _Entry, state: str) -> None:
    """A monitoring leg (initiation method MONITOR) is a supervisor's connection to another contact."""
    if state not in (CONNECTED, DISCONNECTED):
        raise entry.fail(
            "state", f"must be CONNECTED or DISCONNECTED for a MONITOR contact (a monitoring leg), got {state}"
        )
    if entry.text("queue") is not None:
        raise entry.fail("queue", "must not be set on a MONITOR contact: a monitoring leg is never queued")
    if entry.text("agent") is None:
        raise entry.fail("agent", "is required for a MONITOR contact: the supervisor who monitors")
    if entry.text("related_contact") is None:
        raise entry.fail("related_contact", "is required for a MONITOR contact: the contact being monitored")


def _check_monitoring_legs(contacts: Sequence[ContactSpec]) -> None:
    """Each monitoring leg of the world names a contact of the world that it can monitor."""
    by_id = {contact.id: contact for contact in contacts}
    for index, leg in enumerate(contacts):
        if leg.initiation_method != MONITOR:
            continue
        where = f"contacts[{index}] ({leg.id}): related_contact"
        monitored = by_id.get(str(leg.related_contact_id))
        if monitored is None:
            raise WorldError(f"{where} {leg.related_contact_id!r} is not a defined contact")
        if monitored.initiation_method == MONITOR:
            raise WorldError(f"{where} {monitored.id!r} is itself a monitoring leg: it cannot be monitored")
        if leg.state == CONNECTED and monitored.state != CONNECTED:
            raise WorldError(
                f"{where} {monitored.id!r} is {monitored.state}: a CONNECTED leg monitors a CONNECTED contact"
            )
        if monitored.agent_id == leg.agent_id:
            raise WorldError(f"{where} {monitored.id!r} is handled by the leg's own agent: supervisors monitor others")


def _callback_mode(entry: _Entry, channel: str, initiation: str) -> str | None:
    """A VOICE contact initiated by CALLBACK has a mode: agent_first (the admin guide's default) unless the world
    says customer_first; no other contact has one."""
    raw = entry.text("callback_mode")
    if channel != "VOICE" or initiation != "CALLBACK":
        if raw is not None:
            raise entry.fail("callback_mode", "is only for VOICE contacts with initiation_method CALLBACK")
        return None
    mode = (raw or "agent_first").lower()
    if mode not in CALLBACK_MODES:
        raise entry.fail("callback_mode", f"{raw!r} is not one of {', '.join(CALLBACK_MODES)}")
    return mode
