"""The composition root: every function's app is wired here, and only here, from its settings and one
``Clients`` value (clients created once per execution environment, at their first use).

Handlers call these builders at their first invocation; tests and the local runner call them with their own
clients (the Connect emulator's, moto's).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from contact_router.adapters.affinity_store import AffinityStore
from contact_router.adapters.aws import FLOW_CONFIG, Clients
from contact_router.adapters.connect import ConnectGateway
from contact_router.adapters.customer_profiles import CustomerProfilesGateway
from contact_router.adapters.dead_letter import DeadLetterQueue
from contact_router.adapters.episodes import DynamoDBEpisodes
from contact_router.adapters.pacing import Pacer
from contact_router.adapters.rechecks import SqsRechecks
from contact_router.adapters.router_queue import RouterQueue
from contact_router.adapters.rules_store import RulesProvider, remote_fetcher
from contact_router.adapters.secrets import secret_loader
from contact_router.config import Settings
from contact_router.customers.history import HistoryLookup
from contact_router.errors import ConfigurationError
from contact_router.models.decision import Decision
from contact_router.observability import logger
from contact_router.record_policy import AffinityApp, RecordPolicy, RouterApp, SupervisionApp
from contact_router.routing.candidates import customer_profile
from contact_router.routing.ports import RecheckPort
from contact_router.routing.router import Router, RouterOptions

if TYPE_CHECKING:  # each function's own modules are imported by its builder only (cold start: the router
    # never imports the flow's, the supervisor's, the affinity recorder's or the sweep's code)
    from contact_router.flow_app import FlowApp
    from contact_router.sweep.schedule import ScheduledSweep
    from contact_router.sweep.settings import SweepSettings

Clock = Callable[[], float]
Sleep = Callable[[float], None]


@dataclass
class _Shared:
    """What the router and the supervision function are both built on."""

    connect: ConnectGateway
    rules: RulesProvider
    dead_letters: DeadLetterQueue | None


def _connect(
    settings: Settings, clients: Clients, clock: Clock = time.monotonic, sleep: Sleep = time.sleep
) -> ConnectGateway:
    rates = settings.pacing_rates
    return ConnectGateway(
        clients.connect,
        instance_id=settings.instance_id,
        instance_arn=settings.instance_arn,
        user_cache_seconds=settings.user_cache_seconds,
        pacer=Pacer(rates, clock=clock, sleep=sleep) if rates else None,
    )


def _dead_letters(settings: Settings, clients: Clients) -> DeadLetterQueue | None:
    if not settings.dead_letter_queue_url:
        return None
    return DeadLetterQueue(settings.dead_letter_queue_url, clients.lazy_sqs())


def _shared(settings: Settings, clients: Clients, *, supervision: bool, clock: Clock, sleep: Sleep) -> _Shared:
    # Powertools' parameter providers make their own clients unless one is handed in (tests, local runs).
    fetch = remote_fetcher(settings.rules, clients.given.get("ssm"), clients.given.get("appconfigdata"))
    # Only the supervision function knows (and enforces) whether the deployment allows BARGE.
    rules = RulesProvider(settings.rules, fetch, allow_barge=settings.allow_barge if supervision else None)
    rules.current()  # fail at start-up, not per record, if the rules are invalid
    return _Shared(_connect(settings, clients, clock, sleep), rules, _dead_letters(settings, clients))


def _affinity_store(settings: Settings, clients: Clients) -> AffinityStore | None:
    if not settings.affinity_table:
        return None
    return AffinityStore(
        settings.affinity_table, clients.dynamodb, retention_seconds=settings.affinity_retention_days * 86_400
    )


def _secret(settings: Settings, clients: Clients) -> Callable[[], bytes]:
    if not settings.customer_key_secret_arn:
        raise ConfigurationError(["CUSTOMER_KEY_SECRET_ARN is required for customer keys"])
    return secret_loader(settings.customer_key_secret_arn, clients.secretsmanager)


def source_ports(
    settings: Settings, clients: Clients, clock: Clock = time.monotonic, sleep: Sleep = time.sleep
) -> dict[str, object]:
    """Adapters that candidate sources need beyond Connect and the customer history, by source kind: a
    source kind backed by another AWS service adds its adapter here (read by its resolver from
    ``lookup.ports[kind]``). A source whose setting is empty has no port: its resolver says so."""
    ports: dict[str, object] = {}
    if settings.customer_profiles_domain:
        rates = settings.pacing_rates
        gateway = CustomerProfilesGateway(
            clients.customer_profiles,
            settings.customer_profiles_domain,
            pacer=Pacer(rates, clock=clock, sleep=sleep) if "SearchProfiles" in rates else None,
        )
        ports[customer_profile.KIND] = customer_profile.ProfilesPort(
            gateway, settings.customer_profile_attribute, settings.phone_default_region
        )
    return ports


class ReadOnlyRechecks:
    """``RecheckPort`` for a read-only router (``explain``): records what a wait would schedule, sends nothing."""

    def __init__(self) -> None:
        self.scheduled: list[tuple[dict[str, object], int]] = []

    def schedule(self, message: Mapping[str, object], delay_seconds: int) -> None:
        self.scheduled.append((dict(message), delay_seconds))


def build_router(
    settings: Settings,
    clients: Clients | None = None,
    *,
    clock: Clock = time.time,
    sleep: Sleep = time.sleep,
    rechecks: RecheckPort | None = None,
    read_only: bool = False,
) -> tuple[Router, _Shared]:
    """The router as the function runs it. ``read_only`` (``explain``): dry run forced (no
    AssociateContactWithUser, no UpdateContactRoutingData), no episode claims (nothing written) and re-checks
    recorded, not sent; every read (Connect, rules, affinity table, secret) is the
    deployed one."""
    clients = (clients or Clients()).for_region(settings.region)
    shared = _shared(settings, clients, supervision=False, clock=clock, sleep=sleep)
    if read_only:
        shared.dead_letters = None
        rechecks = rechecks or ReadOnlyRechecks()
    store = _affinity_store(settings, clients)
    router = Router(
        RouterOptions(
            instance_arn=settings.instance_arn,
            dry_run=settings.dry_run or read_only,
            route_voice=settings.route_voice,
            allowed_agent_arn_pattern=settings.allowed_agent_arn_pattern,
        ),
        connect=shared.connect,
        users=shared.connect,
        rules=shared.rules,
        rechecks=rechecks
        or (SqsRechecks(settings.router_queue_url, clients.lazy_sqs()) if settings.router_queue_url else None),
        clock=clock,
        source_ports=source_ports(settings, clients, sleep=sleep),
        # One conditional write per routing episode (routing/episodes.py), on the idempotency table.
        episodes=DynamoDBEpisodes(settings.idempotency_table, settings.idempotency_ttl_seconds, clients.dynamodb, clock)
        if settings.idempotency_table and not read_only
        else None,
        history=HistoryLookup(
            store, _secret(settings, clients), settings.customer_profile_attribute, settings.phone_default_region
        )
        if store
        else None,
    )
    return router, shared


def build_router_app(
    settings: Settings,
    clients: Clients | None = None,
    *,
    clock: Clock = time.time,
    sleep: Sleep = time.sleep,
    rechecks: RecheckPort | None = None,
) -> RouterApp:
    clients = (clients or Clients()).for_region(settings.region)
    router, shared = build_router(settings, clients, clock=clock, sleep=sleep, rechecks=rechecks)
    logger.debug(
        "router configured",
        rules_source=shared.rules.source,
        dry_run=settings.dry_run,
        episode_claims=bool(router.episodes),
        dead_letter_queue=bool(shared.dead_letters),
    )
    return RecordPolicy(
        decide=router.route,
        prefetch=router.prefetch_batch,
        abandon=router.abandon,
        kind=Decision,
        dead_letters=shared.dead_letters,
        requeue=RouterQueue(settings.router_queue_url, clients.lazy_sqs()).requeue
        if settings.router_queue_url
        else None,
        max_receive_count=settings.max_receive_count,
    )


def build_flow_app(settings: Settings, clients: Clients | None = None, *, clock: Clock = time.time) -> FlowApp:
    """The contact-flow entry point: the router's rules, candidate sources and eligibility, asked before the
    contact is queued. No idempotency guard, re-check queue or pacing (a flow cannot wait): every client has
    FLOW_CONFIG's short timeouts, and throttles fail open."""
    from contact_router.flow_app import FlowApp

    clients = (clients or Clients(config=FLOW_CONFIG)).for_region(settings.region)
    fetch = remote_fetcher(settings.rules, clients.given.get("ssm"), clients.given.get("appconfigdata"))
    rules = RulesProvider(settings.rules, fetch)
    rules.current()  # fail at start-up (the flow then gets "no preference", reason configuration)
    connect = ConnectGateway(
        clients.connect,
        instance_id=settings.instance_id,
        instance_arn=settings.instance_arn,
        user_cache_seconds=settings.user_cache_seconds,
    )
    store = _affinity_store(settings, clients)
    router = Router(
        RouterOptions(
            instance_arn=settings.instance_arn,
            dry_run=settings.dry_run,
            route_voice=True,  # routing criteria work on every channel; nothing is associated here
            allowed_agent_arn_pattern=settings.allowed_agent_arn_pattern,
        ),
        connect=connect,
        users=connect,
        rules=rules,
        clock=clock,
        source_ports=source_ports(settings, clients),
        history=HistoryLookup(
            store, _secret(settings, clients), settings.customer_profile_attribute, settings.phone_default_region
        )
        if store
        else None,
    )
    return FlowApp(router, settings.instance_arn)


