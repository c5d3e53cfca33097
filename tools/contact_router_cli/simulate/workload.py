"""The simulated morning: an emulated instance with M agents, N queued contacts, and every EventBridge event
the router's rule would see -- duplicated, reordered, late, stale or malformed -- generated from a seed.

Three mixes:

- ``mixed`` (``contact-router simulate``): chats, tasks and emails; preferred agents named by id, username
  or ARN; VIP chats for a desk of three; emails back to the agent of a related contact; contacts no rule
  matches; agents changing status and taking other work over time; customers who give up waiting.
- ``attribute`` (the benchmarks): every contact a chat naming, by id, an available agent with a free slot
  (round robin over many agents): the 3-call path, so throughput is bounded by Connect's quota alone.
- ``reference`` (``contact-router simulate --scenario reference``): chats into one queue, about 60% naming a
  preferred agent, arrivals spread so that the agents are about 85% occupied; every event well formed. The
  workload the outcome against Connect's native routing is measured on (docs/simulation.md).

Every copy of an event reaches the queue after an EventBridge-to-SQS delay drawn from a lognormal
distribution given by its median and 99th percentile (``event_delay``; an assumption, see
docs/simulation.md).
"""

from __future__ import annotations

import json
import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

INSTANCE_ID = "11111111-2222-4333-8444-555555555555"
REGION = "eu-west-2"
ACCOUNT = "123456789012"
INSTANCE_ARN = f"arn:aws:connect:{REGION}:{ACCOUNT}:instance/{INSTANCE_ID}"
OTHER_INSTANCE_ARN = f"arn:aws:connect:{REGION}:{ACCOUNT}:instance/99999999-2222-4333-8444-555555555555"
QUEUES = {
    "Support": "22222222-0000-4000-8000-000000000001",
    "VIP": "22222222-0000-4000-8000-000000000002",
    "Billing email": "22222222-0000-4000-8000-000000000003",
}
VIP_DESK = 3  # the first three agents
Kind = Literal["valid", "stale", "malformed", "unknown_contact", "junk", "filtered", "recheck"]
Mix = Literal["mixed", "attribute", "reference"]
Z99 = 2.3263  # the standard normal's 99th percentile

RULES = """\
# Rules of the simulated instance (contact-router simulate). Format: docs/rules.md.
version: 1
routing:
  - name: vip-desk
    description: VIP chats go to the VIP desk (usernames, so SearchUsers and its cache are exercised).
    when:
      channel: [CHAT]
      tags: {Segment: {equals: vip}}
    candidates:
      - users: [agent001, agent002, agent003]
    allowed_statuses: [Available]
    fallback:
      - routing_criteria: {expiry_seconds: 60}
      - queue
  - name: email-back-to-related-agent
    when:
      channel: [EMAIL]
    candidates:
      - agent_of: related
  - name: task-for-named-agent
    when:
      channel: [TASK]
      attributes: {preferredAgent: {present: true}}
    candidates:
      - attribute: preferredAgent
  - name: preferred-agent-attribute
    when:
      attributes: {preferredAgent: {present: true}}
    candidates:
      - attribute: preferredAgent
    fallback:
      - wait: {interval_seconds: 10, max_seconds: 60}
      - routing_criteria: {expiry_seconds: 120}
      - queue
"""

# The reference workload's one rule: the preferred agent named by the contact, waited for ``window`` seconds
# (the routing criteria step the router sets, or the flow's first step), then any agent of the queue.
REFERENCE_RULES = """\
# Rules of the reference workload (contact-router simulate --scenario reference). Format: docs/rules.md.
version: 1
routing:
  - name: preferred-agent
    description: The agent the contact names, for {window:g} s while they are busy, then anyone.
    when:
      channel: [CHAT]
      attributes: {{preferredAgent: {{present: true}}}}
    candidates:
      - attribute: preferredAgent
    allowed_statuses: [Available]
    fallback:
      - routing_criteria: {{expiry_seconds: {window:g}}}
      - queue
"""


