"""The simulated pipeline: EventBridge rule -> SQS (virtual time) -> N concurrent router workers -> Connect.

Each worker is one Lambda execution environment fed by the event source mapping: it receives batches
(batch size and batching window from template.yaml), builds its own app on a cold start with
``contact_router.composition.build_router_app`` (real ConnectGateway, Powertools idempotency on moto's DynamoDB, the
real dead-letter and re-check adapters over the simulated queue), and runs each batch through its own
``SqsFunction`` (what the router handler holds per environment: batch planning, its own ``BatchProcessor``,
Powertools' ``process_partial_response`` over ``app.handle_record``).

Everything runs on one virtual clock (see clock.py): the emulator's latency and quotas, botocore's retry
back-off, SQS delays and visibility timeouts, the Lambda timeout, the idempotency table's expiry times.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import random
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, cast

import boto3
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.retries import standard
from moto import mock_aws

from connect_emulator import ConnectEmulator, World
from connect_emulator.emulator import CallRecord
from connect_emulator.routing import RoutingEvent
from connect_emulator.state import Association
from connect_emulator.world import RoutingSpec
from contact_router.adapters import aws
from contact_router.adapters.aws import Clients
from contact_router.adapters.episodes import EPISODE_PREFIX
from contact_router.composition import build_router_app
from contact_router.config import Settings
from contact_router.errors import TransientError
from contact_router.handlers.sqs import SqsFunction
from contact_router.models.decision import Decision, Outcome
from contact_router.observability import metrics
from contact_router.record_policy import RouterApp
from contact_router.routing.fallback import RECHECK_KEY
from contact_router_cli.local import create_table, lambda_output_to
from contact_router_cli.simulate import template, workload
from contact_router_cli.simulate.clock import Actor, DeadlineExceeded, VirtualClock
from contact_router_cli.simulate.queue import Message, QueueStats, SimulatedQueue, SimulatedSqsClient
from contact_router_cli.simulate.workload import Z99

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_sqs import SQSClient

# The simulated morning starts on Monday 2030-01-07 at 09:00 UTC: virtual time is always ahead of the wall
# clock, which the idempotency table's time translation relies on (see _VirtualTimeTable).
EPOCH = 1_894_006_800.0
IDEMPOTENCY_TABLE = "contact-router-idempotency"
BUGS = ("no-idempotency", "skip-waiting-check")
Bug = Literal["no-idempotency", "skip-waiting-check"]
# How contacts reach agents (docs/simulation.md, "Outcome against native routing"): Connect's own routing
# alone, the router on the EventBridge path racing it, the contact flow's routing criteria, or both.
MODES = ("native", "events", "flow", "flow+events")
Mode = Literal["native", "events", "flow", "flow+events"]
ROUTER_MODES = frozenset({"events", "flow+events"})
FLOW_MODES = frozenset({"flow", "flow+events"})
# What the contact flow does before "Transfer to queue": the routing criteria to set (None: none).
FlowFunction = Callable[[workload.ContactPlan], Mapping[str, Any] | None]
# Outcomes after which the router is done with a contact (for now): it is associated, or left to Connect.
SETTLED = frozenset(
    {
        Outcome.ASSOCIATED,
        Outcome.WOULD_ASSOCIATE,
        Outcome.NO_ELIGIBLE_AGENT,
        Outcome.NO_RULE_MATCHED,
        Outcome.ROUTING_CRITERIA_SET,
        Outcome.NOT_WAITING,
        Outcome.IGNORED,
        Outcome.REJECTED,
    }
)


# Native routing as the reference workload runs it: the emulator's defaults (docs/emulator.md, switches), with
# agents who accept at once and never miss an offer, so that the modes differ only in how they route.
NATIVE_ROUTING = RoutingSpec(native=True)


class WorkerCrash(BaseException):
    """The worker's process dies (after AssociateContactWithUser succeeded): no cleanup, no acknowledgement."""


