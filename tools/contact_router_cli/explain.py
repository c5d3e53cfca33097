"""``contact-router explain``: what the router would decide for one contact now, and why (read-only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from contact_router.adapters import aws
from contact_router.adapters.connect import ConnectGateway
from contact_router.adapters.rules_store import RulesProvider
from contact_router.config import RulesSource, RulesSourceKind, Settings
from contact_router.routing.attributes import with_attributes
from contact_router.routing.router import Router, RouterOptions
from contact_router.rules.matcher import match_rule
from contact_router.rules.model import FallbackStep
from contact_router_cli import render


def explain_contact(
    contact_id: str,
    *,
    world: Path | None,
    instance_arn: str | None,
    rules_path: Path | None,
    out: Console,
    as_json: bool = False,
) -> dict[str, Any] | None:
    """Prints the trace, or with ``as_json`` returns it as a dict (printing nothing)."""
    names: dict[str, str] = {}
    if world is not None:
        from connect_emulator import ConnectEmulator, World

        emu = ConnectEmulator(World.from_file(world))
        client = emu.client()
        instance_arn = emu.instance_arn
        names = {u.id: u.username for u in emu.world.users}
    settings = Settings.for_instance(instance_arn or "")
    if world is None:
        client = aws.client("connect", settings.region, aws.CONNECT_CONFIG)
    source = (
        RulesSource(kind=RulesSourceKind.FILE, file=str(rules_path))
        if rules_path
        else RulesSource(RulesSourceKind.BUNDLED)
    )
    rules = RulesProvider(source)
    gateway = ConnectGateway(client, settings.instance_id)
    router = Router(
        RouterOptions(
            instance_arn=settings.instance_arn,
            dry_run=True,  # explain never associates
            route_voice=settings.route_voice,
            allowed_agent_arn_pattern=settings.allowed_agent_arn_pattern,
        ),
        connect=gateway,
        users=gateway,
        rules=rules,
    )
    # What the router itself would read: attributes by GetContactAttributes when DescribeContact left them out.
    contact = with_attributes(gateway.describe_contact(contact_id), rules.current().routing, gateway)
    if as_json:
        return _as_json(contact, rules, router, names)
    out.print(
        f"[bold]contact {contact.id}[/bold]: {contact.channel}, queue {contact.queue_id or '-'}, "
        f"initiation {contact.initiation_method or '-'}"
    )
    waiting = contact.not_waiting_reason()
    out.print(f"state: {'waiting in queue' if waiting is None else waiting.value}")
    out.print(f"rules: {rules.source}")
    match = match_rule(rules.current().routing, contact)
    for name, why in match.misses:
        out.print(f"  rule {name}: [dim]no match[/dim] ({why})")
    if match.rule:
        out.print(f"  rule {match.rule.name}: [green]match[/green]")
    decision = router.decide(contact)
    if match.rule is not None and [step.kind for step in match.rule.fallback] != ["queue"]:
        out.print("  fallback when nobody is eligible: " + " -> ".join(_step(s) for s in match.rule.fallback))
    if decision.candidates:
        out.print(render.candidates_table(decision, lambda user_id: names.get(user_id or "")))
    agent = decision.agent_username or names.get(decision.agent_id or "") or decision.agent_id
    verdict = "would associate with " + agent if agent and decision.outcome.value == "WouldAssociate" else ""
    out.print(
        f"decision now: [bold]{decision.outcome.value}[/bold] {verdict} — {decision.reason}: {decision.detail or ''}"
    )
    return None


def _as_json(contact: Any, rules: RulesProvider, router: Router, names: dict[str, str]) -> dict[str, Any]:
    waiting = contact.not_waiting_reason()
    match = match_rule(rules.current().routing, contact)
    decision = router.decide(contact)
    record = decision.to_record()
    if decision.agent_id and not decision.agent_username and decision.agent_id in names:
        record["agent_username"] = names[decision.agent_id]
    return {
        "contact": {
            "id": contact.id,
            "channel": contact.channel,
            "queue_id": contact.queue_id,
            "initiation_method": contact.initiation_method,
        },
        "state": "waiting in queue" if waiting is None else waiting.value,
        "rules_source": str(rules.source),
        "rules": [{"rule": name, "match": False, "why": why} for name, why in match.misses]
        + ([{"rule": match.rule.name, "match": True}] if match.rule else []),
        "fallback": [_step(step) for step in match.rule.fallback] if match.rule else [],
        "decision": record,
    }


def _step(step: FallbackStep) -> str:
    if step.wait is not None:
        return f"wait (re-check every {step.wait.interval_seconds} s for up to {step.wait.max_seconds} s)"
    if step.routing_criteria is not None:
        each = "one step per candidate" if step.routing_criteria.one_step_per_candidate else "one step"
        return f"routing criteria ({each}, {step.routing_criteria.expiry_seconds} s)"
    return "queue"