@dataclass(frozen=True)
class WorkloadSpec:
    contacts: int = 2000
    agents: int = 100
    arrival_seconds: float = 60.0  # contacts queue at uniformly random times in this window
    duplicates: int = 3  # each event is delivered 1..duplicates times
    stale_rate: float = 0.05  # extra events for contacts already answered or abandoned
    malformed_rate: float = 0.02  # extra malformed bodies (through EventBridge, or straight onto the queue)
    filtered_rate: float = 0.05  # extra events the rule does not match (VOICE, other types, other instance)
    mix: Mix = "mixed"
    agent_changes: bool = True  # agents change status and take other work over time
    handle_seconds: tuple[float, float] = (60.0, 240.0)  # an associated contact is handled this long
    patience_seconds: tuple[float, float] = (600.0, 1800.0)  # a waiting customer gives up after this long
    event_delay: tuple[float, float] = (0.5, 2.0)  # EventBridge to SQS: (median, p99) seconds of a lognormal
    preferred_share: float = 0.6  # reference mix: contacts naming a preferred agent
    preferred_window: float = 10.0  # reference mix: seconds the rule waits for the preferred agent
    chat_slots: int = 2  # reference mix: chats an agent takes at once
    seed: int = 1

    def __post_init__(self) -> None:
        if self.contacts < 1 or self.agents < VIP_DESK or self.duplicates < 1:
            raise ValueError("need at least 1 contact, 3 agents and 1 delivery per event")
        for name in ("stale_rate", "malformed_rate", "filtered_rate", "preferred_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        median, p99 = self.event_delay
        if not 0.0 < median <= p99:
            raise ValueError("event_delay needs 0 < median <= p99")
        if self.preferred_window < 10 or self.chat_slots < 1:
            # 10 s: the least a rule's routing_criteria.expiry_seconds may be (docs/rules.md)
            raise ValueError("preferred_window must be >= 10 s and chat_slots >= 1")


def reference_spec(seed: int = 1, **overrides: Any) -> WorkloadSpec:
    """The reference workload: 2,000 chats, 40 agents with 2 chat slots, 60% naming a preferred agent.

    Handle times 120-360 s (mean 240 s): 80 slots busy 85% of the time take 0.85 * 80 / 240 = 0.283 contacts
    a second, so 2,000 contacts arrive over about 7,060 s. Customers give up after 120-600 s of waiting."""
    fields: dict[str, Any] = {
        "contacts": 2000,
        "agents": 40,
        "arrival_seconds": 7060.0,
        "duplicates": 1,
        "stale_rate": 0.0,
        "malformed_rate": 0.0,
        "filtered_rate": 0.0,
        "mix": "reference",
        "agent_changes": False,
        "handle_seconds": (120.0, 360.0),
        "patience_seconds": (120.0, 600.0),
        "seed": seed,
    }
    fields.update(overrides)
    return WorkloadSpec(**fields)


@dataclass(frozen=True)
class Agent:
    username: str
    id: str


@dataclass(frozen=True)
class ContactPlan:
    """A contact that queues at ``at`` seconds; a stale one is already answered or abandoned by then."""

    id: str
    kind: Kind  # valid or stale
    at: float
    fields: dict[str, Any]  # emulator.add_contact fields
    patience: float
    event: dict[str, Any]
    handle: float = 0.0  # seconds an agent spends on it once connected
    preferred: str | None = None  # reference mix: the id of the agent the contact names


@dataclass(frozen=True)
class Delivery:
    """One copy of an event (or a raw body) arriving at ``at`` seconds."""

    at: float
    body: str
    kind: Kind
    contact_id: str | None
    event_id: str
    via_eventbridge: bool  # False: sent straight to the queue (not through the rule)
    note: str = ""


@dataclass(frozen=True)
class AgentChange:
    at: float
    username: str
    status: str | None
    busy: dict[str, int] | None


@dataclass
class Workload:
    spec: WorkloadSpec
    world: dict[str, Any]
    rules_text: str
    agents: list[Agent]
    contacts: list[ContactPlan]
    deliveries: list[Delivery]
    agent_changes: list[AgentChange] = field(default_factory=list)


def build(spec: WorkloadSpec, epoch: float, horizon: float) -> Workload:
    """Generate the workload; ``epoch`` is the virtual start (for event timestamps), ``horizon`` how far
    ahead agents keep changing."""
    rng = random.Random(f"workload-{spec.seed}")
    agents = [Agent(f"agent{i:03d}", _uuid(rng)) for i in range(1, spec.agents + 1)]
    history = [_uuid(rng) for _ in range(max(20, spec.agents // 2))]
    world = _world(spec, agents, history, rng)
    generator = _Generator(spec, rng, epoch, agents, history)
    for index in range(spec.contacts):
        generator.valid(index)
    for _ in range(round(spec.contacts * spec.stale_rate)):
        generator.stale()
    for number in range(round(spec.contacts * spec.malformed_rate)):
        generator.malformed(number)
    for number in range(round(spec.contacts * spec.filtered_rate)):
        generator.filtered(number)
    changes = _agent_changes(spec, agents, rng, horizon) if spec.agent_changes and spec.mix == "mixed" else []
    return Workload(
        spec=spec,
        world=world,
        rules_text=REFERENCE_RULES.format(window=spec.preferred_window) if spec.mix == "reference" else RULES,
        agents=agents,
        contacts=sorted(generator.contacts, key=lambda c: c.at),
        deliveries=sorted(generator.deliveries, key=lambda d: d.at),
        agent_changes=changes,
    )


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _world(spec: WorkloadSpec, agents: list[Agent], history: list[str], rng: random.Random) -> dict[str, Any]:
    users = []
    if spec.mix == "reference":
        return {
            "instance": {"id": INSTANCE_ID, "region": REGION, "account": ACCOUNT, "voice_association": False},
            "routing_profiles": [{"name": "Chat", "concurrency": {"CHAT": spec.chat_slots}}],
            "queues": [{"id": QUEUES["Support"], "name": "Support", "type": "STANDARD"}],
            "users": [{"id": a.id, "username": a.username, "routing_profile": "Chat"} for a in agents],
        }
    for agent in agents:
        status = "Available"
        if spec.mix == "mixed":
            status = rng.choices(["Available", "Training", "Lunch", "Offline"], [85, 5, 5, 5])[0]
        users.append({"id": agent.id, "username": agent.username, "routing_profile": "Digital", "status": status})
    past = [
        {
            "id": contact_id,
            "channel": rng.choice(["CHAT", "EMAIL"]),
            "initiation_method": "INBOUND",
            "state": "DISCONNECTED",
            "queue": "Billing email",
            "agent": rng.choice(agents).id,
        }
        for contact_id in history
    ]
    return {
        "instance": {"id": INSTANCE_ID, "region": REGION, "account": ACCOUNT, "voice_association": False},
        "routing_profiles": [{"name": "Digital", "concurrency": {"VOICE": 1, "CHAT": 3, "TASK": 2, "EMAIL": 2}}],
        "queues": [{"id": qid, "name": name, "type": "STANDARD"} for name, qid in QUEUES.items()],
        "users": users,
        "contacts": past,
    }


def _agent_changes(spec: WorkloadSpec, agents: list[Agent], rng: random.Random, horizon: float) -> list[AgentChange]:
    changes = []
    for agent in agents:
        at = rng.uniform(30.0, 300.0)
        while at < horizon:
            status = rng.choices(["Available", "Lunch", "Training", "Offline"], [70, 10, 10, 10])[0]
            busy = {"CHAT": rng.choice([0, 0, 1, 2]), "TASK": rng.choice([0, 0, 1])}
            changes.append(AgentChange(at, agent.username, status, busy))
            at += rng.uniform(60.0, 600.0)
    return sorted(changes, key=lambda c: c.at)


class _Generator:
    def __init__(
        self, spec: WorkloadSpec, rng: random.Random, epoch: float, agents: list[Agent], history: list[str]
    ) -> None:
        self.spec, self.rng, self.epoch, self.agents, self.history = spec, rng, epoch, agents, history
        self.contacts: list[ContactPlan] = []
        self.deliveries: list[Delivery] = []

    # ---------------------------------------------------------------------------------- contacts
    def valid(self, index: int) -> None:
        at = self.rng.uniform(0.0, self.spec.arrival_seconds)
        if self.spec.mix == "reference":
            fields = self._reference_chat()
        else:
            fields = self._attribute_chat(index) if self.spec.mix == "attribute" else self._mixed()
        self._contact("valid", at, fields)

    def stale(self) -> None:
        """A QUEUED event for a contact that an agent already answered (Connect's own routing) or that the
        customer already left when the event is processed."""
        at = self.rng.uniform(0.0, self.spec.arrival_seconds)
        fields = self._mixed() if self.spec.mix == "mixed" else self._attribute_chat(len(self.contacts))
        if self.rng.random() < 0.5:
            fields.update(state="CONNECTED", agent=self.rng.choice(self.agents).id)
        else:
            fields.update(state="DISCONNECTED")
        self._contact("stale", at, fields)

    def _contact(self, kind: Kind, at: float, fields: dict[str, Any]) -> None:
        contact_id = _uuid(self.rng)
        queue = fields["queue"]
        event = self._event(contact_id, fields["channel"], QUEUES[queue], at, fields.get("tags"))
        patience = self.rng.uniform(*self.spec.patience_seconds)
        handle = self.rng.uniform(*self.spec.handle_seconds)
        preferred = fields.get("attributes", {}).get("preferredAgent") if self.spec.mix == "reference" else None
        self.contacts.append(ContactPlan(contact_id, kind, at, fields, patience, event, handle, preferred))
        self._deliver(event, at, kind, contact_id)

    def _reference_chat(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"channel": "CHAT", "queue": "Support", "initiation_method": "API"}
        if self.rng.random() < self.spec.preferred_share:
            fields["attributes"] = {"preferredAgent": self.rng.choice(self.agents).id}
        return fields

    def _attribute_chat(self, index: int) -> dict[str, Any]:
        agent = self.agents[index % len(self.agents)]
        return {"channel": "CHAT", "queue": "Support", "attributes": {"preferredAgent": agent.id}}

    def _mixed(self) -> dict[str, Any]:
        rng = self.rng
        channel = rng.choices(["CHAT", "TASK", "EMAIL"], [50, 25, 25])[0]
        fields: dict[str, Any] = {"channel": channel, "queue": "Support", "initiation_method": "API"}
        if channel == "EMAIL":
            fields.update(queue="Billing email", initiation_method="INBOUND")
            fields["segment_attributes"] = {"connect:Subtype": "connect:Email"}
            if rng.random() < 0.85:
                fields["related_contact"] = rng.choice(self.history)
            return fields
        if channel == "CHAT" and rng.random() < 0.08:
            fields.update(queue="VIP", tags={"Segment": "vip"})
            return fields
        if rng.random() < 0.9:
            fields["attributes"] = {"preferredAgent": self._reference(rng.choice(self.agents))}
        return fields

    def _reference(self, agent: Agent) -> str:
        form = self.rng.choices(["id", "username", "arn"], [60, 25, 15])[0]
        if form == "username":
            return agent.username
        if form == "arn":
            return f"{INSTANCE_ARN}/agent/{agent.id}"
        return agent.id

    # ------------------------------------------------------------------------------------ events
    def _event(
        self,
        contact_id: str,
        channel: str,
        queue_id: str,
        at: float,
        tags: dict[str, str] | None = None,
        event_type: str = "QUEUED",
        instance_arn: str = INSTANCE_ARN,
    ) -> dict[str, Any]:
        when = datetime.fromtimestamp(self.epoch + at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return {
            "version": "0",
            "id": _uuid(self.rng),
            "detail-type": "Amazon Connect Contact Event",
            "source": "aws.connect",
            "account": ACCOUNT,
            "time": when,
            "region": REGION,
            "resources": [instance_arn, f"{instance_arn}/contact/{contact_id}"],
            "detail": {
                "eventType": event_type,
                "contactId": contact_id,
                "initialContactId": contact_id,
                "channel": channel,
                "instanceArn": instance_arn,
                "initiationMethod": "API",
                "initiationTimestamp": when,
                "queueInfo": {
                    "queueArn": f"{instance_arn}/queue/{queue_id}",
                    "queueType": "STANDARD",
                    "enqueueTimestamp": when,
                },
                "tags": {"aws:connect:instanceId": instance_arn.rsplit("/", 1)[1], **(tags or {})},
            },
        }

    def _deliver(self, event: dict[str, Any], at: float, kind: Kind, contact_id: str | None, note: str = "") -> None:
        """EventBridge delivers at least once: 1..duplicates copies, the extra ones a little or a lot later."""
        body = json.dumps(event)
        copies = self.rng.randint(1, self.spec.duplicates)
        for copy in range(copies):
            delay = self.event_delay()
            if copy:
                delay += self.rng.uniform(0.0, 2.0) if self.rng.random() < 0.7 else self.rng.uniform(2.0, 120.0)
            if kind == "stale":
                delay += self.rng.uniform(1.0, 30.0)  # late: the contact moved on before the event is read
            self.deliveries.append(Delivery(at + delay, body, kind, contact_id, str(event["id"]), True, note))

    def event_delay(self) -> float:
        """EventBridge to SQS: lognormal with the spec's median and 99th percentile."""
        median, p99 = self.spec.event_delay
        return self.rng.lognormvariate(math.log(median), math.log(p99 / median) / Z99)

    def malformed(self, number: int) -> None:
        """Bodies the router must reject with a reason (never crash the batch, never retry)."""
        at = self.rng.uniform(0.0, self.spec.arrival_seconds)
        contact_id = _uuid(self.rng)
        event = self._event(contact_id, "CHAT", QUEUES["Support"], at)
        detail = event["detail"]
        variant = number % 11
        notes = [
            "no contactId",
            "contactId is a number",
            "contactId of 300 characters",
            "tags is a list",
            "queueInfo is a string",
            "contact that does not exist",
            "not JSON",
            "a JSON array",
            "a blank body",
            "a re-check message missing fields",
            "a re-check message with a text step",
        ]
        note = notes[variant]
        if variant == 0:
            del detail["contactId"]
        elif variant == 1:
            detail["contactId"] = 12345
        elif variant == 2:
            detail["contactId"] = "c" * 300
        elif variant == 3:
            detail["tags"] = ["Segment", "vip"]
        elif variant == 4:
            detail["queueInfo"] = "Support"
        if variant == 5:
            self._deliver(event, at, "unknown_contact", contact_id, note)
            return
        if variant <= 4:
            self._deliver(event, at, "malformed", None, note)
            return
        recheck = {
            "contact_id": contact_id,
            "instance_arn": INSTANCE_ARN,
            "channel": "CHAT",
            "rule": "preferred-agent-attribute",
            "step": 0,
            "step_started_at": self.epoch,
            "attempt": 1,
            "not_before": self.epoch,
        }
        if variant == 9:
            del recheck["rule"]
        elif variant == 10:
            recheck["step"] = "first"
        body = {
            6: '{"version": "0", "detail": {"eventType": "QUEUED"',
            7: json.dumps([event]),
            8: " ",
            9: json.dumps({"contact-router-recheck": recheck}),
            10: json.dumps({"contact-router-recheck": recheck}),
        }[variant]
        self.deliveries.append(Delivery(at, body, "junk", None, f"junk-{number}", False, note))

    def filtered(self, number: int) -> None:
        """Events the router's rule does not match: they never reach its queue."""
        at = self.rng.uniform(0.0, self.spec.arrival_seconds)
        contact_id = _uuid(self.rng)
        variant = number % 4
        if variant == 0:
            event = self._event(contact_id, "VOICE", QUEUES["Support"], at)
        elif variant == 1:
            event = self._event(contact_id, "CHAT", QUEUES["Support"], at, event_type="CONNECTED_TO_AGENT")
        elif variant == 2:
            event = self._event(contact_id, "TASK", QUEUES["Support"], at, instance_arn=OTHER_INSTANCE_ARN)
        else:
            event = self._event(contact_id, "CHAT", QUEUES["Support"], at)
            event["detail"] = {"EventType": "QUEUED", "ContactId": contact_id, "Channel": "Chat"}
        self._deliver(event, at, "filtered", contact_id)