@dataclass(frozen=True)
class SimulationConfig:
    workload: workload.WorkloadSpec = field(default_factory=workload.WorkloadSpec)
    # None: the value of template.yaml
    workers: int | None = None
    batch_size: int | None = None
    batching_window: float | None = None
    visibility_timeout: float | None = None
    max_receive_count: int | None = None
    timeout: float | None = None
    quota_scale: float | None = 1.0  # documented Connect quotas, scaled; None: no rate quotas
    throttle_rate: float = 0.0  # extra ThrottlingException per Connect call
    error_rate: float = 0.0  # InternalServiceException per Connect call
    latency: tuple[float, float] = (0.02, 0.08)  # seconds per Connect call (uniform)
    crash_rate: float = 0.0  # a worker dies after a successful AssociateContactWithUser
    inject_bug: Bug | None = None
    max_virtual_seconds: float = 6 * 3600.0
    seed: int = 1
    # None: the world the router was first simulated in (no native routing; the router alone routes).
    mode: Mode | None = None
    flow: FlowFunction | None = None  # the flow modes' flow; None: the router's flow entry point (flow.py)
    flow_steps: Literal["deployed", "answer"] = "deployed"  # step durations: the deployed flow's, or the answer's
    cold_start: tuple[float, float] | None = None  # a worker's init: (median, p99) seconds, lognormal

    def __post_init__(self) -> None:
        for name in ("throttle_rate", "error_rate", "crash_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.throttle_rate + self.error_rate > 1.0:
            raise ValueError("throttle_rate + error_rate must not exceed 1")
        if self.inject_bug is not None and self.inject_bug not in BUGS:
            raise ValueError(f"unknown bug {self.inject_bug!r}; choose from {', '.join(BUGS)}")
        if self.mode is not None and self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; choose from {', '.join(MODES)}")
        if self.cold_start is not None and not 0.0 < self.cold_start[0] <= self.cold_start[1]:
            raise ValueError("cold_start needs 0 < median <= p99")

    @property
    def router(self) -> bool:
        """Whether the router's pipeline runs (every mode but native routing alone or with the flow)."""
        return self.mode is None or self.mode in ROUTER_MODES

    @property
    def native(self) -> bool:
        return self.mode is not None


@dataclass(frozen=True)
class Origin:
    """What a message is, from the simulation's ground truth."""

    kind: workload.Kind
    contact_id: str | None
    note: str = ""


@dataclass(frozen=True)
class RecordResult:
    """One SQS record handled by a worker: the router's decision, or the failure that sent it back."""

    time: float
    worker: str
    message_id: str
    receive_count: int
    origin: Origin
    decision: Decision | None  # None when the record failed (transient, unexpected)
    transient: str | None = None  # TransientError reason: the record goes back to SQS
    unexpected: str | None = None  # any other exception: a bug


@dataclass
class WorkerStats:
    invocations: int = 0
    cold_starts: int = 0
    crashes: int = 0
    timeouts: int = 0
    batch_errors: list[str] = field(default_factory=list)
    batch_sizes: Counter[int] = field(default_factory=Counter)


@dataclass
class SimulationResult:
    config: SimulationConfig
    deployment: template.Deployment
    workload: workload.Workload
    records: list[RecordResult]
    origins: dict[str, Origin]  # router queue message id -> origin
    dead_letters: list[Message]
    calls: list[CallRecord]
    associations: list[Association]
    queue_stats: QueueStats
    workers: WorkerStats
    filtered: int  # events the rule did not match
    queued: int  # events and bodies that reached the router queue
    first_event_at: float
    first_sent: dict[str, float]  # contact id -> when its first QUEUED event reached the queue
    end: float  # virtual time when the pipeline drained (or gave up)
    drained: bool
    wall_seconds: float
    quota: float | None  # AssociateContactWithUser rate quota (requests per second)
    ideal_seconds: float  # the unavoidable round trips of one contact (mean latencies)
    emulator: ConnectEmulator
    crashed_contacts: list[str] = field(default_factory=list)
    races: Counter[str] = field(default_factory=Counter)  # associations that landed on an ineligible agent

    def origin_of_dead_letter(self, message: Message) -> Origin:
        source = message.attributes.get("source_message_id") or message.source_id or ""
        return self.origins.get(source) or _origin_from_body(message.body)


def run_simulation(
    config: SimulationConfig,
    *,
    log_stream: IO[str] | None = None,
    progress: Callable[[float, int, int, int], None] | None = None,
) -> SimulationResult:
    """Run the whole pipeline in virtual time. ``progress(virtual_seconds, settled, total, associated)`` is
    called now and then; the Lambda's JSON logs and EMF metrics go to ``log_stream``."""
    return _Simulation(config, log_stream or io.StringIO(), progress).run()


class _Simulation:
    def __init__(
        self,
        config: SimulationConfig,
        log_stream: IO[str],
        progress: Callable[[float, int, int, int], None] | None,
    ) -> None:
        self.config = config
        self.log_stream = log_stream
        self.progress = progress
        self.clock = VirtualClock(EPOCH)
        parameters = {"ConnectInstanceArn": workload.INSTANCE_ARN}
        self.deployment = template.router_deployment(parameters)
        d = self.deployment
        self.workers_count = config.workers or d.max_concurrency
        self.batch_size = config.batch_size or d.batch_size
        self.window = d.batching_window if config.batching_window is None else config.batching_window
        self.timeout = config.timeout or d.timeout
        arrivals = config.workload.arrival_seconds
        horizon = arrivals + config.workload.contacts * 1.5 + 1800.0
        self.workload = workload.build(config.workload, EPOCH, horizon)
        self.rng = random.Random(f"pipeline-{config.seed}")
        self.crash_rng = random.Random(f"crash-{config.seed}")
        self.handles = {plan.id: plan.handle for plan in self.workload.contacts}
        self.emulator = ConnectEmulator(
            World.from_dict(self.workload.world),
            clock=self.clock.now,
            sleep=self._sleep,
            seed=config.seed,
            routing=NATIVE_ROUTING if config.native else False,
        )
        if config.native:
            self.emulator.subscribe(self._connected)
        self._configure_faults()
        self.dlq = SimulatedQueue("contact-router-dlq", self.clock, rng=random.Random(f"dlq-{config.seed}"))
        self.queue = SimulatedQueue(
            "contact-router-events",
            self.clock,
            visibility_timeout=config.visibility_timeout or d.visibility_timeout,
            max_receive_count=config.max_receive_count or d.max_receive_count,
            dead_letter=self.dlq,
            rng=random.Random(f"queue-{config.seed}"),
        )
        self.sqs = SimulatedSqsClient(self.queue, self.dlq)
        self.records: list[RecordResult] = []
        self.origins: dict[str, Origin] = {}
        self.first_sent: dict[str, float] = {}
        self.stats = WorkerStats()
        self.filtered = 0
        self.queued = 0
        self.pending_deliveries = 0
        self.settled: set[str] = set()
        self.tracked = {c.id for c in self.workload.contacts}
        self.associated = 0
        self.crashed_contacts: list[str] = []
        self.races: Counter[str] = Counter()
        self.workers: list[Actor] = []
        self.pending_arrivals = 0
        self.flow: FlowFunction | None = config.flow
        self.cold_rng = random.Random(f"cold-{config.seed}")
        self._requests = 0

    # ------------------------------------------------------------------------------------ set-up
    def _configure_faults(self) -> None:
        faults = self.emulator.faults
        config = self.config
        if config.quota_scale is not None:
            faults.use_documented_quotas(config.quota_scale)
        if config.throttle_rate:
            faults.set_error_rate("*", "ThrottlingException", config.throttle_rate)
        if config.error_rate:
            faults.set_error_rate("*", "InternalServiceException", config.error_rate)
        low, high = config.latency
        if high > 0:
            faults.set_latency("*", (low, high))

    def _sleep(self, seconds: float) -> None:
        """The emulator's latency: slept by a worker on the virtual clock; the flow, run by the driver before
        the contact is queued, takes no virtual time."""
        if self.clock.current() is not None:
            self.clock.sleep(seconds)

    @property
    def quota(self) -> float | None:
        quota = self.emulator.faults.rate_quota("AssociateContactWithUser")
        return quota.rate if quota else None

    def _settings(self, rules_file: Path) -> Settings:
        env = {
            "CONNECT_INSTANCE_ARN": workload.INSTANCE_ARN,
            "RULES_SOURCE": "file",
            "RULES_FILE": str(rules_file),
            "DEAD_LETTER_QUEUE_URL": self.dlq.url,
            "ROUTER_QUEUE_URL": self.queue.url,
            # Pace as deployed: the template's quotas (scaled like the emulator's), shared by the workers.
            "CONNECT_API_QUOTAS": _scaled_quotas(self.deployment.connect_api_quotas, self.config.quota_scale),
            "MAX_CONCURRENCY": str(self.workers_count),
            # As deployed: the function knows its queue's redrive limit (template.yaml keeps them equal).
            "MAX_RECEIVE_COUNT": str(self.queue.max_receive_count or ""),
        }
        if self.config.inject_bug != "no-idempotency":
            env["IDEMPOTENCY_TABLE"] = IDEMPOTENCY_TABLE
        return Settings.from_env(env)

    # --------------------------------------------------------------------------------------- run
    def run(self) -> SimulationResult:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="contact-router-sim-") as tmp, self._seeded_jitter(), mock_aws():
            rules_file = Path(tmp) / "rules.yaml"
            rules_file.write_text(self.workload.rules_text, encoding="utf-8")
            dynamodb = boto3.client("dynamodb", region_name=workload.REGION, config=aws.DEFAULT_CONFIG)
            _retry_in_virtual_time(dynamodb, self.clock)
            d = self.deployment  # the key and TTL attribute of template.yaml's IdempotencyTable
            create_table(dynamodb, IDEMPOTENCY_TABLE, d.idempotency_key, d.idempotency_ttl_attribute)
            _VirtualTimeTable(self.clock, self.deployment.idempotency_ttl_attribute).attach(dynamodb)
            settings = self._settings(rules_file)
            if self.config.mode in FLOW_MODES and self.flow is None:
                from contact_router_cli.simulate.flow import flow_function

                self.flow = flow_function(self.emulator, rules_file, self.config.flow_steps)
            self._schedule_workload()
            for number in range(1, self.workers_count + 1 if self.config.router else 1):
                worker = _Worker(self, f"worker-{number}", settings, dynamodb)
                self.workers.append(self.clock.spawn(worker.name, worker.body))
            with lambda_output_to(self.log_stream):
                try:
                    self.clock.run(stop=self._done, on_step=self._on_step)
                finally:
                    self.clock.close()
                    _flush_metrics()
            if self.progress is not None:
                self.progress(self.clock.elapsed(), self._settled_count(), len(self.tracked), self.associated)
            if self.config.native:
                self.emulator.advance_to(self._quiet_after())  # every contact answered and ended, or abandoned
            return SimulationResult(
                config=self.config,
                deployment=self.deployment,
                workload=self.workload,
                records=self.records,
                origins=self.origins,
                dead_letters=list(self.dlq.archive),
                calls=self.emulator.calls,
                associations=self.emulator.associations,
                queue_stats=self.queue.stats,
                workers=self.stats,
                filtered=self.filtered,
                queued=self.queued,
                first_event_at=min(self.first_sent.values(), default=EPOCH),
                first_sent=self.first_sent,
                end=self._last_activity(),
                drained=self._drained(),
                wall_seconds=time.perf_counter() - started,
                quota=self.quota,
                ideal_seconds=3 * sum(self.config.latency) / 2,
                emulator=self.emulator,
                crashed_contacts=self.crashed_contacts,
                races=self.races,
            )

    def _last_activity(self) -> float:
        times = [r.time for r in self.records] + [a.time for a in self.emulator.associations]
        return max(times, default=self.clock.now())

    def _drained(self) -> bool:
        return self.pending_arrivals == 0 and self.pending_deliveries == 0 and len(self.queue) == 0

    def _quiet_after(self) -> float:
        """Seconds after the start by which every contact has ended: its longest wait and handle time after the
        last arrival (and the pipeline's own end)."""
        plans = self.workload.contacts
        latest = max((p.at + p.patience + p.handle for p in plans), default=0.0)
        longest = max((p.handle for p in plans), default=0.0)
        return max(latest + longest, self.clock.elapsed()) + 60.0

    def _done(self) -> bool:
        idle = self.clock.parked(self.queue.channel) == len(self.workers)
        return (self._drained() and idle) or self.clock.elapsed() > self.config.max_virtual_seconds

    def _settled_count(self) -> int:
        return len(self.settled)

    def _on_step(self) -> None:
        if self.progress is not None and self.clock.steps % 500 == 0:
            self.progress(self.clock.elapsed(), self._settled_count(), len(self.tracked), self.associated)

    @contextlib.contextmanager
    def _seeded_jitter(self) -> Iterator[None]:
        """botocore draws its retry back-off's jitter from the ``random`` module: seeded for the run's duration,
        so a run is reproducible, and the caller's random state restored after."""
        state = random.getstate()
        random.seed(f"botocore-{self.config.seed}")
        try:
            yield
        finally:
            random.setstate(state)

    # ---------------------------------------------------------------------------------- workload
    def _schedule_workload(self) -> None:
        pattern = self.deployment.event_pattern
        for plan in self.workload.contacts:
            self.pending_arrivals += 1
            self.clock.call_at(EPOCH + plan.at, self._arrive(plan))
        for delivery in self.workload.deliveries if self.config.router else ():
            if delivery.via_eventbridge and not template.matches(pattern, json.loads(delivery.body)):
                self.filtered += 1
                continue
            self.pending_deliveries += 1
            self.clock.call_at(EPOCH + delivery.at, self._deliver(delivery))
        for change in self.workload.agent_changes:
            self.clock.call_at(EPOCH + change.at, self._change(change))

    def _arrive(self, plan: workload.ContactPlan) -> Callable[[], None]:
        def arrive() -> None:
            self.pending_arrivals -= 1
            fields = dict(plan.fields)
            if self.config.native:
                self._arrive_routed(plan, fields)
                return
            self.emulator.add_contact(plan.id, **fields)
            if fields.get("state") == "CONNECTED":
                self.clock.call_later(self.rng.uniform(*self.config.workload.handle_seconds), self._hang_up(plan.id))
            elif fields.get("state") != "DISCONNECTED":
                self.clock.call_later(plan.patience, self._give_up(plan.id))

        return arrive

    def _arrive_routed(self, plan: workload.ContactPlan, fields: dict[str, Any]) -> None:
        """With native routing: the flow (in the flow modes) sets routing criteria before the contact is
        queued; the customer's patience and the agent's handle time run on the emulator's own timeline, so
        each happens at its own time whenever the emulator next looks."""
        flow = self.flow if self.config.mode in FLOW_MODES else None
        criteria = flow(plan) if flow is not None else None
        self.emulator.add_contact(plan.id, routing_criteria=criteria, **fields)
        if fields.get("state") == "CONNECTED":
            self.emulator.schedule(plan.at + plan.handle, self._end(plan.id))
        elif fields.get("state") != "DISCONNECTED":
            self.emulator.schedule(plan.at + plan.patience, self._abandon(plan.id))

    def _connected(self, event: RoutingEvent) -> None:
        """Native routing connected a contact (offered by itself or through an association): the agent hangs
        up after the contact's handle time."""
        if event.kind != "connected":
            return
        self.settled.add(event.contact_id)
        handle = self.handles.get(event.contact_id) or self.rng.uniform(*self.config.workload.handle_seconds)
        self.emulator.schedule(event.time - self.emulator.started_at + handle, self._end(event.contact_id))

    @staticmethod
    def _abandon(contact_id: str) -> Callable[[ConnectEmulator], None]:
        def abandon(emulator: ConnectEmulator) -> None:
            if emulator.contact(contact_id).state == "QUEUED":
                emulator.abandon_contact(contact_id)

        return abandon

    @staticmethod
    def _end(contact_id: str) -> Callable[[ConnectEmulator], None]:
        def end(emulator: ConnectEmulator) -> None:
            if emulator.contact(contact_id).state != "DISCONNECTED":
                emulator.disconnect_contact(contact_id)

        return end

    def _deliver(self, delivery: workload.Delivery) -> Callable[[], None]:
        def deliver() -> None:
            self.pending_deliveries -= 1
            message = self.queue.send(delivery.body)
            self.queued += 1
            self.origins[message.id] = Origin(delivery.kind, delivery.contact_id, delivery.note)
            if delivery.contact_id and delivery.contact_id not in self.first_sent:
                self.first_sent[delivery.contact_id] = message.sent_at

        return deliver

    def _change(self, change: workload.AgentChange) -> Callable[[], None]:
        def apply() -> None:
            if change.status is not None:
                self.emulator.set_user_status(change.username, change.status)
            for channel, slots in (change.busy or {}).items():
                self.emulator.set_busy(change.username, channel, slots)

        return apply

    def _give_up(self, contact_id: str) -> Callable[[], None]:
        def give_up() -> None:
            if self.emulator.contact(contact_id).state == "QUEUED":
                self.emulator.disconnect_contact(contact_id)

        return give_up

    def _hang_up(self, contact_id: str) -> Callable[[], None]:
        def hang_up() -> None:
            if self.emulator.contact(contact_id).state != "DISCONNECTED":
                self.emulator.disconnect_contact(contact_id)

        return hang_up

    def _accept(self, contact_id: str) -> Callable[[], None]:
        def accept() -> None:
            if self.emulator.contact(contact_id).state == "ASSOCIATED":
                self.emulator.connect_contact(contact_id)

        return accept

    # ------------------------------------------------------------------------- worker callbacks
    def associated_hook(self, contact_id: str, user_id: str) -> None:
        """AssociateContactWithUser succeeded: the agent accepts in a few seconds and hangs up later; now
        and then the worker dies right here."""
        self.associated += 1
        self._check_race(contact_id, user_id)
        self.settled.add(contact_id)
        if not self.config.native:  # with native routing the emulator's agent accepts, and _connected hangs up
            self.clock.call_later(self.rng.uniform(2.0, 8.0), self._accept(contact_id))
            handle = self.handles.get(contact_id) or self.rng.uniform(*self.config.workload.handle_seconds)
            self.clock.call_later(8.0 + handle, self._hang_up(contact_id))
        if self.config.crash_rate and self.crash_rng.random() < self.config.crash_rate:
            self.crashed_contacts.append(contact_id)
            raise WorkerCrash(contact_id)

    def _check_race(self, contact_id: str, user_id: str) -> None:
        """AssociateContactWithUser ignores status and capacity: was the agent still eligible when it landed?
        (GetCurrentUserData and the association are two calls; another worker or the agent may act between.)"""
        agent = self.emulator.user(user_id)
        channel = self.emulator.contact(contact_id).channel
        if agent.active_slots.get(channel, 0) > agent.max_slots.get(channel, 0):
            self.races["over capacity"] += 1
        if agent.status != "Available":
            self.races[f"agent {agent.status}"] += 1

    def always_waiting(self, parsed: dict[str, Any], **_: Any) -> None:
        """The skip-waiting-check bug: the router's "still waiting?" check always says yes, because the
        DescribeContact answers for the workload's contacts reach it without what says a contact no longer
        waits (its agent, its disconnect time). Other contacts (a related contact's agent) stay as they are."""
        contact = parsed.get("Contact")
        if isinstance(contact, dict) and contact.get("Id") in self.tracked:
            contact.pop("AgentInfo", None)
            contact.pop("DisconnectTimestamp", None)

    def record(self, result: RecordResult) -> None:
        self.records.append(result)
        decision = result.decision
        contact_id = result.origin.contact_id
        if decision is not None and contact_id and decision.outcome in SETTLED:
            self.settled.add(contact_id)

    def origin(self, message_id: str, body: str) -> Origin:
        found = self.origins.get(message_id)
        if found is None:
            found = self.origins[message_id] = _origin_from_body(body)
        return found


