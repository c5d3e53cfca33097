"""`ConnectEmulator`: one emulated Connect instance, its request pipeline and its Python API."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import math
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import boto3
from botocore.config import Config

from connect_emulator import transport
from connect_emulator.errors import NOT_IMPLEMENTED, EmulatorStateError, ServiceError, WorldError
from connect_emulator.faults import Faults
from connect_emulator.iam import Iam
from connect_emulator.model import ConnectModel, HttpRequest, HttpResponse, default_model
from connect_emulator.operations import HANDLERS, Handler, routing_steps
from connect_emulator.routing import Listener, RoutingEngine, RoutingEvent
from connect_emulator.state import (
    Association,
    Connection,
    ContactSnapshot,
    InstanceState,
    MonitoringSession,
    RoutingCriteriaSnapshot,
    UserSnapshot,
)
from connect_emulator.timeline import Timeline, TimelineRecord
from connect_emulator.world import MONITOR, QUEUED, RoutingSpec, World

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from types_boto3_connect import ConnectClient

_Client = TypeVar("_Client", bound="BaseClient")

logger = logging.getLogger(__name__)

UNKNOWN_OPERATION_NAME = "<unknown>"
# Requests that change nothing native routing reacts to (any other one makes it look again).
READ_ONLY_OPERATIONS = frozenset(
    {"DescribeContact", "DescribeUser", "GetCurrentUserData", "SearchUsers", "SearchContacts"}
)
DEFAULT_CLIENT_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 3})


@dataclass(frozen=True)
class CallRecord:
    """One request the emulator answered: operation, params (as parsed), HTTP status, error code."""

    operation: str
    params: Mapping[str, Any]
    status: int
    error_code: str | None
    time: float


class ConnectEmulator:
    """A stateful emulated Amazon Connect instance seeded from a `World`.

    `clock` (epoch seconds) and `sleep` default to the real ones; pass virtual ones to simulate time.
    `advance_to` / `advance` move the emulator's time forward whatever the clock (an offset added to it).
    `seed` makes injected faults (error rates, latency jitter), generated contact ids and native routing's
    random choices reproducible. `routing` overrides the world's `routing:` section: `False` turns native
    routing off (contacts wait until associated or connected), `True` on, or a whole `RoutingSpec`.
    """

    def __init__(
        self,
        world: World,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        seed: int = 0,
        model: ConnectModel | None = None,
        routing: bool | RoutingSpec | None = None,
    ) -> None:
        self.world = world
        self.model = model or default_model()
        self._base_clock = clock or time.time
        self._offset = 0.0
        self._sleep = sleep or time.sleep
        self._lock = threading.RLock()
        self._state = InstanceState(world, self._clock, seed)
        self._timeline = Timeline(self._state.started_at)
        for entry in world.timeline:
            self._timeline.add_entry(entry)
        self._applying = False
        spec = world.routing
        if isinstance(routing, RoutingSpec):
            spec = routing
        elif routing is not None:
            spec = dataclasses.replace(spec, native=routing)
        self._state.routing_spec = spec
        self._router = RoutingEngine(self._state, spec, random.Random(f"routing-{seed}"))
        self._handlers: dict[str, Handler] = dict(HANDLERS)
        self._calls: list[CallRecord] = []
        self._request_ids = itertools.count(1)
        self.faults = Faults(
            clock=self._clock,
            sleep=self._sleep,
            rng=random.Random(seed),
            operations=self.model.operation_names,
            error_codes=self.model.error_codes,
        )
        self.faults.apply(world.faults)
        self.iam: Iam | None = None  # IAM mode, off until use_iam()

    # ------------------------------------------------------------------ identity

    @property
    def instance_id(self) -> str:
        return self.world.instance.id

    @property
    def instance_arn(self) -> str:
        return self.world.instance.arn

    @property
    def region(self) -> str:
        return self.world.instance.region

    def user_arn(self, user: str) -> str:
        """The ARN of a user given by id, username or ARN."""
        with self._lock:
            return self._state.user_arn(self._state.require_user(user).id)

    # ------------------------------------------------------------------ time

    def _clock(self) -> float:
        return self._base_clock() + self._offset

    def now(self) -> float:
        """The emulator's time (epoch seconds): the clock plus any `advance_to` jump."""
        return self._clock()

    @property
    def started_at(self) -> float:
        """When the emulator started (epoch seconds): timeline `at` values count from here."""
        return self._state.started_at

    def elapsed(self) -> float:
        """Seconds since the emulator started."""
        return self._clock() - self._state.started_at

    def advance_to(self, at: float) -> list[TimelineRecord]:
        """Move the emulator's time forward to `at` seconds after its start (never backwards), then apply
        the timeline entries due by then. Returns the entries applied."""
        _check_seconds(at, "at")
        with self._lock:
            behind = self._state.started_at + at - self._clock()
            if behind > 0:
                self._offset += behind
            return self._apply_due()

    def advance(self, seconds: float) -> list[TimelineRecord]:
        """Move the emulator's time forward by `seconds`, then apply the timeline entries due."""
        _check_seconds(seconds, "seconds")
        with self._lock:
            self._offset += seconds
            return self._apply_due()

    # ------------------------------------------------------------------ the timeline

    def schedule(self, at: float, action: ScheduledAction | None = None, **fields: Any) -> None:
        """Schedule a change `at` seconds after the emulator's start.

        `action` is a callable getting the emulator, or a timeline entry in world-file form; the entry's
        fields may also be given as keywords: `schedule(30, user="dana", status="Lunch")`,
        `schedule(60, contact=contact_id, connect_to="sam")`, `schedule(90, contact=contact_id, disconnect=True)`.
        An `at` already past is applied at once, at the current time.
        """
        _check_seconds(at, "at")
        with self._synced():
            now = self._clock()
            if callable(action):
                if fields:
                    raise EmulatorStateError("schedule: give a callable or entry fields, not both")
                name = getattr(action, "__name__", repr(action))
                self._timeline.add_action(at, action, f"call {name}", not_before=now)
            else:
                raw = {**(action or {}), **fields, "at": at}
                try:
                    entry = self.world.parse_timeline_entry(
                        raw, f"schedule(at={at})", contact_exists=self._state.contacts.__contains__
                    )
                except WorldError as exc:
                    raise EmulatorStateError(str(exc)) from exc
                self._timeline.add_entry(entry, not_before=now)
            self._apply_due()

    def apply_timeline(self) -> list[TimelineRecord]:
        """Apply the timeline entries due by now (requests and Python API calls do it anyway)."""
        with self._lock:
            return self._apply_due()

    @property
    def timeline_records(self) -> list[TimelineRecord]:
        """Every timeline entry applied so far, in order, with its error if it could not be applied."""
        with self._lock:
            return list(self._timeline.records)

    @property
    def pending_timeline(self) -> list[tuple[float, str]]:
        """(seconds after start, description) of the entries not applied yet, in due order."""
        with self._lock:
            return self._timeline.pending

    def _apply_due(self) -> list[TimelineRecord]:
        if self._applying:  # a scheduled callable is using the emulator
            return []
        self._applying = True
        try:
            router, records = self._router, []
            settled = False
            while True:  # timeline entries and routing events in time order, each at its own time
                now = self._clock()  # a real clock moves while routing works: what it schedules now is due
                routing_due, timeline_due = router.next_due(), self._timeline.next_due()
                if (
                    routing_due is not None
                    and routing_due <= now
                    and (timeline_due is None or routing_due < timeline_due)
                ):
                    with self._state.pinned(routing_due):
                        router.run_next()
                elif timeline_due is not None and timeline_due <= now:
                    records += self._timeline.apply_due(timeline_due, self._state, self, after=router.settle)
                elif not settled:  # route what changed since (a request, a Python API call) at the current time
                    router.settle()
                    settled = True
                    continue
                else:
                    break
                settled = False
            return records
        finally:
            self._applying = False

    @contextlib.contextmanager
    def _synced(self) -> Iterator[None]:
        """Hold the state lock with the timeline applied up to now; route again after the change."""
        with self._lock:
            self._apply_due()
            yield
            self._apply_due()

    @property
    def implemented_operations(self) -> frozenset[str]:
        return frozenset(self._handlers)

    # ------------------------------------------------------------------ the pipeline

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer one HTTP request as Amazon Connect would (shared by the hook and the HTTP server)."""
        request_id = str(uuid.UUID(int=next(self._request_ids)))
        self.apply_timeline()
        matched = self.model.match(request.method, request.path, request.query)
        if matched is None:
            error = self.model.unknown_operation(request.method, request.path)
            return self._answer_error(UNKNOWN_OPERATION_NAME, {}, error, request_id)
        operation, labels = matched
        params: dict[str, Any] = {}
        try:
            params = self.model.parse_input(operation, request, labels)
            if self.iam is not None:
                self.iam.authorize(request.headers, operation.name, params, self.instance_arn)
            output = self._invoke(operation, params)
        except ServiceError as error:
            return self._answer_error(operation.name, params, error, request_id)
        response = self.model.output_response(operation, output, request_id)
        self._record(operation.name, params, response.status, None)
        return response

    def _invoke(self, operation: Any, params: dict[str, Any]) -> dict[str, Any]:
        handler = self._handlers.get(operation.name)
        if handler is None:
            raise ServiceError(
                NOT_IMPLEMENTED,
                f"{operation.name} is not implemented by connect_emulator "
                f"(implemented: {', '.join(sorted(self._handlers))})",
            )
        self.faults.before_call(operation.name)
        self.model.validate_input(operation, params)
        with self._lock:
            output = handler(self._state, params)
            if operation.name not in READ_ONLY_OPERATIONS:
                self._state.touch()
            self._apply_due()  # native routing reacts to what the request changed
            return output

    def _answer_error(
        self, operation: str, params: Mapping[str, Any], error: ServiceError, request_id: str
    ) -> HttpResponse:
        response = self.model.error_response(error, request_id)
        self._record(operation, params, response.status, error.code)
        logger.debug("connect emulator error operation=%s code=%s", operation, error.code)
        return response

    def _record(self, operation: str, params: Mapping[str, Any], status: int, code: str | None) -> None:
        with self._lock:
            self._calls.append(CallRecord(operation, params, status, code, self._clock()))

    def use_iam(self, iam: Iam | None) -> None:
        """Turn the IAM mode on (each request authorized against its caller's role; see `connect_emulator.iam`)
        or off (None)."""
        with self._lock:
            self.iam = iam

    # ------------------------------------------------------------------ attaching clients

    def attach(self, client: _Client) -> _Client:
        """Answer every request of a boto3 `connect` client in process; returns the client."""
        transport.attach_hook(client, self.handle, self._hook_id)
        return client

    def detach(self, client: BaseClient) -> None:
        transport.detach_hook(client, self._hook_id)

    @property
    def _hook_id(self) -> str:
        return f"connect-emulator-{id(self)}"

    def client(self, *, role: str | None = None, **kwargs: Any) -> ConnectClient:
        """A boto3 `connect` client for the world's Region, fake credentials, attached to this emulator.

        `role` signs its requests as that role (the access key id is the role's name), which the IAM mode
        authorizes against the role's policy. `kwargs` go to `boto3.client`; a `config` is merged over
        3 attempts in standard retry mode.
        """
        config = DEFAULT_CLIENT_CONFIG.merge(kwargs.pop("config")) if "config" in kwargs else DEFAULT_CLIENT_CONFIG
        options: dict[str, Any] = {
            "region_name": self.region,
            "aws_access_key_id": role or "testing",
            "aws_secret_access_key": "testing",
            **kwargs,
            "config": config,
        }
        return self.attach(boto3.client("connect", **options))

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> contextlib.AbstractContextManager[str]:
        """`with emulator.serve() as url:` serves HTTP on a daemon thread; port 0 picks a free port."""
        return transport.serve_in_thread(self.handle, host, port)

    def serve_forever(self, host: str = "127.0.0.1", port: int = 8000) -> None:
        """Serve HTTP in the foreground until interrupted."""
        transport.serve_blocking(self.handle, host, port)

    # ------------------------------------------------------------------ call accounting

    @property
    def calls(self) -> list[CallRecord]:
        with self._lock:
            return list(self._calls)

    def call_counts(self) -> Counter[str]:
        """Requests per operation, whatever their outcome (throttled and failed ones included)."""
        with self._lock:
            return Counter(call.operation for call in self._calls)

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    @property
    def associations(self) -> list[Association]:
        with self._synced():
            return list(self._state.associations)

    @property
    def monitoring_sessions(self) -> list[MonitoringSession]:
        """Sessions started by MonitorContact, in order (a replayed ClientToken starts none)."""
        with self._synced():
            return list(self._state.monitoring_sessions)

    # ------------------------------------------------------------------ native routing

    @property
    def routing(self) -> RoutingSpec:
        """The routing settings in force (the world's `routing:` section or the constructor's override)."""
        return self._state.routing_spec

    @property
    def routing_events(self) -> list[RoutingEvent]:
        """What native routing did, in order: offers, connections, missed offers (see docs/emulator.md)."""
        with self._synced():
            return list(self._router.events)

    @property
    def connections(self) -> list[Connection]:
        """Every contact connected to an agent, in order, with how: "native", "association" or "direct"."""
        with self._synced():
            return list(self._state.connections)

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(event)` for each RoutingEvent as it happens (at its time, under the state lock; it
        may use the emulator, e.g. schedule the contact's end)."""
        with self._lock:
            self._router.listeners.append(listener)

    def abandon_contact(self, contact_id: str) -> ContactSnapshot:
        """The customer leaves while the contact waits in its queue (an abandoned contact)."""
        with self._synced():
            contact = self._state.require_contact(contact_id)
            if contact.state != QUEUED or contact.queue_id is None:
                state = contact.state
                raise EmulatorStateError(f"contact {contact_id} is {state}: only a waiting contact can be abandoned")
            self._state.disconnect(contact)
            return self._state.contact_snapshot(contact)

    # ------------------------------------------------------------------ inspecting state

    def contact(self, contact_id: str) -> ContactSnapshot:
        with self._synced():
            return self._state.contact_snapshot(self._state.require_contact(contact_id))

    def contacts(self) -> list[ContactSnapshot]:
        with self._synced():
            return [self._state.contact_snapshot(c) for c in self._state.contacts.values()]

    def user(self, user: str) -> UserSnapshot:
        """A user by id, username or ARN."""
        with self._synced():
            return self._state.user_snapshot(self._state.require_user(user))

    def routing_criteria(self, contact_id: str) -> RoutingCriteriaSnapshot | None:
        """The contact's routing criteria with step statuses as of now (None if never set)."""
        with self._synced():
            return self._state.routing_snapshot(self._state.require_contact(contact_id))

    # ------------------------------------------------------------------ changing state

    def set_user_status(self, user: str, status: str) -> None:
        """Set an agent's status name ("Offline" logs the agent out)."""
        with self._synced():
            self._state.set_status(self._state.require_user(user), status)

    def set_busy(self, user: str, channel: str, slots: int) -> None:
        """Set the slots of `channel` taken by work the emulator does not model as contacts."""
        if slots < 0:
            raise EmulatorStateError(f"busy slots must be >= 0, got {slots}")
        with self._synced():
            found = self._state.require_user(user)
            found.busy[channel.upper()] = slots
            self._state.touch()

    def connect_contact(self, contact_id: str, user: str | None = None) -> ContactSnapshot:
        """An agent accepts a waiting or associated contact (default: the associated agent)."""
        with self._synced():
            contact = self._state.require_contact(contact_id)
            agent_ref = user if user is not None else contact.agent_id
            if agent_ref is None:
                raise EmulatorStateError(f"contact {contact_id} has no associated agent: name the user")
            self._state.connect(contact, self._state.require_user(agent_ref))
            return self._state.contact_snapshot(contact)

    def disconnect_contact(self, contact_id: str) -> ContactSnapshot:
        with self._synced():
            contact = self._state.require_contact(contact_id)
            self._state.disconnect(contact)
            return self._state.contact_snapshot(contact)

    def queue_contact(self, contact_id: str, queue: str) -> ContactSnapshot:
        """Put a contact (back) into a queue, by queue id, name or ARN; any agent is released."""
        with self._synced():
            contact = self._state.require_contact(contact_id)
            queue_id = self._state.find_queue_id(queue, allow_name=True)
            if queue_id is None:
                raise EmulatorStateError(f"no queue {queue!r} in the world")
            self._state.enqueue(contact, queue_id)
            self._apply_due()
            return self._state.contact_snapshot(contact)

    def add_contact(
        self,
        contact_id: str | None = None,
        *,
        channel: str = "CHAT",
        routing_criteria: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> ContactSnapshot:
        """Add a contact, described with the world file's contact fields (`queue`, `state`, ...).

        Example: `add_contact(channel="CHAT", queue="Support", attributes={"preferredAgent": "dana"})`.
        Missing timestamps are now; the id defaults to a random (seeded) UUID. `routing_criteria` (the shape
        UpdateContactRoutingData takes: `{"Steps": [...]}`) is set before native routing sees the contact, as
        a flow's "Set routing criteria" block does before "Transfer to queue".
        """
        with self._synced():
            new_id = contact_id or self._state.new_contact_id()
            raw = {"id": new_id, "channel": channel, **fields}
            try:
                spec = self.world.parse_contact(raw, where=f"add_contact({new_id})")
            except WorldError as exc:
                raise EmulatorStateError(str(exc)) from exc
            if spec.initiation_method == MONITOR:
                monitored = self._state.require_contact(str(spec.related_contact_id))
                if monitored.monitoring_leg:
                    raise EmulatorStateError(f"contact {monitored.id} is a monitoring leg: it cannot be monitored")
            try:
                steps = routing_steps(self._state, routing_criteria) if routing_criteria is not None else None
            except ServiceError as exc:
                raise EmulatorStateError(f"add_contact({new_id}): {exc}") from exc
            contact = self._state.add_contact(spec)
            if steps is not None:
                self._state.set_routing_criteria(contact, steps)
            self._apply_due()  # native routing sees the new contact before the snapshot is taken
            return self._state.contact_snapshot(contact)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the state lock across several API calls (for consistent multi-step changes)."""
        with self._synced():
            yield


# What `schedule` accepts: a callable getting the emulator, or a timeline entry in world-file form.
ScheduledAction: TypeAlias = Callable[[ConnectEmulator], object] | Mapping[str, Any]


def _check_seconds(value: float, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise EmulatorStateError(f"{name} must be a number of seconds >= 0, got {value!r}")
