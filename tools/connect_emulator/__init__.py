"""Amazon Connect emulator (development tool; not shipped to Lambda).

A stateful emulated Connect instance, seeded from a world file, faithful to botocore's `connect`
service model: attach it to a real boto3 client (`emulator.client()` / `emulator.attach(client)`) or
serve it over HTTP (`with emulator.serve() as url:`). See docs/emulator.md.
"""

from connect_emulator.emulator import CallRecord, ConnectEmulator
from connect_emulator.errors import EmulatorStateError, ServiceError, WorldError
from connect_emulator.faults import DOCUMENTED_QUOTAS, Faults, Latency, RateQuota, documented_quotas
from connect_emulator.iam import Iam, IamPolicyError, IamSwitches
from connect_emulator.model import ConnectModel, HttpRequest, HttpResponse
from connect_emulator.routing import RoutingEvent
from connect_emulator.state import (
    Association,
    Connection,
    ContactSnapshot,
    MonitoringSession,
    RoutingCriteriaSnapshot,
    RoutingStepSnapshot,
    UserSnapshot,
)
from connect_emulator.timeline import TimelineRecord
from connect_emulator.world import RoutingSpec, TimelineEntry, World

__all__ = [
    "DOCUMENTED_QUOTAS",
    "Association",
    "CallRecord",
    "ConnectEmulator",
    "ConnectModel",
    "Connection",
    "ContactSnapshot",
    "EmulatorStateError",
    "Faults",
    "HttpRequest",
    "HttpResponse",
    "Iam",
    "IamPolicyError",
    "IamSwitches",
    "Latency",
    "MonitoringSession",
    "RateQuota",
    "RoutingCriteriaSnapshot",
    "RoutingEvent",
    "RoutingSpec",
    "RoutingStepSnapshot",
    "ServiceError",
    "TimelineEntry",
    "TimelineRecord",
    "UserSnapshot",
    "World",
    "WorldError",
    "documented_quotas",
]