class _Worker:
    """One Lambda execution environment behind the event source mapping (rebuilt after a crash or timeout).

    It runs each batch through its own ``SqsFunction`` -- the router handler's per-environment object (app,
    batch planning, ``BatchProcessor``, ``process_partial_response``) -- without the handler's decorators:
    Powertools' Metrics are process-wide, so the simulation flushes metrics itself; the per-record log keys
    (message_id, receive_count, contact_id) are the Logger's thread-safe ones, so each worker's lines carry
    its own record's.
    """

    def __init__(self, sim: _Simulation, name: str, settings: Settings, dynamodb: DynamoDBClient) -> None:
        self.sim = sim
        self.name = name
        self.settings = settings
        self.dynamodb = dynamodb
        self.environment: tuple[RouterApp, SqsFunction[RouterApp]] | None = None
        self.invocation = 0

    def body(self) -> None:
        sim, clock, queue = self.sim, self.sim.clock, self.sim.queue
        actor = clock.current()
        assert actor is not None
        while True:
            messages = queue.receive(sim.batch_size)
            if not messages:
                clock.park(queue.channel)
                continue
            if len(messages) < sim.batch_size and sim.window > 0:
                clock.sleep(sim.window)  # the batching window: wait for a fuller batch
                messages += queue.receive(sim.batch_size - len(messages))
            self._invoke(actor, messages)

    def _cold_start(self) -> tuple[RouterApp, SqsFunction[RouterApp]]:
        sim = self.sim
        client = sim.emulator.client(config=aws.CONNECT_CONFIG)

        def remember(params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
            context["sim_association"] = (params.get("ContactId"), params.get("UserId"))

        def after(http_response: Any, context: Mapping[str, Any], **_: Any) -> None:
            if http_response is not None and http_response.status_code == 200:
                contact_id, user_id = context["sim_association"]
                sim.associated_hook(str(contact_id), str(user_id))

        client.meta.events.register("before-parameter-build.connect.AssociateContactWithUser", remember)
        client.meta.events.register("after-call.connect.AssociateContactWithUser", after)
        _retry_in_virtual_time(client, sim.clock)
        if sim.config.inject_bug == "skip-waiting-check":
            client.meta.events.register("after-call.connect.DescribeContact", sim.always_waiting)
        app = build_router_app(
            self.settings,
            # sim.sqs is the simulator's own SQS (simulate/queue.py), the slice of the client the adapters call.
            Clients(connect=client, dynamodb=self.dynamodb, sqs=cast("SQSClient", sim.sqs)),
            clock=sim.clock.now,
            sleep=sim.clock.sleep,
        )
        # Record what the router decides for each record (the function calls app.handle_record).
        setattr(app, "handle_record", self._recording(app.handle_record))  # noqa: B010 - shadows the method
        sim.stats.cold_starts += 1
        return app, SqsFunction[RouterApp](lambda _settings: app)

    def _recording(self, handle_record: Callable[[SQSRecord], Decision]) -> Callable[[SQSRecord], Decision]:
        sim = self.sim

        def handle(record: SQSRecord) -> Decision:
            origin = sim.origin(record.message_id, record.body)
            count = int(record.attributes.approximate_receive_count or 1)

            def result(decision: Decision | None, transient: str | None = None, problem: str | None = None) -> None:
                sim.record(
                    RecordResult(
                        sim.clock.now(), self.name, record.message_id, count, origin, decision, transient, problem
                    )
                )

            try:
                decision = handle_record(record)
            except TransientError as exc:
                result(None, exc.reason)
                raise
            except Exception as exc:
                result(None, None, f"{type(exc).__name__}: {exc}")
                raise
            result(decision)
            return decision

        return handle

    def _invoke(self, actor: Actor, messages: list[Message]) -> None:
        sim = self.sim
        if self.environment is None:
            self.environment = self._cold_start()
            if sim.config.cold_start is not None:  # the init phase, before the first batch is handled
                median, p99 = sim.config.cold_start
                sim.clock.sleep(sim.cold_rng.lognormvariate(math.log(median), math.log(p99 / median) / Z99))
        app, function = self.environment
        self.invocation += 1
        sim.stats.invocations += 1
        sim.stats.batch_sizes[len(messages)] += 1
        deadline = sim.clock.now() + sim.timeout
        context = SimulatedLambdaContext(sim.clock, deadline, f"{self.name}-{self.invocation}")
        event = {"Records": [_record(m, sim.queue) for m in messages]}
        actor.deadline = deadline
        try:
            response = function.handle(event, context, app)  # type: ignore[arg-type]
        except WorkerCrash:
            sim.stats.crashes += 1
            self.environment = None  # the environment is gone: the next batch is a cold start
            return
        except DeadlineExceeded:
            sim.stats.timeouts += 1
            self.environment = None
            return
        except Exception as exc:  # noqa: BLE001 - a batch that raises is what the invariants must report
            sim.stats.batch_errors.append(f"{type(exc).__name__}: {exc}")
            self.environment = None
            return
        finally:
            actor.deadline = None
        _flush_metrics()  # what @metrics.log_metrics does at the end of an invocation
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        for message in messages:
            if message.id not in failed:
                sim.queue.delete(message.receipt)


class SimulatedLambdaContext:
    """The Lambda context of one invocation; the remaining time counts down in virtual time."""

    function_name = "contact-router-sim"
    function_version = "$LATEST"
    invoked_function_arn = f"arn:aws:lambda:{workload.REGION}:{workload.ACCOUNT}:function:contact-router-sim"
    memory_limit_in_mb = 256
    log_group_name = "/aws/lambda/contact-router-sim"
    log_stream_name = "sim"

    def __init__(self, clock: VirtualClock, deadline: float, request_id: str) -> None:
        self._clock = clock
        self._deadline = deadline
        self.aws_request_id = request_id

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock.now()) * 1000))


