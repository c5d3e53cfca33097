"""``contact-router monitor``: start monitoring a contact on demand, validated before any API call."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from contact_router.adapters import aws
from contact_router.adapters.connect import ConnectGateway
from contact_router.config import Settings
from contact_router.errors import ContactRouterError
from contact_router.routing.references import ReferenceKind, classify
from contact_router.supervision.policy import client_token, validate_monitor_request


class MonitorError(Exception):
    """A clear, user-facing reason the monitoring did not start."""


def capabilities_of(requested: Sequence[str], barge: bool) -> list[str]:
    """--capability values (any case) or the default SILENT_MONITOR, plus BARGE with --barge."""
    capabilities = [c.strip().upper() for c in requested] or ["SILENT_MONITOR"]
    if barge and "BARGE" not in capabilities:
        capabilities.append("BARGE")
    return capabilities


def start_monitoring(
    contact_id: str,
    supervisor: str,
    capabilities: list[str],
    *,
    world: Path | None,
    instance_arn: str | None,
) -> tuple[str, str]:
    """Returns (supervisor user id, monitoring contact id). Raises MonitorError with the reason."""
    # Everything that can be checked without AWS first: capabilities and lengths (botocore checks neither).
    try:
        validate_monitor_request("i", contact_id, "u", capabilities)
    except ContactRouterError as exc:
        raise MonitorError(exc.message) from exc
    reference = classify(supervisor)
    if reference.kind is ReferenceKind.INVALID:
        raise MonitorError(f"--supervisor is not a user id, user ARN or username ({reference.value})")

    if world is not None:
        from connect_emulator import ConnectEmulator, World

        emulator = ConnectEmulator(World.from_file(world))
        client, instance_arn = emulator.client(), emulator.instance_arn
    settings = Settings.for_instance(instance_arn or "")
    if world is None:
        client = aws.Clients(settings.region).connect
    gateway = ConnectGateway(client, settings.instance_id, instance_arn=settings.instance_arn)
    try:
        if reference.kind is ReferenceKind.USERNAME:
            user = gateway.find_by_username(reference.value)
            if user is None:
                raise MonitorError(f"no user named {reference.value!r} in {settings.instance_arn}")
            user_id = user.id
        else:
            user_id = reference.value
        validate_monitor_request(settings.instance_id, contact_id, user_id, capabilities)
        token = client_token(contact_id, user_id, capabilities)
        return user_id, gateway.monitor_contact(contact_id, user_id, capabilities, token)
    except ContactRouterError as exc:
        raise MonitorError(exc.message) from exc