def build_supervision_app(settings: Settings, clients: Clients | None = None) -> SupervisionApp:
    from contact_router.models.supervision import SupervisionDecision
    from contact_router.supervision.supervisor import Supervisor, SupervisorOptions

    clients = (clients or Clients()).for_region(settings.region)
    from contact_router.adapters.idempotency import DynamoDBIdempotency  # Powertools: the supervisor's alone

    shared = _shared(settings, clients, supervision=True, clock=time.monotonic, sleep=time.sleep)
    idempotency = (
        DynamoDBIdempotency(
            settings.idempotency_table, settings.idempotency_ttl_seconds, clients.dynamodb, key_prefix="supervise"
        )
        if settings.idempotency_table
        else None
    )
    supervisor = Supervisor(
        SupervisorOptions(
            instance_arn=settings.instance_arn,
            supervised_channels=settings.supervised_channels,
            dry_run=settings.dry_run,
            allowed_agent_arn_pattern=settings.allowed_agent_arn_pattern,
        ),
        connect=shared.connect,
        rules=shared.rules,
        idempotency=idempotency,
    )
    return RecordPolicy(
        decide=lambda event, _recheck, _prefetched, _delivery: supervisor.supervise(event),
        kind=SupervisionDecision,
        dead_letters=shared.dead_letters,
        idempotency=idempotency,
        max_receive_count=settings.max_receive_count,
    )