class _VirtualTimeTable:
    """Puts the idempotency table in virtual time.

    Powertools (the supervision function's idempotency) computes the record's expiry, its in-progress expiry
    (now + the Lambda's remaining time) and the "now" of its conditional put from the wall clock. The
    simulation's time runs ahead of it, so a crashed attempt's in-progress record would never expire within
    a run. This hook shifts those epoch timestamps, in each DynamoDB request of the simulation, by (virtual
    now - wall now): the table then compares virtual times only. (Virtual time starts in 2030, so a shifted
    time is never in the wall clock's past, which Powertools also checks.) The router's episode claims
    (adapters/episodes.py) take their times from the router's clock, which is virtual already: their
    requests are left as they are.
    """

    SECONDS = (":now", ":expiry")
    MILLIS = (":now_in_millis",)

    def __init__(self, clock: VirtualClock, expiry_attribute: str) -> None:
        self._clock = clock
        self._items = {expiry_attribute: 1.0, "in_progress_expiration": 1000.0}

    def attach(self, client: BaseClient) -> None:
        client.meta.events.register("before-parameter-build.dynamodb", self._shift)

    def _shift(self, params: dict[str, Any], **_: Any) -> None:
        key = params.get("Item") or params.get("Key") or {}
        if str(key.get("id", {}).get("S", "")).startswith(EPISODE_PREFIX):
            return
        delta = self._clock.now() - time.time()
        item = params.get("Item")
        if isinstance(item, dict):
            for name, unit in self._items.items():
                _shift_number(item, name, delta * unit)
        values = params.get("ExpressionAttributeValues")
        if isinstance(values, dict):
            for name in self.SECONDS:
                _shift_number(values, name, delta)
            for name in self.MILLIS:
                _shift_number(values, name, delta * 1000)


def _shift_number(attributes: dict[str, Any], name: str, delta: float) -> None:
    value = attributes.get(name)
    if isinstance(value, dict) and "N" in value:
        value["N"] = str(int(int(value["N"]) + delta))


def _retry_in_virtual_time(client: BaseClient, clock: VirtualClock) -> None:
    """botocore's endpoint sleeps a retry's back-off with ``time.sleep``. This client's standard retry handler
    (rebuilt with the client's own max attempts, under the id botocore gives it) sleeps the back-off on the
    virtual clock instead and hands the endpoint a delay of zero."""
    service = client.meta.service_model.service_id.hyphenize()
    event, unique_id = f"needs-retry.{service}", f"retry-config-{service}"
    client.meta.events.unregister(event, unique_id=unique_id)
    # botocore-stubs 1.43 types neither Config.retries (set from the constructor's options) nor handlers that
    # return a value (needs-retry answers the delay): the two ignores below name those gaps.
    attempts = client.meta.config.retries.get("total_max_attempts")  # type: ignore[attr-defined]
    handler = standard.register_retry_handler(client, attempts)
    client.meta.events.unregister(event, unique_id=unique_id)

    def needs_retry(**kwargs: Any) -> float | bool | None:
        delay: float | bool | None = handler.needs_retry(**kwargs)
        if delay is None or delay is False or clock.current() is None:
            return delay  # no retry, or not a worker's call: botocore sleeps as usual
        clock.sleep(float(delay))
        return 0.0

    client.meta.events.register(event, needs_retry, unique_id=unique_id)  # type: ignore[arg-type]