def build_affinity_app(settings: Settings, clients: Clients | None = None) -> AffinityApp:
    from contact_router.customers.affinity import AffinityRecorder
    from contact_router.models.affinity import AffinityDecision

    clients = (clients or Clients()).for_region(settings.region)
    store = _affinity_store(settings, clients)
    if store is None:
        raise ConfigurationError(["AFFINITY_TABLE is required by the affinity recorder"])
    recorder = AffinityRecorder(
        settings.instance_arn,
        _connect(settings, clients),
        store,
        _secret(settings, clients),
        settings.customer_profile_attribute,
        settings.phone_default_region,
    )
    return RecordPolicy(
        decide=lambda event, _recheck, _prefetched, _delivery: recorder.record(event),
        kind=AffinityDecision,
        dead_letters=_dead_letters(settings, clients),
        max_receive_count=settings.max_receive_count,
    )


def build_sweep_app(
    settings: SweepSettings, clients: Clients | None = None, *, clock: Clock = time.time, sleep: Sleep = time.sleep
) -> ScheduledSweep:
    from contact_router.sweep.schedule import ScheduledSweep
    from contact_router.sweep.sweeper import Sweeper, SweepOptions

    clients = (clients or Clients()).for_region(settings.region)
    sweeper = Sweeper(
        SweepOptions(
            instance_arn=settings.instance_arn,
            queue_ids=settings.queue_ids,
            min_wait_seconds=settings.min_wait_seconds,
            interval_seconds=settings.interval_seconds,
        ),
        search=ConnectGateway(clients.connect, instance_id=settings.instance_id),
        sink=RouterQueue(settings.router_queue_url, clients.sqs),
        sleep=sleep,
    )
    logger.debug("sweep configured", queues=len(settings.queue_ids), min_wait_seconds=settings.min_wait_seconds)
    return ScheduledSweep(sweeper, clock)