def _flush_metrics() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "No application metrics to publish": an invocation that crashed
        metrics.flush_metrics()


def _record(message: Message, queue: SimulatedQueue) -> dict[str, Any]:
    """An SQS record as the event source mapping hands it to Lambda."""
    return {
        "messageId": message.id,
        "receiptHandle": message.receipt,
        "body": message.body,
        "attributes": {
            "ApproximateReceiveCount": str(message.receive_count),
            "SentTimestamp": str(int(message.sent_at * 1000)),
            "ApproximateFirstReceiveTimestamp": str(int((message.first_received_at or message.sent_at) * 1000)),
            "SenderId": "AROAEXAMPLE:events",
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": queue.arn,
        "awsRegion": workload.REGION,
    }


def _origin_from_body(body: str) -> Origin:
    """A message the simulation did not send itself: a re-check the router scheduled."""
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        raw = json.loads(body)
        if isinstance(raw, dict) and isinstance(raw.get(RECHECK_KEY), dict):
            return Origin("recheck", str(raw[RECHECK_KEY].get("contact_id")))
    return Origin("junk", None, "unknown body")


def _scaled_quotas(quotas: str, scale: float | None) -> str:
    """The template's CONNECT_API_QUOTAS with each rate scaled like the emulator's quotas; none without quotas."""
    if scale is None or not quotas:
        return ""
    pairs = (item.split("=", 1) for item in quotas.split(",") if "=" in item)
    return ",".join(f"{name}={float(rate) * scale:g}" for name, rate in pairs)
